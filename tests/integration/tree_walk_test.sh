#!/usr/bin/env bash
# A recipient whose installed image is an older build (one 4 KiB region differs) and whose flash
# is also damaged: no donor has its root, so it learns the new image's digests by walking the
# console's tree against its flash, pulls only the blocks that differ (asking for zstd: the
# threshold is set above the loopback's rate), and ends with a flash that verifies.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer recovery.compress_below_kbps=4294967295
old="$TEST_DIR/images/old.fd"
cp "$TEST_DIR/images/bios.fd" "$old"
head -c 4096 /dev/zero | tr '\0' 'Z' | dd of="$old" bs=1 seek=$((512 * 4096)) conv=notrunc status=none
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$old" --platform QEMU:q35 \
  --version 2022.10 --svn 1 --out "$TEST_DIR/images/old.fwm" >/dev/null
cp "$old" "$TEST_DIR/bmc-c/flash.fd"
cp "$TEST_DIR/images/old.fwm" "$TEST_DIR/bmc-c/state/installed.fwm"
printf 'rot' | dd of="$TEST_DIR/bmc-c/flash.fd" bs=1 seek=$((300 * 4096 + 7)) conv=notrunc status=none
cluster_start console
cluster_wait_ready console
cluster_start bmc-c
log="$TEST_DIR/logs/bmc-c.log"
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "the digests came from a walk of the console's tree" \
  grep -Eq "compared the flash with the donor's tree: 2 of [0-9]+ blocks differ, [0-9]+ digests received" "$log"
check "only the two differing blocks were pulled" grep -q "pulling 2\$" "$log"
check "bmc-c's flash verifies against the new manifest" cluster_verify bmc-c
finish
