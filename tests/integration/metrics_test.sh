#!/usr/bin/env bash
# Metrics: a console serves a peer whose flash is corrupt. After the recovery both daemons'
# GET /metrics show it: one recovery succeeded from the peers, about the damaged bytes pulled
# and served, the flash programmed, the offer seen, one observation in the recovery histogram.
# A bad [metrics] listen stops a daemon with one line naming the key; a port in use leaves a
# daemon running without metrics.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
# TCP ports beside the cluster's discovery port, so clusters side by side do not collide.
console_port=$((CLUSTER_PORT + 20000))
bmc_port=$((CLUSTER_PORT + 20001))
cluster_node console console donor.serve_installed=false monitor.auto_recover=false \
  metrics.listen="\"127.0.0.1:$console_port\""
cluster_node bmc-c peer metrics.listen="\"127.0.0.1:$bmc_port\""
# 64 KiB the image holds data in (not 0xff already), a whole number of blocks.
cluster_corrupt bmc-c 0x100000 65536
damaged=65536
cluster_verify bmc-c >/dev/null 2>&1 && corrupt=no || corrupt=yes
check "the corrupted flash does not verify" test "$corrupt" = yes

# scrape PORT NAME: saves PORT's /metrics as logs/NAME.metrics.log (shown when a check fails).
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" >"$TEST_DIR/logs/$2.metrics.log"; }
# value NAME PREFIX: the value of NAME's sample line that starts with PREFIX (empty when none).
value() {
  awk -v p="$2" 'index($0, p) == 1 { print $NF; exit }' "$TEST_DIR/logs/$1.metrics.log"
}
# at_least NAME PREFIX MIN [MAX]: the sample's value is a number from MIN to MAX.
at_least() {
  local v
  v=$(value "$1" "$2")
  [ -n "$v" ] || return 1
  awk -v v="$v" -v lo="$3" -v hi="${4:-}" 'BEGIN { exit !(v + 0 >= lo && (hi == "" || v + 0 <= hi)) }'
}

cluster_start console
cluster_wait_ready console
cluster_start bmc-c
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "bmc-c logs where its metrics are" grep -q "metrics at http://127.0.0.1:$bmc_port/metrics" "$TEST_DIR/logs/bmc-c.log"
check "bmc-c serves /metrics" scrape "$bmc_port" bmc-c
check "the console serves /metrics" scrape "$console_port" console
check "one recovery succeeded, served by the peers" \
  test "$(value bmc-c 'fwrescue_recoveries_total{target="bios",outcome="succeeded",source="peers"} ')" = 1
check "no recovery failed" test -z "$(value bmc-c 'fwrescue_recoveries_total{target="bios",outcome="failed"')"
check "the recovery histogram has one observation" \
  test "$(value bmc-c 'fwrescue_recovery_duration_seconds_count{target="bios",outcome="succeeded"} ')" = 1
check "its +Inf bucket agrees" \
  test "$(value bmc-c 'fwrescue_recovery_duration_seconds_bucket{target="bios",outcome="succeeded",le="+Inf"} ')" = 1
check "the damaged bytes were pulled (and not much more)" \
  at_least bmc-c 'fwrescue_pulled_bytes_total{target="bios",source="peers"} ' "$damaged" $((2 * damaged))
check "the transfer histogram has one observation" \
  test "$(value bmc-c 'fwrescue_transfer_duration_seconds_count{target="bios",source="peers"} ')" = 1
check "the flash histogram has one observation" \
  test "$(value bmc-c 'fwrescue_flash_duration_seconds_count{target="bios"} ')" = 1
check "the offer was seen and compatible" \
  at_least bmc-c 'fwrescue_offers_total{target="bios",verdict="compatible"} ' 1
check "the flash was rewritten" at_least bmc-c 'fwrescue_flash_requests_total{target="bios",op="rewrite"} ' 1
check "the rewrites covered the damaged bytes" \
  at_least bmc-c 'fwrescue_flash_request_bytes_total{target="bios",op="rewrite"} ' "$damaged"
check "the chip programmed pages" \
  at_least bmc-c 'fwrescue_flash_chip_operations_total{target="bios",op="page_program"} ' 1
check "the link refused nothing" test "$(value bmc-c 'fwrescue_link_sessions_refused_total{link="lan"} ')" = 0
check "no block was rejected" test -z "$(value bmc-c 'fwrescue_blocks_rejected_total{')"
check "the console served the damaged bytes" \
  at_least console 'fwrescue_donor_served_bytes_total ' "$damaged" $((2 * damaged))
check "the console pulled nothing" test -z "$(value console 'fwrescue_pulled_bytes_total{')"
check "another path is 404" \
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$bmc_port/")" = 404

# A bad listen value: the daemon stops at start with one line naming the key.
cluster_node bad peer metrics.listen='"localhost:9464"'
timeout 10 "$FWRESCUED" --config "$TEST_DIR/bad/node.toml" >"$TEST_DIR/bad.out" 2>&1
rc=$?
check "a bad metrics.listen stops the daemon (exit 2)" test "$rc" = 2
check "with one line" test "$(wc -l <"$TEST_DIR/bad.out")" = 1
check "naming the key" grep -q "key 'metrics.listen': expected \"IPv4:port\"" "$TEST_DIR/bad.out"

# A port in use: the daemon says so once and runs on without metrics.
cluster_node busy peer metrics.listen="\"127.0.0.1:$console_port\""
cluster_start busy
check "a port in use is one error line" \
  cluster_wait_log busy "metrics: cannot listen on 127.0.0.1:$console_port: Address already in use; running without metrics" 30
check "and the daemon runs on" cluster_wait_ready busy
check "its status answers" wait_status busy '"node":"busy"' 5
check "the console still answers its own scrapes" scrape "$console_port" console
finish
