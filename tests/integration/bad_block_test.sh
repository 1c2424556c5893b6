#!/usr/bin/env bash
# A donor sends a corrupted block: its catalog image goes bad on disk after it was checked. The
# recipient rejects the block, drops that donor and completes from the other one.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-b peer
metrics_port=$((CLUSTER_PORT + 20000))
cluster_node bmc-c peer metrics.listen="\"127.0.0.1:$metrics_port\""
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
# Block 260 lies inside the range bmc-c must pull.
printf 'rot' | dd of="$TEST_DIR/images/bios.fd" bs=1 seek=$((260 * 4096 + 100)) conv=notrunc status=none
cluster_start bmc-c
check "the bad block is rejected" cluster_wait_log bmc-c "dropping donor console: block 260 failed verification" 60
check "recovery completes from the peer" cluster_wait_log bmc-c "recovered bmc-c from (bmc-b|bmc-b and console|console and bmc-b) in [0-9]+ ms" 60
check "bmc-c's flash verifies" cluster_verify bmc-c
check "the metrics count the bad block against the console" bash -c \
  "curl -sf http://127.0.0.1:$metrics_port/metrics | grep -qx 'fwrescue_blocks_rejected_total{target=\"bios\",donor=\"console\"} 1'"
check "the console saw the abort" cluster_wait_log console "upload to .* ended" 10
finish
