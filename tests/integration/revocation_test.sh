#!/usr/bin/env bash
# A revoked image is refused with the reason, and the list spreads from the console to the peers
# that recover from it. The console holds a revocation list naming an image (svn 2) that a peer
# still has installed; the recipient, ranking by `newest`, would take that image first. It hears
# the list from the console before the offers, keeps it, refuses the peer's offer as revoked and
# recovers the svn-1 image from the console.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
images=$TEST_DIR/images
# A second release of the image, the one that turned out bad.
cp "$images/bios.fd" "$images/bios2.fd"
printf 'bad release' | dd of="$images/bios2.fd" bs=1 seek=$((0x10000)) conv=notrunc status=none
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$images/bios2.fd" \
  --platform QEMU:q35 --version 2023.01 --svn 2 --out "$images/bios2.fwm" >/dev/null
"$FWRESCUE" revoke --secret-key "$TEST_DIR/keys/release.sec" --serial 1 \
  --manifest "$images/bios2.fwm" --out "$TEST_DIR/keys/revocations.fwr" >/dev/null
check "the list names the bad release" \
  sh -c "\"$FWRESCUE\" inspect \"$TEST_DIR/keys/revocations.fwr\" | grep -q 'revoked image'"
check "verify refuses the revoked image" sh -c "\"$FWRESCUE\" verify --public-key \
  \"$TEST_DIR/keys/release.pub\" --manifest \"$images/bios2.fwm\" --image \"$images/bios2.fd\" \
  --revocations \"$TEST_DIR/keys/revocations.fwr\" | grep -q '^FAILED revoked: image'"

cluster_node console console donor.serve_installed=false monitor.auto_recover=false
sed -i '/^console_keys/a revocation_list = "../keys/revocations.fwr"' "$TEST_DIR/console/node.toml"
cluster_node bmc-b peer
cp "$images/bios2.fd" "$TEST_DIR/bmc-b/flash.fd"
cp "$images/bios2.fwm" "$TEST_DIR/bmc-b/state/installed.fwm"
cluster_node bmc-c peer 'recovery.policy="newest"'
cluster_corrupt bmc-c 0x100000 65536

cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
check "the console installed its list" cluster_wait_log console "revocation list 1 installed" 5
cluster_start bmc-c
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "bmc-c heard the list first" grep -q "revocation list 1 from .* installed" "$TEST_DIR/logs/bmc-c.log"
check "bmc-c refused the revoked image with the reason" \
  grep -Eq "offer from bmc-b .*not compatible: image [0-9a-f]{64} is revoked \(revocation list 1\)" \
  "$TEST_DIR/logs/bmc-c.log"
check "bmc-c's flash holds the svn-1 image" cluster_verify bmc-c
check "bmc-c keeps the list" test -s "$TEST_DIR/bmc-c/state/revocations.fwr"
# Restarted, bmc-c still holds the list and names its serial in its requests: the console does
# not send it again.
cluster_kill bmc-c TERM
sleep 0.5
cp "$TEST_DIR/logs/bmc-c.log" "$TEST_DIR/first-run.log"; : >"$TEST_DIR/logs/bmc-c.log"
cluster_start bmc-c
cluster_wait_ready bmc-c
check "a recover after the restart" "$FWRESCUE" recover --socket "$TEST_DIR/bmc-c/state/admin.sock"
check "the second recovery ends" cluster_wait_log bmc-c "recovered bmc-c from" 60
check "the list was not needed again" sh -c "! grep -q 'revocation list 1 from' \"$TEST_DIR/logs/bmc-c.log\""
check "bmc-b's offer is still refused" grep -q "is revoked (revocation list 1)" "$TEST_DIR/logs/bmc-c.log"
finish
