#!/usr/bin/env bash
# No-read flood: after a confirmed accept, the peer asks for the whole image 80 times over and
# never reads, with a tiny receive window. The donor must answer only as its queue drains and
# end a session that asks for more than its bound: its memory stays bounded (growth < 64 MiB),
# and the honest recipient still recovers from it.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_wait_ready console
adv_watch console
adv_hostile noread no-read --donor console --requests 80 --seconds 10
check "the requests went out" cluster_wait_log noread "block requests" 10
sleep 2
cluster_start bmc-c
adv_check "bmc-c recovers from the console during the attack" adv_wait_recovery bmc-c 1 30
check "bmc-c's flash verifies" cluster_verify bmc-c
adv_hostile_wait noread 20
adv_watch_stop console "no-read"
sed -n 's/.*\] \(drained .*\)/  hostile: \1/p' "$TEST_DIR/logs/noread.log"
adv_check_cost "console RSS growth under 80 unread requests (KiB)" "$GROWTH_KB" $((64 * 1024))
adv_check_bound "console descriptors" "$PEAK_FDS" 64
adv_check_log "the donor ended the session that never read" noread "was ended by the donor"
finish
