#!/usr/bin/env bash
# Descriptor exhaustion: the console and the recipient run with a limit of 1024 descriptors;
# a peer opens 1,100 idle TCP connections to each one's session port (reopening those they
# close) and holds them. Both admin sockets must still answer, a recovery must still start and
# succeed, and neither daemon may come within limits.descriptor_reserve (64) of its limit.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
adv_start_limited console 1024
cluster_wait_ready console
adv_start_limited bmc-c 1024
cluster_wait_ready bmc-c
check "bmc-c checked its flash at start" cluster_wait_log bmc-c "flash matches" 20
adv_watch console
adv_watch bmc-c
adv_hostile idle-console idle-connections --to "$(adv_session_address console)" --count 1100 \
  --reopen --seconds 90
adv_hostile idle-bmc-c idle-connections --to "$(adv_session_address bmc-c)" --count 1100 \
  --reopen --seconds 90
check "1,100 connections to the console" cluster_wait_log idle-console "connections to .* open" 15
check "1,100 connections to bmc-c" cluster_wait_log idle-bmc-c "connections to .* open" 15
sed -n 's/.*\] \(idle-connections: [0-9].*\)/  hostile: \1/p' "$TEST_DIR"/logs/idle-*.log
sleep 1
adv_check "the console's admin socket answers" adv_status console
adv_check "bmc-c's admin socket answers" adv_status bmc-c
cluster_corrupt bmc-c 0x100000 65536
adv_check "bmc-c takes a recovery request" adv_recover bmc-c
adv_check "bmc-c recovers from the console while the connections are held" \
  adv_wait_recovery bmc-c 1 20
check "bmc-c's flash verifies" cluster_verify bmc-c
adv_watch_stop console "descriptors"
adv_check_bound "console descriptors (limit 1024, reserve 64)" "$PEAK_FDS" $((1024 - 64 + 1))
adv_watch_stop bmc-c "descriptors"
adv_check_bound "bmc-c descriptors (limit 1024, reserve 64)" "$PEAK_FDS" $((1024 - 64 + 1))
check "the connections to the console were held throughout" kill -0 "$(cluster_pid idle-console)"
check "the connections to bmc-c were held throughout" kill -0 "$(cluster_pid idle-bmc-c)"
for h in idle-console idle-bmc-c; do
  echo "  $h: $(grep 'holding' "$TEST_DIR/logs/$h.log" | tail -1 | sed 's/.*\] //')"
done
finish
