# Shell helpers that build and run a small fwrescue cluster on this host: a console holding a
# signed image in its catalog, a peer whose flash holds the same image, and a recipient whose
# flash is a corrupted copy. Sourced by scripts/demo and the integration tests.
#
# Needs: $FWRESCUE and $FWRESCUED (the binaries). Every process started is recorded in
# $CLUSTER_DIR/pids and ended by cluster_stop, by PID.

CLUSTER_FIRMWARE=${CLUSTER_FIRMWARE:-/usr/share/OVMF/OVMF_CODE_4M.fd}

# cluster_init DIR: keys, images, manifests and one config per node under DIR.
cluster_init() {
  CLUSTER_DIR=$1
  mkdir -p "$CLUSTER_DIR"/{keys,images,logs}
  : >"$CLUSTER_DIR/pids"
  # A port per cluster, so clusters running side by side (parallel tests) never hear each other.
  CLUSTER_PORT=${CLUSTER_PORT:-$((20000 + RANDOM % 20000))}
  "$FWRESCUE" keygen --secret-key "$CLUSTER_DIR/keys/release.sec" \
    --public-key "$CLUSTER_DIR/keys/release.pub" >/dev/null
  # The console's node key is made here, so every node's config can name it as the console's:
  # only offers signed with it may claim the console role.
  "$FWRESCUE" keygen --secret-key "$CLUSTER_DIR/keys/console-node.sec" \
    --public-key "$CLUSTER_DIR/keys/console-node.pub" >/dev/null
  cp "$CLUSTER_FIRMWARE" "$CLUSTER_DIR/images/bios.fd"
  "$FWRESCUE" sign --secret-key "$CLUSTER_DIR/keys/release.sec" --image "$CLUSTER_DIR/images/bios.fd" \
    --platform QEMU:q35 --version "${CLUSTER_VERSION:-2022.11}" --svn "${CLUSTER_SVN:-1}" \
    --out "$CLUSTER_DIR/images/bios.fwm" >/dev/null
}

# cluster_node NAME ROLE [key=value ...]: writes NAME's config (state, flash copy of the good
# image, installed manifest). Extra "section.key=value" pairs override the defaults below.
cluster_node() {
  local name=$1 role=$2
  shift 2
  local dir=$CLUSTER_DIR/$name
  mkdir -p "$dir/state"
  if [ "$role" = console ]; then
    cp "$CLUSTER_DIR/keys/console-node.sec" "$dir/node.sec"
    cp "$CLUSTER_DIR/keys/console-node.pub" "$dir/node.pub"
  else
    "$FWRESCUE" keygen --secret-key "$dir/node.sec" --public-key "$dir/node.pub" >/dev/null
  fi
  cp "$CLUSTER_DIR/images/bios.fd" "$dir/flash.fd"
  cp "$CLUSTER_DIR/images/bios.fwm" "$dir/state/installed.fwm"
  declare -A v=(
    [node.log_level]='"info"'
    [monitor.interval_s]=0 [monitor.auto_recover]=true
    [recovery.policy]='"prefer-console"' [recovery.discovery_window_ms]=300
    [recovery.block_window]=128 [recovery.block_timeout_ms]=2000 [recovery.max_attempts]=3
    [recovery.backoff_initial_ms]=100 [recovery.backoff_max_ms]=1000
    [recovery.verified_in_memory_mib]=64
    [donor.serve_installed]=true [donor.max_uploads]=2 [donor.upload_rate_kbps]=0
    [flash.erase_us]=0 [flash.program_us]=0 [host_power.during_flash]='"off"'
    [trust.svn_floor]=0
    [lan.group]='"239.255.77.1"' [lan.interface_address]='"127.0.0.1"'
  )
  local kv
  for kv in "$@"; do v[${kv%%=*}]=${kv#*=}; done
  # Fixed lines of each section; every "section.key" of v is written under its section.
  declare -A fixed=(
    [node]="id = \"$name\"
role = \"$role\"
key = \"node.sec\"
state_dir = \"state\""
    [platform]="vendor = \"${CLUSTER_VENDOR:-QEMU}\"
board = \"${CLUSTER_BOARD:-q35}\""
    [trust]="manifest_keys = [\"../keys/release.pub\"]
console_keys = [\"../keys/console-node.pub\"]"
    [flash]="path = \"flash.fd\""
    [lan]="discovery_port = $CLUSTER_PORT"
  )
  # A flash backend other than the file names its chip itself.
  [ -n "${v[flash.backend]:-}" ] && [ "${v[flash.backend]}" != '"file"' ] && fixed[flash]=""
  local section key
  {
    for section in node platform trust flash host_power boot monitor recovery policy donor lan icmb ble local removable http dbus redfish limits metrics; do
      printf '[%s]\n' "$section"
      [ -n "${fixed[$section]:-}" ] && printf '%s\n' "${fixed[$section]}"
      for key in $(printf '%s\n' "${!v[@]}" | grep "^$section\." | sort); do
        printf '%s = %s\n' "${key#*.}" "${v[$key]}"
      done
      if [ "$section" = donor ] && [ "$role" = console ]; then
        printf '[[donor.images]]\nimage = "../images/bios.fd"\nmanifest = "../images/bios.fwm"\n'
      fi
    done
  } >"$dir/node.toml"
}

# cluster_corrupt NAME OFFSET LENGTH: overwrites part of NAME's flash with 0xff, as an erase
# that was never reprogrammed leaves it. Written 64 KiB at a time (the offset counted in bytes):
# a swarm erases whole 4 MiB flashes of dozens of nodes.
cluster_corrupt() {
  head -c "$3" /dev/zero | tr '\0' '\377' |
    dd of="$CLUSTER_DIR/$1/flash.fd" bs=64K iflag=fullblock oflag=seek_bytes seek=$(($2)) \
      conv=notrunc status=none
}

# cluster_start NAME: starts NAME's daemon in the background, its log in logs/NAME.log.
cluster_start() {
  local name=$1
  "$FWRESCUED" --config "$CLUSTER_DIR/$name/node.toml" 2>>"$CLUSTER_DIR/logs/$name.log" &
  echo "$name $!" >>"$CLUSTER_DIR/pids"
}

# cluster_wait_ready NAME: waits until NAME serves its admin socket and, for a console, has
# checked its catalog (it offers nothing before that).
cluster_wait_ready() {
  cluster_wait_log "$1" "admin socket" 30 || return 1
  if grep -q 'role = "console"' "$CLUSTER_DIR/$1/node.toml"; then
    cluster_wait_log "$1" "catalog image .*: " 30 || return 1
  fi
}

cluster_pid() { awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$CLUSTER_DIR/pids"; }

# cluster_kill NAME SIGNAL: sends SIGNAL to NAME's daemon.
cluster_kill() { kill "-$2" "$(cluster_pid "$1")" 2>/dev/null || true; }

# cluster_wait_log NAME REGEX SECONDS: waits until NAME's log has a line matching REGEX.
# Polls every CLUSTER_POLL_S seconds (0.1 by default; the benchmark waits longer, so that the
# polling takes no CPU from the recovery it measures).
cluster_wait_log() {
  local deadline=$((SECONDS + $3))
  while [ "$SECONDS" -le "$deadline" ]; do
    grep -Eq -- "$2" "$CLUSTER_DIR/logs/$1.log" 2>/dev/null && return 0
    sleep "${CLUSTER_POLL_S:-0.1}"
  done
  echo "timed out after $3 s waiting for /$2/ in $1's log" >&2
  return 1
}

# cluster_status NAME: fwrescue status --json of NAME.
cluster_status() { "$FWRESCUE" status --socket "$CLUSTER_DIR/$1/state/admin.sock" --json 2>/dev/null; }

# cluster_verify NAME: verifies NAME's flash against the signed manifest.
cluster_verify() {
  "$FWRESCUE" verify --public-key "$CLUSTER_DIR/keys/release.pub" \
    --manifest "$CLUSTER_DIR/images/bios.fwm" --image "$CLUSTER_DIR/$1/flash.fd"
}

# cluster_stop: ends every daemon this cluster started (SIGTERM, then SIGKILL after 5 s).
cluster_stop() {
  [ -f "$CLUSTER_DIR/pids" ] || return 0
  local name pid
  while read -r name pid; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done <"$CLUSTER_DIR/pids"
  for _ in $(seq 50); do
    local alive=0
    while read -r name pid; do
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1 || true
    done <"$CLUSTER_DIR/pids"
    [ $alive = 0 ] && break
    sleep 0.1
  done
  while read -r name pid; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done <"$CLUSTER_DIR/pids"
  wait 2>/dev/null || true
  : >"$CLUSTER_DIR/pids"
  cluster_stop_hosts
  return 0
}

# cluster_stop_hosts: ends the QEMU hosts the daemons started (a host outlives its daemon, as a
# server outlives a BMC restart), by the PID in each node's pid file.
cluster_stop_hosts() {
  local pidfile pid
  for pidfile in "$CLUSTER_DIR"/*/state/host_qemu.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}
