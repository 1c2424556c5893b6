#pragma once

// The transfer actor on its own, with the fake transport's session events decoded straight to it:
// shared by the tests of its phases.

#include "tests/actors/actor_fixture.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "actors/transfer.hpp"
#include "common/file_io.hpp"
#include "image/verified_blocks.hpp"

namespace fwrescue::test {

/// The transfer actor with the fake transport's session events decoded straight to it, and
/// recorders as the coordinator and the router. The image has 32 blocks of 1 KiB; the flash is
/// blank unless a test preloads it; the window is 4 blocks.
struct transfer_fixture : actor_fixture {
  std::shared_ptr<mailbox_log> coordinator = record(roles::coordinator);
  std::shared_ptr<mailbox_log> router = record(roles::router);
  actor_bridge bridge;
  caf::actor xfer;
  test_image img = image(32 * 1024);
  image_request req = make_request(77);
  test_donor donor_a{"donor-a"};
  test_donor donor_b{"donor-b"};

  transfer_fixture() {
    ctx->config.recovery.block_window = 4;
    ctx->config.recovery.block_timeout_ms = 2000;
    // One donor at a time, unless a test says otherwise: most cases follow one donor through.
    ctx->config.recovery.max_donors = 1;
  }

  void spawn_transfer() {
    xfer = spawn(transfer);
    bridge.target = xfer;
  }

  /// Spawns the transfer and tells it a recovery starts from `check`; returns the memory it
  /// readied, failing the test when it readied none.
  const verified_blocks* ready_memory_for(const flash_report& check) {
    spawn_transfer();
    caf::anon_send(xfer, ready_memory{check});
    run();
    auto& st = state_of<transfer_state>(xfer);
    REQUIRE(st.ready);
    return st.ready.get();
  }

  void start(std::vector<const test_donor*> donors, flash_report flash_check = {}) {
    if (!xfer)
      spawn_transfer();
    REQUIRE_FALSE(link->start(bridge));
    transfer_job job{1, req, {}, std::move(flash_check)};
    for (auto* d : donors)
      job.candidates.push_back(d->candidate_for(req, img.manifest));
    caf::anon_send(xfer, std::move(job));
    run();
  }

  /// The session opened to `d` (the last one if several), failing the test when there is none.
  session_id session_to(const test_donor& d) {
    session_id id = 0;
    for (const auto& s : link->opened_sessions())
      if (s.address == d.address)
        id = s.id;
    REQUIRE(id != 0);
    return id;
  }

  std::vector<wire_message> sent_on(session_id s) {
    return decode_all(link->frames_on(s));
  }

  void deliver(session_id s, const wire_message& m) {
    link->deliver_frame(s, encode(m));
    run();
  }

  /// The session to `d` opens and `d` answers the accept with `m` (busy, decline, ...).
  session_id answer_accept(const test_donor& d, const wire_message& m) {
    auto s = session_to(d);
    link->accept_open(s);
    run();
    deliver(s, m);
    return s;
  }

  /// The donor takes the session up and sends every digest, in two leaves frames.
  void confirm(session_id s, std::vector<digest> digests = {}) {
    if (digests.empty())
      digests = img.manifest.block_digests;
    link->accept_open(s);
    run();
    deliver(s, fwrescue::confirm{req.request_id});
    auto half = digests.size() / 2;
    deliver(s, leaves{0, {digests.begin(), digests.begin() + half}});
    deliver(s, leaves{half, {digests.begin() + half, digests.end()}});
  }

  /// Every block index requested on `s`, in order.
  std::vector<uint64_t> requested(session_id s) {
    std::vector<uint64_t> out;
    for (const auto& r : only<block_request>(sent_on(s)))
      for (uint64_t i = r.first; i < r.first + r.count; ++i)
        out.push_back(i);
    return out;
  }

  std::vector<uint8_t> block(uint64_t i) const {
    auto first = img.bytes.begin() + static_cast<ptrdiff_t>(i * 1024);
    return {first, first + 1024};
  }

  /// Plays an honest donor on `s`: answers requests oldest first, at most `limit` blocks.
  /// Returns the largest number of requested-but-unanswered blocks seen at any moment.
  size_t serve(session_id s, size_t limit = SIZE_MAX, size_t* served = nullptr) {
    size_t answered = 0;
    size_t most = 0;
    while (answered < limit && link->is_open(s)) {
      auto asked = requested(s);
      most = std::max(most, asked.size() - answered);
      if (answered == asked.size())
        break;
      deliver(s, block_data{asked[answered], block(asked[answered])});
      ++answered;
    }
    if (served)
      *served = answered;
    return most;
  }

  std::vector<uint8_t> staged() {
    auto bytes = read_file(store->staging_path(), 1 << 20, "staging");
    REQUIRE(bytes);
    return *bytes;
  }

  /// The last transfer_done lists exactly `blocks` as staged, and the staging file holds them;
  /// the memory handed to the flasher holds those of them that were `pulled` (all by default).
  void check_staged_blocks(const std::set<uint64_t>& blocks,
                           std::optional<std::set<uint64_t>> pulled = {}) {
    if (!pulled)
      pulled = blocks;
    REQUIRE(coordinator->count<transfer_done>() >= 1);
    auto d = coordinator->last<transfer_done>();
    REQUIRE(d.staged.size() == 32);
    REQUIRE(d.verified);
    CHECK(d.verified->root() == img.manifest.fields.merkle_root);
    auto file = staged();
    for (uint64_t i = 0; i < 32; ++i) {
      INFO("block " << i);
      CHECK(d.staged[i] == (blocks.count(i) == 1));
      CHECK(d.verified->holds(i) == (pulled->count(i) == 1));
      if (blocks.count(i))
        CHECK(std::equal(file.begin() + static_cast<ptrdiff_t>(i * 1024),
                         file.begin() + static_cast<ptrdiff_t>((i + 1) * 1024), block(i).begin()));
      if (pulled->count(i)) {
        auto kept = d.verified->bytes(i * 1024, 1024);
        CHECK(std::equal(kept.begin(), kept.end(), block(i).begin()));
      }
    }
  }

  void preload_flash_with_image() {
    std::copy(img.bytes.begin(), img.bytes.end(), chip->cells().begin());
  }
};

inline std::set<uint64_t> as_set(const std::vector<uint64_t>& xs) {
  return {xs.begin(), xs.end()};
}

} // namespace fwrescue::test
