# Shell helpers for recoveries over the slow links: an emulated ICMB (fwrescue-icmb-bus) and an
# emulated Bluetooth LE medium (a directory of Unix sockets). Sourced after testlib.sh.
#
# Needs: $ICMB_BUS (the bus emulator). The bus is recorded in $CLUSTER_DIR/pids and ended by
# cluster_stop, like the daemons.

# bus_start BAUD BER NAME...: starts one bus at BAUD with bit-error rate BER, with a pty link
# $CLUSTER_DIR/bus/NAME for each NAME; waits until it is ready.
bus_start() {
  local baud=$1 ber=$2
  shift 2
  mkdir -p "$CLUSTER_DIR/bus"
  local args=() name
  for name in "$@"; do args+=(--link "$CLUSTER_DIR/bus/$name"); done
  "$ICMB_BUS" --baud "$baud" --bit-error-rate "$ber" --seed 7 --stats "$CLUSTER_DIR/bus.stats" \
    "${args[@]}" >"$CLUSTER_DIR/bus.out" 2>>"$CLUSTER_DIR/logs/bus.log" &
  echo "bus $!" >>"$CLUSTER_DIR/pids"
  for _ in $(seq 100); do
    grep -q '^ready$' "$CLUSTER_DIR/bus.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "the bus emulator did not become ready" >&2
  return 1
}

# bus_stat NAME: a counter from the bus's stats line (bytes, collisions, bit_flips, dropped).
bus_stat() {
  awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$CLUSTER_DIR/bus.stats"
}

# icmb_node NAME ROLE ADDRESS BAUD [key=value ...]: a node on the bus only (its LAN is off).
icmb_node() {
  local name=$1 role=$2 address=$3 baud=$4
  shift 4
  cluster_node "$name" "$role" lan.enabled=false icmb.enabled=true \
    "icmb.device=\"$CLUSTER_DIR/bus/$name\"" "icmb.address=$address" "icmb.baud=$baud" "$@"
}

# ble_node NAME ROLE N [key=value ...]: a node on the emulated Bluetooth LE medium only (its LAN
# is off), with adapter address AA:BB:CC:DD:EE:0N and every other BLE node of the test as a peer.
# BLE_NODES lists the N of every node, so each knows the others before any starts.
ble_node() {
  local name=$1 role=$2 n=$3
  shift 3
  local peers="" m
  for m in $BLE_NODES; do
    [ "$m" = "$n" ] && continue
    peers+="${peers:+, }\"AA:BB:CC:DD:EE:0$m\""
  done
  mkdir -p "$CLUSTER_DIR/ble"
  cluster_node "$name" "$role" lan.enabled=false ble.enabled=true \
    "ble.address=\"AA:BB:CC:DD:EE:0$n\"" "ble.peers=[$peers]" \
    "ble.emulation=\"$CLUSTER_DIR/ble\"" "$@"
}
