// The donor as a swarm member: offering and serving the image a target is still pulling (only
// its verified blocks), giving a taken slot to a recipient holding far fewer blocks, and keeping
// the node's upload rate cap over all its uploads.

#include "tests/actors/donor_fixture.hpp"

#include <numeric>

#include "common/error.hpp"
#include "image/partial_image.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

/// A donor node whose flash does not verify (it is recovering) while its transfer pulls
/// `pulled`, publishing the blocks verified so far.
struct partial_fixture : donor_fixture {
  test_image pulled = image(32 * 1024, 7, 6);
  int stagings = 0;

  /// The image `t` pulled as far as `held`, its blocks in a staging file of their own.
  std::shared_ptr<partial_image> partial_of(const test_image& t,
                                            const std::vector<uint64_t>& held) {
    auto path = dir.path("staging" + std::to_string(stagings++));
    write_bytes(path, t.bytes);
    auto n = t.manifest.fields.block_count();
    std::vector<bool> has(n), staged(n, true);
    for (auto i : held)
      has[i] = true;
    auto no_flash = [](uint64_t, std::span<uint8_t>) {
      return make_error(errc::io_failure, "the test reads nothing from the flash");
    };
    auto p = partial_image::open(t.manifest, path, no_flash, has, staged, 0);
    REQUIRE(p);
    return *p;
  }

  void publish(std::shared_ptr<partial_image> p) {
    caf::anon_send(don, partial_update{0, std::move(p)});
    run();
  }

  static block_set set_of(uint64_t n, const std::vector<uint64_t>& held) {
    block_set s(n);
    for (auto i : held)
      s.insert(i);
    return s;
  }

  block_set decoded(const std::vector<uint8_t>& bytes) const {
    auto s = block_set::decode(bytes, pulled.manifest.fields.block_count());
    REQUIRE(s);
    return *s;
  }

  std::vector<uint8_t> pulled_blocks(uint64_t first, uint64_t count) const {
    auto from = pulled.bytes.begin() + static_cast<ptrdiff_t>(first * 1024);
    return {from, from + static_cast<ptrdiff_t>(count * 1024)};
  }

  /// Starts the donor with `p` published and takes its offer up.
  session_id take_up_partial(const std::shared_ptr<partial_image>& p) {
    start(false);
    publish(p);
    auto offers = offers_for(req);
    REQUIRE(offers.size() == 1);
    return take_up(accept_of(offers[0], pulled.manifest.fields.merkle_root));
  }

  std::string last_abort(session_id s) {
    auto aborts = only<abort_transfer>(sent_on(s));
    REQUIRE_FALSE(aborts.empty());
    return aborts.back().reason;
  }
};

} // namespace

TEST_CASE_METHOD(partial_fixture, "a partial offer says exactly the blocks held, as a peer") {
  ctx->config.role = node_role::console;
  start(false);
  std::vector<uint64_t> held = {0, 1, 2, 3, 10, 31};
  SECTION("some blocks") {
  }
  SECTION("none yet: offered all the same, it grows") {
    held.clear();
  }
  publish(partial_of(pulled, held));
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  const auto& o = offers[0];
  CHECK(verify_offer(o));
  CHECK(o.fields.role == node_role::peer);
  CHECK(offered_manifest(o)->fields == pulled.manifest.fields);
  CHECK(decoded(o.fields.holds) == set_of(32, held));
}

TEST_CASE_METHOD(partial_fixture, "a partial offer's block set is cut to fit the link's "
                                  "datagrams, never to nothing") {
  // Every other block of 4,096: 4,096 runs, far more than an offer carries.
  auto scattered = image(4096 * 1024, 12, 6);
  std::vector<uint64_t> held;
  for (uint64_t i = 0; i < 4096; i += 2)
    held.push_back(i);
  size_t limit = GENERATE(size_t{1400}, size_t{900});
  INFO("datagram limit " << limit);
  link->set_max_datagram(limit);
  start(false);
  publish(partial_of(scattered, held));
  auto before = link->datagrams().size();
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  CHECK(link->datagrams()[before].bytes.size() <= limit);
  CHECK_FALSE(offers[0].fields.holds.empty());
  auto said = block_set::decode(offers[0].fields.holds, 4096);
  REQUIRE(said);
  CHECK(said->count() > 0);
  // A true subset: every block it names is held.
  uint64_t not_held = 0;
  for (uint64_t i = 1; i < 4096; i += 2)
    not_held += said->contains(i) ? 1 : 0;
  CHECK(not_held == 0);
}

TEST_CASE_METHOD(partial_fixture, "a partial image is offered under the rules of any image") {
  SECTION("not below the requester's svn floor") {
    start(false);
    publish(partial_of(pulled, {0}));
    auto r = req;
    r.min_svn = 7;
    CHECK(offers_for(r).empty());
  }
  SECTION("not when the requester excludes its root") {
    start(false);
    publish(partial_of(pulled, {0}));
    auto r = req;
    r.exclude_roots = {pulled.manifest.fields.merkle_root};
    CHECK(offers_for(r).empty());
  }
  SECTION("not for another component") {
    start(false);
    publish(partial_of(pulled, {0}));
    auto r = req;
    r.component = "nic";
    CHECK(offers_for(r).empty());
  }
  SECTION("not beside its own flash offering the same image whole") {
    start(true); // the flash holds `img`, and verifies
    publish(partial_of(img, {0, 1}));
    auto offers = offers_for(req);
    REQUIRE(offers.size() == 1);
    CHECK(offers[0].fields.holds.empty()); // the whole image
  }
  SECTION("beside its own flash offering another image") {
    start(true);
    publish(partial_of(pulled, {0, 1}));
    CHECK(offers_for(req).size() == 2);
  }
}

TEST_CASE_METHOD(partial_fixture, "blocks of a partial image are served as held, and a request "
                                  "outside them ends the upload") {
  auto p = partial_of(pulled, {0, 1, 2, 3, 10});
  auto s = take_up_partial(p);
  auto frames = sent_on(s);
  REQUIRE(frames.size() >= 3);
  CHECK(std::holds_alternative<confirm>(frames[0]));
  auto told = only<holdings>(frames);
  REQUIRE(told.size() == 1);
  CHECK(decoded(told[0].blocks) == set_of(32, {0, 1, 2, 3, 10}));
  CHECK(only<leaves>(frames).size() == 1); // digests come from the manifest, as for any image

  ask_blocks(s, 0, 4);
  ask_blocks(s, 10, 1);
  auto blocks = only<block_data>(sent_on(s));
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].bytes == pulled_blocks(0, 4));
  CHECK(blocks[1].bytes == pulled_blocks(10, 1));

  SECTION("a block never held") {
    ask_blocks(s, 3, 2);
    CHECK(last_abort(s) == "block 4 was not offered (this donor holds only part of the image)");
  }
  SECTION("a block verified here since, that the recipient was not yet told of") {
    p->add(4, partial_image::location::staging_file);
    ask_blocks(s, 4, 1);
    CHECK(last_abort(s) == "block 4 was not offered (this donor holds only part of the image)");
  }
  CHECK_FALSE(link->is_open(s));
  CHECK(only<block_data>(sent_on(s)).size() == 2);
  CHECK(state_of<donor_state>(don).active_uploads() == 0);
}

TEST_CASE_METHOD(partial_fixture, "holdings frames follow the set as it grows") {
  auto p = partial_of(pulled, {0});
  auto s = take_up_partial(p);
  CHECK(only<holdings>(sent_on(s)).size() == 1);
  advance(250ms);
  CHECK(only<holdings>(sent_on(s)).size() == 1); // nothing new: nothing sent
  for (uint64_t i = 1; i < 8; ++i)
    p->add(i, partial_image::location::staging_file);
  advance(249ms);
  CHECK(only<holdings>(sent_on(s)).size() == 1);
  advance(1ms);
  auto told = only<holdings>(sent_on(s));
  REQUIRE(told.size() == 2);
  CHECK(decoded(told[1].blocks) == set_of(32, {0, 1, 2, 3, 4, 5, 6, 7}));
  // What it was told of it may ask for.
  ask_blocks(s, 5, 3);
  auto blocks = only<block_data>(sent_on(s));
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].bytes == pulled_blocks(5, 3));
  advance(1s);
  CHECK(only<holdings>(sent_on(s)).size() == 2);

  // Once no upload serves a partial image, the timer stops.
  link->close_by_peer(s);
  advance(250ms);
  CHECK_FALSE(state_of<donor_state>(don).holdings_timer);
}

TEST_CASE_METHOD(partial_fixture, "uploads of a partial image end when it is invalidated, "
                                  "replaced or withdrawn") {
  auto p = partial_of(pulled, {0, 1, 2, 3});
  auto s = take_up_partial(p);
  REQUIRE(std::holds_alternative<confirm>(sent_on(s)[0]));
  SECTION("invalidated: the next holdings tick ends it") {
    p->invalidate();
    advance(250ms);
  }
  SECTION("invalidated: a block asked for is not read") {
    p->invalidate();
    ask_blocks(s, 0, 1);
    CHECK(only<block_data>(sent_on(s)).empty());
  }
  SECTION("replaced by another image: it ends at once, and the new one is offered") {
    auto other = image(32 * 1024, 8, 6);
    publish(partial_of(other, {}));
    auto offers = offers_for(make_request(9, 3, "recipient-y"));
    REQUIRE(offers.size() == 1);
    CHECK(offered_manifest(offers[0])->fields == other.manifest.fields);
  }
  SECTION("withdrawn: it ends at once, and nothing is offered") {
    publish(nullptr);
    CHECK(offers_for(make_request(9, 3, "recipient-y")).empty());
  }
  CHECK_FALSE(link->is_open(s));
  CHECK(last_abort(s) == "the image being recovered here changed");
  CHECK(state_of<donor_state>(don).active_uploads() == 0);
}

TEST_CASE_METHOD(partial_fixture, "the same partial image published again keeps its uploads") {
  auto p = partial_of(pulled, {0});
  auto s = take_up_partial(p);
  p->add(1, partial_image::location::staging_file);
  publish(p);
  CHECK(link->is_open(s));
}

TEST_CASE_METHOD(partial_fixture, "a recovered node serves its flash whole again") {
  // The node pulls the image its flash will hold; meanwhile it offers what it verified.
  start(false);
  publish(partial_of(img, {0, 1, 2}));
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  CHECK_FALSE(offers[0].fields.holds.empty());
  // The transfer ends (it withdraws the image), the flash is written and verifies: the
  // coordinator (or the monitor's next check) reports it servable.
  publish(nullptr);
  caf::anon_send(don, own_image_state{true});
  run();
  offers = offers_for(make_request(6, 3, "recipient-x"));
  REQUIRE(offers.size() == 1);
  CHECK(offers[0].fields.holds.empty());
  CHECK(offered_manifest(offers[0])->fields == img.manifest.fields);
}

TEST_CASE_METHOD(partial_fixture, "an image handed to the flasher is served on from memory and "
                                   "the staging file, and let go once the flash serves it whole") {
  start(false);
  // Blocks 0..3 were found good on the flash; 4..7 were pulled into the staging file.
  auto path = dir.path("staging-handed-over");
  write_bytes(path, img.bytes);
  auto n = img.manifest.fields.block_count();
  std::vector<bool> held(n, false), staged(n, false);
  for (uint64_t i = 0; i < 8; ++i)
    held[i] = true;
  for (uint64_t i = 4; i < 8; ++i)
    staged[i] = true;
  auto flash = [&](uint64_t offset, std::span<uint8_t> out) -> caf::error {
    std::copy_n(img.bytes.begin() + static_cast<ptrdiff_t>(offset), out.size(), out.begin());
    return caf::none;
  };
  auto opened = partial_image::open(img.manifest, path, flash, held, staged, 0);
  REQUIRE(opened);
  auto p = *opened;
  publish(p);
  std::vector<uint8_t> out(img.manifest.fields.block_size);
  REQUIRE_FALSE(p->read(1, 1, out));
  p->hand_over();
  // The flasher rewrites the flash: its blocks are no longer served; the pulled ones are.
  CHECK(p->valid());
  CHECK(p->holdings() == set_of(n, {4, 5, 6, 7}));
  CHECK(p->read(1, 1, out));
  REQUIRE_FALSE(p->read(5, 1, out));
  CHECK(std::equal(out.begin(), out.end(),
                   img.bytes.begin() + static_cast<ptrdiff_t>(5 * out.size())));
  CHECK(state_of<donor_state>(don).partials.size() == 1);
  // The flash verifies: the donor serves it whole and lets the handed-over image go.
  REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  caf::anon_send(don, own_image_state{true});
  run();
  CHECK(state_of<donor_state>(don).partials.empty());
}

// -- fair slots -----------------------------------------------------------------------------------

namespace {

/// One upload slot, taken by a recipient; the next accept comes from another.
struct slot_fixture : donor_fixture {
  secret_key other_key = secret_key::generate();

  offer offer_of(uint64_t id) {
    auto offers = offers_for(make_request(id, 3, "recipient-x"));
    REQUIRE(offers.size() == 1);
    return offers[0];
  }

  /// The other recipient's accept of `o`, holding `held` blocks.
  accept other_accept(const offer& o, uint64_t held) {
    accept_fields f{o.fields.request_id,
                    o.fields.challenge,
                    "recipient-y",
                    other_key.public_part(),
                    img.manifest.fields.merkle_root,
                    o.fields.donor_key};
    f.blocks_held = held;
    return make_accept(std::move(f), other_key);
  }
};

} // namespace

TEST_CASE_METHOD(slot_fixture, "with every slot taken, a recipient holding an eighth of the "
                               "image fewer blocks takes the slot of the one holding the most") {
  // 32 blocks: an eighth is 4.
  ctx->config.donor.max_uploads = 1;
  start();
  auto served_offer = offer_of(1);
  uint64_t served_held = 20;
  uint64_t newcomer_held = 0;
  std::chrono::milliseconds wait = 250ms;
  bool preempted = true;
  SECTION("one holding none beats one holding many") {
  }
  SECTION("fewer by exactly an eighth") {
    newcomer_held = 17;
  }
  SECTION("fewer by less than an eighth: busy") {
    newcomer_held = 18;
    preempted = false;
  }
  SECTION("holding more: busy") {
    served_held = 3;
    newcomer_held = 10;
    preempted = false;
  }
  SECTION("the served upload ran less than 250 ms: busy, no churn") {
    wait = 249ms;
    preempted = false;
  }
  auto served =
    take_up(accept_of(served_offer, img.manifest.fields.merkle_root, false, false, served_held));
  REQUIRE(std::holds_alternative<confirm>(sent_on(served)[0]));
  ask_blocks(served, 0, 1);
  advance(wait);
  auto newcomer = take_up(other_accept(offer_of(2), newcomer_held), "10.0.0.10:51000");
  auto frames = sent_on(newcomer);
  REQUIRE_FALSE(frames.empty());
  INFO("served holds " << served_held << " + 1 sent, newcomer " << newcomer_held);
  if (!preempted) {
    CHECK(std::holds_alternative<busy>(frames[0]));
    CHECK(link->is_open(served));
    CHECK_FALSE(link->is_open(newcomer));
    return;
  }
  CHECK(std::holds_alternative<confirm>(frames[0]));
  CHECK(link->is_open(newcomer));
  CHECK_FALSE(link->is_open(served));
  auto told = only<busy>(sent_on(served));
  REQUIRE(told.size() == 1);
  CHECK(told[0].request_id == served_offer.fields.request_id);
  CHECK(told[0].retry_after_ms > 0);
  CHECK(state_of<donor_state>(don).active_uploads() == 1);
}

TEST_CASE_METHOD(slot_fixture, "the blocks sent since the accept count toward what a served "
                               "recipient holds") {
  ctx->config.donor.max_uploads = 1;
  start();
  // It said it held none; 4 blocks sent since, an eighth of the image.
  auto served = take_up(accept_of(offer_of(1)));
  SECTION("four blocks sent: a recipient holding none takes the slot") {
    ask_blocks(served, 0, 4);
    advance(1s);
    auto newcomer = take_up(other_accept(offer_of(2), 0), "10.0.0.10:51000");
    CHECK(std::holds_alternative<confirm>(sent_on(newcomer)[0]));
    CHECK_FALSE(link->is_open(served));
  }
  SECTION("three blocks sent: busy") {
    ask_blocks(served, 0, 3);
    advance(1s);
    auto newcomer = take_up(other_accept(offer_of(2), 0), "10.0.0.10:51000");
    CHECK(std::holds_alternative<busy>(sent_on(newcomer)[0]));
    CHECK(link->is_open(served));
  }
}

// -- the upload rate cap
// ---------------------------------------------------------------------------

TEST_CASE_METHOD(donor_fixture, "upload_rate_kbps holds over all uploads together, within 10 % "
                                "over every second") {
  // 800 kbit/s: 100,000 bytes a second, shared by two uploads of a 512-block image that each
  // want all of it (1 MiB in all, more than 5 s of the cap).
  auto big = image(512 * 1024, 41, 6);
  write_bytes(dir.path("big.img"), big.bytes);
  write_bytes(dir.path("big.fwm"), encode_manifest_file(big.manifest));
  ctx->config.donor.images = {{dir.path("big.img"), dir.path("big.fwm")}};
  ctx->config.donor.max_uploads = 2;
  ctx->config.donor.upload_rate_kbps = 800;
  start(false);
  // Sampled every second of the donor's clock (stepping 10 ms) from before the first accept.
  std::vector<uint64_t> at_second = {0};
  std::vector<session_id> sessions;
  for (uint64_t id = 1; id <= 2; ++id) {
    auto offers = offers_for(make_request(id, 3, "recipient-x"));
    REQUIRE(offers.size() == 1);
    // Digests and all: everything handed to the link counts.
    sessions.push_back(take_up(accept_of(offers[0], big.manifest.fields.merkle_root),
                               "10.0.0." + std::to_string(10 + id) + ":51000"));
    ask_blocks(sessions.back(), 0, 512);
  }
  auto bytes_on = [&](session_id s) {
    uint64_t n = 0;
    for (const auto& f : link->frames_on(s))
      n += f.size();
    return n;
  };
  auto handed = [&] { return bytes_on(sessions[0]) + bytes_on(sessions[1]); };
  for (int second = 1; second <= 5; ++second) {
    for (int step = 0; step < 100; ++step)
      advance(10ms);
    at_second.push_back(handed());
  }
  for (size_t k = 1; k < at_second.size(); ++k) {
    auto in_second = at_second[k] - at_second[k - 1];
    INFO("second " << k << ": " << in_second << " bytes");
    // Off by at most a frame (9 blocks, a tenth of a second of the cap) either way.
    CHECK(in_second <= 110'000);
    CHECK(in_second >= 90'000);
  }
  auto total = at_second.back() - at_second.front();
  INFO("5 s: " << total << " bytes");
  CHECK(total >= 475'000);
  CHECK(total <= 525'000);
  // Neither upload starves: the cap is shared.
  CHECK(bytes_on(sessions[0]) > total / 3);
  CHECK(bytes_on(sessions[1]) > total / 3);
}
