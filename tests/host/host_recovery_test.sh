#!/usr/bin/env bash
# A real host: node bmc-c's BIOS flash boots a QEMU q35 machine with Debian's OVMF firmware.
# The flash is corrupted where the CPU starts (its last 64 KiB), so the host prints nothing;
# bmc-c powers the host on at start, sees the boot fail on the serial console, recovers the
# flash from the console over the LAN, brings the host back, and the host reaches the UEFI
# shell. The monitor's check at start is off: the boot failure is what starts the recovery.
#
# Usage: host_recovery_test.sh FWRESCUE FWRESCUED CASE, CASE one of
#   dc-off    host powered off while the flash is written, then powered on (restore)
#   dc-on     flash written while the host runs, then the host is reset (after_flash = reset)
#   flashrom  as dc-off, the chip being libflashrom's emulated W25Q128FV (16 MiB) with the
#             firmware in its top 3.5 MiB
#   exclude   the installed image verifies but does not boot: power-cycled, excluded after
#             two failed boots, replaced by the previous good image from the console
#   no-qemu   QEMU cannot be run: a one-line error in the log and in status, the host left
#             off, the flash untouched, the daemon still serving
source "$(dirname "$0")/../integration/testlib.sh" "$1" "$2"
case_name=$3

if ! command -v qemu-system-x86_64 >/dev/null || [ ! -f "$CLUSTER_FIRMWARE" ]; then
  echo "skipped: qemu-system-x86_64 or $CLUSTER_FIRMWARE is missing"
  exit 77
fi

# The boot deadline: OVMF reaches its shell in about 6 s without KVM; a loaded machine may
# take several times that.
boot_s=30
size=$(stat -c %s "$CLUSTER_FIRMWARE")
host_log() { echo "$TEST_DIR/bmc-c/state/host_console.log"; }

cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false

# The UEFI shell ignores the ACPI power button: a power-off waits out powerdown_timeout_ms.
common=(host_power.backend='"qemu"' host_power.at_start='"on"' monitor.check_at_start=false
        boot.timeout_s=$boot_s host_power.powerdown_timeout_ms=1000)
case $case_name in
  dc-off)
    cluster_node bmc-c peer "${common[@]}"
    cluster_corrupt bmc-c $((size - 65536)) 65536
    ;;
  dc-on)
    cluster_node bmc-c peer "${common[@]}" host_power.during_flash='"on"' \
      host_power.after_flash='"reset"'
    cluster_corrupt bmc-c $((size - 65536)) 65536
    ;;
  flashrom)
    chip=$((16 * 1024 * 1024))
    cluster_node bmc-c peer "${common[@]}" flash.backend='"flashrom"' \
      flash.programmer="\"dummy:emulate=W25Q128FV,image=$TEST_DIR/bmc-c/chip.bin\"" \
      flash.region_offset=$((chip - size)) flash.region_size="$size" \
      host_power.firmware='"chip.bin"' host_power.firmware_offset=$((chip - size)) \
      host_power.firmware_size="$size"
    head -c $((chip - size)) /dev/zero | tr '\0' '\377' >"$TEST_DIR/bmc-c/chip.bin"
    cat "$TEST_DIR/bmc-c/flash.fd" >>"$TEST_DIR/bmc-c/chip.bin"
    rm "$TEST_DIR/bmc-c/flash.fd"
    head -c 65536 /dev/zero | tr '\0' '\377' |
      dd of="$TEST_DIR/bmc-c/chip.bin" bs=1 seek=$((chip - 65536)) conv=notrunc status=none
    ;;
  exclude)
    # The console also holds a newer image that does not boot (same svn, so only the failed
    # boots tell the two apart); bmc-c has it installed.
    bad=$TEST_DIR/images/bad.fd
    cp "$CLUSTER_FIRMWARE" "$bad"
    head -c 65536 /dev/zero | dd of="$bad" bs=1 seek=$((size - 65536)) conv=notrunc status=none
    "$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$bad" \
      --platform QEMU:q35 --version 2099.01-broken --svn 1 --out "$TEST_DIR/images/bad.fwm" >/dev/null
    printf '[[donor.images]]\nimage = "../images/bad.fd"\nmanifest = "../images/bad.fwm"\n' \
      >>"$TEST_DIR/console/node.toml"
    cluster_node bmc-c peer "${common[@]}" boot.failures_to_exclude=2
    cp "$bad" "$TEST_DIR/bmc-c/flash.fd"
    cp "$TEST_DIR/images/bad.fwm" "$TEST_DIR/bmc-c/state/installed.fwm"
    ;;
  no-qemu)
    cluster_node bmc-c peer "${common[@]}" host_power.qemu_binary='"/nonexistent/qemu-system-x86_64"'
    cp "$TEST_DIR/bmc-c/flash.fd" "$TEST_DIR/flash-before.fd"
    cluster_start console
    cluster_wait_ready console
    cluster_start bmc-c
    check "the failed start is one line in the log" cluster_wait_log bmc-c \
      "cannot power the host on at start: host qemu: QEMU did not start: cannot run '/nonexistent/qemu-system-x86_64': No such file or directory" 30
    check "status shows the host's error" \
      wait_status bmc-c '"host":{"backend":"qemu","last_error":{"at":[0-9]*,"what":"power_on: host qemu: QEMU did not start' 10
    check "fwrescue status prints it" bash -c "'$FWRESCUE' status --config '$TEST_DIR/bmc-c/node.toml' | grep -q '^host error .*cannot run'"
    check "no QEMU runs" test ! -e "$TEST_DIR/bmc-c/state/host_qemu.pid"
    check "the flash is untouched" cmp "$TEST_DIR/bmc-c/flash.fd" "$TEST_DIR/flash-before.fd"
    finish
    exit
    ;;
  *)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac

cluster_start console
cluster_wait_ready console
cluster_start bmc-c
check "bmc-c powers its host on" cluster_wait_log bmc-c "watching the host's boot \(powered on at start\)" 60
check "the boot fails: nothing on the console" \
  cluster_wait_log bmc-c "replacement needed: boot failure \(powered on at start\): no console output" $((boot_s + 30))
if [ "$case_name" = exclude ]; then
  check "a flash that verifies is power-cycled first" cluster_wait_log bmc-c "power-cycling the host" 30
  check "the second failed boot excludes the image" \
    cluster_wait_log bmc-c "verifies but failed to boot 2 times in a row" $((boot_s + 60))
  check "the request excludes the image that failed" \
    cluster_wait_log bmc-c "excluding 1 image\(s\) that failed to boot here" 30
  check "the console does not offer the excluded image" \
    bash -c "! grep -q 'offered catalog image .*bad.fd' '$TEST_DIR/logs/console.log'"
fi
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 90
check "the host boots the recovered flash" \
  cluster_wait_log bmc-c "the host booted \(after flashing\)" $((boot_s + 30))
check "the host's console reaches the UEFI shell" grep -q "UEFI Interactive Shell" "$(host_log)"
if [ "$case_name" = flashrom ]; then
  check "the chip's firmware region verifies" bash -c "tail -c $size '$TEST_DIR/bmc-c/chip.bin' >'$TEST_DIR/region.fd' &&
    '$FWRESCUE' verify --public-key '$TEST_DIR/keys/release.pub' --manifest '$TEST_DIR/images/bios.fwm' --image '$TEST_DIR/region.fd'"
  check "the bytes below the region are untouched" \
    cmp -n $((16 * 1024 * 1024 - size)) "$TEST_DIR/bmc-c/chip.bin" <(head -c $((16 * 1024 * 1024 - size)) /dev/zero | tr '\0' '\377')
else
  check "bmc-c's flash verifies against the manifest" cluster_verify bmc-c
fi
if [ "$case_name" = dc-on ]; then
  check "the host was never powered off for the write" bash -c "! grep -q 'for the write' '$TEST_DIR/logs/bmc-c.log'"
  check "the running host was reset after the write" grep -q "host on -> on (host_power.after_flash = \"reset\": reset to run the new image)" "$TEST_DIR/logs/bmc-c.log"
fi
check "status shows the failed boot and the good one" \
  wait_status bmc-c '"booted":false,"outcome":"no_output".*"booted":true,"outcome":"booted"' 10
check "the host runs" bash -c "kill -0 \$(cat '$TEST_DIR/bmc-c/state/host_qemu.pid')"
finish
