#!/usr/bin/env bash
# Three nodes on an emulated ICMB at 115200 baud, their LAN disabled: a console and a peer hold
# the image, and the third node recovers 32 KiB of corrupted flash over the bus alone.
# With "noisy", the bus flips bits at a rate of 1e-5 and a jammer writes bursts of garbage onto
# it, so frames collide and arrive damaged; the recovery must still complete and verify.
source "$(dirname "$0")/../integration/testlib.sh" "$1" "$2"
ICMB_BUS=$3
mode=${4:-clean}
source "$(dirname "$0")/links.sh"
cluster_init "$TEST_DIR"
ber=0
[ "$mode" = noisy ] && ber=1e-5
links=(console bmc-b bmc-c)
[ "$mode" = noisy ] && links+=(jammer)
bus_start 115200 "$ber" "${links[@]}" || exit 1
icmb_node console console 1 115200 donor.serve_installed=false monitor.auto_recover=false
icmb_node bmc-b peer 2 115200
icmb_node bmc-c peer 3 115200
cluster_corrupt bmc-c 0x100000 32768
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
if [ "$mode" = noisy ]; then
  # Bursts of 16 random bytes five times a second, from a node that speaks no protocol.
  ( exec 3>"$CLUSTER_DIR/bus/jammer"
    while :; do head -c 16 /dev/urandom >&3; sleep 0.2; done ) &
  echo "jammer $!" >>"$CLUSTER_DIR/pids"
fi
cluster_start bmc-c
check "the LAN is off: no lan link" cluster_wait_log bmc-c "sessions at icmb:0x0003;" 30
# Both donors answer the broadcast request at the same moment, so their offers collide on the
# bus as a rule: each must still arrive.
check "the console's offer comes over the bus" cluster_wait_log bmc-c "offer from console .* over icmb" 60
check "bmc-b's offer comes over the bus too" cluster_wait_log bmc-c "offer from bmc-b .* over icmb" 30
check "bmc-c recovers over the bus" cluster_wait_log bmc-c "recovered bmc-c from .* in [0-9]+ ms" 240
check "bmc-c's flash verifies" cluster_verify bmc-c
check "bmc-c's status lists the bus link" status_has bmc-c '"name":"icmb","up":true'
if [ "$mode" = noisy ]; then
  sleep 1.1 # the stats file is rewritten once a second
  check "frames collided on the bus" test "$(bus_stat collisions)" -gt 0
  check "bits were flipped on the bus" test "$(bus_stat bit_flips)" -gt 0
fi
grep -E "recovered bmc-c" "$CLUSTER_DIR/logs/bmc-c.log" | tail -1
echo "bus: $(cat "$CLUSTER_DIR/bus.stats" 2>/dev/null)"
finish
