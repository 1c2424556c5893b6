# shellcheck shell=bash
# Network namespaces for LAN tests: N nodes, each in its own namespace with one veth to a
# bridge that lives in a namespace of its own, so a test's LAN touches nothing of the host's
# and two tests in parallel (different prefixes) never see each other. Sourced by tests.
#
#   netns_available                 exit 0 when we are root and `ip netns add` works; otherwise
#                                   NETNS_UNAVAILABLE says why, in one line
#   netns_setup PREFIX N            namespaces PREFIX-1..PREFIX-N and the bridge's PREFIX-br
#   netns_addr PREFIX I             prints node I's address (10.77.X.I, X derived from PREFIX)
#   netns_exec PREFIX I CMD...      runs CMD in node I's namespace
#   netns_rate PREFIX I KBIT        limits node I's link to KBIT kbit/s each way (0: no limit)
#   netns_loss PREFIX I PERCENT     drops PERCENT % of the packets node I receives (0: none)
#   netns_link PREFIX I down|up     pulls or plugs node I's cable: its interface stays
#                                   configured but loses carrier, as when the LAN dies
#   netns_teardown PREFIX           ends processes left in PREFIX's namespaces (by PID) and
#                                   deletes the namespaces this shell made; safe in a trap
#
# Inside node I the interface is `eth0`, with a route for multicast (224.0.0.0/4) and lo up.
# Rate limits use tbf (this kernel has no netem); loss uses an nftables table in the node.

NETNS_IF=eth0
# Namespaces made by this shell, so teardown removes nothing it did not make.
NETNS_MADE=()

netns_available() {
  NETNS_UNAVAILABLE=""
  if [ "$(id -u)" != 0 ]; then
    NETNS_UNAVAILABLE="network namespaces need root"
    return 1
  fi
  if ! command -v ip >/dev/null; then
    NETNS_UNAVAILABLE="iproute2 (ip) is not installed"
    return 1
  fi
  local probe=fwrescue-probe-$$
  if ! ip netns add "$probe" 2>/dev/null; then
    NETNS_UNAVAILABLE="'ip netns add' is not allowed here"
    return 1
  fi
  ip netns del "$probe"
}

# The third octet of PREFIX's subnet, 1..250, from a checksum of the prefix.
_netns_subnet() {
  local sum
  sum=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
  echo $((sum % 250 + 1))
}

_netns_check_prefix() {
  if ! [[ $1 =~ ^[A-Za-z0-9_-]{1,32}$ ]]; then
    echo "netns: prefix '$1' must be 1 to 32 of A-Z a-z 0-9 _ -" >&2
    return 1
  fi
}

_netns_add() {
  ip netns add "$1" || { echo "netns: cannot add namespace $1" >&2; return 1; }
  NETNS_MADE+=("$1")
}

netns_addr() { echo "10.77.$(_netns_subnet "$1").$2"; }

netns_setup() {
  local prefix=$1 n=$2 i
  _netns_check_prefix "$prefix" || return 1
  if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 200 ]; then
    echo "netns_setup: expected 1 to 200 nodes, got '$n'" >&2
    return 1
  fi
  local br=$prefix-br
  _netns_add "$br" || return 1
  ip -n "$br" link set lo up
  # Snooping is off so multicast floods to every port: with no IGMP querier on this LAN the
  # bridge's view of group members would be a guess.
  if ! { ip -n "$br" link add br0 type bridge mcast_snooping 0 && ip -n "$br" link set br0 up; }; then
    echo "netns_setup: cannot make the bridge in $br" >&2
    return 1
  fi
  for i in $(seq "$n"); do
    local ns=$prefix-$i
    _netns_add "$ns" || return 1
    # Both ends are made inside namespaces, so the host's interface names are never touched.
    if ! { ip -n "$br" link add "vb$i" type veth peer name "$NETNS_IF" netns "$ns" &&
      ip -n "$br" link set "vb$i" master br0 &&
      ip -n "$br" link set "vb$i" up &&
      ip -n "$ns" link set lo up &&
      ip -n "$ns" addr add "$(netns_addr "$prefix" "$i")/24" dev "$NETNS_IF" &&
      ip -n "$ns" link set "$NETNS_IF" up &&
      ip -n "$ns" route add 224.0.0.0/4 dev "$NETNS_IF"; }; then
      echo "netns_setup: cannot attach $ns to the bridge" >&2
      return 1
    fi
  done
}

netns_exec() {
  local prefix=$1 i=$2
  shift 2
  ip netns exec "$prefix-$i" "$@"
}

netns_rate() {
  local prefix=$1 i=$2 kbit=$3
  if ! [[ $kbit =~ ^[0-9]+$ ]]; then
    echo "netns_rate: expected a rate in kbit/s, got '$kbit'" >&2
    return 1
  fi
  # Node to bridge leaves through the node's eth0, bridge to node through the bridge's vbI.
  _netns_tbf "$prefix-$i" "$NETNS_IF" "$kbit" && _netns_tbf "$prefix-br" "vb$i" "$kbit"
}

# _netns_tbf NAMESPACE DEVICE KBIT: DEVICE's egress limited to KBIT (0: unlimited).
_netns_tbf() {
  tc -n "$1" qdisc del dev "$2" root 2>/dev/null || true
  [ "$3" = 0 ] && return 0
  # The bucket holds 20 ms of traffic, and never less than two full frames.
  local burst=$(($3 * 1000 / 8 / 50))
  [ "$burst" -lt 3200 ] && burst=3200
  if ! tc -n "$1" qdisc add dev "$2" root tbf rate "${3}kbit" burst "$burst" latency 200ms; then
    echo "netns_rate: cannot limit $2 in $1 to $3 kbit/s" >&2
    return 1
  fi
}

netns_loss() {
  local prefix=$1 i=$2 percent=$3
  if ! [[ $percent =~ ^[0-9]+$ ]] || [ "$percent" -gt 100 ]; then
    echo "netns_loss: expected a percentage from 0 to 100, got '$percent'" >&2
    return 1
  fi
  local ns=$prefix-$i
  ip netns exec "$ns" nft delete table inet lossy 2>/dev/null || true
  [ "$percent" = 0 ] && return 0
  ip netns exec "$ns" nft -f - <<NFT || { echo "netns_loss: cannot add the nftables loss table in $ns" >&2; return 1; }
table inet lossy {
  chain loss {
    type filter hook input priority 0;
    numgen random mod 100 < $percent drop;
  }
}
NFT
}

netns_link() {
  local prefix=$1 i=$2 state=$3
  case $state in
    up | down) ;;
    *)
      echo "netns_link: expected up or down, got '$state'" >&2
      return 1
      ;;
  esac
  ip -n "$prefix-br" link set "vb$i" "$state" ||
    { echo "netns_link: cannot set node $i's cable $state" >&2; return 1; }
}

netns_teardown() {
  local prefix=$1 ns pid kept=()
  for ns in "${NETNS_MADE[@]}"; do
    if [ "${ns%-*}" != "$prefix" ]; then
      kept+=("$ns")
      continue
    fi
    # Only this test's commands can be running in a namespace this shell made.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 30); do
      [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
      sleep 0.1
    done
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  NETNS_MADE=("${kept[@]}")
}
