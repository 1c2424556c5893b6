#!/usr/bin/env bash
# Recovery over Bluetooth LE. "emulated": a console and a recipient whose LAN is off recover
# 256 KiB of corrupted flash over emulated L2CAP channels at 500 kbit/s (docs/ble.md says what
# the emulation models). "absent": a node asks for real Bluetooth, which this kernel may lack:
# the link is reported down in one line and the node recovers over its LAN as before.
source "$(dirname "$0")/../integration/testlib.sh" "$1" "$2"
mode=${3:-emulated}
source "$(dirname "$0")/links.sh"
cluster_init "$TEST_DIR"
if [ "$mode" = emulated ]; then
  BLE_NODES="1 3"
  ble_node console console 1 donor.serve_installed=false monitor.auto_recover=false
  ble_node bmc-c peer 3
else
  cluster_node console console donor.serve_installed=false monitor.auto_recover=false
  # Two links that cannot start: real Bluetooth (which this kernel may lack) and a serial bus
  # on a device that does not exist.
  cluster_node bmc-c peer ble.enabled=true 'ble.address="AA:BB:CC:DD:EE:03"' \
    icmb.enabled=true "icmb.device=\"$CLUSTER_DIR/no-such-tty\"" icmb.address=3
fi
cluster_corrupt bmc-c 0x100000 262144
cluster_start console
cluster_wait_ready console
cluster_start bmc-c
if [ "$mode" = emulated ]; then
  check "offers come over BLE" cluster_wait_log bmc-c "offer from console .* over ble" 60
  check "bmc-c recovers over BLE" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 120
  check "bmc-c's status lists the BLE link" status_has bmc-c '"name":"ble","up":true'
else
  cluster_wait_log bmc-c "admin socket" 30
  if grep -q "link ble is down" "$CLUSTER_DIR/logs/bmc-c.log"; then
    check "one line says why BLE is down" \
      test "$(grep -c "link ble is down, the node runs without it: ble (bmc-c): " "$CLUSTER_DIR/logs/bmc-c.log")" = 1
    check "status shows BLE down with its reason" status_has bmc-c '"name":"ble","up":false,"address":"","rate_bps":[0-9]*,"error":"ble (bmc-c): '
  else
    check "BLE is up where the kernel has it" status_has bmc-c '"name":"ble","up":true'
  fi
  check "one line says the bus is down and why" \
    grep -q "link icmb is down, the node runs without it: icmb (bmc-c): cannot open $CLUSTER_DIR/no-such-tty: No such file or directory" "$CLUSTER_DIR/logs/bmc-c.log"
  check "bmc-c recovers over its LAN" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
fi
check "bmc-c's flash verifies" cluster_verify bmc-c
grep -E "recovered bmc-c" "$CLUSTER_DIR/logs/bmc-c.log" | tail -1
finish
