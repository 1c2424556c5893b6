#!/usr/bin/env bash
# The fleet view (docs/fleet.md): a console, a peer holding a newer release and a node that
# recovers from the console. `fwrescue fleet` from the peer lists all three with their versions,
# states and last recoveries, in the table and in JSON. Then two impostors answer every query:
# one claims the recovered node's id under its own key (pinned to the genuine key by the first
# query), one claims the console role with a key that is not a console's. Each is dropped with
# one line, and the rest is listed as before.
#   Usage: fleet_test.sh fwrescue fwrescued hostile_peer
HOSTILE=$3
source "$(dirname "$0")/testlib.sh" "$1" "$2"
cluster_init "$TEST_DIR"
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$TEST_DIR/images/bios.fd" \
  --platform QEMU:q35 --version 2023.05 --svn 2 --out "$TEST_DIR/images/bios-v2.fwm" >/dev/null
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-b peer donor.serve_installed=false monitor.auto_recover=false
cp "$TEST_DIR/images/bios-v2.fwm" "$TEST_DIR/bmc-b/state/installed.fwm"
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
cluster_start bmc-c
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console" 60
check "bmc-c's status says done" wait_status bmc-c '"state":"done"' 10
root=$(cluster_status bmc-c | sed -n 's/.*"installed":{[^}]*"root":"\([0-9a-f]*\)".*/\1/p')
check "bmc-c's status names its root" test ${#root} = 64

sock() { echo "$TEST_DIR/$1/state/admin.sock"; }
fleet() { "$FWRESCUE" fleet --socket "$(sock "$1")" --wait-ms 1500 "${@:2}"; }

fleet bmc-b >"$TEST_DIR/table.txt" 2>"$TEST_DIR/table.err"
check "fleet succeeds" test $? = 0
cat "$TEST_DIR/table.txt"
check "the table has a header and three nodes" test "$(wc -l <"$TEST_DIR/table.txt")" = 4
check "the console: role, link, version, idle" \
  grep -Eq "^console +console +lan +bios +2022\.11 +1  [0-9a-f]{16}  idle +-$" "$TEST_DIR/table.txt"
check "bmc-b: the newer release" \
  grep -Eq "^bmc-b +peer +lan +bios +2023\.05 +2  [0-9a-f]{16}  idle " "$TEST_DIR/table.txt"
check "bmc-c: recovered, its root, its last recovery" \
  grep -Eq "^bmc-c +peer +lan +bios +2022\.11 +1  ${root:0:16}  done +#1 succeeded 20" \
  "$TEST_DIR/table.txt"
check "nothing was dropped" test ! -s "$TEST_DIR/table.err"
check "bmc-b pinned the two keys it saw" test "$(wc -l <"$TEST_DIR/bmc-b/state/fleet_pins")" = 2

fleet bmc-b --json >"$TEST_DIR/fleet.json" 2>/dev/null
check "json: bmc-b first, as itself" grep -q '^{"asker":"bmc-b","window_ms":1500,"nodes":\[{"node":"bmc-b","self":true,"address":null,"role":"peer"' "$TEST_DIR/fleet.json"
check "json: bmc-c's target in full" grep -q "\"node\":\"bmc-c\",\"self\":false,\"address\":\"lan:127.0.0.1:[0-9]*\",\"role\":\"peer\",\"key\":\"[0-9a-f]*\",\"links\":\[{\"name\":\"lan\",\"up\":true}\],\"targets\":\[{\"target\":\"bios\",\"component\":\"bios\",\"version\":\"2022.11\",\"svn\":1,\"root\":\"$root\",\"state\":\"done\",\"last_recovery\":{\"outcome\":\"succeeded\",\"number\":1," "$TEST_DIR/fleet.json"
check "json: the console as a console" grep -q '"node":"console","self":false,"address":"lan:[^"]*","role":"console"' "$TEST_DIR/fleet.json"
check "json: three nodes, nothing dropped" grep -q '"dropped":\[\],"left_out":0}$' "$TEST_DIR/fleet.json"
check "json: three nodes" test "$(grep -o '"self":' "$TEST_DIR/fleet.json" | wc -l)" = 3

fleet console --json >"$TEST_DIR/console.json" 2>/dev/null
check "from the console too: three nodes" test "$(grep -o '"self":' "$TEST_DIR/console.json" | wc -l)" = 3
check "the console sees bmc-b's release" grep -q '"node":"bmc-b","self":false.*"version":"2023.05","svn":2' "$TEST_DIR/console.json"

# The impostors. Each node has pinned bmc-c's genuine key by now.
"$HOSTILE" fleet-impostor --port "$CLUSTER_PORT" --id bmc-c --seconds 40 \
  >>"$TEST_DIR/logs/impostor-c.log" 2>&1 &
echo "impostor-c $!" >>"$CLUSTER_DIR/pids"
"$HOSTILE" fleet-impostor --port "$CLUSTER_PORT" --id fake-console --role console \
  --source 127.0.0.67 --seconds 40 >>"$TEST_DIR/logs/impostor-console.log" 2>&1 &
echo "impostor-console $!" >>"$CLUSTER_DIR/pids"
check "the impostors listen" cluster_wait_log impostor-c "answering fleet queries" 10
check "the console impostor listens" cluster_wait_log impostor-console "answering fleet queries" 10

fleet bmc-b >"$TEST_DIR/table2.txt" 2>"$TEST_DIR/table2.err"
check "fleet succeeds with impostors around" test $? = 0
cat "$TEST_DIR/table2.txt" "$TEST_DIR/table2.err"
check "the impostor for bmc-c answered" cluster_wait_log impostor-c "answered as bmc-c" 5
check "two lines on stderr, one per impostor" test "$(wc -l <"$TEST_DIR/table2.err")" = 2
check "the bmc-c impostor is dropped: not the pinned key" \
  grep -Eq "^dropped an answer from lan:127\.0\.0\.66:[0-9]+ claiming bmc-c: its key [0-9a-f]{16} is not the key [0-9a-f]{16} pinned for bmc-c$" \
  "$TEST_DIR/table2.err"
check "the console impostor is dropped: not a console key" \
  grep -Eq "^dropped an answer from lan:127\.0\.0\.67:[0-9]+ claiming fake-console: it claims the console role with key [0-9a-f]{16}, which is not among \[trust\] console_keys$" \
  "$TEST_DIR/table2.err"
# Answers are listed in arrival order, which may differ between queries.
check "the rest is listed as before" \
  diff <(sort "$TEST_DIR/table.txt") <(sort "$TEST_DIR/table2.txt")
check "the daemon logged one line per drop" \
  test "$(grep -c "answer from .* dropped: " "$TEST_DIR/logs/bmc-b.log")" = 2

fleet console --json >"$TEST_DIR/console2.json" 2>"$TEST_DIR/console2.err"
check "the console, later: still three nodes" test "$(grep -o '"self":' "$TEST_DIR/console2.json" | wc -l)" = 3
check "the console's view lists no impostor" bash -c "! grep -q impostor '$TEST_DIR/console2.json'"
check "the console dropped both impostors" test "$(wc -l <"$TEST_DIR/console2.err")" = 2
finish
