#!/usr/bin/env bash
# The main scenario with the recipient's flash behind libflashrom: flashrom's dummy programmer
# emulates a 16 MiB W25Q128FV whose top 3.5 MiB hold the BIOS region, as on x86, and whose
# image file is corrupted there. The recipient recovers the region from the console; the chip
# below it is never written.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
dir=$TEST_DIR/bmc-c
bios=$(stat -c %s "$TEST_DIR/images/bios.fd")
base=$(((16 << 20) - bios))
{ head -c "$base" /dev/urandom; cat "$TEST_DIR/images/bios.fd"; } >"$dir/chip.bin"
cp "$dir/chip.bin" "$TEST_DIR/chip.orig"
head -c 65536 /dev/zero | tr '\0' '\377' |
  dd of="$dir/chip.bin" bs=1 seek=$((base + 0x100000)) conv=notrunc status=none
head -c 4096 /dev/zero | dd of="$dir/chip.bin" bs=1 seek=$((base + 0x300000)) conv=notrunc status=none
sed -i "s|^path = \"flash.fd\"\$|backend = \"flashrom\"\nprogrammer = \"dummy:emulate=W25Q128FV,image=$dir/chip.bin\"\nregion_offset = $base|" \
  "$dir/node.toml"
check "bmc-c's config names the flashrom backend" grep -q '^backend = "flashrom"' "$dir/node.toml"
cluster_start console
cluster_wait_ready console
cluster_start bmc-c
check "bmc-c finds its region bad" cluster_wait_log bmc-c "17 of [0-9]+ blocks do not match" 30
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "only the 17 differing sectors were written" grep -q "flash written: 17 of" "$TEST_DIR/logs/bmc-c.log"
tail -c "$bios" "$dir/chip.bin" >"$dir/flash.fd"
check "the chip's BIOS region verifies against the manifest" cluster_verify bmc-c
check "the chip below the region is untouched" \
  cmp <(head -c "$base" "$dir/chip.bin") <(head -c "$base" "$TEST_DIR/chip.orig")
check "flashrom logged no warning or error" bash -c "! grep -Eq '(WARN|ERROR) +flashrom:' '$TEST_DIR/logs/bmc-c.log'"
finish
