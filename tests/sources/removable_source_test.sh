#!/usr/bin/env bash
# A node whose only source is removable media waits for one. A medium with a tampered image is
# refused with the reason in status; when a good medium is plugged in, it is scanned at once
# (not at the next retry, half a minute away) and the node recovers from it.
source "$(dirname "$0")/../integration/testlib.sh" "$@"
cluster_init "$TEST_DIR"
media=$TEST_DIR/media
mkdir -p "$media"
make_stick() { # make_stick DIR: a medium holding the signed image
  mkdir -p "$1"
  cp "$TEST_DIR/images/bios.fd" "$1/bios.fd"
  cp "$TEST_DIR/images/bios.fwm" "$1/bios.fd.fwm"
}
cluster_node bmc-c peer 'recovery.sources=["removable"]' "removable.watch=[\"$media\"]" \
  recovery.max_attempts=1000 recovery.backoff_initial_ms=30000 recovery.backoff_max_ms=60000
cluster_corrupt bmc-c 0x100000 65536
cluster_start bmc-c
log=$TEST_DIR/logs/bmc-c.log
check "with no medium the attempt fails and waits" cluster_wait_log bmc-c "retrying in 30000 ms" 30
# A tampered medium: moved in whole, as a mount makes its files appear at once.
make_stick "$TEST_DIR/bad-stick"
printf '\x5a' | dd of="$TEST_DIR/bad-stick/bios.fd" bs=1 seek=$((0x100800)) conv=notrunc status=none
mv "$TEST_DIR/bad-stick" "$media/usb0"
check "the tampered medium is looked at at once" \
  cluster_wait_log bmc-c "removable media changed: trying again now" 10
check "and refused for its bad block" \
  cluster_wait_log bmc-c "$media/usb0/bios.fd: block 256 does not match its signed digest" 10
check "status says why" wait_status bmc-c '"source":"removable","result":"[^"]*block 256 does not match' 10
rm -rf "$media/usb0"
make_stick "$TEST_DIR/good-stick"
started=$SECONDS
mv "$TEST_DIR/good-stick" "$media/usb1"
check "bmc-c recovers from the good medium" \
  cluster_wait_log bmc-c "recovered bmc-c from removable $media/usb1/bios.fd in [0-9]+ ms" 20
check "well before the next retry was due" test $((SECONDS - started)) -lt 20
check "bmc-c's flash verifies" cluster_verify bmc-c
finish
