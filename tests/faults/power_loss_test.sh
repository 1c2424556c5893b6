#!/usr/bin/env bash
# The power-loss campaign (docs/faults.md). A recipient recovers a small image (64 KiB: 16 sectors
# of 4 KiB, 64 blocks of 1 KiB, pages of 1 KiB) whose flash differs in 8 sectors, some whole,
# some in one block only, one difference straddling two sectors. A first run with the test
# daemon (fwrescued-faults, backend "power-cut") never cuts and counts the sector erases and page
# programs of the recovery. Then, for every k up to those totals, a run cuts the power right
# after erase k, right after program k, and half way through program k: the daemon ends at once
# (_exit), the real fwrescued is started on the state it left, and it must finish the recovery:
# the flash verifies against the signed manifest, the host is in the state it had before, and
# the journal, the host record and the staging file are gone. Some cut points are run again with
# the host starting off or held in reset, and with during_flash = "reset" and "running".
#
# Usage: power_loss_test.sh FWRESCUE FWRESCUED FWRESCUED_FAULTS
# By hand: FAULTS_ONLY="half-program:9 erase:3@reset erase:1+program:2/offline" runs only those
# cut points (KIND:K[+KIND:K...][@HOST][/offline]; KIND one of erase, half-erase, program,
# half-program; HOST one of on, off, held, reset, running, see cut_variant; run_point says the
# rest); FAULTS_KEEP=DIR copies every log of the run to DIR; FAULTS_STRIDE=N tries only every
# N-th k of each kind (and the last).
FAULTS_BIN=$3
source "$(dirname "$0")/../integration/testlib.sh" "$1" "$2"
campaign_start=$SECONDS

# The image: 64 KiB of the firmware (compressed volumes there, so no page is all 0xff and every
# page of a rewritten sector is programmed).
CLUSTER_FIRMWARE=$TEST_DIR/small.fd
dd if=/usr/share/OVMF/OVMF_CODE_4M.fd of="$CLUSTER_FIRMWARE" bs=1024 skip=1024 count=64 \
  status=none
cluster_init "$TEST_DIR/cluster"
"$FWRESCUE" sign --secret-key "$CLUSTER_DIR/keys/release.sec" --image "$CLUSTER_DIR/images/bios.fd" \
  --platform QEMU:q35 --version 2022.11 --svn 1 --block-size 1024 \
  --out "$CLUSTER_DIR/images/bios.fwm" >/dev/null
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node r peer donor.serve_installed=false recovery.discovery_window_ms=200 \
  recovery.backoff_initial_ms=50 recovery.backoff_max_ms=200
R=$CLUSTER_DIR/r
sed -i '/^\[flash\]$/a program_size = 1024' "$R/node.toml"
sed '/^\[flash\]$/a backend = "power-cut"' "$R/node.toml" >"$R/node-cut.toml"

# The recipient's flash as every run starts it: random bytes over sector 1 (0x1000, pulled
# whole), one block of sector 3 (0x3400: the sector's other blocks are kept from the flash, so
# they are copied to the staging file before the erase), 2 KiB across the border of sectors 5
# and 6 (0x5c00), 0xff over sectors 9 and 10 (one erase of two sectors), 16 bytes in sector 13
# and the last block of sector 15.
corrupt_random() {
  head -c "$2" /dev/urandom | dd of="$R/flash.fd" bs=1 seek=$(($1)) conv=notrunc status=none
}
corrupt_random 0x1000 4096
corrupt_random 0x3400 1024
corrupt_random 0x5c00 2048
cluster_corrupt r 0x9000 8192
corrupt_random 0xd123 16
corrupt_random 0xfc00 1024
cp "$R/flash.fd" "$CLUSTER_DIR/images/corrupt.fd"
check "the recipient's flash does not verify at first" \
  bash -c "! '$FWRESCUE' verify --public-key '$CLUSTER_DIR/keys/release.pub' \
    --manifest '$CLUSTER_DIR/images/bios.fwm' --image '$R/flash.fd'"

RUNS=$TEST_DIR/runs
mkdir -p "$RUNS"
keep_logs() {
  if [ -n "${FAULTS_KEEP:-}" ]; then
    mkdir -p "$FAULTS_KEEP"
    cp "$CLUSTER_DIR"/logs/*.log "$RUNS"/*.log "$FAULTS_KEEP"/ 2>/dev/null || true
  fi
  on_exit
}
trap keep_logs EXIT

# -- processes: every one is recorded in the cluster's pids file while it may run, and removed
# once reaped, so that cluster_stop never signals a PID that is no longer ours.

# start_daemon NAME BINARY CONFIG LOG [VAR=VALUE...]: starts a daemon in the background; sets PID.
start_daemon() {
  local name=$1 bin=$2 config=$3 log=$4
  shift 4
  env "$@" "$bin" --config "$config" >>"$log" 2>&1 &
  PID=$!
  echo "$name $PID" >>"$CLUSTER_DIR/pids"
}

# reap NAME PID SECONDS: waits up to SECONDS for PID to end by itself; sets RC to its exit code
# and forgets it. Returns 1 (and leaves it running) when it did not end in time.
reap() {
  local deadline=$((SECONDS + $3))
  while kill -0 "$2" 2>/dev/null; do
    [ "$SECONDS" -le "$deadline" ] || return 1
    sleep 0.05
  done
  wait "$2"
  RC=$?
  sed -i "/^$1 $2\$/d" "$CLUSTER_DIR/pids"
  return 0
}

# stop NAME PID: SIGTERM, then SIGKILL after 10 s; reaps it.
stop() {
  kill -TERM "$2" 2>/dev/null || true
  reap "$1" "$2" 10 && return 0
  kill -KILL "$2" 2>/dev/null || true
  reap "$1" "$2" 5
}

# wait_for LOG REGEX SECONDS: whether LOG gets a line matching REGEX within SECONDS.
wait_for() {
  local deadline=$((SECONDS + $3))
  while [ "$SECONDS" -le "$deadline" ]; do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# -- the recipient's state

# cut_variant HOST: sets START (the host's state at start), DURING (host_power.during_flash),
# QUIET (the host's state while flashing) and RECORD (what state_dir/host_before must hold while
# the recovery is under way: empty for none).
cut_variant() {
  case $1 in
    on) START=on DURING=off QUIET=off RECORD=on ;;
    off) START=off DURING=off QUIET=off RECORD= ;;
    held) START=reset_held DURING=off QUIET=off RECORD=reset_held ;;
    reset) START=on DURING=reset QUIET=reset_held RECORD=on ;;
    running) START=on DURING=running QUIET=on RECORD= ;;
    *) echo "unknown host variant '$1'" >&2; return 1 ;;
  esac
}

# reset_recipient HOST: the corrupted flash, an empty state directory but for the installed
# manifest, the host in START, during_flash set to DURING in both configs.
reset_recipient() {
  cut_variant "$1" || return 1
  cp "$CLUSTER_DIR/images/corrupt.fd" "$R/flash.fd"
  rm -rf "$R/state"
  mkdir -p "$R/state"
  cp "$CLUSTER_DIR/images/bios.fwm" "$R/state/installed.fwm"
  echo "$START" >"$R/state/host_power"
  sed -i "s/^during_flash = .*/during_flash = \"$DURING\"/" "$R/node.toml" "$R/node-cut.toml"
}

# -- the console, once for the whole campaign

cluster_start console
cluster_wait_ready console

# The production daemon does not know the test backend.
check "fwrescued refuses backend \"power-cut\", naming the known ones" bash -c \
  "'$FWRESCUED' --config '$R/node-cut.toml' 2>&1 | grep -q \"flash.backend 'power-cut' is unknown (known: [^)]*file[^)]*)\""

# -- the clean run: how many erases and programs a recovery takes

reset_recipient on
start_daemon r-count "$FAULTS_BIN" "$R/node-cut.toml" "$RUNS/count.log" FWRESCUE_CUT=none
check "a clean recovery with the power-cut backend succeeds" \
  wait_for "$RUNS/count.log" "recovered r from console in [0-9]+ ms" 60
stop r-count "$PID"
check "the clean run's daemon stops cleanly on SIGTERM (exit $RC)" test "$RC" = 0
totals=$(sed -n 's/.*power-cut: write session over: \([0-9]*\) erase(s), \([0-9]*\) program(s).*/\1 \2/p' \
  "$RUNS/count.log" | tail -1)
read -r ERASES PROGRAMS <<<"${totals:-0 0}"
check "the clean run verifies" cluster_verify r
check "the clean run leaves the host on" grep -qx on "$R/state/host_power"
check "the clean run leaves no journal, host record or staging file" \
  test ! -e "$R/state/journal" -a ! -e "$R/state/host_before" -a ! -e "$R/state/staging.img"
check "the clean run counted erases and programs" test "$ERASES" -gt 0 -a "$PROGRAMS" -gt 0
echo "clean recovery: $ERASES sector erases, $PROGRAMS page programs"

# -- one cut point

tried=0
declare -A tried_kind=([erase]=0 [half-erase]=0 [program]=0 [half-program]=0 [sequence]=0)
failed_points=()

# cut_message CUT: what the power-cut backend logs when it cuts at CUT (KIND:K).
cut_message() {
  local k=${1#*:}
  case ${1%%:*} in
    erase) echo "cut after erase $k " ;;
    half-erase) echo "cut after half of erase $k " ;;
    program) echo "cut after program $k " ;;
    half-program) echo "cut after half of program $k " ;;
  esac
}

# run_point CUT[+CUT...][@HOST][/offline]: cuts the power at the first CUT (KIND:K); restarts
# the test daemon with each further CUT, which cuts again if its own run gets that far; then
# starts the real daemon if a recovery is still under way, and checks the outcome. With
# /offline the console is stopped (SIGSTOP) once the first cut is made: the restarted daemons
# must finish from the staging file alone.
run_point() {
  local point=$1 spec=${1%/offline} offline=0 host=on
  [ "$spec" = "$point" ] || offline=1
  local cuts=${spec%@*}
  [[ $spec == *@* ]] && host=${spec#*@}
  reset_recipient "$host" || return 1
  local tag=${point//[:@+\/]/-} before=$failed n=0 cut
  local resume_log=$RUNS/$tag-resume.log
  IFS=+ read -ra cut_list <<<"$cuts"
  for cut in "${cut_list[@]}"; do
    n=$((n + 1))
    local cut_log=$RUNS/$tag-cut$n.log
    start_daemon r-cut "$FAULTS_BIN" "$R/node-cut.toml" "$cut_log" "FWRESCUE_CUT=$cut"
    # The first cut lies within the clean run's counts; a later one may lie past what the
    # resumed recovery still writes, and then that run completes the recovery itself.
    local deadline=$((SECONDS + 60))
    while kill -0 "$PID" 2>/dev/null && [ "$SECONDS" -le "$deadline" ] &&
      ! { [ "$n" -gt 1 ] && grep -Eq "recovered r from console" "$cut_log"; }; do
      sleep 0.05
    done
    if [ "$n" -gt 1 ] && grep -Eq "recovered r from console" "$cut_log"; then
      stop r-cut "$PID"
      echo "$point: cut $n ($cut) not reached: the run before it left less to write"
      break
    fi
    if ! reap r-cut "$PID" 0; then
      stop r-cut "$PID"
      check "$point: the power is cut at $cut" false
      break
    fi
    [ "$offline" = 1 ] && [ "$n" = 1 ] && kill -STOP "$(cluster_pid console)"
    check "$point: the power is cut at $cut (exit $RC)" test "$RC" = 86
    check "$point: the cut is where it was asked ($cut)" grep -q "power-cut: $(cut_message "$cut")" \
      "$cut_log"
    check "$point: a journal was left after $cut" grep -q "phase flashing" "$R/state/journal"
    check "$point: the host was $QUIET while flashing" grep -qx "$QUIET" "$R/state/host_power"
    if [ -n "$RECORD" ]; then
      check "$point: the host record says $RECORD" grep -qx "$RECORD" "$R/state/host_before"
    else
      check "$point: no host record" test ! -e "$R/state/host_before"
    fi
  done
  if [ -e "$R/state/journal" ]; then
    start_daemon r "$FWRESCUED" "$R/node.toml" "$resume_log"
    check "$point: the restarted daemon resumes from its journal" \
      wait_for "$resume_log" "journal: a recovery from console was interrupted while flashing" 20
    check "$point: the recovery completes" \
      wait_for "$resume_log" "recovered r from console in [0-9]+ ms" 30
    stop r "$PID"
    check "$point: the restarted daemon stops cleanly on SIGTERM (exit $RC)" test "$RC" = 0
  fi
  [ "$offline" = 1 ] && kill -CONT "$(cluster_pid console)"
  # Flashing resumes from the staging file: the network is not asked again.
  check "$point: no image request after the first cut" \
    bash -c "! cat $RUNS/$tag-cut[2-9].log '$resume_log' 2>/dev/null | grep -q 'image request'"
  check "$point: the flash verifies" cluster_verify r
  check "$point: the host is $START again" grep -qx "$START" "$R/state/host_power"
  check "$point: the journal is gone" test ! -e "$R/state/journal" -a ! -e "$R/state/journal.fwm"
  check "$point: the host record is gone" test ! -e "$R/state/host_before"
  check "$point: the staging file is gone" test ! -e "$R/state/staging.img"
  tried=$((tried + 1))
  if [ ${#cut_list[@]} -gt 1 ]; then
    tried_kind[sequence]=$((tried_kind[sequence] + 1))
  else
    tried_kind[${cuts%%:*}]=$((tried_kind[${cuts%%:*}] + 1))
  fi
  if [ "$failed" != "$before" ]; then
    failed_points+=("$point")
    local log
    for log in "$RUNS/$tag"-*.log; do
      echo "---- $point: $(basename "$log") (tail)"
      tail -20 "$log"
    done
  fi
}

# -- the campaign

# every K: 1, then every FAULTS_STRIDE-th (1 by default, all), and the last.
every() {
  local last=$1 stride=${FAULTS_STRIDE:-1} k
  for ((k = 1; k <= last; k += stride)); do echo "$k"; done
  [ $(((last - 1) % stride)) = 0 ] || echo "$last"
}

points=()
if [ -n "${FAULTS_ONLY:-}" ]; then
  read -ra points <<<"$FAULTS_ONLY"
else
  for k in $(every "$ERASES"); do points+=("erase:$k" "half-erase:$k"); done
  for k in $(every "$PROGRAMS"); do points+=("program:$k" "half-program:$k"); done
  # The other host states at the first, a middle and the last of each kind.
  mid_e=$(((ERASES + 1) / 2))
  mid_p=$(((PROGRAMS + 1) / 2))
  for host in off held reset running; do
    for cut in erase:1 "half-erase:$mid_e" "erase:$ERASES" program:1 "half-program:$mid_p" \
      "program:$PROGRAMS" "half-program:$PROGRAMS"; do
      points+=("$cut@$host")
    done
  done
  # The power cut again while the restarted daemon writes (its counts start from 1).
  points+=("erase:1+erase:1" "erase:1+half-program:1" "half-erase:$mid_e+half-erase:1"
    "half-program:$mid_p+erase:1" "half-program:$mid_p+half-program:2"
    "program:$mid_p+program:1@reset" "erase:$ERASES+half-program:1@held"
    "erase:2+half-program:3+erase:1" "program:$PROGRAMS+erase:1")
  # With no donor reachable after the cut; erase 2 and 3 are of sectors 3 and 5, which keep
  # blocks of the flash's own.
  points+=("erase:2/offline" "half-erase:3/offline" "half-program:$mid_p/offline"
    "program:$PROGRAMS@reset/offline" "half-program:1+erase:1@held/offline")
fi
for point in "${points[@]}"; do
  run_point "$point"
done

elapsed=$((SECONDS - campaign_start))
if [ ${#failed_points[@]} = 0 ]; then
  outcome="all recovered"
else
  outcome="${#failed_points[@]} failed: ${failed_points[*]}"
fi
echo "power-loss campaign: $tried cut points tried (${tried_kind[erase]} after an erase," \
  "${tried_kind[half-erase]} mid-erase, ${tried_kind[program]} after a program," \
  "${tried_kind[half-program]} mid-program, ${tried_kind[sequence]} cut again after a restart;" \
  "a clean recovery does $ERASES erases and $PROGRAMS programs), $outcome, in $elapsed s"
finish
