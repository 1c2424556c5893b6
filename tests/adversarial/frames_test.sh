#!/usr/bin/env bash
# Malformed framing on a donor's session port: frame headers announcing 0xffffffff, 0x80000000
# and 2 MiB + 1 bytes (each must close its connection at once, nothing allocated), then six
# handshakes left half way (3 bytes of a frame header, then silence), which the donor must end
# within limits.handshake_ms (5 s) while the honest recipient recovers from it.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_wait_ready console
address=$(adv_session_address console)
adv_watch console
adv_hostile oversize oversize-frame --to "$address" --seconds 20
adv_hostile_wait oversize 25
sed -n 's/.*\] \(length .*\)/  hostile: \1/p' "$TEST_DIR/logs/oversize.log"
adv_check_log "every oversized frame header closes its connection" oversize \
  "oversize-frame: 3 of 3 connections closed"
adv_hostile halfopen half-open --to "$address" --count 6 --seconds 12
check "the half-open handshakes are in place" cluster_wait_log halfopen "sent 3 bytes" 5
cluster_start bmc-c
adv_check "bmc-c recovers from the console meanwhile" adv_wait_recovery bmc-c 1 20
check "bmc-c's flash verifies" cluster_verify bmc-c
adv_hostile_wait halfopen 20
sed -n 's/.*\] \(half-open: .*closed.*\)/  hostile: \1/p' "$TEST_DIR/logs/halfopen.log"
adv_check_log "the donor ends handshakes left half way" halfopen \
  "half-open: 6 of 6 closed by the daemon"
latest=$(sed -n 's/.*closed by the daemon after \([0-9.]*\) s.*/\1/p' "$TEST_DIR/logs/halfopen.log" |
  sort -n | tail -1)
adv_check_bound "the last half-open handshake ends within 7 s (handshake_ms 5 s + 2 s; tenths)" \
  "$(awk -v s="${latest:-99}" 'BEGIN { printf "%d", s * 10 }')" 70
adv_watch_stop console "frames"
adv_check_cost "console RSS growth (KiB)" "$GROWTH_KB" $((16 * 1024))
adv_check_bound "console descriptors" "$PEAK_FDS" 64
finish
