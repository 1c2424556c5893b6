#!/usr/bin/env bash
# Inbound flood: after a confirmed accept, the peer sends the donor 60 KiB block_data frames (a
# donor never receives block_data; frames this small pass any cap on a frame's size) as fast as
# the donor reads them, for 10 s. The donor must not let one session's input queue up in its
# memory (limits.inbound_kib) nor take its CPU: it ends the session, or reads it only as its
# actors keep up. Asserted: RSS growth < 32 MiB, CPU < 25 % of a core, the admin socket
# answers, and the honest recipient recovers from the donor meanwhile.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_wait_ready console
adv_watch console
adv_hostile flood frame-flood --donor console --seconds 10
check "the flood started" cluster_wait_log flood "sending" 10
sleep 2
cluster_start bmc-c
adv_check "bmc-c recovers from the console during the flood" adv_wait_recovery bmc-c 1 20
check "bmc-c's flash verifies" cluster_verify bmc-c
adv_check "the console's admin socket answers during the flood" adv_status console
adv_hostile_wait flood 20
adv_watch_stop console "frame-flood"
sed -n 's/.*\] \(frame-flood: sent .*\)/  hostile: \1/p' "$TEST_DIR/logs/flood.log"
adv_check_cost "console RSS growth under the inbound flood (KiB)" "$GROWTH_KB" $((32 * 1024))
adv_check_cost "console CPU during the inbound flood (% of a core)" "$CPU_PERCENT" 25
adv_check_bound "console descriptors" "$PEAK_FDS" 64
finish
