#!/usr/bin/env bash
# Sources are tried in the configured order, and each is as untrusted as a peer: with no medium
# plugged in and a tampered golden copy, the node says why each one had no image and recovers
# from the next, its peers. Nothing from the tampered image reaches the flash.
source "$(dirname "$0")/../integration/testlib.sh" "$@"
cluster_init "$TEST_DIR"
golden=$TEST_DIR/golden
mkdir -p "$golden"
cp "$TEST_DIR/images/bios.fd" "$golden/bios.fd"
cp "$TEST_DIR/images/bios.fwm" "$golden/bios.fd.fwm"
# One changed byte in a block the node must read (it lies in the damaged range).
printf '\x5a' | dd of="$golden/bios.fd" bs=1 seek=$((0x100800)) conv=notrunc status=none
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer 'recovery.sources=["removable","local","peers"]' \
  "removable.watch=[\"$TEST_DIR/media\"]" "local.dir=\"$golden\""
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_wait_ready console
cluster_start bmc-c
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "bmc-c's flash verifies" cluster_verify bmc-c
log=$TEST_DIR/logs/bmc-c.log
check "removable was tried first, and had no medium" \
  grep -q "source removable has no image for us: no medium: .*; trying local" "$log"
check "the tampered golden copy was refused for its bad block" \
  grep -q "source local has no image for us: $golden/bios.fd: block 256 does not match its signed digest; trying peers" "$log"
check "status lists each source's reason in order" status_has bmc-c \
  '"tried":\[{"source":"removable","result":"no medium: [^"]*","served":false},{"source":"local","result":"[^"]*block 256 does not match its signed digest","served":false},{"source":"peers","result":"served console","served":true}\]'
check "the order is in status" status_has bmc-c '"order":\["removable","local","peers"\]'
finish
