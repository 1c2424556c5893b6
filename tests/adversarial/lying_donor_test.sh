#!/usr/bin/env bash
# A lying donor: its offer is genuine (its own node signature, a manifest the release key
# signed for svn 2, so it ranks above the honest peer's svn 1), but in the session it sends bad
# blocks, block digests that do not build the root, blocks never requested, data without end,
# or blocks trickled far below any sane rate (one 4 KiB block a second, each frame's bytes spread
# over that second: inside the 2 s block timeout, at half the default minimum rate of 64 kbit/s).
# Each time the recipient must drop it and recover from the honest peer, bmc-b, within 30 s, its
# memory bounded throughout.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$TEST_DIR/images/bios.fd" \
  --platform QEMU:q35 --version 2022.11 --svn 2 --out "$TEST_DIR/images/bios-svn2.fwm" >/dev/null
cluster_node bmc-b peer
cluster_node bmc-c peer
cluster_start bmc-b
cluster_start bmc-c
cluster_wait_ready bmc-b
cluster_wait_ready bmc-c
check "bmc-c checked its flash at start" cluster_wait_log bmc-c "flash matches" 20
adv_watch bmc-c

# mode, bytes corrupted on bmc-c before its recovery, how the recipient must name the lie
cases=(
  "bad-blocks 65536 block [0-9]+ failed verification"
  "bad-leaves 65536 block digests that do not build the signed Merkle root"
  "unrequested 65536 which was not requested"
  "endless 65536 which was not requested"
  "slow 262144 "
)
round=0
for c in "${cases[@]}"; do
  read -r mode bytes why <<<"$c"
  round=$((round + 1))
  adv_hostile "liar-$mode" lying-donor --mode "$mode" --id "liar-$mode" --requester bmc-c \
    --manifest "$TEST_DIR/images/bios-svn2.fwm" --image "$TEST_DIR/images/bios.fd" --seconds 40
  check "$mode: the liar listens" cluster_wait_log "liar-$mode" "sessions at" 10
  cluster_corrupt bmc-c 0x100000 "$bytes"
  check "$mode: bmc-c takes a recovery request" adv_recover bmc-c
  adv_check "$mode: bmc-c recovers from bmc-b within 30 s" adv_wait_recovery bmc-c "$round" 30
  check "$mode: bmc-c's flash verifies" cluster_verify bmc-c
  adv_check_log "$mode: the liar was tried first" bmc-c "opening a session to liar-$mode"
  adv_check_log "$mode: the liar was dropped${why:+ (\"$why\")}" bmc-c \
    "dropping donor liar-$mode: .*$why"
  cluster_kill "liar-$mode" TERM
done
adv_watch_stop bmc-c "lying-donor"
adv_check_cost "bmc-c RSS growth over the five lies (KiB)" "$GROWTH_KB" $((64 * 1024))
adv_check_bound "bmc-c descriptors" "$PEAK_FDS" 64
finish
