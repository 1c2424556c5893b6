/*
 * fwrescue.pml: a Promela model of one recovery, checked with SPIN (docs/model.md).
 *
 *   request -> offers -> rank -> accept / confirm | busy | decline -> leaves -> pull + verify
 *   -> staged -> flash (host record, quiet host, erase + program, read back, final check)
 *   -> restore host -> done
 *
 * with lossy links, a donor that may lie or crash, a recipient that may lose power at any step
 * and resume from its journal, a flash whose writes may not take, and a staging file that may be
 * damaged between the transfer and the flash. Every fault has a budget (below), so every run is
 * finite and progress can be checked.
 *
 * The names of the coordinator's phases are those of `enum class recovery_phase`
 * (actors/coordinator.hpp); the journal's phases (hal/nv_store.hpp, recovery_journal::phase) use
 * the same constants, with `no_journal` (= idle) for "no journal: nothing in progress". Other
 * names follow the code: power_state (hal/host_power.hpp), the wire messages (docs/protocol.md),
 * and the functions that each block of this file stands for (named in its comments).
 *
 * Mutants: compile with -DBUG_<NAME> to put a known bug back (docs/model.md lists them);
 * tests/model/model_test.sh requires SPIN to find a counterexample for each.
 */

/* ---- sizes and fault budgets (each may be overridden with -D) ------------------------------ */

#define NB 2            /* blocks of the image; one block per flash sector */
#define ND 2            /* donors; donor 0 is honest unless NO_HONEST is defined */
#define NOBODY ND

#ifndef MAX_ATTEMPTS
#define MAX_ATTEMPTS 4  /* recovery.max_attempts */
#endif
#ifndef FLASH_RETRIES
#define FLASH_RETRIES 1 /* retries of a failed flash from the staged image before a new attempt */
#endif
#ifndef LOSSES
#define LOSSES 1        /* messages the links lose, in all */
#endif
#ifndef CRASHES
#define CRASHES 1       /* power losses of the recipient */
#endif
#ifndef EARLY
#define EARLY 1         /* deadlines that fire before a slow but live donor answers */
#endif
#ifndef WRITE_FAULTS
#define WRITE_FAULTS 1  /* sector programs that do not take */
#endif
#ifndef DAMAGE
#define DAMAGE 1        /* staged blocks damaged in the staging file after the transfer */
#endif

/* ---- names ---------------------------------------------------------------------------------- */

/* recovery_phase, in the code's order */
mtype:phase = { idle, discovering, negotiating, transferring, staged, flashing, verifying, done,
                failed };
#define no_journal idle

mtype:power = { off, on, reset_held };                          /* power_state */
mtype:during = { during_off, during_reset, during_running };    /* host_power.during_flash */
mtype:kind = { honest, lies_blocks, lies_digests, crashes };    /* what a donor does */
/* A block's content: `good` is what the signed Merkle root describes; `corrupt` is the bad
 * content the recovery replaces, `garbage` a liar's or a damaged copy, `erased` an erased
 * sector, `absent` a block never staged. Only `good` verifies: a block verifies exactly when its
 * digest equals the signed leaf, and the model's hash has no collisions. */
mtype:content = { good, corrupt, garbage, erased, absent };
mtype:frame = { image_request, offer, accept, confirm, busy, decline, leaves, block_request,
                block_data };

#define VERIFIES(c) ((c) == good)

/* ---- the world ------------------------------------------------------------------------------ */

mtype:content flash[NB];      /* the BIOS flash */
mtype:power power;            /* the host's power and reset lines */
mtype:during during;          /* the configured policy */

/* nv_store: survives a power loss */
mtype:phase journal = no_journal; /* recovery_journal::phase, or no_journal */
mtype:content staging[NB];    /* the staging file */
bool host_recorded;           /* the host record: the power state before the recovery's first */
mtype:power host_record;      /*   flash, written once, forgotten when the recovery succeeds */

/* the coordinator's phase (volatile: idle again after a power loss) */
mtype:phase phase = idle;

/* links: the recipient's inbox (datagrams and session frames alike), one inbox per donor.
 * Fields: kind, donor, request id (fresh per request: the nonce; a session is (donor, request
 * id), so a frame of a closed session or of an older request is recognised), block, content. */
chan to_recipient = [4] of { mtype:frame, byte, byte, byte, mtype:content };
chan to_donor[ND] = [2] of { mtype:frame, byte, byte };

/* each donor's memory of its offers and sessions (donor.cpp donor_state), by request id: the
 * last one offered (offers are remembered per request), the one whose accept was served (an
 * accept is single-use), the one of the confirmed session */
byte offered[ND], used[ND], serving[ND];

/* fault budgets */
byte losses = LOSSES;
byte crash_budget = CRASHES;
byte early = EARLY;
byte write_faults = WRITE_FAULTS;
byte damage = DAMAGE;

/* ghosts: never read by the model, only by the properties */
mtype:power power0;           /* the host's power state before the recovery */
bool unverified_write;        /* a block was programmed whose content does not verify */
bool ended;                   /* the recipient has stopped: done, failed, or idle and good */
bool settled;                 /* ... stopped idle after a restart found the flash good */

/* ---- properties ----------------------------------------------------------------------------- */

/* A recovery that succeeded: `done`, or (after a power loss once the journal was cleared) the
 * restarted daemon found the flash good and stayed idle. */
#define recovered (phase == done || settled)

/* Safety. Checked with -DSAFETY, each in its own run. */
ltl s1_only_verified_blocks_written { [] !unverified_write }
ltl s2_running_host_untouched { [] (during == during_running -> power == power0) }
ltl s3_host_restored_after_success { [] (recovered -> power == power0) }
/* Progress, under weak fairness (-a -f). p1 holds whatever the donors do; p2 needs donor 0
 * honest and reachable (the budgets bound how often a link, a deadline or a write fails). */
ltl p1_recovery_ends { <> ended }
ltl p2_recovery_succeeds { <> recovered }

/* ---- helpers -------------------------------------------------------------------------------- */

/* A lossy link: the message arrives, or (while the budget lasts) it is lost. */
#define SEND(ch, msg) \
  if \
  :: atomic { losses > 0 -> losses-- } \
  :: ch ! msg \
  fi

/* The recipient may lose power here (while the budget lasts). */
#define CRASH_POINT \
  if \
  :: crash_budget > 0 -> crash_budget--; goto crashed \
  :: skip \
  fi

/* The host's power state before the recovery, and host_power.during_flash: any of each. */
inline choose_host() {
  if
  :: power == 0 ->
     if :: power = off :: power = on :: power = reset_held fi;
     power0 = power;
     if :: during = during_off :: during = during_reset :: during = during_running fi
  :: else -> skip
  fi
}

inline set_power(p) {
  power = p
}

/* flasher.cpp quiet_host(): off or held in reset per during_flash, or left running. */
inline quiet_host() {
  if
  :: during == during_running ->
#ifdef BUG_QUIET_RUNNING
     if :: power != off -> set_power(off) :: else -> skip fi
#else
     skip
#endif
  :: during == during_off ->
     if :: power != off -> set_power(off) :: else -> skip fi
  :: during == during_reset ->
     if :: power == on -> set_power(reset_held) :: else -> skip fi
  fi
}

/* flasher.cpp restore_host(): back to the recorded state. */
inline restore_host(rec) {
  if
  :: rec == 0 || power == rec -> skip
  :: rec != 0 && power != rec && rec == off -> set_power(off)
  :: rec != 0 && power != rec && rec == on -> set_power(on)
  :: rec != 0 && power != rec && rec == reset_held ->
     if :: power == off -> set_power(on) :: else -> skip fi;
     set_power(reset_held)
  fi
}

/* ---- donors (donor.cpp) --------------------------------------------------------------------- */

/* What a donor does: donor 0 is honest (unless NO_HONEST); the others may be anything. Chosen
 * at the donor's first accept: nothing it does before depends on it (every donor offers). */
inline choose_kind() {
  if
  :: k == 0 ->
     if
#ifndef NO_HONEST
     :: d == 0 -> k = honest
     :: d != 0 ->
#else
     :: true ->
#endif
        if
        :: k = lies_blocks
        :: k = lies_digests
        :: k = crashes
        fi
     fi
  :: else -> skip
  fi
}

proctype donor(byte d) {
  mtype:kind k;
  mtype:frame f;
  byte rid, b;

end_serving:
  do
  :: atomic { to_donor[d] ? f, rid, b ->
     if
     :: f == image_request ->      /* answer_request(): a signed offer echoing the nonce */
        offered[d] = rid; used[d] = 0; serving[d] = 0;   /* older accepts are stale from now on */
        SEND(to_recipient, offer(d, rid, 0, good))
     :: f == accept ->             /* on_accept() */
        if
        :: rid != offered[d] || rid == used[d] ->
           SEND(to_recipient, decline(d, rid, 0, good))     /* stale, replayed or used */
        :: rid == offered[d] && rid != used[d] ->
           used[d] = rid;
           choose_kind();
           if
           :: k != honest -> SEND(to_recipient, busy(d, rid, 0, good))
           :: k != honest -> SEND(to_recipient, decline(d, rid, 0, good))
           :: k == crashes -> goto crashed
           :: true ->
              serving[d] = rid;
              SEND(to_recipient, confirm(d, rid, 0, good));
              /* the block digests: a liar's do not build the signed root */
              if
              :: k == lies_digests -> SEND(to_recipient, leaves(d, rid, 0, garbage))
              :: else -> SEND(to_recipient, leaves(d, rid, 0, good))
              fi
           fi
        fi
     :: f == block_request ->      /* on_block_request(), serve_blocks() */
        if
        :: rid == serving[d] ->
           if
           :: k == honest -> SEND(to_recipient, block_data(d, rid, b, good))
           :: k == crashes -> SEND(to_recipient, block_data(d, rid, b, good))
           :: k == crashes -> goto crashed                 /* stops mid-transfer */
           :: k == lies_blocks || k == lies_digests ->
              if
              :: SEND(to_recipient, block_data(d, rid, b, garbage))
              :: SEND(to_recipient, block_data(d, rid, b, good))
              fi
           fi
        :: else -> skip
        fi
     :: else -> skip
     fi;
     f = 0; rid = 0; b = 0 }
  od;

crashed:                           /* a crashed donor answers nothing, ever */
end_crashed:
  do
  :: to_donor[d] ? _, _, _
  od
}

/* ---- the recipient: coordinator, transfer and flasher --------------------------------------- */

/* Dead state is cleared as soon as it is dead, so that states differing only in it are one. */
inline forget_frame() {
  f = 0; fd = 0; fr = 0; fb = 0; fv = 0
}
inline forget_transfer() {
  n = 0; i = 0; next = 0; cur = NOBODY; awaiting = 0; req_b = 0; prepared = false;
  got_leaves = false;
  for (b : 0 .. ND - 1) { offered_by[b] = false; order[b] = 0; hs[b] = 0 };
  for (b : 0 .. NB - 1) { have[b] = false };
  b = 0;
  forget_frame()
}
inline forget_staged() {
  known = false;
  for (b : 0 .. NB - 1) { staged_list[b] = false; in_memory[b] = false; memory[b] = 0 };
  b = 0
}
inline forget_flash() {
  ndiff = 0; rec = 0;
  for (b : 0 .. NB - 1) { want[b] = 0; differ[b] = false };
  b = 0
}

active proctype recipient() {
  /* coordinator */
  byte attempt;
  byte flash_tries;      /* failed flashes of this recovery (coordinator_state::flashes) */
  /* discovery and negotiation */
  byte rid, n, i;
  bool offered_by[ND];
  byte order[ND];
  /* transfer */
  byte next, cur, awaiting, req_b;
  byte hs[ND];           /* per donor: 0 not contacted, 1 accept sent, 2 closed, 3 serving */
  bool prepared, got_leaves;
  bool have[NB];         /* the block is verified: in the staging file or on the flash */
  bool staged_list[NB];  /* flash_job::staged: the block is in the staging file (known) */
  bool in_memory[NB];    /* flash_job::verified: the block as the transfer verified it */
  mtype:content memory[NB];
  bool known;            /* the staged list is known (lost on a restart) */
  /* flasher */
  mtype:content want[NB];
  bool differ[NB];
  byte ndiff;
  bool touched;          /* this flash wrote, or was about to write */
  mtype:power rec;
  /* one received frame */
  mtype:frame f;
  byte fd, fr, fb;
  mtype:content fv;
  byte b;

  /* The world before the recovery: no block of the flash verifies. The host's power state and
   * the policy can be any: they are chosen when the flasher first looks at them (choose_host),
   * which is the same as choosing them here, since nothing reads them before, and keeps every
   * step before the first flash from being explored 9 times.
   * Every step of the recipient between two waits for a message is one atomic sequence: only
   * messages reach the donors, so interleaving them with those steps would add states and no
   * behaviour. A power loss may still happen at every CRASH_POINT inside them. */
  atomic {
    for (b : 0 .. NB - 1) { flash[b] = corrupt; staging[b] = absent };
    b = 0;
    run donor(0);
    run donor(1)
  };

boot:
  /* coordinator.cpp resume_from_journal(), and the monitor's first check (monitor.cpp) */
  atomic {
    phase = idle;
    if
    :: journal == transferring -> attempt = 1; goto discover
    :: journal == staged || journal == flashing ->
       attempt = 1; flash_tries = 0; known = false; goto start_flash
    :: journal == no_journal ->
       if
       :: VERIFIES(flash[0]) && VERIFIES(flash[1]) -> settled = true; goto stopped
       :: else -> attempt = 1; flash_tries = 0; goto discover   /* start_recovery() */
       fi
    fi
  };

discover:
  /* coordinator.cpp discover(): a fresh request id and nonce, broadcast (each copy lossy) */
  atomic {
    phase = discovering;
    rid = rid % 3 + 1;   /* a fresh request id (see "Request ids" in docs/model.md) */
    n = 0;
    for (i : 0 .. ND - 1) { offered_by[i] = false; order[i] = 0; hs[i] = 0 };
    i = 0;
    SEND(to_donor[0], image_request(rid, 0));
    SEND(to_donor[1], image_request(rid, 0))
  };
  /* discovery.cpp: the window. Offers echoing this request's id and nonce are taken, one per
   * donor and at most ND; anything else is stale and dropped. It closes when nothing more can
   * arrive (an offer later than the window is the same as a lost one). */
  do
  :: atomic {
       to_recipient ? f, fd, fr, fb, fv ->
       if
       :: f == offer && fr == rid && !offered_by[fd] && n < ND -> offered_by[fd] = true; n++
       :: else -> skip
       fi;
       f = 0; fd = 0; fr = 0; fb = 0; fv = 0
     }
  :: timeout -> break
  od;

  /* coordinator.cpp offers_collected, negotiation.cpp negotiate(): the policy ranks the
   * offers; the model tries every order, so it covers every policy */
  atomic {
    phase = negotiating;
    i = 0;
    do
    :: i == n -> break
    :: i < n ->
       if
       :: offered_by[0] && hs[0] == 0 -> order[i] = 0
       :: offered_by[1] && hs[1] == 0 -> order[i] = 1
       fi;
       hs[order[i]] = 4;  /* ranked (reset below) */
       i++
    od;
    for (i : 0 .. ND - 1) { hs[i] = 0; offered_by[i] = false };
    i = 0;
    if
    :: n == 0 -> goto attempt_failed     /* "no compatible image: no donor answered" */
    :: else -> skip
    fi;
    /* coordinator.cpp negotiated() -> transfer.cpp transfer_job */
    next = 0; cur = NOBODY; awaiting = 0; prepared = false; got_leaves = false
  };

race:
  /* transfer_handshake.cpp race(), start_handshake(): a session to the next ranked donor and a
   * signed accept */
  atomic {
    if
    :: next < n ->
       i = order[next]; next++; hs[i] = 1; awaiting++;
       SEND(to_donor[i], accept(rid, 0));
       i = 0
    :: next >= n && awaiting == 0 -> goto transfer_failed
    :: next >= n && awaiting > 0 -> skip     /* a raced donor may still confirm */
    fi
  };

wait:
  do
  :: atomic {
     to_recipient ? f, fd, fr, fb, fv ->
     if
     :: fr != rid || fd >= ND -> skip             /* an older request's frame */
     :: fr == rid && fd < ND && hs[fd] == 1 && f == confirm ->
        /* handshake_message(), begin_pull(): the first to confirm is taken; donors raced
         * against it are let go for this request (docs/model.md, "Racing") */
        cur = fd; hs[fd] = 3; got_leaves = false;
        for (i : 0 .. ND - 1) { if :: hs[i] == 1 -> hs[i] = 2 :: else -> skip fi };
        i = 0; awaiting = 0;
        phase = transferring                      /* donor_confirmed */
     :: fr == rid && fd < ND && hs[fd] == 1 && (f == busy || f == decline) ->
        hs[fd] = 2; awaiting--;
        if
        :: awaiting == 0 && cur == NOBODY -> goto race
        :: else -> skip
        fi
     :: fr == rid && fd == cur && f == leaves && !got_leaves ->
        /* on_digests(): the digests must build the signed root */
        if
        :: fv != good -> goto drop_donor
        :: else -> got_leaves = true
        fi;
        if
        :: !prepared ->
           /* prepare_staging(): blocks already held are found by their digests, in the staging
            * file (when the journal names this image) and on the flash; then the journal says
            * transferring */
           for (b : 0 .. NB - 1) {
             have[b] = false; staged_list[b] = false; in_memory[b] = false; memory[b] = absent;
             if
             :: journal != no_journal && VERIFIES(staging[b]) ->
                have[b] = true; staged_list[b] = true
             :: else -> skip
             fi;
             if
             :: !have[b] && VERIFIES(flash[b]) -> have[b] = true
             :: else -> skip
             fi
           };
           b = 0;
           journal = transferring;
           prepared = true;
           CRASH_POINT
        :: else -> skip
        fi;
        goto request_block
     :: fr == rid && fd == cur && f == block_data && got_leaves && fb == req_b ->
        /* on_blocks(), block_verifier, on_verified(): verified before it is staged */
        if
#ifdef BUG_STAGE_UNCHECKED
        :: true ->
#else
        :: VERIFIES(fv) ->
#endif
           staging[fb] = fv;
           if
           :: crash_budget > 0 ->            /* power lost before the staging file's sync */
              crash_budget--;
              if :: staging[fb] = garbage :: skip fi;
              goto crashed
           :: skip
           fi;
           have[fb] = true; staged_list[fb] = true; in_memory[fb] = true; memory[fb] = fv;
           goto request_block
        :: else -> goto drop_donor                /* "block N failed verification" */
        fi
     :: else -> skip                              /* a closed session's frame */
     fi;
     f = 0; fd = 0; fr = 0; fb = 0; fv = 0
     }
#ifndef BUG_NO_DEADLINE
  :: timeout -> goto deadline                     /* nothing more will arrive */
#endif
  :: atomic { early > 0 && cur == NOBODY -> early-- }; /* before a live donor confirms */
     goto deadline
  od;

deadline:
  atomic {
    f = 0; fd = 0; fr = 0; fb = 0; fv = 0;
    if
    :: cur == NOBODY && next < n -> goto race   /* race the next donor (race_atom) */
    :: cur == NOBODY && next >= n ->              /* handshake_deadline(): none confirmed */
       for (i : 0 .. ND - 1) { if :: hs[i] == 1 -> hs[i] = 2 :: else -> skip fi };
       i = 0; awaiting = 0;
       goto transfer_failed
    :: cur != NOBODY -> goto drop_donor           /* check_deadline(): "sent nothing for N ms" */
    fi
  };

drop_donor:
  /* transfer.cpp drop_donor(): blocks already verified are kept */
  atomic {
    f = 0; fd = 0; fr = 0; fb = 0; fv = 0;
    hs[cur] = 2; cur = NOBODY; got_leaves = false; req_b = 0;
#ifdef BUG_NO_NEXT_DONOR
    goto transfer_failed
#else
    goto race
#endif
  };

request_block:
  /* fill_window(), with a window of one block */
  atomic {
    f = 0; fd = 0; fr = 0; fb = 0; fv = 0;
    req_b = 0;
    do
    :: req_b < NB && have[req_b] -> req_b++
    :: else -> break
    od;
    if
    :: req_b == NB -> req_b = 0; goto finish
    :: else -> SEND(to_donor[cur], block_request(rid, req_b))
    fi;
    goto wait
  };

finish:
  /* transfer.cpp finish(): the staging file synced, the journal says staged; transfer_done */
  atomic {
    journal = staged;
    forget_transfer();
    phase = staged;
    known = true;
    goto start_flash
  };

transfer_failed:
  goto attempt_failed;

start_flash:
  /* coordinator.cpp start_flash(), flasher.cpp flash_image(): no message goes out or comes in
   * until the flash ends, so the whole of it is one atomic sequence */
  atomic {
    phase = flashing;
    journal = flashing;
    /* the staging file may have been changed or damaged since the transfer */
    if
    :: damage > 0 ->
       damage--;
       if
       :: staging[0] != absent -> staging[0] = garbage
       :: staging[1] != absent -> staging[1] = garbage
       :: else -> skip
       fi
    :: skip
    fi;
    CRASH_POINT;
    /* plan_writes(): every block a rewritten sector will hold is known good before anything is
     * erased. A block kept in memory as the transfer verified it is not hashed again; one read
     * from the staging file or the flash is. */
    ndiff = 0;
    for (b : 0 .. NB - 1) {
      if
      :: known && staged_list[b] && in_memory[b] -> want[b] = memory[b]
      :: known && staged_list[b] && !in_memory[b] ->
         if
#ifdef BUG_TRUST_STAGING
         :: staging[b] != absent -> want[b] = staging[b]
#else
         :: VERIFIES(staging[b]) -> want[b] = staging[b]
#endif
         :: else -> goto flash_failed     /* "staged block N does not match ..." */
         fi
      :: known && !staged_list[b] -> want[b] = flash[b]   /* not staged: its sector stays */
      :: !known ->                        /* after a restart: whichever copy verifies */
         if
#ifdef BUG_TRUST_STAGING
         :: staging[b] != absent -> want[b] = staging[b]
#else
         :: VERIFIES(staging[b]) -> want[b] = staging[b]
#endif
         :: else ->
            if
            :: VERIFIES(flash[b]) -> want[b] = flash[b]
            :: else -> goto flash_failed  /* "... neither in the staging file nor on the flash" */
            fi
         fi
      fi;
      differ[b] = (want[b] != flash[b]);
      if :: differ[b] -> ndiff++ :: else -> skip fi
    };
    b = 0;
    if
    :: ndiff == 0 -> goto final_check     /* nothing differs: the host is not touched */
    :: else -> touched = true             /* flash_failed::untouched is false from here on */
    fi;
    choose_host();
    /* the host record: the power state before the recovery's first flash, written once */
#ifdef BUG_OVERWRITE_HOST_RECORD
    host_recorded = true; host_record = power;
#else
    if :: !host_recorded -> host_recorded = true; host_record = power :: else -> skip fi;
#endif
    quiet_host();
    CRASH_POINT;
    /* for_each_piece(): erase and program the sectors that differ */
    b = 0;
    do
    :: b < NB && !differ[b] -> b++
    :: b < NB && differ[b] ->
       flash[b] = erased;
       CRASH_POINT;
       if :: !VERIFIES(want[b]) -> unverified_write = true :: else -> skip fi;
       if
       :: write_faults > 0 -> write_faults--     /* the program did not take */
       :: flash[b] = want[b]
       fi;
       CRASH_POINT;
       b++
    :: b == NB -> b = 0; break
    od;

final_check:
    /* read_back(), rewrite_differing(): a planned sector that reads different gets a second
     * write; then the whole image is checked against the signed root */
    for (b : 0 .. NB - 1) {
      if
      :: differ[b] && flash[b] != want[b] ->
         if :: !VERIFIES(want[b]) -> unverified_write = true :: else -> skip fi;
         if
         :: write_faults > 0 -> write_faults--; goto flash_failed   /* "reads back different" */
         :: flash[b] = want[b]
         fi
      :: else -> skip
      fi
    };
    b = 0;
    if
    :: VERIFIES(flash[0]) && VERIFIES(flash[1]) -> skip
    :: else -> goto flash_failed                /* "flash does not verify after writing" */
    fi;
    /* success: record the installed manifest, restore the host, forget the record, clear the
     * journal (and the staging file) */
#ifdef BUG_CLEAR_BEFORE_RESTORE
    /* the journal, and the record with it, cleared before the host is restored */
    if :: host_recorded -> rec = host_record :: else -> rec = 0 fi;
    host_recorded = false; journal = no_journal; staging[0] = absent; staging[1] = absent;
    CRASH_POINT;
    restore_host(rec);
#else
    if
    :: host_recorded ->
       rec = host_record;
       restore_host(rec);
       CRASH_POINT;
       host_recorded = false;
       CRASH_POINT
    :: else -> skip
    fi;
    journal = no_journal; staging[0] = absent; staging[1] = absent;
#endif
    CRASH_POINT;
    phase = verifying;                            /* flash_done */
    phase = done;                                 /* verified() */
    forget_staged(); forget_flash(); flash_tries = 0; touched = false;
    goto stopped
  };

flash_failed:
  /* coordinator.cpp flash_failed_with(): the host stays as it is (off, if it was quieted) until a
   * retry succeeds. A flash that failed while writing is tried again from the staged image, as
   * the journal records it (flash_from_journal(): without the staged list and the blocks kept in
   * memory, so every block is checked again); one that failed before writing found the staged
   * image itself in question, and the network is asked again. */
  atomic {
    forget_flash();
    flash_tries++;
    if
#ifdef BUG_RETRY_FOREVER
    :: true -> flash_tries = 0; touched = false; forget_staged(); goto start_flash
#endif
    :: touched && flash_tries <= FLASH_RETRIES ->
       touched = false; forget_staged(); goto start_flash
    :: else -> touched = false; goto attempt_failed
    fi
  };

attempt_failed:
  /* coordinator.cpp attempt_failed(): a fresh discovery, up to max_attempts */
  atomic {
    forget_transfer(); forget_staged(); forget_flash();
    if
    :: attempt < MAX_ATTEMPTS -> attempt++; goto discover
    :: else -> phase = failed; attempt = 0; goto stopped
    fi
  };

crashed:
  /* Power lost: everything volatile is gone. The sessions die with the process: frames in flight
   * are lost and the donors forget them (a donor's offers for the old request could only be
   * taken up by the process that is gone). */
  atomic {
    do
    :: to_recipient ? _, _, _, _, _
    :: to_donor[0] ? _, _, _
    :: to_donor[1] ? _, _, _
    :: empty(to_recipient) && empty(to_donor[0]) && empty(to_donor[1]) -> break
    od;
    for (b : 0 .. ND - 1) { offered[b] = 0; used[b] = 0; serving[b] = 0 };
    rid = 0;   /* nothing carries an older request id any more (no send ever finds a full link) */
    attempt = 0; flash_tries = 0; touched = false;
    forget_transfer(); forget_staged(); forget_flash();
    goto boot
  };

stopped:
  /* the faults left no longer matter: spending them makes the ends of all runs alike */
  atomic {
    ended = true;
    losses = 0; crash_budget = 0; early = 0; write_faults = 0; damage = 0
  };
end_stopped:                                      /* frames still arriving are dropped */
  do
  :: to_recipient ? _, _, _, _, _
  od
}
