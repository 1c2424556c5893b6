#!/usr/bin/env bash
# A node with no peer reachable recovers from the golden copy in its own storage ([local]),
# reading only the blocks that differ, and then keeps the recovered image as its new golden
# copy, removing the older one only once the new one verifies.
source "$(dirname "$0")/../integration/testlib.sh" "$@"
cluster_init "$TEST_DIR"
golden=$TEST_DIR/golden
mkdir -p "$golden"
cp "$TEST_DIR/images/bios.fd" "$golden/bios.fd"
cp "$TEST_DIR/images/bios.fwm" "$golden/bios.fd.fwm"
# An older golden copy (svn 0): the newer image is chosen, and this one goes once the new copy
# is kept.
cp "$TEST_DIR/images/bios.fd" "$golden/golden-old.bin"
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$golden/golden-old.bin" \
  --platform QEMU:q35 --version 2022.05 --svn 0 --out "$golden/golden-old.bin.fwm" >/dev/null
cluster_node bmc-c peer 'recovery.sources=["local"]' "local.dir=\"$golden\"" local.keep_golden=true
cluster_corrupt bmc-c 0x100000 65536
cluster_start bmc-c
check "bmc-c recovers from its golden copy" \
  cluster_wait_log bmc-c "recovered bmc-c from local $golden/bios.fd in [0-9]+ ms" 60
check "bmc-c's flash verifies" cluster_verify bmc-c
check "only the 16 damaged blocks were read" \
  grep -q "876 of 892 blocks already on the flash; reading 16 in 1 run" "$TEST_DIR/logs/bmc-c.log"
check "status names the source that served" \
  status_has bmc-c '"tried":\[{"source":"local","result":"served local '
check "the last recovery names its source" status_has bmc-c '"source":"local","version"'
check "the golden copy is kept" cluster_wait_log bmc-c "golden copy kept: $golden/golden-[0-9a-f]{16}\.bin .*1 older one\(s\) removed" 30
kept=$(ls "$golden"/golden-*.bin | grep -v golden-old)
check "the new golden copy verifies" "$FWRESCUE" verify --public-key "$TEST_DIR/keys/release.pub" \
  --manifest "$kept.fwm" --image "$kept"
check "the older golden copy is gone" test ! -e "$golden/golden-old.bin.fwm" -a ! -e "$golden/golden-old.bin"
check "no staging file is left behind" test -z "$(ls "$TEST_DIR/bmc-c/state" | grep staging)"
finish
