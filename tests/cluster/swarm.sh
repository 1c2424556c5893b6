# Shell helpers for a cluster of N real daemons on this host (the `cluster` tests and
# bench/swarm_bench): one console serving a signed image from its catalog, N-1 peers, every node
# with its own state, flash, admin socket and metrics port, all on one multicast group. Built on
# tests/integration/cluster.sh (keys, configs, start, logs, stop by PID), which it sources.
#
# Needs: $FWRESCUE and $FWRESCUED. Nodes are "console" and n01, n02, ... (swarm_name I).
#
#   swarm_init DIR N [section.key=value ...]  configs for N nodes; the settings apply to all
#   swarm_set NAME [section.key=value ...]    rewrites one node's config (before it starts)
#   swarm_corrupt_all OFFSET LENGTH NAME...   erases that range of each node's flash
#   swarm_start NAME... / swarm_wait_ready NAME...
#   swarm_wait_recovered SECONDS NAME...      all recovered and verified, or the deadline
#   swarm_hwm_kb, swarm_cpu_ticks, swarm_served_bytes NAME: peak RSS, CPU, bytes uploaded
#   swarm_peak_rss_mib NAME...                the largest peak RSS among them
#   swarm_random_image PATH BYTES             an incompressible image for CLUSTER_FIRMWARE
#   cluster_stop                              ends every process by its PID (cluster.sh)
#
# The defaults below make 64 daemons fit on 2 cores and a few GiB: a small discovery window,
# many attempts with short backoffs (an attempt every donor answered busy is waited out apart),
# pulled blocks kept in memory only for images up to 8 MiB (the tests' and the bench's), and no
# periodic flash checks. The CAF scheduler (2 threads) and the hashing threads (the core count,
# at most 4) are the daemon's own and need no setting.

source "$(dirname "${BASH_SOURCE[0]}")/../integration/cluster.sh"

SWARM_DEFAULTS=(
  recovery.discovery_window_ms=200 recovery.max_attempts=50 recovery.max_donors=4
  recovery.backoff_initial_ms=200 recovery.backoff_max_ms=1000
  recovery.verified_in_memory_mib=8
  donor.max_uploads=2
)
SWARM_NODES=()
declare -A SWARM_ROLE=() SWARM_SETTINGS=() SWARM_METRICS_PORT=()

swarm_name() { printf 'n%02d' "$1"; }

# swarm_node NAME ROLE [section.key=value ...]: one node's config, from cluster_node with the
# swarm's defaults, the console's own, then the given settings (the last of a key wins).
swarm_node() {
  local name=$1 role=$2
  shift 2
  local extra=()
  [ "$role" = console ] && extra=(donor.serve_installed=false monitor.auto_recover=false)
  [ -n "${SWARM_METRICS_PORT[$name]:-}" ] || {
    SWARM_METRICS_PORT[$name]=$((SWARM_METRICS_BASE + ${#SWARM_NODES[@]}))
    SWARM_NODES+=("$name")
  }
  SWARM_ROLE[$name]=$role
  SWARM_SETTINGS[$name]="$*"
  # Each node has an address of its own in 127.0.0.0/8, as each BMC of a rack has: the limits a
  # donor keeps per source address (answers, sessions) then see one node each, not the swarm.
  local index=$((${SWARM_METRICS_PORT[$name]} - SWARM_METRICS_BASE + 2))
  local address="127.0.$((index / 250)).$((index % 250 + 2))"
  cluster_node "$name" "$role" "${SWARM_DEFAULTS[@]}" "${extra[@]}" \
    "lan.interface_address=\"$address\"" \
    "metrics.listen=\"127.0.0.1:${SWARM_METRICS_PORT[$name]}\"" "$@"
}

# swarm_init DIR N [section.key=value ...]: the cluster's keys and image (cluster_init, from
# $CLUSTER_FIRMWARE), a console and N-1 peers, each holding the good image for now.
swarm_init() {
  local dir=$1 n=$2
  shift 2
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 2 ] || [ "$n" -gt 1000 ]; then
    echo "swarm_init: the node count must be from 2 to 1000, not '$n'" >&2
    return 2
  fi
  cluster_init "$dir" || return 1
  # Metrics ports follow the discovery port, so swarms side by side keep apart as their groups do.
  SWARM_METRICS_BASE=$((CLUSTER_PORT + 1))
  SWARM_NODES=()
  SWARM_ROLE=() SWARM_SETTINGS=() SWARM_METRICS_PORT=()
  swarm_node console console "$@"
  local i
  for ((i = 1; i < n; i++)); do
    swarm_node "$(swarm_name "$i")" peer "$@"
  done
}

# swarm_set NAME [section.key=value ...]: writes NAME's config again with more settings (its
# flash becomes the good image again: corrupt after this).
swarm_set() {
  local name=$1
  shift
  # shellcheck disable=SC2086 # the settings were stored one word each
  swarm_node "$name" "${SWARM_ROLE[$name]}" ${SWARM_SETTINGS[$name]} "$@"
}

# swarm_corrupt_all OFFSET LENGTH NAME...: erases OFFSET..OFFSET+LENGTH (0xff) of each flash.
swarm_corrupt_all() {
  local offset=$1 length=$2 name
  shift 2
  for name in "$@"; do cluster_corrupt "$name" "$offset" "$length"; done
}

swarm_start() {
  local name
  for name in "$@"; do cluster_start "$name"; done
}

# swarm_wait_ready NAME...: every one serves its admin socket (and a console its catalog).
swarm_wait_ready() {
  local name
  for name in "$@"; do cluster_wait_ready "$name" || return 1; done
}

# swarm_recovered NAME: whether NAME's log says it recovered.
swarm_recovered() { grep -Eq "coordinator: recovered $1 from " "$CLUSTER_DIR/logs/$1.log" 2>/dev/null; }

# swarm_wait_recovered SECONDS NAME...: waits until every NAME has recovered, then checks each
# flash against the manifest. Names the ones that did not (on stderr) and fails if any.
swarm_wait_recovered() {
  local deadline=$((SECONDS + $1)) name
  shift
  local left=("$@") still
  while :; do
    # Only the ones not yet recovered are looked at again: a poll of 63 logs is 63 processes.
    still=()
    for name in "${left[@]}"; do swarm_recovered "$name" || still+=("$name"); done
    left=("${still[@]}")
    [ ${#left[@]} = 0 ] && break
    if [ "$SECONDS" -gt "$deadline" ]; then
      echo "swarm: ${#left[@]} of $# not recovered by the deadline: ${left[*]}" >&2
      return 1
    fi
    sleep "${CLUSTER_POLL_S:-0.2}"
  done
  local bad=()
  for name in "$@"; do cluster_verify "$name" >/dev/null 2>&1 || bad+=("$name"); done
  if [ ${#bad[@]} != 0 ]; then
    echo "swarm: recovered but the flash does not verify: ${bad[*]}" >&2
    return 1
  fi
}

# swarm_hwm_kb NAME: the peak resident memory (VmHWM) of NAME's running daemon, in KiB.
swarm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$(cluster_pid "$1")/status" 2>/dev/null; }

# swarm_cpu_ticks NAME: user + system CPU time of NAME's running daemon, in clock ticks.
swarm_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(cluster_pid "$1")/stat" 2>/dev/null; }

# swarm_served_bytes NAME: block bytes NAME's donor has uploaded (its metrics'
# fwrescue_donor_served_bytes_total, before compression); empty if its metrics do not answer.
swarm_served_bytes() {
  curl -sf --max-time 5 "http://127.0.0.1:${SWARM_METRICS_PORT[$1]}/metrics" |
    awk '$1 == "fwrescue_donor_served_bytes_total" { printf "%.0f\n", $2 }'
}

# swarm_random_image PATH BYTES: an image of random bytes (nothing in it compresses, so the bytes
# on the wire are the bytes served); use it as CLUSTER_FIRMWARE before swarm_init.
swarm_random_image() { head -c "$2" /dev/urandom >"$1"; }

# swarm_peak_rss_mib NAME...: the largest VmHWM among the running daemons NAME..., in MiB.
swarm_peak_rss_mib() {
  local name kb max=0
  for name in "$@"; do
    kb=$(swarm_hwm_kb "$name")
    [ -n "$kb" ] && [ "$kb" -gt "$max" ] && max=$kb
  done
  echo $(((max + 1023) / 1024))
}
