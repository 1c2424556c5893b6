// The transfer pulling from several donors at once: different blocks from each, partial donors
// asked only for what they hold, a console only for what no peer holds, liars not taken again.
#include <catch2/catch.hpp>

#include "image/block_set.hpp"
#include "tests/actors/transfer_fixture.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

block_set blocks(uint64_t first, uint64_t end) {
  block_set s(32);
  for (auto i = first; i < end; ++i)
    s.insert(i);
  return s;
}

struct swarm_fixture : transfer_fixture {
  swarm_fixture() {
    ctx->config.recovery.max_donors = 2;
  }

  /// The donor on `s` takes the session up without sending digests (its accept asked for none).
  void join(session_id s) {
    link->accept_open(s);
    run();
    deliver(s, fwrescue::confirm{req.request_id, true});
  }

  /// Answers, on each session in turn, the oldest request not answered yet, until none is left.
  /// Requests answered so far on each session.
  std::map<session_id, size_t> answered;

  void serve_all(const std::vector<session_id>& sessions) {
    for (bool any = true; any;) {
      any = false;
      for (auto s : sessions) {
        if (!link->is_open(s))
          continue;
        auto asked = requested(s);
        auto& n = answered[s];
        if (n < asked.size()) {
          deliver(s, block_data{asked[n], block(asked[n])});
          ++n;
          any = true;
        }
      }
    }
  }
};

} // namespace

TEST_CASE_METHOD(swarm_fixture, "two donors are pulled from at once, each asked for other blocks") {
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  confirm(a);
  // The digests are known: the second donor is taken up beside the first, with no digests.
  auto b = session_to(donor_b);
  link->accept_open(b);
  run();
  auto frames = sent_on(b);
  REQUIRE_FALSE(frames.empty());
  auto* acc = std::get_if<accept>(&frames.front());
  REQUIRE(acc != nullptr);
  CHECK(acc->fields.no_leaves);
  deliver(b, fwrescue::confirm{req.request_id, true});
  serve_all({a, b});
  auto from_a = as_set(requested(a));
  auto from_b = as_set(requested(b));
  // Each sent a good share; only the last blocks may have been asked of both (the end game: an
  // idle donor asks again for what the other still owes).
  CHECK(from_a.size() >= 8);
  CHECK(from_b.size() >= 8);
  size_t both = 0;
  for (auto i : from_a)
    both += from_b.count(i);
  CHECK(both <= 4);
  CHECK(from_a.size() + from_b.size() - both == 32);
  CHECK(staged() == img.bytes);
  REQUIRE(coordinator->count<transfer_done>() == 1);
  auto done = coordinator->last<transfer_done>();
  CHECK(done.blocks_pulled == 32);
  CHECK(done.donor.find("donor-a") != std::string::npos);
  CHECK(done.donor.find("donor-b") != std::string::npos);
}

TEST_CASE_METHOD(swarm_fixture, "a partial donor is asked only for what it holds, and for more as "
                                "it tells of more") {
  donor_a.holds = blocks(0, 8).encode(512);
  start({&donor_a});
  auto a = session_to(donor_a);
  confirm(a);
  serve_all({a});
  auto first = as_set(requested(a));
  CHECK(first == std::set<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(coordinator->count<transfer_done>() == 0);
  // Holding nothing more to give, it owes nothing: it is not dropped for silence.
  advance(5s);
  CHECK(link->is_open(a));
  deliver(a, holdings{blocks(0, 32).encode(4096)});
  serve_all({a});
  CHECK(as_set(requested(a)).size() == 32);
  CHECK(staged() == img.bytes);
  CHECK(coordinator->count<transfer_done>() == 1);
}

TEST_CASE_METHOD(swarm_fixture, "a console is asked only for the blocks no peer holds") {
  test_donor console{"console", node_role::console};
  donor_b.holds = blocks(0, 16).encode(512);
  start({&console, &donor_b});
  auto c = session_to(console);
  confirm(c);
  auto before_peer = as_set(requested(c));
  auto b = session_to(donor_b);
  join(b);
  serve_all({c, b});
  CHECK(staged() == img.bytes);
  auto later = as_set(requested(c));
  for (auto i : later)
    if (before_peer.count(i) == 0)
      CHECK(i >= 16); // once the peer holding 0..15 joined, the console got only 16..31
  for (auto i : as_set(requested(b)))
    CHECK(i < 16);
}

TEST_CASE_METHOD(swarm_fixture, "a donor that sent a bad block is not taken up again in the job") {
  // donor-a offered over two links: two candidates with one key.
  transfer_job job{1, req, {}, {}};
  const std::string other_link = "donor-a-other-link:47711";
  auto a_again = donor_a.candidate_for(req, img.manifest);
  a_again.source.fields.session_address = other_link;
  spawn_transfer();
  REQUIRE_FALSE(link->start(bridge));
  job.candidates = {donor_a.candidate_for(req, img.manifest), a_again,
                    donor_b.candidate_for(req, img.manifest)};
  caf::anon_send(xfer, std::move(job));
  run();
  auto a = session_to(donor_a);
  confirm(a);
  auto asked = requested(a);
  REQUIRE_FALSE(asked.empty());
  auto bad = block(asked[0]);
  bad[3] ^= 1;
  deliver(a, block_data{asked[0], bad});
  CHECK_FALSE(link->is_open(a));
  CHECK(coordinator->last<donor_dropped>().bad_block);
  for (const auto& s : link->opened_sessions())
    CHECK(s.address != other_link);
  auto b = session_to(donor_b);
  join(b);
  serve_all({b});
  CHECK(staged() == img.bytes);
  CHECK(coordinator->count<transfer_done>() == 1);
}

TEST_CASE_METHOD(swarm_fixture, "an offer of an impossible block set drops that donor") {
  donor_a.holds = {5, 4}; // 9 of the image's 32 blocks
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  link->accept_open(a);
  run();
  deliver(a, fwrescue::confirm{req.request_id});
  CHECK_FALSE(link->is_open(a));
  CHECK(coordinator->last<donor_dropped>().reason
        == "offered an impossible block set: block set: runs cover 9 of the image's 32 blocks");
  auto b = session_to(donor_b);
  confirm(b);
  serve_all({b});
  CHECK(staged() == img.bytes);
}

TEST_CASE_METHOD(swarm_fixture, "a liar stays dropped for every attempt of its recovery") {
  auto job_of = [&](uint64_t job, uint64_t recovery) {
    transfer_job j{job, req, {}, {}, recovery};
    j.candidates = {donor_a.candidate_for(req, img.manifest),
                    donor_b.candidate_for(req, img.manifest)};
    return j;
  };
  spawn_transfer();
  REQUIRE_FALSE(link->start(bridge));
  caf::anon_send(xfer, job_of(1, 7));
  run();
  auto a = session_to(donor_a);
  confirm(a);
  auto asked = requested(a);
  REQUIRE_FALSE(asked.empty());
  auto bad = block(asked[0]);
  bad[3] ^= 1;
  deliver(a, block_data{asked[0], bad});
  REQUIRE(coordinator->last<donor_dropped>().bad_block);
  auto opened_to_a = [&] {
    size_t n = 0;
    for (const auto& s : link->opened_sessions())
      n += s.address == donor_a.address;
    return n;
  };
  // The coordinator's next attempt of the same recovery: donor-a is passed over.
  caf::anon_send(xfer, job_of(2, 7));
  run();
  CHECK(opened_to_a() == 1);
  // A new recovery gives it a chance again (the policies still weigh what it did).
  caf::anon_send(xfer, job_of(3, 8));
  run();
  CHECK(opened_to_a() == 2);
}

TEST_CASE_METHOD(swarm_fixture, "with room for more donors the transfer asks for fresh offers, "
                                "and keeps what waits within one request's bound") {
  ctx->config.limits.offers_per_request = 3;
  start({&donor_a});
  auto a = session_to(donor_a);
  confirm(a);
  REQUIRE(coordinator->count<more_donors>() == 1);
  CHECK(coordinator->last<more_donors>().job == 1);
  // Five nodes answered the fresh request, one of them offering another release.
  std::vector<std::unique_ptr<test_donor>> fresh;
  more_candidates more{1, {}};
  for (int i = 0; i < 5; ++i) {
    fresh.push_back(std::make_unique<test_donor>("fresh-" + std::to_string(i)));
    more.candidates.push_back(fresh.back()->candidate_for(req, img.manifest));
  }
  more.candidates[1].manifest.body.push_back(0); // not the same signed manifest
  caf::anon_send(xfer, std::move(more));
  run();
  // One joins (max_donors 2); of the rest, what waits is within the bound of 3.
  CHECK(link->opened_sessions().back().address == fresh[0]->address);
  auto& st = state_of<transfer_state>(xfer);
  CHECK(st.queue.size() - st.next <= 3);
  for (size_t k = st.next; k < st.queue.size(); ++k)
    CHECK(st.queue[k].source.fields.donor != "fresh-1");
  // It does not ask again at once: one fresh request per three discovery windows.
  CHECK(coordinator->count<more_donors>() == 1);
}

TEST_CASE_METHOD(swarm_fixture, "what a recipient serves of the image it is pulling reads as the "
                                "signed image, every block from the moment it is held") {
  auto donor_role = record(roles::donor);
  // Both places a pulled block is read from: the memory verified blocks are kept in, and the
  // staging file when the image is too large to keep (a write there is gathered first).
  auto kept = GENERATE(true, false);
  INFO((kept ? "kept in memory" : "staging file only"));
  ctx->config.recovery.verified_in_memory_mib = kept ? 64 : 0;
  start({&donor_a});
  auto a = session_to(donor_a);
  confirm(a);
  serve(a, 12);
  auto updates = donor_role->all<partial_update>();
  REQUIRE_FALSE(updates.empty());
  auto partial = updates.back().image;
  REQUIRE(partial);
  auto held = partial->holdings();
  REQUIRE(held.count() >= 8);
  CHECK(coordinator->count<transfer_done>() == 0);
  for (uint64_t i = 0; i < 32; ++i) {
    if (!held.contains(i))
      continue;
    INFO("block " << i);
    std::vector<uint8_t> out(1024);
    REQUIRE_FALSE(partial->read(i, 1, out));
    CHECK(out == block(i));
  }
}

TEST_CASE_METHOD(swarm_fixture, "a job whose every donor answered busy tells the coordinator so, "
                                "which waits it out rather than count it") {
  start({&donor_a, &donor_b});
  answer_accept(donor_a, busy{req.request_id, 1000});
  bool all_busy = GENERATE(true, false);
  if (all_busy)
    answer_accept(donor_b, busy{req.request_id, 700});
  else
    answer_accept(donor_b, decline{req.request_id, "no such offer"});
  REQUIRE(coordinator->count<transfer_failed>() == 1);
  // The shortest wait the busy donors asked for; none when one failed otherwise.
  CHECK(coordinator->last<transfer_failed>().busy_retry_ms == (all_busy ? 700u : 0u));
  // A later job starts afresh.
  caf::anon_send(xfer, transfer_job{2, req, {donor_a.candidate_for(req, img.manifest)}, {}});
  run();
  answer_accept(donor_a, busy{req.request_id, 1000});
  REQUIRE(coordinator->count<transfer_failed>() == 2);
  CHECK(coordinator->last<transfer_failed>().busy_retry_ms == 1000);
}
