#!/usr/bin/env bash
# Datagram flood: 5,000 image requests a second for 10 s from 64 source ports of one address.
# The console must stay responsive (its admin socket answers in under 2 s, the honest recipient
# recovers from it during the flood), answer at most limits.answers_per_s (50) a second, and
# keep its CPU (under a quarter of a core: what is left once answers are limited is reading and
# decoding the datagrams), memory (growth under 32 MiB) and log (growth under 1 MiB) bounded.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_wait_ready console
adv_watch console
log_before=$(stat -c %s "$TEST_DIR/logs/console.log")
adv_hostile flood flood --rate 5000 --sources 64 --seconds 10
check "the flood started" cluster_wait_log flood "flooding" 5
sleep 2
cluster_start bmc-c
adv_check "bmc-c recovers from the flooded console" adv_wait_recovery bmc-c 1 20
check "bmc-c's flash verifies" cluster_verify bmc-c
t0=$(date +%s%N)
adv_check "the console's admin socket answers during the flood" adv_status console
status_ms=$((($(date +%s%N) - t0) / 1000000))
echo "  console: status answered in $status_ms ms"
adv_check_bound "console status time during the flood (ms)" "$status_ms" 2000
adv_hostile_wait flood 20
adv_watch_stop console "flood"
log_growth=$(($(stat -c %s "$TEST_DIR/logs/console.log") - log_before))
echo "  console: its log grew $((log_growth / 1024)) KiB during the flood"
sed -n -e 's/.*\] \(flood: sent .*\)/  hostile: \1/p' \
  -e 's/.*\] \(flood: [0-9]* offers from .*\)/  hostile: \1/p' "$TEST_DIR/logs/flood.log"
# Only the console's answers count: bmc-c answers too once it holds the image again.
answers=$(sed -n 's/.*offers from console (\([0-9]*\)\.[0-9]*\/s).*/\1/p' "$TEST_DIR/logs/flood.log")
adv_check_bound "offers a second the console sent the flood" "${answers:-0}" 61
adv_check_cost "console CPU during the flood (% of a core)" "$CPU_PERCENT" 25
adv_check_cost "console RSS growth (KiB)" "$GROWTH_KB" $((32 * 1024))
adv_check_bound "console log growth (KiB)" "$((log_growth / 1024))" 1024
finish
