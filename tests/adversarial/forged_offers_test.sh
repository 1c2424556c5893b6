#!/usr/bin/env bash
# Forged offers that lead nowhere: a peer hears the recipient's image request and answers it
# with 25 offers, each signed by a fresh node key, claiming role console and carrying a genuine
# release-signed manifest, each pointing at a listener that accepts and never answers. The
# manifest is the newest release's (the same image signed for svn 2, as anyone holding that
# release has it), so the forged offers rank above the genuine console's svn 1 wherever svn
# counts. The recipient must not try them one by one: it must recover from the genuine console
# within 30 s of starting.
#   1. bmc-c (prefer-console): the 25 offers come from the peer's one address and claim the
#      console role; only [trust] console_keys make a console, and offers per source are bounded.
#   2. bmc-d (newest): each offer comes from an address of its own (127.0.1.1 .. 127.0.1.25), so
#      no bound per source trims them and all 25 rank first; only short handshake deadlines and
#      handshakes raced in parallel keep the recovery prompt.
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$TEST_DIR/images/bios.fd" \
  --platform QEMU:q35 --version 2022.11 --svn 2 --out "$TEST_DIR/images/bios-svn2.fwm" >/dev/null
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer donor.serve_installed=false
cluster_node bmc-d peer donor.serve_installed=false recovery.policy='"newest"'
cluster_corrupt bmc-c 0x100000 65536
cluster_corrupt bmc-d 0x100000 65536
cluster_start console
cluster_wait_ready console

# forged_case NODE FORGER-ARGS...: one phase; the recipient NODE starts once the forger listens.
forged_case() {
  local node=$1
  shift
  adv_hostile "forged-$node" forged-offers --requester "$node" --count 25 \
    --manifest "$TEST_DIR/images/bios-svn2.fwm" --seconds 50 "$@"
  check "$node: the forger listens" cluster_wait_log "forged-$node" "sessions at" 10
  local started=$SECONDS
  cluster_start "$node"
  cluster_wait_ready "$node"
  adv_watch "$node"
  adv_check "$node: recovers from the genuine console within 30 s" adv_wait_recovery "$node" 1 30
  echo "  $node: the wait ended $((SECONDS - started)) s after it started; it tried" \
    "$(grep -c 'opening a session to forged-' "$TEST_DIR/logs/$node.log") forged donor(s)"
  check "$node: its flash verifies" cluster_verify "$node"
  adv_check_log "$node: the forged offers were sent" "forged-$node" "answered with 25 offers"
  adv_watch_stop "$node" "forged-offers ($node)"
  adv_check_bound "$node descriptors" "$PEAK_FDS" 128
  adv_check_cost "$node peak RSS (KiB)" "$PEAK_RSS_KB" $((96 * 1024))
  cluster_kill "forged-$node" TERM
}
forged_case bmc-c
forged_case bmc-d --spread
finish
