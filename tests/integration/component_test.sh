#!/usr/bin/env bash
# Components: a manifest signed for one firmware target is never offered to, nor written on,
# another's flash. The console serves only a NIC image: a BIOS recipient finds no compatible
# image and is never offered it, while a NIC recipient recovers from it. With a BIOS image added
# to the console's catalog (by a reload), the BIOS recipient recovers too.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
images=$TEST_DIR/images
# The NIC image: the same size, other content, so that one written to a BIOS flash would show.
cp "$images/bios.fd" "$images/nic.fd"
head -c 65536 /dev/urandom | dd of="$images/nic.fd" bs=1 seek=$((0x10000)) conv=notrunc status=none
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$images/nic.fd" \
  --platform QEMU:q35 --version nic-1.0 --svn 1 --component nic --out "$images/nic.fwm" >/dev/null

cluster_node console console donor.serve_installed=false monitor.auto_recover=false
# The console's catalog holds the NIC image only.
sed -i 's|^image = "../images/bios.fd"|image = "../images/nic.fd"|;
        s|^manifest = "../images/bios.fwm"|manifest = "../images/nic.fwm"|' "$TEST_DIR/console/node.toml"
cluster_node bmc-r peer recovery.max_attempts=2 recovery.discovery_window_ms=200
cluster_node bmc-n peer flash.component='"nic"' recovery.discovery_window_ms=200
cp "$images/nic.fd" "$TEST_DIR/bmc-n/flash.fd"
cp "$images/nic.fwm" "$TEST_DIR/bmc-n/state/installed.fwm"
cluster_corrupt bmc-r 0x100000 8192
cluster_corrupt bmc-n 0x100000 8192
cp "$TEST_DIR/bmc-r/flash.fd" "$TEST_DIR/bmc-r.before"

cluster_start console
cluster_wait_ready console
cluster_start bmc-r
cluster_start bmc-n
check "the request names the node's component" \
  cluster_wait_log bmc-r "image request .* for QEMU:q35 bios " 30
check "a BIOS recipient finds no compatible image among NIC images" \
  cluster_wait_log bmc-r "recovery failed after 2 attempt\(s\): no compatible image" 30
check "its flash is untouched" cmp "$TEST_DIR/bmc-r/flash.fd" "$TEST_DIR/bmc-r.before"
check "the console never offered to it" \
  test "$(grep -c "offered .* to bmc-r" "$TEST_DIR/logs/console.log")" = 0
check "a NIC recipient recovers from the NIC image" \
  cluster_wait_log bmc-n "recovered bmc-n from console" 60
check "its flash is the NIC image" cmp "$TEST_DIR/bmc-n/flash.fd" "$images/nic.fd"
check "its installed manifest is the NIC one" cmp "$TEST_DIR/bmc-n/state/installed.fwm" "$images/nic.fwm"
check "the NIC node, once recovered, offers its own flash to no BIOS node" \
  test "$(grep -c "offered .* to bmc-r" "$TEST_DIR/logs/bmc-n.log")" = 0

# A BIOS image joins the catalog: the BIOS recipient recovers from it, and only from it.
printf '[[donor.images]]\nimage = "../images/bios.fd"\nmanifest = "../images/bios.fwm"\n' \
  >>"$TEST_DIR/console/node.toml"
check "the console takes the BIOS image on reload" \
  sh -c "'$FWRESCUE' reload --config '$TEST_DIR/console/node.toml' >/dev/null"
check "the console checked the BIOS image" \
  cluster_wait_log console "catalog image .*bios.fd: QEMU:q35" 30
check "the recipient is asked to recover again" \
  sh -c "'$FWRESCUE' recover --config '$TEST_DIR/bmc-r/node.toml' | grep -q 'recovery started'"
check "the BIOS recipient recovers" cluster_wait_log bmc-r "recovered bmc-r from console" 60
check "its flash verifies against the BIOS manifest" cluster_verify bmc-r
check "the console offered it the BIOS image" \
  grep -q "offered catalog image .*bios.fd .* to bmc-r" "$TEST_DIR/logs/console.log"
check "and never the NIC image" \
  test "$(grep -c "offered catalog image .*nic.fd .* to bmc-r" "$TEST_DIR/logs/console.log")" = 0
finish
