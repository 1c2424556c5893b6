#include "tests/actors/transfer_fixture.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

TEST_CASE_METHOD(transfer_fixture, "a session to the first donor starts with a signed accept") {
  start({&donor_a, &donor_b});
  REQUIRE(link->opened_sessions().size() == 1);
  auto s = session_to(donor_a);
  REQUIRE(router->count<claim_session>() == 1);
  CHECK(router->last<claim_session>().id == s);
  CHECK(sent_on(s).empty()); // nothing before the session is up
  link->accept_open(s);
  run();
  auto frames = sent_on(s);
  REQUIRE(frames.size() == 1);
  auto* a = std::get_if<accept>(&frames[0]);
  REQUIRE(a != nullptr);
  CHECK(verify_accept(*a));
  CHECK(a->fields.request_id == req.request_id);
  CHECK(a->fields.challenge == req.challenge);
  CHECK(a->fields.recipient == "recipient");
  CHECK(a->fields.recipient_key == ctx->node_key->public_part());
  CHECK(a->fields.merkle_root == img.manifest.fields.merkle_root);
  CHECK(a->fields.donor_key == donor_a.key.public_part());
}

TEST_CASE_METHOD(transfer_fixture, "only the blocks that differ from the flash are pulled") {
  preload_flash_with_image();
  for (uint64_t bad : {3, 4, 10})
    chip->cells()[bad * 1024 + 5] ^= 0xff;
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  REQUIRE(coordinator->count<donor_confirmed>() == 1);
  CHECK(coordinator->last<donor_confirmed>().donor == "donor-a");
  // The journal records the transfer before any block arrives.
  auto journal = store->journal();
  REQUIRE(journal);
  REQUIRE(*journal);
  CHECK((*journal)->at == recovery_journal::phase::transferring);
  CHECK((*journal)->target.fields.merkle_root == img.manifest.fields.merkle_root);

  serve(s);
  CHECK(as_set(requested(s)) == std::set<uint64_t>{3, 4, 10});
  auto frames = sent_on(s);
  CHECK(std::holds_alternative<done>(frames.back()));
  CHECK_FALSE(link->is_open(s));
  // Only the pulled blocks go to the staging file; the others stay on the flash.
  check_staged_blocks({3, 4, 10});
  REQUIRE(coordinator->count<transfer_done>() == 1);
  auto d = coordinator->last<transfer_done>();
  CHECK(d.donor == "donor-a");
  CHECK(d.blocks_pulled == 3);
  CHECK(d.blocks_reused == 29);
  CHECK(d.target.fields.merkle_root == img.manifest.fields.merkle_root);
  CHECK(d.target.block_digests == img.manifest.block_digests);
  journal = store->journal();
  REQUIRE(journal);
  REQUIRE(*journal);
  CHECK((*journal)->at == recovery_journal::phase::staged);
  CHECK((*journal)->donor == "donor-a");
}

TEST_CASE_METHOD(transfer_fixture,
                 "blocks the monitor found bad are pulled without looking at the flash again") {
  preload_flash_with_image(); // blocks 3 and 4 are good again by the time of the transfer
  auto check = report(true, {{3, 5}}, "2 of 32 blocks do not match the installed manifest");
  SECTION("the check was against the image being pulled: its bad blocks are pulled") {
    check.root = img.manifest.fields.merkle_root;
    auto reads = chip->read_calls();
    start({&donor_a}, check);
    auto s = session_to(donor_a);
    confirm(s);
    serve(s);
    CHECK(as_set(requested(s)) == std::set<uint64_t>{3, 4});
    check_staged_blocks({3, 4});
    CHECK(coordinator->last<transfer_done>().blocks_reused == 30);
    // The blocks the check found good are taken as on the flash without reading it again.
    CHECK(chip->read_calls() == reads);
  }
  SECTION("the check was against another image: the whole flash is scanned") {
    check.root[0] ^= 1;
    start({&donor_a}, check);
    auto s = session_to(donor_a);
    confirm(s);
    CHECK(requested(s).empty());
    check_staged_blocks({});
    CHECK(coordinator->last<transfer_done>().blocks_reused == 32);
  }
}

TEST_CASE_METHOD(transfer_fixture, "requests wait until half the window is free") {
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  // Each node starts at its own place in the image (block_picker.hpp); here well before the end.
  auto o = state_of<transfer_state>(xfer).start_block;
  REQUIRE(o + 6 <= 32);
  REQUIRE(requested(s) == std::vector<uint64_t>{o, o + 1, o + 2, o + 3});
  deliver(s, block_data{o, block(o)});
  CHECK(requested(s).size() == 4); // 3 outstanding of 4: not yet
  deliver(s, block_data{o + 1, block(o + 1)});
  // 2 outstanding: one request for the next 2 blocks.
  CHECK(requested(s) == std::vector<uint64_t>{o, o + 1, o + 2, o + 3, o + 4, o + 5});
  CHECK(only<block_request>(sent_on(s)).size() == 2);
}

TEST_CASE_METHOD(transfer_fixture, "several blocks in one frame are each verified and staged") {
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  auto o = state_of<transfer_state>(xfer).start_block;
  REQUIRE(o + 6 <= 32);
  REQUIRE(requested(s) == std::vector<uint64_t>{o, o + 1, o + 2, o + 3});
  auto run_of = [&](uint64_t first, uint64_t count) {
    std::vector<uint8_t> bytes;
    for (auto i = first; i < first + count; ++i) {
      auto b = block(i);
      bytes.insert(bytes.end(), b.begin(), b.end());
    }
    return bytes;
  };
  SECTION("good blocks") {
    deliver(s, block_data{o, run_of(o, 3)});
    CHECK(link->is_open(s));
    CHECK(requested(s).size() == 7); // 1 outstanding: the next three asked
    for (size_t next = 3; link->is_open(s);) {
      auto asked = requested(s);
      if (next == asked.size())
        break;
      deliver(s, block_data{asked[next], block(asked[next])});
      ++next;
    }
    CHECK(staged() == img.bytes);
    CHECK(coordinator->last<transfer_done>().blocks_pulled == 32);
  }
  SECTION("a bad block in the middle: the ones before it are kept, the donor dropped") {
    auto bytes = run_of(o, 3);
    bytes[1024 + 10] ^= 1;
    deliver(s, block_data{o, bytes});
    CHECK_FALSE(link->is_open(s));
    REQUIRE(coordinator->count<donor_dropped>() == 1);
    CHECK(coordinator->last<donor_dropped>().reason
          == fmt::format("block {} failed verification", o + 1));
    CHECK(coordinator->last<donor_dropped>().bad_block);
  }
  SECTION("a run reaching past the requested blocks drops the donor") {
    deliver(s, block_data{o + 2, run_of(o + 2, 3)});
    CHECK_FALSE(link->is_open(s));
    CHECK(coordinator->last<donor_dropped>().reason
          == fmt::format("sent block {}, which was not requested", o + 4));
  }
  SECTION("a run that ends inside a block drops the donor") {
    auto bytes = run_of(o, 2);
    bytes.resize(1024 + 100);
    deliver(s, block_data{o, bytes});
    CHECK_FALSE(link->is_open(s));
    CHECK(coordinator->last<donor_dropped>().reason
          == fmt::format("sent block {} cut short (100 of 1024 bytes)", o + 1));
  }
}

TEST_CASE_METHOD(transfer_fixture, "block requests stay within the window") {
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  auto most = serve(s);
  CHECK(most == 4); // the window is kept full, never overfilled
  auto asked = requested(s);
  CHECK(asked.size() == 32); // each block asked once
  CHECK(as_set(asked).size() == 32);
  CHECK(staged() == img.bytes);
  auto d = coordinator->last<transfer_done>();
  CHECK(d.blocks_pulled == 32);
  CHECK(d.blocks_reused == 0);
}

TEST_CASE_METHOD(transfer_fixture, "a corrupted block drops the donor, the next one is asked only "
                                   "for the rest") {
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  confirm(a);
  size_t served = 0;
  serve(a, 10, &served);
  REQUIRE(served == 10);
  auto asked_a = requested(a);
  std::set<uint64_t> verified{asked_a.begin(), asked_a.begin() + 10};
  auto bad = block(asked_a[10]);
  bad[100] ^= 1;
  deliver(a, block_data{asked_a[10], bad});

  auto frames = sent_on(a);
  auto aborts = only<abort_transfer>(frames);
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].reason.find("failed verification") != std::string::npos);
  CHECK_FALSE(link->is_open(a));

  auto b = session_to(donor_b);
  confirm(b);
  auto* acc = std::get_if<accept>(&sent_on(b).front());
  REQUIRE(acc != nullptr);
  CHECK(acc->fields.donor_key == donor_b.key.public_part());
  serve(b);
  auto asked_b = as_set(requested(b));
  CHECK(asked_b.size() == 22);
  for (auto i : verified)
    CHECK(asked_b.count(i) == 0);
  CHECK(staged() == img.bytes);
  auto d = coordinator->last<transfer_done>();
  CHECK(d.donor == "donor-b and donor-a"); // the one that sent the most first
  CHECK(d.blocks_pulled == 32);
  // The bad block is counted against the donor that sent it, and every block received (the
  // bad one too) as pulled.
  auto rejected = ctx->metrics->blocks_rejected.snapshot().series;
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].values == std::vector<std::string>{ctx->target, "donor-a"});
  CHECK(rejected[0].value == 1);
  auto pulled = ctx->metrics->bytes_pulled.snapshot().series;
  REQUIRE(pulled.size() == 1);
  CHECK(pulled[0].value == img.bytes.size() + bad.size());
  CHECK(ctx->metrics->transfer_seconds.snapshot().series.at(0).count == 1);
}

TEST_CASE_METHOD(transfer_fixture, "a donor that does not serve is dropped for the next one") {
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  std::string reason;
  SECTION("busy") {
    link->accept_open(a);
    run();
    deliver(a, busy{req.request_id, 1000});
    reason = "donor-a: busy";
  }
  SECTION("decline") {
    link->accept_open(a);
    run();
    deliver(a, decline{req.request_id, "no such offer (stale or replayed)"});
    reason = "donor-a: declined: no such offer";
  }
  SECTION("the session cannot be opened") {
    link->refuse_open(a, "connection refused");
    run();
    reason = "donor-a: connection lost: connection refused";
  }
  SECTION("the session closes mid-transfer") {
    confirm(a);
    serve(a, 5);
    link->close_by_peer(a, "connection reset");
    run();
    reason = "donor-a: connection lost: connection reset";
  }
  SECTION("the donor goes silent") {
    confirm(a);
    serve(a, 5);
    advance(1999ms);
    CHECK(link->is_open(a));
    advance(1ms); // the block timeout holds to the millisecond
    CHECK_FALSE(link->is_open(a));
    reason = "donor-a: sent nothing for 2000 ms";
  }
  SECTION("digests that do not build the signed root") {
    auto digests = img.manifest.block_digests;
    digests[7][0] ^= 1;
    confirm(a, digests);
    auto aborts = only<abort_transfer>(sent_on(a));
    REQUIRE(aborts.size() == 1);
    CHECK(requested(a).empty()); // no block is asked for against unverified digests
    reason = "donor-a: sent block digests that do not build the signed Merkle root";
  }
  SECTION("a confirm repeated mid-transfer, which would restart it forever") {
    confirm(a);
    serve(a, 5);
    deliver(a, fwrescue::confirm{req.request_id});
    reason = "donor-a: sent a confirm outside the handshake";
  }
  SECTION("a block that was not asked for") {
    confirm(a);
    deliver(a, block_data{31, block(31)});
    reason = "donor-a: sent block 31, which was not requested";
  }
  INFO(reason);
  CHECK_FALSE(link->is_open(a));
  auto b = session_to(donor_b);
  CHECK(b != a);
  confirm(b);
  serve(b);
  CHECK(staged() == img.bytes);
  REQUIRE(coordinator->count<transfer_done>() == 1);
  // donor-b sent the most; donor-a is named after it when it sent some before it was dropped.
  CHECK_THAT(coordinator->last<transfer_done>().donor, Catch::StartsWith("donor-b"));
  CHECK(coordinator->count<transfer_failed>() == 0);
}

TEST_CASE_METHOD(transfer_fixture, "when every donor fails, the failure lists each reason") {
  start({&donor_a, &donor_b});
  answer_accept(donor_a, busy{req.request_id, 1000});
  answer_accept(donor_b, decline{req.request_id, "no such offer"});
  REQUIRE(coordinator->count<transfer_failed>() == 1);
  auto why = coordinator->last<transfer_failed>().reason;
  CHECK(why.find("donor-a: busy (retry after 1000 ms)") != std::string::npos);
  CHECK(why.find("donor-b: declined: no such offer") != std::string::npos);
  CHECK(coordinator->count<transfer_done>() == 0);
  CHECK(link->opened_sessions().size() == 2);
  // Nothing else happens: the watchdog has nobody left to drop.
  advance(10s);
  CHECK(coordinator->count<transfer_failed>() == 1);
}

TEST_CASE_METHOD(transfer_fixture, "a new attempt looks at the flash again") {
  preload_flash_with_image();
  chip->cells()[3 * 1024] ^= 0xff;
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  serve(s);
  REQUIRE(as_set(requested(s)) == std::set<uint64_t>{3});
  // The flash then failed half way and block 9, found on the flash before, is damaged: the next
  // attempt must pull it, and still finds block 3 in the staging file.
  REQUIRE_FALSE(store->write_journal({recovery_journal::phase::flashing, img.manifest, "donor-a"}));
  chip->cells()[9 * 1024 + 1] ^= 0xff;
  caf::anon_send(xfer, transfer_job{2, req, {donor_b.candidate_for(req, img.manifest)}, {}});
  run();
  auto s2 = session_to(donor_b);
  confirm(s2);
  serve(s2);
  CHECK(as_set(requested(s2)) == std::set<uint64_t>{9});
  check_staged_blocks({3, 9}, std::set<uint64_t>{9}); // 3 was staged by the first attempt
}

TEST_CASE_METHOD(transfer_fixture, "an interrupted transfer of the same image resumes") {
  // A restarted daemon: the journal names the target, the staging file holds blocks 0..15.
  REQUIRE_FALSE(
    store->write_journal({recovery_journal::phase::transferring, img.manifest, "donor-a"}));
  std::vector<uint8_t> partial(img.bytes.begin(), img.bytes.begin() + 16 * 1024);
  partial.resize(img.bytes.size(), 0);
  write_bytes(store->staging_path(), partial);
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  serve(s);
  auto asked = as_set(requested(s));
  CHECK(asked.size() == 16);
  CHECK(*asked.begin() == 16);
  CHECK(staged() == img.bytes);
  auto d = coordinator->last<transfer_done>();
  CHECK(d.blocks_pulled == 16);
  CHECK(d.blocks_reused == 16);
  // Every block is staged; only the pulled ones are in memory (the flasher checks the others in
  // the staging file again).
  std::set<uint64_t> all, pulled;
  for (uint64_t i = 0; i < 32; ++i) {
    all.insert(i);
    if (i >= 16)
      pulled.insert(i);
  }
  check_staged_blocks(all, pulled);
}

TEST_CASE_METHOD(transfer_fixture, "an image larger than the memory limit is only staged") {
  ctx->config.recovery.verified_in_memory_mib = 0;
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  serve(s);
  REQUIRE(coordinator->count<transfer_done>() == 1);
  auto d = coordinator->last<transfer_done>();
  CHECK(d.blocks_pulled == 32);
  CHECK_FALSE(d.verified); // the flasher checks the staging file instead
  CHECK(staged() == img.bytes);
}

TEST_CASE_METHOD(transfer_fixture, "a staged block that does not verify is pulled again") {
  REQUIRE_FALSE(
    store->write_journal({recovery_journal::phase::transferring, img.manifest, "donor-a"}));
  auto damaged = img.bytes;
  damaged[5 * 1024 + 9] ^= 0x10;
  write_bytes(store->staging_path(), damaged);
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  serve(s);
  CHECK(requested(s) == std::vector<uint64_t>{5});
  CHECK(staged() == img.bytes);
}

TEST_CASE_METHOD(transfer_fixture, "every donor gets its whole handshake time, also in a later "
                                   "attempt") {
  ctx->config.recovery.handshake_timeout_ms = 1000;
  ctx->config.recovery.parallel_handshakes = 1;
  test_donor donor_c{"donor-c"};
  // Attempt 1 fails at once.
  start({&donor_a});
  auto a = session_to(donor_a);
  link->accept_open(a);
  run();
  deliver(a, busy{req.request_id, 1000});
  REQUIRE(coordinator->count<transfer_failed>() == 1);
  // Attempt 2, as the coordinator starts it after backoff and discovery.
  advance(500ms);
  caf::anon_send(xfer, transfer_job{2,
                                    req,
                                    {donor_b.candidate_for(req, img.manifest),
                                     donor_c.candidate_for(req, img.manifest)}});
  run();
  auto b = session_to(donor_b);
  auto closed = [&](session_id s) {
    const auto& xs = link->closed_sessions();
    return std::find(xs.begin(), xs.end(), s) != xs.end();
  };
  // donor-b never answers the connection attempt: dropped when its time is up, to the ms.
  advance(999ms);
  CHECK_FALSE(closed(b));
  CHECK(link->opened_sessions().size() == 2);
  advance(1ms);
  CHECK(closed(b));
  REQUIRE(link->opened_sessions().size() == 3);
  auto c = session_to(donor_c);
  // donor-c connects but never confirms.
  link->accept_open(c);
  run();
  advance(999ms);
  CHECK_FALSE(closed(c));
  advance(1ms);
  CHECK(closed(c));
  REQUIRE(coordinator->count<transfer_failed>() == 2);
  auto why = coordinator->last<transfer_failed>().reason;
  CHECK(why.find("donor-b: did not confirm within 1000 ms") != std::string::npos);
  CHECK(why.find("donor-c: did not confirm within 1000 ms") != std::string::npos);
  CHECK(why.find("donor-a") == std::string::npos); // reasons of an earlier attempt are gone
}

TEST_CASE_METHOD(transfer_fixture, "donors that never confirm cannot hold off an honest one") {
  // Cheap identities: forged offers, each pointing at a listener that accepts and never answers.
  ctx->config.recovery.handshake_timeout_ms = 1000;
  ctx->config.recovery.parallel_handshakes = 3;
  std::vector<test_donor> forged;
  for (int i = 0; i < 25; ++i)
    forged.emplace_back("forged-" + std::to_string(i));
  std::vector<const test_donor*> ranked;
  for (const auto& f : forged)
    ranked.push_back(&f);
  ranked.push_back(&donor_a); // the honest donor comes last
  start(ranked);
  auto opened_to = [&](const test_donor& d) {
    for (const auto& s : link->opened_sessions())
      if (s.address == d.address)
        return true;
    return false;
  };
  size_t most_pending = 0;
  auto elapsed = 0ms;
  while (!opened_to(donor_a) && elapsed < 60s) {
    // Every forged listener accepts the connection at once, and then says nothing.
    for (const auto& s : link->opened_sessions())
      if (link->is_opening(s.id)) {
        link->accept_open(s.id);
        run();
      }
    most_pending = std::max(most_pending, link->open_count());
    advance(10ms);
    elapsed += 10ms;
  }
  REQUIRE(opened_to(donor_a));
  // 25 donors, 3 at a time, 1 s each: the honest one is reached in about 9 s, not 25 s or more.
  CHECK(elapsed <= 9000ms);
  CHECK(most_pending <= 3);
  auto s = session_to(donor_a);
  confirm(s);
  serve(s);
  REQUIRE(coordinator->count<transfer_done>() == 1);
  CHECK(coordinator->last<transfer_done>().donor == "donor-a");
}

TEST_CASE_METHOD(transfer_fixture, "the next donor is raced while the first has not confirmed, "
                                   "and the first to confirm is pulled from") {
  ctx->config.recovery.handshake_timeout_ms = 900;
  ctx->config.recovery.parallel_handshakes = 3;
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  CHECK(link->opened_sessions().size() == 1); // the first choice gets a head start
  advance(299ms);
  CHECK(link->opened_sessions().size() == 1);
  advance(1ms);
  REQUIRE(link->opened_sessions().size() == 2);
  auto b = session_to(donor_b);
  confirm(b);
  // donor-a is let go at once, freeing its upload slot.
  CHECK_FALSE(link->is_open(a));
  REQUIRE(coordinator->count<donor_confirmed>() == 1);
  CHECK(coordinator->last<donor_confirmed>().donor == "donor-b");
  // donor-b fails half way: donor-a, let go but not at fault, gets its turn again.
  serve(b, 5);
  link->close_by_peer(b);
  run();
  auto a2 = session_to(donor_a);
  CHECK(a2 != a);
  confirm(a2);
  serve(a2);
  REQUIRE(coordinator->count<transfer_done>() == 1);
  CHECK(staged() == img.bytes);
}

TEST_CASE_METHOD(transfer_fixture, "a block verified after its donor was dropped is kept: it "
                                   "checked against the signed digests") {
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  confirm(a);
  auto epoch_a = state_of<transfer_state>(xfer).epoch;
  link->close_by_peer(a);
  run();
  // A verifier's answer about a run donor A sent, arriving after A was dropped.
  caf::anon_send(xfer, run_verified{epoch_a, 1, 0, block(0), 1, 1});
  run();
  auto b = session_to(donor_b);
  confirm(b);
  serve(b);
  CHECK(requested(b).size() == 31); // block 0 came from A
  REQUIRE(coordinator->count<transfer_done>() == 1);
  CHECK(coordinator->last<transfer_done>().blocks_pulled == 32);
  CHECK(staged() == img.bytes);
}

TEST_CASE_METHOD(transfer_fixture, "memory readied while offers are awaited keeps the pulled "
                                   "blocks") {
  // The monitor found every block of the installed image bad; the image pulled has its layout.
  REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  auto check = report(true, {{0, 32}}, "32 of 32 blocks do not match the installed manifest");
  check.root = img.manifest.fields.merkle_root;
  const auto* readied = ready_memory_for(check);
  auto& st = state_of<transfer_state>(xfer);
  SECTION("the pull keeps its blocks in it") {
    start({&donor_a}, check);
    auto s = session_to(donor_a);
    confirm(s);
    serve(s);
    check_staged_blocks(as_set(requested(s)));
    CHECK(coordinator->last<transfer_done>().verified.get() == readied);
    CHECK_FALSE(st.ready);
  }
  SECTION("a recovery that ends before pulling releases it") {
    caf::anon_send(xfer, ready_memory{});
    run();
    CHECK_FALSE(st.ready);
  }
  SECTION("a check against another image readies nothing") {
    check.root[0] ^= 1;
    caf::anon_send(xfer, ready_memory{check});
    run();
    CHECK_FALSE(st.ready);
  }
}

TEST_CASE_METHOD(transfer_fixture, "memory readied for another layout is not used") {
  // The installed image has 16 blocks of 2 KiB; the image pulled, 32 of 1 KiB.
  auto installed = make_image(release_key, random_bytes(32 * 1024, 9), 5, test_platform(), 2048);
  REQUIRE_FALSE(store->set_installed_manifest(installed.manifest));
  auto check = report(true, {{0, 16}}, "16 of 16 blocks do not match the installed manifest");
  check.root = installed.manifest.fields.merkle_root;
  const auto* readied = ready_memory_for(check);
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  serve(s);
  check_staged_blocks(as_set(requested(s)));
  auto d = coordinator->last<transfer_done>();
  REQUIRE(d.verified);
  CHECK(d.verified.get() != readied);
  CHECK(d.verified->root() == img.manifest.fields.merkle_root);
}

TEST_CASE_METHOD(transfer_fixture, "a job the coordinator gives up ends its session, and nothing "
                                   "more is asked for") {
  preload_flash_with_image();
  for (uint64_t bad : {3, 4, 10})
    chip->cells()[bad * 1024 + 5] ^= 0xff;
  start({&donor_a, &donor_b});
  auto s = session_to(donor_a);
  confirm(s);
  REQUIRE(link->is_open(s));
  auto job = state_of<transfer_state>(xfer).job;
  caf::anon_send(xfer, transfer_cancel{job + 1, "a later job's cancel"});
  run();
  CHECK(link->is_open(s));
  caf::anon_send(xfer, transfer_cancel{job, "no progress while transferring for 120 s"});
  run();
  CHECK_FALSE(link->is_open(s));
  auto frames = sent_on(s);
  auto* a = std::get_if<abort_transfer>(&frames.back());
  REQUIRE(a != nullptr);
  CHECK(a->reason == "no progress while transferring for 120 s");
  // The job is over: the other donor is not tried, and no failure is reported for it.
  run();
  CHECK(link->opened_sessions().size() == 1);
  CHECK(coordinator->count<transfer_failed>() == 0);
}
