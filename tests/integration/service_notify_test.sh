#!/usr/bin/env bash
# fwrescued under systemd's eyes, without systemd: the daemon runs with NOTIFY_SOCKET naming a
# datagram socket this test reads, a watchdog interval in WATCHDOG_USEC and JOURNAL_STREAM set.
# It says READY=1 once up, keeps the watchdog alive, says RELOADING=1 then READY=1 around each
# reload (a refused one too), STOPPING=1 at SIGTERM, and its log lines carry the syslog
# priority journald files them under.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
# An ICMB link on a device that does not exist: the node runs on the LAN and warns about it.
cluster_node a peer icmb.enabled=true "icmb.device=\"$TEST_DIR/no-such-tty\"" icmb.address=1

# The notify socket: every datagram becomes one line of notify.log, its newlines as '|'.
notify_log=$TEST_DIR/notify.log
python3 - "$TEST_DIR/notify.sock" "$notify_log" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1.0)
end = time.monotonic() + 120  # stops by itself should the test die without ending it
with open(sys.argv[2], "a") as out:
    while time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        out.write(data.decode(errors="replace").replace("\n", "|") + "\n")
        out.flush()
EOF
echo "notify $!" >>"$CLUSTER_DIR/pids"
for _ in $(seq 50); do [ -S "$TEST_DIR/notify.sock" ] && break; sleep 0.1; done

# notify_count PATTERN: how many notifications match the extended regex PATTERN.
notify_count() { grep -Ec -- "$1" "$notify_log" 2>/dev/null || true; }
# wait_notify PATTERN N SECONDS: waits until N notifications match PATTERN.
wait_notify() {
  local deadline=$((SECONDS + $3))
  while [ "$SECONDS" -le "$deadline" ]; do
    [ "$(notify_count "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $2 x /$1/; got:" >&2
  cat "$notify_log" >&2
  return 1
}

# A second's watchdog: a keep-alive every half second.
NOTIFY_SOCKET=$TEST_DIR/notify.sock WATCHDOG_USEC=1000000 JOURNAL_STREAM=8:12345 cluster_start a
check "READY=1 once up, with a status line" wait_notify '^READY=1\|STATUS=peer node a: bios up$' 1 30
check "the admin socket was up before READY=1" cluster_wait_log a "admin socket" 1
check "keep-alives follow, one per half second" wait_notify '^WATCHDOG=1$' 4 10
check "info lines carry <6>" grep -q '^<6>a main: admin socket' "$TEST_DIR/logs/a.log"
check "a warning carries <4>" grep -q '^<4>a links: ' "$TEST_DIR/logs/a.log"

cluster_kill a HUP
check "a reload says RELOADING=1" wait_notify '^RELOADING=1' 1 10
check "then READY=1 with what is in force" \
  wait_notify '^READY=1\|STATUS=configuration reloaded from .*: policy prefer-console$' 1 10

# A reload that must be refused: the node's id cannot change without a restart.
sed -i 's/^id = "a"/id = "renamed"/' "$TEST_DIR/a/node.toml"
cluster_kill a HUP
check "a refused reload says RELOADING=1 too" wait_notify '^RELOADING=1' 2 10
check "and READY=1 saying the old configuration stays" \
  wait_notify '^READY=1\|STATUS=reload refused, the previous configuration stays$' 1 10
check "the refusal is an error line with <3>" \
  grep -q '^<3>a main: reload refused, the previous configuration stays: .*node.id' \
  "$TEST_DIR/logs/a.log"
check "no line lacks a priority" sh -c "! grep -vq '^<[3-7]>' '$TEST_DIR/logs/a.log'"
keepalives=$(notify_count '^WATCHDOG=1$')
check "keep-alives go on after the reloads" wait_notify '^WATCHDOG=1$' $((keepalives + 2)) 10

pid=$(cluster_pid a)
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "the daemon ended at SIGTERM" sh -c "! kill -0 $pid 2>/dev/null"
check "STOPPING=1 at SIGTERM" wait_notify '^STOPPING=1' 1 5
check "nothing after STOPPING=1" sh -c "tail -1 '$notify_log' | grep -q '^STOPPING=1'"
finish
