#!/usr/bin/env bash
# The recipient is SIGKILLed while writing its flash. Restarted, it reads its journal, resumes
# flashing from the verified staged image and completes; the host is powered on again.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
# 40 ms per sector erase: the 256 sectors that differ take about 10 s, long enough to interrupt
# even when the machine is loaded. The damage is zeros, not 0xff: a timed chip does not erase a
# sector that already reads 0xff. No block erase: each sector takes its 40 ms.
cluster_node bmc-c peer flash.erase_us=40000 flash.block_erase_size=0
head -c $((1024 * 1024)) /dev/zero |
  dd of="$TEST_DIR/bmc-c/flash.fd" bs=4096 seek=$((0x100000 / 4096)) conv=notrunc status=none
cluster_start console
cluster_wait_ready console
cluster_start bmc-c
check "flashing starts" wait_status bmc-c '"progress":{"phase":"flashing","done":[1-9]' 60
cluster_kill bmc-c KILL
sleep 0.2
check "the journal survives the kill" grep -q "phase flashing" "$TEST_DIR/bmc-c/state/journal"
check "the host was powered off for flashing" grep -qx off "$TEST_DIR/bmc-c/state/host_power"
cluster_start bmc-c
check "the restarted daemon resumes from its journal" \
  cluster_wait_log bmc-c "journal: a recovery from console was interrupted while flashing" 30
check "recovery completes" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "bmc-c's flash verifies" cluster_verify bmc-c
check "the host is powered on again" grep -qx on "$TEST_DIR/bmc-c/state/host_power"
check "the journal is cleared" test ! -e "$TEST_DIR/bmc-c/state/journal"
finish
