#!/usr/bin/env bash
# Replays: an accept for one donor sent to another, the same accept used twice, a genuine
# offer captured for one request replayed to the recipient's new request, and that offer
# re-addressed to the new request under its old signature. Donors must decline the first two;
# the recipient must reject both offers and recover from the genuine console.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-b peer
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
adv_hostile replay-accept replay --mode accept --donor console --seconds 15
check "the accept was used twice" cluster_wait_log replay-accept "use 2:" 10
sed -n 's/.*\] \(accept for .*\)/  hostile: \1/p' "$TEST_DIR/logs/replay-accept.log"
adv_check_log "an accept for the console is declined by bmc-b" replay-accept \
  "accept for console sent to bmc-b: decline"
adv_check_log "an accept is used once: its second use is declined" replay-accept \
  "accept for console, use 2: decline"
adv_hostile replay-offer replay --mode offer --donor console --requester bmc-c --seconds 20
check "the console's offer was captured" cluster_wait_log replay-offer "captured" 10
cluster_start bmc-c
cluster_wait_ready bmc-c
adv_watch bmc-c
adv_check "bmc-c recovers from the genuine console" adv_wait_recovery bmc-c 1 30
check "bmc-c's flash verifies" cluster_verify bmc-c
check "the offer was replayed to bmc-c" grep -q "replayed console's captured offer" \
  "$TEST_DIR/logs/replay-offer.log"
adv_check_log "bmc-c rejects the replayed offer" bmc-c \
  "offer from console \(lan:127.0.0.66:[0-9]+\) rejected: does not answer the current request"
adv_check_log "bmc-c rejects the re-addressed offer" bmc-c \
  "offer from console \(lan:127.0.0.66:[0-9]+\) rejected: node signature does not verify"
adv_watch_stop bmc-c "replay"
adv_check_bound "bmc-c descriptors" "$PEAK_FDS" 64
finish
