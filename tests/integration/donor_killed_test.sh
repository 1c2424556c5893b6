#!/usr/bin/env bash
# The donor is killed mid-transfer; the recipient completes from the other donor, keeping the
# blocks it already verified.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
# The console paces its uploads (1000 kbit/s) so the transfer lasts long enough to be cut.
cluster_node console console donor.serve_installed=false monitor.auto_recover=false \
  donor.upload_rate_kbps=1000
cluster_node bmc-b peer
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 $((1024 * 1024))
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
cluster_start bmc-c
check "the transfer from the console starts" \
  wait_status bmc-c '"progress":{"phase":"transferring","done":[1-9]' 60
cluster_kill console KILL
check "the dead donor is dropped" cluster_wait_log bmc-c "dropping donor console: connection lost" 30
check "recovery completes from the peer" cluster_wait_log bmc-c "recovered bmc-c from (bmc-b|bmc-b and console|console and bmc-b) in [0-9]+ ms" 60
check "bmc-c's flash verifies" cluster_verify bmc-c
check "blocks from the console were kept" \
  grep -Eq "image staged: ([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]) blocks pulled from bmc-b" \
  "$TEST_DIR/logs/bmc-c.log"
finish
