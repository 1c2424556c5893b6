#!/usr/bin/env bash
# `fwrescue status --watch` follows a recovery the donor's upload cap makes last a few seconds:
# written to a file it prints a line per phase and percent with blocks, bytes, rate and time
# left; on a terminal it redraws in place with a bar; --until-done returns with the outcome;
# a daemon that goes away is said once.
source "$(dirname "$0")/testlib.sh" "$@"

# wait_for_file_line FILE PATTERN: waits up to 10 s for a line of FILE matching PATTERN (ERE).
wait_for_file_line() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -Eq "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false \
  donor.upload_rate_kbps=2000
cluster_node bmc-c peer monitor.auto_recover=false flash.erase_us=20000 flash.program_us=1000
cluster_corrupt bmc-c 0x100000 1048576
cluster_start console
cluster_wait_ready console
cluster_start bmc-c
cluster_wait_ready bmc-c
sock=$TEST_DIR/bmc-c/state/admin.sock

"$FWRESCUE" status --socket "$sock" --watch --interval 0.2 >"$TEST_DIR/watch.log" 2>&1 &
watch_pid=$!
script -qfec "'$FWRESCUE' status --socket '$sock' --watch --interval 0.2" /dev/null \
  >"$TEST_DIR/tty.log" 2>&1 &
tty_pid=$!
check "the watch shows the idle node first" wait_for_file_line "$TEST_DIR/watch.log" "bios +idle +installed 2022.11 svn 1"
check "recover is taken" "$FWRESCUE" recover --socket "$sock"
"$FWRESCUE" status --socket "$sock" --watch --until-done --interval 0.2 >"$TEST_DIR/until.log" 2>&1
check "--until-done returns 0 after a recovery that succeeded" test $? = 0
check "--until-done's last line says the recovery succeeded" \
  grep -Eq "last recovery succeeded from console" "$TEST_DIR/until.log"
sleep 0.5
kill "$watch_pid" "$tty_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
check "a watch ends with 0 on SIGTERM" test $? = 0
wait "$tty_pid" 2>/dev/null
check "the plain watch names the phases" grep -Eq "bios +transferring " "$TEST_DIR/watch.log"
check "the plain watch shows blocks and bytes" \
  grep -Eq "[0-9]+%  [0-9]+ of [0-9]+ blocks  [0-9.]+ [KM]iB of 3.5 MiB" "$TEST_DIR/watch.log"
check "the plain watch shows the rate and the time left" \
  grep -Eq "[0-9.]+ KiB/s  [0-9]+ s left  from console" "$TEST_DIR/watch.log"
check "the plain watch shows the flashing" grep -Eq "bios +flashing .* sectors" "$TEST_DIR/watch.log"
check "the plain watch ends with the outcome" \
  grep -Eq "last recovery succeeded from console" "$TEST_DIR/watch.log"
check "the plain watch prints no bar and no terminal codes" \
  bash -c "! grep -q \$'\\x1b\\|\\[#' '$TEST_DIR/watch.log'"
lines=$(wc -l <"$TEST_DIR/watch.log")
check "the plain watch prints a line per change, not per refresh ($lines lines)" test "$lines" -lt 150
check "the terminal watch draws a bar" grep -q "\[#" "$TEST_DIR/tty.log"
check "the terminal watch redraws in place" grep -q $'\x1b\\[[0-9]*F' "$TEST_DIR/tty.log"

# The daemon goes away: the watch says so once and keeps asking; --until-done gives up with 2.
"$FWRESCUE" status --socket "$sock" --watch --interval 0.2 >"$TEST_DIR/gone.log" 2>&1 &
watch_pid=$!
cluster_kill bmc-c TERM
sleep 1.5
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
check "a daemon gone is said once" test "$(grep -c "daemon unreachable" "$TEST_DIR/gone.log")" = 1
"$FWRESCUE" status --socket "$sock" --watch --until-done >/dev/null 2>"$TEST_DIR/err.log"
check "--until-done without a daemon exits 2" test $? = 2
check "... with one line saying why" grep -q "^fwrescue status: daemon unreachable: cannot reach" "$TEST_DIR/err.log"
check "--watch and --json do not go together" bash -c "! '$FWRESCUE' status --socket '$sock' --watch --json"
check "--interval needs --watch" bash -c "! '$FWRESCUE' status --socket '$sock' --interval 1"
finish
