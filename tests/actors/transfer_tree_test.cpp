// The transfer on slow links: block digests from the installed manifest or a walk of the
// donor's tree instead of every leaf, and zstd-compressed block runs.

#include "tests/actors/transfer_fixture.hpp"

#include <functional>

#include "messages/block_codec.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

struct slow_link_fixture : transfer_fixture {
  /// The accept the transfer sent on `s`.
  accept accept_on(session_id s) {
    auto frames = sent_on(s);
    REQUIRE_FALSE(frames.empty());
    auto* a = std::get_if<accept>(&frames.front());
    REQUIRE(a != nullptr);
    return *a;
  }

  /// The donor takes the session up and confirms, omitting the leaves or not.
  void open_and_confirm(session_id s, bool leaves_omitted) {
    link->accept_open(s);
    run();
    deliver(s, fwrescue::confirm{req.request_id, leaves_omitted});
  }

  /// Plays a donor that omitted the leaves: answers each node request on `s` from the image's
  /// tree, after `tamper` has had its way with the answer. Returns the digests sent.
  uint64_t serve_nodes(session_id s, const std::function<void(nodes&)>& tamper = {}) {
    merkle_tree tree{img.manifest.fields.hash, img.manifest.block_digests};
    size_t answered = 0;
    uint64_t sent = 0;
    while (link->is_open(s)) {
      auto asked = only<node_request>(sent_on(s));
      if (answered == asked.size())
        break;
      auto r = asked[answered++];
      auto level = tree.level(r.level);
      REQUIRE(r.first + r.count <= level.size());
      auto from = level.begin() + static_cast<ptrdiff_t>(r.first);
      nodes n{r.level, r.first, {from, from + r.count}};
      if (tamper)
        tamper(n);
      sent += r.count;
      deliver(s, n);
    }
    return sent;
  }

  /// Plays a donor that compresses every run that gets smaller; returns how many it did.
  size_t serve_compressed(session_id s) {
    size_t answered = 0;
    size_t compressed = 0;
    while (link->is_open(s)) {
      auto asked = only<block_request>(sent_on(s));
      if (answered == asked.size())
        break;
      auto r = asked[answered++];
      auto first = img.bytes.begin() + static_cast<ptrdiff_t>(r.first * 1024);
      std::vector<uint8_t> run(first, first + static_cast<ptrdiff_t>(r.count) * 1024);
      if (auto smaller = compress_run(run)) {
        ++compressed;
        deliver(s, block_data{r.first, std::move(*smaller), block_encoding::zstd});
      } else {
        deliver(s, block_data{r.first, std::move(run)});
      }
    }
    return compressed;
  }

  void damage_flash(std::initializer_list<uint64_t> blocks) {
    for (auto i : blocks)
      chip->cells()[i * 1024 + 7] ^= 0x5a;
  }

  /// An image whose first half is zero padding, which compresses well (and is not what the
  /// blank flash holds).
  void use_compressible_image() {
    auto bytes = random_bytes(32 * 1024, 41);
    std::fill(bytes.begin(), bytes.begin() + 16 * 1024, 0);
    img = make_image(release_key, bytes);
  }

  void check_recovered() {
    REQUIRE(coordinator->count<transfer_done>() == 1);
    auto d = coordinator->last<transfer_done>();
    CHECK(d.target.block_digests == img.manifest.block_digests);
    auto file = staged();
    for (uint64_t i = 0; i < 32; ++i)
      if (d.staged[i]) {
        INFO("block " << i);
        CHECK(std::equal(file.begin() + static_cast<ptrdiff_t>(i * 1024),
                         file.begin() + static_cast<ptrdiff_t>((i + 1) * 1024), block(i).begin()));
      }
  }
};

} // namespace

TEST_CASE_METHOD(slow_link_fixture, "with the installed manifest's root, no digest crosses the "
                                    "link") {
  REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  preload_flash_with_image();
  damage_flash({3, 10});
  start({&donor_a});
  auto s = session_to(donor_a);
  open_and_confirm(s, true);
  auto a = accept_on(s);
  CHECK(a.fields.no_leaves);
  CHECK_FALSE(a.fields.accepts_zstd); // the fake link is fast
  CHECK(only<node_request>(sent_on(s)).empty());
  serve(s);
  CHECK(as_set(requested(s)) == std::set<uint64_t>{3, 10});
  check_recovered();
  CHECK(coordinator->last<transfer_done>().blocks_pulled == 2);
}

TEST_CASE_METHOD(slow_link_fixture, "with another root, a walk of the donor's tree finds the "
                                    "damaged blocks for a few digests") {
  preload_flash_with_image();
  damage_flash({3, 4, 10});
  start({&donor_a});
  auto s = session_to(donor_a);
  open_and_confirm(s, true);
  CHECK(accept_on(s).fields.no_leaves);
  auto sent = serve_nodes(s);
  // Levels 4..0 of the 32-block tree: 2 + 2 + 4 + 6 + 6 digests, where leaves cost 32.
  CHECK(sent == 20);
  serve(s);
  CHECK(as_set(requested(s)) == std::set<uint64_t>{3, 4, 10});
  check_recovered();
  auto d = coordinator->last<transfer_done>();
  CHECK(d.blocks_pulled == 3);
  CHECK(d.blocks_reused == 29);
  CHECK(std::holds_alternative<done>(sent_on(s).back()));
}

TEST_CASE_METHOD(slow_link_fixture, "a flash that already holds the image costs no digest") {
  preload_flash_with_image();
  start({&donor_a});
  auto s = session_to(donor_a);
  open_and_confirm(s, true);
  CHECK(only<node_request>(sent_on(s)).empty());
  CHECK(requested(s).empty());
  REQUIRE(coordinator->count<transfer_done>() == 1);
  CHECK(coordinator->last<transfer_done>().blocks_pulled == 0);
}

TEST_CASE_METHOD(slow_link_fixture, "a blank flash is walked down to every block") {
  start({&donor_a});
  auto s = session_to(donor_a);
  open_and_confirm(s, true);
  CHECK(serve_nodes(s) == 62); // every node below the root, once
  serve(s);
  CHECK(requested(s).size() == 32);
  check_recovered();
}

TEST_CASE_METHOD(slow_link_fixture, "tree nodes that do not hash to their parent drop the donor "
                                    "as a bad one") {
  preload_flash_with_image();
  damage_flash({5});
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  open_and_confirm(a, true);
  // At the leaves, the pair holding block 5 names other digests: each genuine, in the wrong place.
  serve_nodes(a, [](nodes& n) {
    if (n.level == 0)
      std::swap(n.digests[0], n.digests[1]);
  });
  REQUIRE(coordinator->count<donor_dropped>() == 1);
  auto dropped = coordinator->last<donor_dropped>();
  CHECK(dropped.reason == "sent tree nodes 4 and 5 of level 0 do not hash to their parent");
  CHECK(dropped.bad_block);
  CHECK(requested(a).empty());
  CHECK_FALSE(link->is_open(a));
  // The next donor completes the recovery.
  auto b = session_to(donor_b);
  open_and_confirm(b, true);
  serve_nodes(b);
  serve(b);
  CHECK(requested(b) == std::vector<uint64_t>{5});
  check_recovered();
}

TEST_CASE_METHOD(slow_link_fixture, "tree nodes nobody asked for drop the donor") {
  start({&donor_a});
  auto a = session_to(donor_a);
  SECTION("before the walk") {
    open_and_confirm(a, false);
    deliver(a, nodes{0, 0, {digest{}}});
    CHECK(coordinator->last<donor_dropped>().reason == "sent tree nodes that were not asked for");
  }
  SECTION("during the walk") {
    open_and_confirm(a, true);
    deliver(a, nodes{0, 0, {digest{}}});
    CHECK(coordinator->last<donor_dropped>().reason
          == "sent tree nodes of level 0 were not asked for");
  }
  CHECK_FALSE(link->is_open(a));
}

TEST_CASE_METHOD(slow_link_fixture, "an image larger than the flash is learnt through its leaves") {
  img = image(96 * 1024, 3); // 96 KiB; the flash holds 64
  start({&donor_a});
  auto s = session_to(donor_a);
  SECTION("the accept asks for leaves") {
    link->accept_open(s);
    run();
    CHECK_FALSE(accept_on(s).fields.no_leaves);
  }
  SECTION("a donor that omits them anyway is dropped") {
    open_and_confirm(s, true);
    CHECK(coordinator->last<donor_dropped>().reason
          == "omitted the block digests it was asked for");
    CHECK_FALSE(link->is_open(s));
  }
}

TEST_CASE_METHOD(slow_link_fixture, "a donor that does not know the new fields sends leaves, "
                                    "and the transfer takes them") {
  preload_flash_with_image();
  damage_flash({7});
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s); // leaves_omitted false, then every leaf
  CHECK(accept_on(s).fields.no_leaves);
  CHECK(only<node_request>(sent_on(s)).empty());
  serve(s);
  CHECK(requested(s) == std::vector<uint64_t>{7});
  check_recovered();
}

TEST_CASE_METHOD(slow_link_fixture, "compression is asked for only on a link slower than "
                                    "recovery.compress_below_kbps") {
  auto [rate, expected] = GENERATE(table<uint64_t, bool>(
    {{0, false}, {19200, true}, {99'999'999, true}, {100'000'000, false}, {1'000'000'000, false}}));
  INFO("nominal rate " << rate);
  link->set_session_rate(rate);
  start({&donor_a});
  auto s = session_to(donor_a);
  link->accept_open(s);
  run();
  CHECK(accept_on(s).fields.accepts_zstd == expected);
}

TEST_CASE_METHOD(slow_link_fixture, "on a slow link the image is recovered from compressed runs") {
  use_compressible_image();
  link->set_session_rate(19200);
  start({&donor_a});
  auto s = session_to(donor_a);
  confirm(s);
  CHECK(accept_on(s).fields.accepts_zstd);
  // The zero half comes compressed, the random half raw.
  CHECK(serve_compressed(s) > 0);
  CHECK(requested(s).size() == 32);
  check_recovered();
  CHECK(staged() == img.bytes);
}

TEST_CASE_METHOD(slow_link_fixture, "a compressed run that would exceed the blocks asked for is "
                                    "a bad block") {
  link->set_session_rate(19200);
  start({&donor_a, &donor_b});
  auto a = session_to(donor_a);
  confirm(a);
  auto asked = only<block_request>(sent_on(a));
  REQUIRE_FALSE(asked.empty());
  // A megabyte of zeros compresses to a few dozen bytes.
  auto bomb = compress_run(std::vector<uint8_t>(1 << 20, 0));
  REQUIRE(bomb);
  deliver(a, block_data{asked[0].first, *bomb, block_encoding::zstd});
  REQUIRE(coordinator->count<donor_dropped>() == 1);
  auto dropped = coordinator->last<donor_dropped>();
  CHECK_THAT(dropped.reason, Catch::Contains("it declares 1048576 bytes, more than the"));
  CHECK(dropped.bad_block);
  CHECK_FALSE(link->is_open(a));
  CHECK(link->opened_sessions().size() == 2); // on to the next donor
}

TEST_CASE_METHOD(slow_link_fixture, "compressed runs the accept did not take drop the donor") {
  use_compressible_image();
  start({&donor_a});
  auto a = session_to(donor_a);
  confirm(a);
  CHECK_FALSE(accept_on(a).fields.accepts_zstd);
  auto asked = only<block_request>(sent_on(a));
  REQUIRE_FALSE(asked.empty());
  auto run = std::vector<uint8_t>(img.bytes.begin(), img.bytes.begin() + 1024);
  deliver(a, block_data{asked[0].first, *compress_run(run), block_encoding::zstd});
  CHECK(coordinator->last<donor_dropped>().reason
        == fmt::format("sent blocks from {} compressed, which the accept did not take",
                       asked[0].first));
  CHECK_FALSE(link->is_open(a));
}

TEST_CASE_METHOD(slow_link_fixture, "a flash the monitor found damaged all over is learnt through "
                                    "the leaves, which cost less there") {
  auto [bad, walk] = GENERATE(table<std::vector<leaf_range>, bool>({
    {{{3, 5}}, true},          // one run: a walk
    {{{1, 2}, {5, 6}}, false}, // more than 32 blocks / 32 runs
    {{{0, 17}}, false},        // more than half the blocks
  }));
  start({&donor_a}, report(true, bad, "damaged"));
  auto s = session_to(donor_a);
  link->accept_open(s);
  run();
  CHECK(accept_on(s).fields.no_leaves == walk);
}
