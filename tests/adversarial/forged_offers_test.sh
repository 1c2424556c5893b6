#!/usr/bin/env bash
# Forged console offers: a peer hears the recipient's image request and answers it with 25
# offers, each signed by a fresh node key, claiming role console and carrying a genuine
# release-signed manifest, each pointing at a listener that accepts and never answers. The
# manifest is the newest release's (the same image signed for svn 2, as anyone holding that
# release has it), so the forged offers rank above the genuine console's svn 1 whatever the
# arrival order. The recipient must not try them one by one: it must recover from the genuine
# console within 30 s (handshake deadline, handshakes in parallel, console role only for
# console keys).
source "$(dirname "$0")/adversary.sh" "$@"
cluster_init "$TEST_DIR"
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$TEST_DIR/images/bios.fd" \
  --platform QEMU:q35 --version 2022.11 --svn 2 --out "$TEST_DIR/images/bios-svn2.fwm" >/dev/null
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_start console
cluster_wait_ready console
adv_hostile forged forged-offers --requester bmc-c --count 25 \
  --manifest "$TEST_DIR/images/bios-svn2.fwm" --seconds 50
check "the forger listens" cluster_wait_log forged "sessions at" 10
started=$SECONDS
cluster_start bmc-c
cluster_wait_ready bmc-c
adv_watch bmc-c
adv_check "bmc-c recovers from the genuine console within 30 s" adv_wait_recovery bmc-c 1 30
echo "  bmc-c: recovery ended (or the wait did) $((SECONDS - started)) s after it started"
check "bmc-c's flash verifies" cluster_verify bmc-c
adv_check_log "the forged offers were answered to bmc-c" forged "answered with 25 offers"
echo "  bmc-c tried $(grep -c 'opening a session to forged-' "$TEST_DIR/logs/bmc-c.log") forged donor(s)"
adv_watch_stop bmc-c "forged-offers"
adv_check_bound "bmc-c descriptors" "$PEAK_FDS" 128
adv_check_cost "bmc-c peak RSS (KiB)" "$PEAK_RSS_KB" $((96 * 1024))
finish
