# Shared by the adversarial tests: the integration tests' cluster and checks, plus the hostile
# peer, watchers of a daemon's memory and descriptors, and bounds to check them against.
# Usage in a test: source "$(dirname "$0")/adversary.sh" "$@"   (fwrescue fwrescued hostile_peer)
HOSTILE=$3
source "$(dirname "${BASH_SOURCE[0]}")/../integration/testlib.sh" "$1" "$2"

# With ADV_KEEP_LOGS=DIR, every log of the run is copied to DIR before the scratch directory goes.
adv_on_exit() {
  if [ -n "${ADV_KEEP_LOGS:-}" ]; then
    mkdir -p "$ADV_KEEP_LOGS"
    cp "$TEST_DIR"/logs/*.log "$ADV_KEEP_LOGS"/ 2>/dev/null || true
  fi
  on_exit
}
trap adv_on_exit EXIT

# adv_hostile NAME SUBCOMMAND [ARGS...]: runs the hostile peer in the background against this
# cluster (its discovery port), its output in logs/NAME.log; cluster_stop ends it by PID.
adv_hostile() {
  local name=$1 sub=$2
  shift 2
  "$HOSTILE" "$sub" --port "$CLUSTER_PORT" "$@" >>"$CLUSTER_DIR/logs/$name.log" 2>&1 &
  echo "$name $!" >>"$CLUSTER_DIR/pids"
}

# adv_hostile_wait NAME SECONDS: waits until the hostile peer NAME has ended by itself.
adv_hostile_wait() {
  local pid deadline=$((SECONDS + $2))
  pid=$(cluster_pid "$1")
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -le "$deadline" ] || return 1
    sleep 0.1
  done
  return 0
}

# adv_session_address NAME: the TCP address NAME's daemon takes sessions on (from its log).
adv_session_address() {
  sed -n 's/.*sessions at \(lan:\)\{0,1\}\([0-9.]*:[0-9]*\).*/\2/p' "$CLUSTER_DIR/logs/$1.log" | tail -1
}

# adv_start_limited NAME NOFILE: starts NAME's daemon like cluster_start, with its descriptor
# limit (soft and hard) set to NOFILE. The subshell execs the daemon, so the PID is the daemon's.
adv_start_limited() {
  local name=$1 nofile=$2
  (
    ulimit -n "$nofile"
    exec "$FWRESCUED" --config "$CLUSTER_DIR/$name/node.toml" 2>>"$CLUSTER_DIR/logs/$name.log"
  ) &
  echo "$name $!" >>"$CLUSTER_DIR/pids"
}

# adv_set NAME SECTION KEY VALUE: sets a key in NAME's config, in its section (added at the end
# when the config has none). For keys cluster_node does not write; use it only for keys the
# daemon knows, since the parser rejects unknown ones.
adv_set() {
  local file=$CLUSTER_DIR/$1/node.toml
  if grep -q "^\[$2\]\$" "$file"; then
    sed -i "/^\[$2\]\$/a $3 = $4" "$file"
  else
    printf '[%s]\n%s = %s\n' "$2" "$3" "$4" >>"$file"
  fi
}

adv_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
adv_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
adv_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# CPU time (user + system) of a process, in clock ticks.
adv_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# adv_watch NAME: samples NAME's daemon every 0.1 s in the background, keeping the highest
# VmRSS and descriptor count seen in $CLUSTER_DIR/watch-NAME. The values when it starts are
# the baseline.
adv_watch() {
  local name=$1 pid
  pid=$(cluster_pid "$name")
  local out=$CLUSTER_DIR/watch-$name
  echo "$(adv_rss_kb "$pid") $(adv_fds "$pid") $(adv_cpu_ticks "$pid") $(date +%s%N)" >"$out.base"
  (
    peak_rss=0 peak_fds=0
    while kill -0 "$pid" 2>/dev/null; do
      rss=$(adv_rss_kb "$pid")
      fds=$(adv_fds "$pid")
      [ "${rss:-0}" -gt "$peak_rss" ] && peak_rss=$rss
      [ "${fds:-0}" -gt "$peak_fds" ] && peak_fds=$fds
      echo "$peak_rss $peak_fds" >"$out.tmp" && mv "$out.tmp" "$out"
      sleep 0.1
    done
  ) &
  echo "watch-$name $!" >>"$CLUSTER_DIR/pids"
}

# adv_watch_stop NAME CASE: stops the watcher and prints the figures on one line:
#   figures: CASE: NAME peak RSS 14.2 MiB (+3.1 MiB over 11.1 MiB before), VmHWM 15.0 MiB,
#   peak fds 23 (18 before), CPU 12 % of a core
# and sets PEAK_RSS_KB, GROWTH_KB, PEAK_FDS, BASE_FDS, CPU_PERCENT for the checks.
adv_watch_stop() {
  local name=$1 what=$2 pid watcher
  pid=$(cluster_pid "$name")
  watcher=$(cluster_pid "watch-$name")
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  local base_rss base_fds base_ticks base_ns
  read -r base_rss base_fds base_ticks base_ns <"$CLUSTER_DIR/watch-$name.base"
  read -r PEAK_RSS_KB PEAK_FDS <"$CLUSTER_DIR/watch-$name" 2>/dev/null || {
    PEAK_RSS_KB=$base_rss
    PEAK_FDS=$base_fds
  }
  BASE_FDS=$base_fds
  GROWTH_KB=$((PEAK_RSS_KB - base_rss))
  local ticks ns hz
  ticks=$(($(adv_cpu_ticks "$pid") - base_ticks))
  ns=$(($(date +%s%N) - base_ns))
  hz=$(getconf CLK_TCK)
  CPU_PERCENT=$((ticks * 100 * 1000000000 / hz / (ns > 0 ? ns : 1)))
  awk -v c="$what" -v n="$name" -v p="$PEAK_RSS_KB" -v b="$base_rss" -v h="$(adv_hwm_kb "$pid")" \
    -v f="$PEAK_FDS" -v bf="$base_fds" -v cpu="$CPU_PERCENT" 'BEGIN {
      printf "figures: %s: %s peak RSS %.1f MiB (%+.1f MiB over %.1f MiB before), VmHWM %.1f MiB, peak fds %d (%d before), CPU %d %% of a core\n",
        c, n, p / 1024, (p - b) / 1024, b / 1024, h / 1024, f, bf, cpu }'
}

# adv_wait_count NAME REGEX N SECONDS: waits until NAME's log has at least N lines matching REGEX.
adv_wait_count() {
  local deadline=$((SECONDS + $4))
  while [ "$SECONDS" -le "$deadline" ]; do
    [ "$(grep -Ec -- "$2" "$CLUSTER_DIR/logs/$1.log" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 1
}

# adv_wait_recovery NAME N SECONDS: waits until NAME's N-th recovery has ended, one way or the
# other, and prints how: the "recovered ..." line, or the "recovery failed ..." line, or a
# timeout. Succeeds only for a recovery.
adv_wait_recovery() {
  local log=$CLUSTER_DIR/logs/$1.log
  adv_wait_count "$1" "recovered $1 from|recovery failed after" "$2" "$3" || {
    echo "  $1: no recovery ended within $3 s; last lines:"
    tail -3 "$log" | sed 's/^/    /'
    return 1
  }
  local line
  line=$(grep -E "recovered $1 from|recovery failed after" "$log" | sed -n "$2p")
  echo "  $1: ${line#*coordinator: }"
  case $line in *"recovered $1 from"*) return 0 ;; *) return 1 ;; esac
}

# adv_status NAME: whether NAME's admin socket answers `status` within 5 s.
adv_status() {
  timeout 5 "$FWRESCUE" status --socket "$CLUSTER_DIR/$1/state/admin.sock" >/dev/null 2>&1
}

# adv_recover NAME: asks NAME's daemon for a recovery (5 s at most).
adv_recover() {
  timeout 5 "$FWRESCUE" recover --socket "$CLUSTER_DIR/$1/state/admin.sock" >/dev/null 2>&1
}

# adv_check_cost DESCRIPTION VALUE LIMIT: adv_check_bound for a memory or CPU figure, which a
# sanitizer build only reports.
adv_check_cost() {
  if [ "$ADV_SANITIZED" = 1 ]; then
    echo "  (sanitizer build: not checked: $1 $2, bound $3)"
    return 0
  fi
  adv_check_bound "$@"
}

# adv_check DESCRIPTION COMMAND...: like check, but lets COMMAND's output through (the
# recovery it waited for, or what happened instead).
adv_check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$what")
    echo "FAIL: $what"
  fi
}

# Under AddressSanitizer a daemon's memory and CPU say little about the code: freed memory waits
# in the sanitizer's quarantine (256 MiB) and every access costs more. There the memory and CPU
# figures are printed but not held to their bounds; descriptors and everything else are.
if grep -aq __asan_init "$FWRESCUED"; then ADV_SANITIZED=1; else ADV_SANITIZED=0; fi

# adv_check_bound DESCRIPTION VALUE LIMIT: a check that VALUE < LIMIT, naming both.
adv_check_bound() {
  if [ "$2" -lt "$3" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$1 ($2, bound $3)")
    echo "FAIL: $1 ($2, bound $3)"
  fi
}

# adv_check_log DESCRIPTION NAME REGEX: a check that NAME's log has a line matching REGEX; on
# failure, prints NAME's last lines (the hostile peer's say what the daemon did instead).
adv_check_log() {
  if grep -Eq -- "$3" "$CLUSTER_DIR/logs/$2.log" 2>/dev/null; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$1")
    echo "FAIL: $1"
    tail -4 "$CLUSTER_DIR/logs/$2.log" 2>/dev/null | sed 's/^/    /'
  fi
}
