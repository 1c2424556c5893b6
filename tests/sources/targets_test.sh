#!/usr/bin/env bash
# Two firmware targets on one node, a BIOS and a NIC, both corrupted: each recovers on its own,
# the BIOS from the console (a peer) and the NIC from a web server no peer can stand in for,
# and neither image reaches the other's flash. Then another node's NIC recovers from the first
# node, which serves every target it holds.
source "$(dirname "$0")/../integration/testlib.sh" "$@"
source "$(dirname "$0")/web.sh"
cluster_init "$TEST_DIR"
www=$TEST_DIR/www
mkdir -p "$www"
head -c 262144 /dev/urandom >"$www/nic.bin"
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$www/nic.bin" \
  --platform QEMU:q35 --version 7.1 --svn 3 --component nic --out "$www/nic.bin.fwm" >/dev/null
printf 'nic.bin.fwm\n' >"$www/index"
web_start_free_port "$www"
url=http://127.0.0.1:$port

# add_nic NAME: gives NAME a second target, its NIC's flash, holding the signed NIC image.
add_nic() {
  local dir=$TEST_DIR/$1
  cp "$www/nic.bin" "$dir/nic.bin"
  mkdir -p "$dir/state/nic0"
  cp "$www/nic.bin.fwm" "$dir/state/nic0/installed.fwm"
  cat >>"$dir/node.toml" <<TOML
[[target]]
name = "nic0"
host_power = "none"
[target.flash]
component = "nic"
path = "nic.bin"
erase_us = 0
program_us = 0
TOML
}
verify_nic() {
  "$FWRESCUE" verify --public-key "$TEST_DIR/keys/release.pub" --manifest "$www/nic.bin.fwm" \
    --image "$TEST_DIR/$1/nic.bin"
}

cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer 'recovery.sources=["peers","http"]' "http.url=\"$url/\"" \
  http.allow_http=true
add_nic bmc-c
cluster_corrupt bmc-c 0x100000 65536
head -c 8192 /dev/zero | dd of="$TEST_DIR/bmc-c/nic.bin" bs=1 seek=$((0x8000)) conv=notrunc status=none
verify_nic bmc-c >/dev/null 2>&1 && before=verifies || before=damaged
check "the NIC's flash does not verify before" test "$before" = damaged
cluster_start console
cluster_wait_ready console
cluster_start bmc-c
log=$TEST_DIR/logs/bmc-c.log
check "the BIOS recovers from the console" \
  cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "the NIC recovers from the web server" \
  cluster_wait_log bmc-c "recovered bmc-c from http $url/nic.bin in [0-9]+ ms" 60
check "the BIOS flash verifies" cluster_verify bmc-c
check "the NIC flash verifies" verify_nic bmc-c
check "the NIC's peers had no image for it, and the web server did" \
  grep -q "source peers has no image for us: no compatible image.*; trying http" "$log"
check "only the 2 damaged NIC blocks were downloaded" grep -q "reading 2 in 1 run" "$log"
check "status shows both targets" status_has bmc-c \
  '"targets":\[{"node":"bmc-c","target":"bios","component":"bios",.*{"node":"bmc-c","target":"nic0","component":"nic","role":"peer","state":"done"'
check "a NIC recover is taken by name" \
  "$FWRESCUE" recover --target nic0 --socket "$TEST_DIR/bmc-c/state/admin.sock"
check "an unknown target is refused by name" bash -c \
  "'$FWRESCUE' recover --target cpld9 --socket '$TEST_DIR/bmc-c/state/admin.sock' 2>&1 | grep -q \"unknown target 'cpld9' (this node has: bios, nic0)\""

# bmc-d's NIC is damaged and the web server is gone: bmc-c serves it its NIC's flash.
web_stop
cluster_node bmc-d peer 'recovery.sources=["peers"]'
add_nic bmc-d
head -c 4096 /dev/zero | dd of="$TEST_DIR/bmc-d/nic.bin" bs=1 seek=$((0x10000)) conv=notrunc status=none
cluster_start bmc-d
check "another node's NIC recovers from bmc-c" \
  cluster_wait_log bmc-d "recovered bmc-d from bmc-c in [0-9]+ ms" 60
check "its NIC flash verifies" verify_nic bmc-d
check "its BIOS flash was never touched" cluster_verify bmc-d
check "bmc-c served its NIC's flash" grep -q "serving own flash of nic0" "$log"
finish
