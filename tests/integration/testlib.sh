# Shared by the integration tests: arguments, a scratch directory, checks, and the closing line.
# Usage in a test: source "$(dirname "$0")/testlib.sh" "$@"
set -u
FWRESCUE=$1
FWRESCUED=$2
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fwrescue-it-XXXXXX")
passed=0
failed=0
failures=()
on_exit() {
  cluster_stop
  if [ "$failed" != 0 ]; then
    for log in "$TEST_DIR"/logs/*.log; do
      [ -f "$log" ] && { echo "---- $(basename "$log")"; tail -40 "$log"; }
    done
    # Again after the logs, which can be long: a reader of the output's end sees what failed.
    printf 'FAILED: %s\n' "${failures[@]}"
  fi
  [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$TEST_DIR"
}
trap on_exit EXIT

# check DESCRIPTION COMMAND...: records whether COMMAND succeeds; on failure the last lines
# COMMAND printed follow the FAIL line.
check() {
  local what=$1
  shift
  # Into a file, not $(...): COMMAND runs in this shell and may set variables.
  if "$@" >"$TEST_DIR/check.out" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$what")
    echo "FAIL: $what"
    tail -5 "$TEST_DIR/check.out" | sed 's/^/  | /'
  fi
}

# status_field NODE JQ-LIKE-PATH: a field of NODE's status (python-free: grep on JSON text).
status_has() { cluster_status "$1" | grep -q -- "$2"; }

# wait_status NODE PATTERN SECONDS: waits until NODE's status JSON contains PATTERN.
wait_status() {
  local deadline=$(($(date +%s) + $3))
  while [ "$(date +%s)" -le "$deadline" ]; do
    status_has "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}
