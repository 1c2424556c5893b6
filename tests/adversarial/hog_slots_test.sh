#!/usr/bin/env bash
# Slot hogging: a peer with any node key takes one genuine offer from the only donor, sends its
# signed accept on one connection (confirmed), sends the same accept again on a second one, and
# never requests a block. An accept is usable once, and an upload that makes no progress ends
# (limits.idle_ms, 15 s by default): the honest recipient must recover from that donor while
# the hog holds its one slot, and the hog's slot must come back.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_wait_ready console
adv_watch console
adv_hostile hog hog-slots --donor console --uses 2 --seconds 24
check "the hog used its accept twice" cluster_wait_log hog "accept use 2:" 10
adv_check_log "a second use of one accept is declined" hog "accept use 2: decline"
cluster_start bmc-c
adv_check "bmc-c recovers from the console while the hog holds a slot" adv_wait_recovery bmc-c 1 30
check "bmc-c's flash verifies" cluster_verify bmc-c
adv_check "the donor ends the upload that makes no progress (limits.idle_ms, 15 s)" \
  cluster_wait_log hog "connection 1 closed by the donor" 25
sed -n 's/.*\] \(connection 1 closed .*\)/  hostile: \1/p' "$TEST_DIR/logs/hog.log"
adv_watch_stop console "hog-slots"
adv_check_cost "console RSS growth (KiB)" "$GROWTH_KB" $((32 * 1024))
adv_check_bound "console descriptors" "$PEAK_FDS" 64
finish
