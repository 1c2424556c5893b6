#!/usr/bin/env bash
# The namespace LAN the LAN tests run on (tests/support/netns.sh): two nodes reach each other
# through the bridge, not once the cable is pulled, multicast crosses it, and the rate limit,
# packet loss and teardown do what they say. Skips (77) where namespaces are not allowed.
source "$(dirname "$0")/testlib.sh" "$@"
source "$(dirname "$0")/../support/netns.sh"
# No cluster here: testlib's exit handler finds no daemons to stop in an empty directory.
CLUSTER_DIR=$TEST_DIR

if ! netns_available; then
  echo "SKIP: $NETNS_UNAVAILABLE"
  exit 77
fi
for tool in ping socat tc nft ss; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

P=fwr-nt-$$
trap 'netns_teardown "$P"; on_exit' EXIT
netns_setup "$P" 2 || { echo "FAIL: netns_setup"; exit 1; }
A1=$(netns_addr "$P" 1)
A2=$(netns_addr "$P" 2)

# pings NODE ADDR: one echo reply within 2 s.
pings() { netns_exec "$P" "$1" ping -c 1 -W 2 "$2"; }
# wait_pings NODE ADDR: pings within 10 s (a plugged cable needs a moment for the carrier).
wait_pings() {
  local deadline=$((SECONDS + 10))
  until pings "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -le "$deadline" ] || return 1
    sleep 0.2
  done
}
fails_to_ping() { ! netns_exec "$P" "$1" ping -c 2 -W 1 "$2"; }

check "node 1 pings node 2" pings 1 "$A2"
check "node 2 pings node 1" pings 2 "$A1"
check "nodes are on the prefix's own subnet" test "${A1%.*}" = "${A2%.*}"

# The LAN dies: node 2's cable is pulled; its interface stays up and configured.
netns_link "$P" 2 down
check "a pulled cable leaves node 2 without carrier" \
  bash -c "ip -n $P-2 link show eth0 | grep -q NO-CARRIER"
check "node 1 does not reach node 2 with the link down" fails_to_ping 1 "$A2"
check "node 2 does not reach node 1 with the link down" fails_to_ping 2 "$A1"
netns_link "$P" 2 up
check "node 1 reaches node 2 again once the link is up" wait_pings 1 "$A2"

# multicast_crosses: a datagram to a group from node 1 reaches a member in node 2.
multicast_crosses() {
  local out=$TEST_DIR/multicast.out
  : >"$out"
  netns_exec "$P" 2 timeout 10 socat -u \
    UDP4-RECVFROM:4999,reuseaddr,ip-add-membership=239.255.77.9:eth0 - >"$out" &
  local receiver=$!
  local deadline=$((SECONDS + 10))
  # Repeated until it lands: the receiver may not have joined the group yet.
  while [ ! -s "$out" ] && [ "$SECONDS" -le "$deadline" ]; do
    echo "fwrescue-multicast-$$" | netns_exec "$P" 1 socat -u - UDP4-DATAGRAM:239.255.77.9:4999
    sleep 0.2
  done
  wait "$receiver"
  grep -qx "fwrescue-multicast-$$" "$out"
}
check "a multicast datagram from node 1 reaches node 2" multicast_crosses

# transfer_seconds BYTES: seconds a TCP transfer of BYTES from node 1 to node 2 takes.
transfer_seconds() {
  netns_exec "$P" 2 timeout 60 socat -u TCP4-LISTEN:5001,reuseaddr - >/dev/null &
  local receiver=$!
  for _ in $(seq 100); do
    netns_exec "$P" 2 ss -ltn | grep -q ':5001 ' && break
    sleep 0.1
  done
  local start end
  start=$(date +%s.%N)
  head -c "$1" /dev/zero | netns_exec "$P" 1 socat -u - "TCP4:$A2:5001"
  wait "$receiver"
  end=$(date +%s.%N)
  echo "$start $end" | awk '{ printf "%.3f\n", $2 - $1 }'
}
# 800 kbit/s carries 100 000 bytes a second: 200 000 bytes (plus headers) need at least
# (200 000 - one 3200-byte bucket) / 100 000 s, however fast the machine.
netns_rate "$P" 1 800
took=$(transfer_seconds 200000)
echo "200000 bytes at 800 kbit/s: $took s"
check "the rate limit holds a transfer to at most 800 kbit/s" \
  awk -v t="$took" 'BEGIN { exit !(t >= 1.96) }'
netns_rate "$P" 1 0
check "removing the rate limit removes the qdisc" \
  bash -c "! tc -n $P-1 qdisc show dev eth0 | grep -q tbf"

# received_of COUNT: how many of COUNT pings from node 1 to node 2 were answered.
received_of() {
  netns_exec "$P" 1 ping -q -c "$1" -i 0.02 -W 1 "$A2" | awk '/received/ { print $4 }'
}
netns_loss "$P" 2 50
got=$(received_of 60)
echo "60 pings at 50% loss: $got answered"
# Binomial(60, 0.5) outside 5..55 has a probability below 1e-11.
check "50% loss drops some pings and lets some through" \
  awk -v n="$got" 'BEGIN { exit !(n >= 5 && n <= 55) }'
netns_loss "$P" 2 0
check "with the loss removed every ping is answered" \
  test "$(received_of 20)" = 20

# Teardown removes what this test made and nothing else, even under the same prefix.
ip netns add "$P-other"
netns_teardown "$P"
check "teardown removes the test's namespaces" \
  bash -c "! ip netns list | grep -Eq '^$P-([0-9]+|br)( |\$)'"
check "teardown leaves a namespace it did not make" \
  bash -c "ip netns list | grep -q '^$P-other'"
ip netns del "$P-other"

finish
