#!/usr/bin/env bash
# The LAN dies mid-transfer and the transfer completes over the ICMB. A console and a recipient
# each live in a network namespace of their own, joined by a bridge with a rate limit of
# 2 Mbit/s and 1 % packet loss, and share an emulated ICMB at 230400 baud. The recipient pulls
# over the LAN (the faster link) until the console's cable is pulled; then the recipient drops
# the stalled LAN session and goes on over the bus with the same donor, keeping every block it
# has verified. Needs root for the namespaces; skipped with one line elsewhere.
source "$(dirname "$0")/../integration/testlib.sh" "$1" "$2"
ICMB_BUS=$3
source "$(dirname "$0")/links.sh"
source "$(dirname "$0")/../support/netns.sh"
if ! netns_available; then
  echo "skipped: $NETNS_UNAVAILABLE"
  exit 77
fi
PREFIX=fwrfo$$
trap 'on_exit; netns_teardown "$PREFIX"' EXIT
netns_setup "$PREFIX" 2 || exit 1
netns_rate "$PREFIX" 1 2000
netns_rate "$PREFIX" 2 2000
netns_loss "$PREFIX" 2 1
cluster_init "$TEST_DIR"
bus_start 230400 0 console bmc-c || exit 1
node_on_both() {
  local name=$1 role=$2 i=$3
  shift 3
  cluster_node "$name" "$role" "lan.interface_address=\"$(netns_addr "$PREFIX" "$i")\"" \
    icmb.enabled=true "icmb.device=\"$CLUSTER_DIR/bus/$name\"" "icmb.address=$i" icmb.baud=230400 \
    recovery.policy='"fastest-link"' "$@"
}
node_on_both console console 1 donor.serve_installed=false monitor.auto_recover=false
node_on_both bmc-c peer 2
# 512 KiB to pull: about 2 s over the LAN at 2 Mbit/s, 23 s over the bus.
cluster_corrupt bmc-c 0x100000 524288
ns_start() {
  ip netns exec "$PREFIX-$2" "$FWRESCUED" --config "$CLUSTER_DIR/$1/node.toml" \
    2>>"$CLUSTER_DIR/logs/$1.log" &
  echo "$1 $!" >>"$CLUSTER_DIR/pids"
}
ns_start console 1
cluster_wait_ready console
ns_start bmc-c 2
check "the console offers over both links" cluster_wait_log bmc-c "offer from console .* over icmb" 30
check "the transfer starts over the LAN" cluster_wait_log bmc-c "opening a session to console at lan:" 30
cluster_wait_log bmc-c "pulling [0-9]+" 30
sleep 0.8
netns_link "$PREFIX" 1 down
check "the stalled LAN session is dropped" cluster_wait_log bmc-c "dropping donor console: " 60
check "the transfer goes on over the bus" cluster_wait_log bmc-c "opening a session to console at icmb:0x0001" 30
# The kept count is logged once the donor confirms the session, a frame after it opens.
cluster_wait_log bmc-c "confirmed over icmb; [0-9]+ blocks held already" 30
kept=$(sed -n 's/.*confirmed over icmb; \([0-9]*\) blocks held already are kept.*/\1/p' \
  "$CLUSTER_DIR/logs/bmc-c.log" | head -1)
present=$(sed -n 's/.* \([0-9]*\) of [0-9]* blocks already present.*/\1/p' \
  "$CLUSTER_DIR/logs/bmc-c.log" | head -1)
check "blocks verified over the LAN are kept, not pulled again" test "${kept:-0}" -gt "${present:-0}"
check "bmc-c recovers" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 180
check "bmc-c's flash verifies" cluster_verify bmc-c
check "one job: no second discovery was needed" \
  test "$(grep -c "image request .* sent" "$CLUSTER_DIR/logs/bmc-c.log")" = 1
grep -E "blocks already present|confirmed over|dropping donor|recovered bmc-c" "$CLUSTER_DIR/logs/bmc-c.log"
finish
