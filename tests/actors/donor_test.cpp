#include "tests/actors/donor_fixture.hpp"

#include <algorithm>

#include "actors/donor.hpp"
#include "image/revocation.hpp"
#include "messages/block_codec.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

TEST_CASE_METHOD(donor_fixture, "a compatible request gets a signed offer echoing its nonce") {
  start();
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  const auto& o = offers[0];
  CHECK(verify_offer(o));
  CHECK(o.fields.request_id == req.request_id);
  CHECK(o.fields.challenge == req.challenge);
  CHECK(o.fields.donor == "donor-node");
  CHECK(o.fields.donor_key == ctx->node_key->public_part());
  CHECK(o.fields.session_address == link->session_address());
  CHECK(o.fields.max_uploads == 1);
  auto m = offered_manifest(o);
  REQUIRE(m);
  CHECK(m->fields == img.manifest.fields);
  CHECK(m->sig == img.manifest.sig);
}

TEST_CASE_METHOD(donor_fixture, "requests it cannot or must not serve get no offer") {
  SECTION("another platform") {
    start();
    auto r = req;
    r.platform.board = "X12";
    CHECK(offers_for(r).empty());
  }
  SECTION("an svn below the requester's floor") {
    start();
    auto r = req;
    r.min_svn = 6;
    CHECK(offers_for(r).empty());
  }
  SECTION("its own request") {
    start();
    auto r = req;
    r.requester = "donor-node";
    CHECK(offers_for(r).empty());
  }
  SECTION("its flash does not verify") {
    start(false);
    CHECK(offers_for(req).empty());
  }
  SECTION("donating is disabled") {
    ctx->config.donor.enabled = false;
    start();
    CHECK(offers_for(req).empty());
  }
  SECTION("serving the installed image is disabled") {
    ctx->config.donor.serve_installed = false;
    start();
    CHECK(offers_for(req).empty());
  }
}

TEST_CASE_METHOD(donor_fixture, "block runs stay within the largest frame the session's link "
                                "carries") {
  link->set_max_frame(1024 + 4 * 1024);
  start();
  auto offers = offers_for(req);
  auto s = take_up(accept_of(offers[0]));
  link->clear_records();
  ask_blocks(s, 0, 10);
  auto runs = only<block_data>(sent_on(s));
  REQUIRE(runs.size() == 3);
  CHECK(runs[0].first == 0);
  CHECK(runs[0].bytes.size() == 4 * 1024);
  CHECK(runs[1].first == 4);
  CHECK(runs[2].first == 8);
  CHECK(runs[2].bytes.size() == 2 * 1024);
}

TEST_CASE_METHOD(donor_fixture, "a good accept is confirmed and every digest sent") {
  start();
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  auto s = take_up(accept_of(offers[0]));
  auto frames = sent_on(s);
  REQUIRE(frames.size() >= 2);
  auto* c = std::get_if<confirm>(&frames[0]);
  REQUIRE(c != nullptr);
  CHECK(c->request_id == req.request_id);
  std::vector<digest> digests;
  for (const auto& l : only<leaves>(frames)) {
    CHECK(l.first == digests.size());
    digests.insert(digests.end(), l.digests.begin(), l.digests.end());
  }
  CHECK(digests == img.manifest.block_digests);
}

TEST_CASE_METHOD(donor_fixture, "a bad accept is declined with the reason") {
  start();
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  auto a = accept_of(offers[0]);
  std::string reason;
  SECTION("another nonce") {
    auto f = a.fields;
    f.challenge[3] ^= 1;
    a = make_accept(f, recipient_key);
    reason = "no such offer";
  }
  SECTION("another donor's key") {
    auto f = a.fields;
    f.donor_key = secret_key::generate().public_part();
    a = make_accept(f, recipient_key);
    reason = "addressed to another donor";
  }
  SECTION("a bad signature") {
    a.sig[0] ^= 1;
    reason = "accept signature does not verify";
  }
  SECTION("an image it does not hold") {
    auto f = a.fields;
    f.merkle_root[0] ^= 1;
    a = make_accept(f, recipient_key);
    reason = "no longer available";
  }
  SECTION("an expired offer") {
    advance(61s);
    reason = "no such offer";
  }
  INFO(reason);
  auto s = take_up(a);
  auto frames = sent_on(s);
  REQUIRE(frames.size() == 1);
  auto* d = std::get_if<decline>(&frames[0]);
  REQUIRE(d != nullptr);
  CHECK(d->reason.find(reason) != std::string::npos);
  // An accept is a session's one chance: a refused one ends it.
  CHECK_FALSE(link->is_open(s));
}

TEST_CASE_METHOD(donor_fixture, "beyond max_uploads an accept is answered busy") {
  start();
  auto offer_of = [&](uint64_t id) {
    auto offers = offers_for(make_request(id, 3, "recipient-x"));
    REQUIRE(offers.size() == 1);
    return offers[0];
  };
  auto first = take_up(accept_of(offer_of(1)));
  CHECK(std::holds_alternative<confirm>(sent_on(first)[0]));
  auto waiting = offer_of(2);
  auto second = take_up(accept_of(waiting));
  auto frames = sent_on(second);
  REQUIRE(frames.size() == 1);
  CHECK(std::holds_alternative<busy>(frames[0]));
  // When the first upload ends, its slot is free again; a busy answer did not use the offer up.
  link->close_by_peer(first);
  run();
  auto third = take_up(accept_of(waiting));
  CHECK(std::holds_alternative<confirm>(sent_on(third)[0]));
}

TEST_CASE_METHOD(donor_fixture, "an accept is taken up once: replayed on a second session it is "
                                "declined") {
  ctx->config.donor.max_uploads = 2;
  start();
  auto offers = offers_for(req);
  auto a = accept_of(offers[0]);
  auto first = take_up(a);
  CHECK(std::holds_alternative<confirm>(sent_on(first)[0]));
  auto second = take_up(a);
  auto frames = sent_on(second);
  REQUIRE(frames.size() == 1);
  auto* d = std::get_if<decline>(&frames[0]);
  REQUIRE(d != nullptr);
  CHECK_THAT(d->reason, Catch::Contains("already taken up"));
  CHECK_FALSE(link->is_open(second));
  CHECK(state_of<donor_state>(don).active_uploads() == 1);

  SECTION("and a second accept on a confirmed session ends it") {
    link->deliver_frame(first, encode(a));
    run();
    CHECK_FALSE(link->is_open(first));
    CHECK(state_of<donor_state>(don).active_uploads() == 0);
  }
}

TEST_CASE_METHOD(donor_fixture, "the recipient takes an offer up again over another link: the "
                                "session on the first one ends") {
  ctx->config.donor.max_uploads = 1;
  start();
  auto offers = offers_for(req);
  auto a = accept_of(offers[0]);
  auto on_lan = take_up(a, "lan:10.0.0.9:51000");
  REQUIRE(std::holds_alternative<confirm>(sent_on(on_lan)[0]));
  auto on_bus = take_up(a, "icmb:0x0009");
  CHECK(std::holds_alternative<confirm>(sent_on(on_bus)[0]));
  CHECK_FALSE(link->is_open(on_lan));
  CHECK(state_of<donor_state>(don).active_uploads() == 1);

  SECTION("another recipient cannot take it over") {
    auto other = secret_key::generate();
    accept_fields f{offers[0].fields.request_id, offers[0].fields.challenge, "recipient-y",
                    other.public_part(), img.manifest.fields.merkle_root,
                    offers[0].fields.donor_key};
    auto s = take_up(make_accept(std::move(f), other), "ble:AA:BB:CC:DD:EE:01");
    auto frames = sent_on(s);
    REQUIRE(frames.size() == 1);
    auto* d = std::get_if<decline>(&frames[0]);
    REQUIRE(d != nullptr);
    CHECK_THAT(d->reason, Catch::Contains("already taken up"));
    CHECK(link->is_open(on_bus));
  }
  SECTION("over the same link it is taken, even once that session ended") {
    link->close_by_peer(on_bus);
    run();
    auto again = take_up(a, "icmb:0x0009");
    auto frames = sent_on(again);
    REQUIRE(frames.size() == 1);
    CHECK(std::holds_alternative<decline>(frames[0]));
  }
}

TEST_CASE_METHOD(donor_fixture, "an upload that makes no progress ends and frees its slot") {
  ctx->config.limits.idle_ms = 10000;
  start();
  auto offers = offers_for(req);
  auto s = take_up(accept_of(offers[0]));
  REQUIRE(std::holds_alternative<confirm>(sent_on(s)[0]));
  SECTION("it never asks for a block") {
    advance(9999ms);
    CHECK(link->is_open(s));
    advance(1ms);
  }
  SECTION("it asks, then stops asking") {
    advance(5s);
    ask_blocks(s, 0, 1);
    advance(5s); // the block was sent in this window: the session lives on
    CHECK(link->is_open(s));
    advance(10s);
  }
  CHECK_FALSE(link->is_open(s));
  auto aborts = only<abort_transfer>(sent_on(s));
  REQUIRE(aborts.size() == 1);
  CHECK_THAT(aborts[0].reason, Catch::Contains("asked for no block"));
  CHECK(state_of<donor_state>(don).active_uploads() == 0);
}

TEST_CASE_METHOD(donor_fixture, "blocks are sent only while the link drains, and a peer that "
                                "does not read is cut off") {
  // 64 KiB frames against a queue bound of 4 MiB: blocks go out while less than 2 MiB wait.
  auto big = image(8192 * 1024, 24, 6); // 8192 blocks of 1 KiB
  ctx->config.limits.queued_kib = 4096;
  ctx->config.limits.requested_blocks = 4096;
  ctx->config.limits.idle_ms = 10000;
  auto s = take_up_catalog_image(big);
  size_t low_water = size_t{2} << 20;
  size_t frame = 64 * 1024 + 1024; // a block_data frame, with room for its encoding
  for (uint64_t first = 0; first < 4096; first += 1024)
    ask_blocks(s, first, 1024); // 64 frames' worth
  auto sent = only<block_data>(sent_on(s)).size();
  CHECK(sent > 16);
  CHECK(sent < 40);
  CHECK(link->queued(s) >= low_water);
  CHECK(link->queued(s) < low_water + frame);
  // The peer reads: the next frames go out, again up to half the bound.
  link->drain(s, low_water);
  run();
  auto more = only<block_data>(sent_on(s)).size();
  CHECK(more > sent + 16);
  CHECK(more < 64);
  CHECK(link->queued(s) >= low_water);

  SECTION("a peer that reads nothing more falls below the minimum rate and is cut off") {
    advance(10s); // the first window moved megabytes
    CHECK(link->is_open(s));
    advance(10s); // the second moved nothing, with blocks still asked for
    CHECK_FALSE(link->is_open(s));
    CHECK_THAT(only<abort_transfer>(sent_on(s)).back().reason,
               Catch::Contains("below the minimum"));
  }
  SECTION("asking for more blocks than the bound ends the session") {
    for (uint64_t first = 4096; first < 8192; first += 1024)
      ask_blocks(s, first, 1024);
    CHECK_FALSE(link->is_open(s));
    CHECK_THAT(only<abort_transfer>(sent_on(s)).back().reason,
               Catch::Contains("more than the limit of 4096"));
  }
}

TEST_CASE_METHOD(donor_fixture, "offers remembered for accepts are bounded") {
  ctx->config.limits.offers_remembered = 8;
  start();
  std::vector<offer> offers;
  for (uint64_t id = 1; id <= 20; ++id)
    offers.push_back(offers_for(make_request(id, 3, "recipient-x")).at(0));
  CHECK(state_of<donor_state>(don).offers.size() == 8);
  // The newest can still be taken up; the oldest were forgotten.
  CHECK(std::holds_alternative<decline>(sent_on(take_up(accept_of(offers[0])))[0]));
  CHECK(std::holds_alternative<confirm>(sent_on(take_up(accept_of(offers[19])))[0]));
}

TEST_CASE_METHOD(donor_fixture, "blocks are served as asked, and nothing outside the image") {
  start();
  auto offers = offers_for(req);
  auto s = take_up(accept_of(offers[0]));
  ask_blocks(s, 30, 2);
  ask_blocks(s, 4, 1);
  auto blocks = only<block_data>(sent_on(s));
  REQUIRE(blocks.size() == 2); // consecutive blocks travel together
  CHECK(blocks[0].first == 30);
  auto both = block(30);
  auto next = block(31);
  both.insert(both.end(), next.begin(), next.end());
  CHECK(blocks[0].bytes == both);
  CHECK(blocks[1].first == 4);
  CHECK(blocks[1].bytes == block(4));
  CHECK(link->is_open(s));

  ask_blocks(s, 31, 2); // block 32 does not exist
  auto aborts = only<abort_transfer>(sent_on(s));
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].reason == "blocks 31..33 do not exist");
  CHECK_FALSE(link->is_open(s));
  CHECK(only<block_data>(sent_on(s)).size() == 2);
}

TEST_CASE_METHOD(donor_fixture, "blocks are not served before a confirmed accept") {
  start();
  auto s = link->open_inbound("10.0.0.9:51000");
  run();
  ask_blocks(s, 0, 1);
  CHECK(only<block_data>(sent_on(s)).empty());
  CHECK(only<abort_transfer>(sent_on(s)).size() == 1);
  CHECK_FALSE(link->is_open(s));
}

TEST_CASE_METHOD(donor_fixture, "catalog images are offered only when their file verifies") {
  auto good = image(16 * 1024, 21, 6);
  auto bad = image(16 * 1024, 22, 7);
  write_bytes(dir.path("good.img"), good.bytes);
  write_bytes(dir.path("good.fwm"), encode_manifest_file(good.manifest));
  auto tampered = bad.bytes;
  tampered[100] ^= 1;
  write_bytes(dir.path("bad.img"), tampered);
  write_bytes(dir.path("bad.fwm"), encode_manifest_file(bad.manifest));
  ctx->config.donor.images = {{dir.path("good.img"), dir.path("good.fwm")},
                              {dir.path("bad.img"), dir.path("bad.fwm")}};
  start(false); // only the catalog
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  auto m = offered_manifest(offers[0]);
  REQUIRE(m);
  CHECK(m->fields.merkle_root == good.manifest.fields.merkle_root);

  // A catalog block comes from the image file.
  auto s = take_up(accept_of(offers[0], good.manifest.fields.merkle_root));
  ask_blocks(s, 15, 1);
  auto blocks = only<block_data>(sent_on(s));
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].bytes == std::vector<uint8_t>(good.bytes.end() - 1024, good.bytes.end()));
}

TEST_CASE_METHOD(donor_fixture, "a long request is answered in frames of at most 64 KiB") {
  auto big = image(200 * 1024, 23, 6); // 200 blocks of 1 KiB
  auto s = take_up_catalog_image(big);
  ask_blocks(s, 10, 150);
  auto blocks = only<block_data>(sent_on(s));
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0].first == 10);
  CHECK(blocks[1].first == 74);
  CHECK(blocks[2].first == 138);
  CHECK(blocks[0].bytes.size() == 64 * 1024);
  CHECK(blocks[2].bytes.size() == 22 * 1024);
  std::vector<uint8_t> all;
  for (const auto& b : blocks)
    all.insert(all.end(), b.bytes.begin(), b.bytes.end());
  CHECK(all == std::vector<uint8_t>(big.bytes.begin() + 10 * 1024, big.bytes.begin() + 160 * 1024));
}

TEST_CASE_METHOD(donor_fixture, "upload_rate_kbps paces the blocks, and the digests") {
  ctx->config.donor.upload_rate_kbps = 8; // one 1 KiB block takes 1024 ms
  start();
  auto offers = offers_for(req);
  // The 32 digests sent with the confirm (1 KiB) take the link for 1024 ms.
  auto s = take_up(accept_of(offers[0]));
  ask_blocks(s, 0, 1);
  ask_blocks(s, 1, 1);
  CHECK(only<block_data>(sent_on(s)).empty());
  advance(1023ms);
  CHECK(only<block_data>(sent_on(s)).empty());
  advance(1ms);
  CHECK(only<block_data>(sent_on(s)).size() == 1);
  advance(1023ms);
  CHECK(only<block_data>(sent_on(s)).size() == 1);
  advance(1ms);
  CHECK(only<block_data>(sent_on(s)).size() == 2);
}

TEST_CASE_METHOD(donor_fixture, "under upload_rate_kbps a frame holds at most a tenth of a "
                                "second of the cap") {
  // 150 blocks of 1 KiB, no digests asked for. At 1000 kbit/s a tenth of a second is 12,500
  // bytes: frames of 12 blocks, each taking 98.304 ms of the cap.
  auto big = image(150 * 1024, 23, 6);
  ctx->config.donor.upload_rate_kbps = 1000;
  write_bytes(dir.path("big.img"), big.bytes);
  write_bytes(dir.path("big.fwm"), encode_manifest_file(big.manifest));
  ctx->config.donor.images = {{dir.path("big.img"), dir.path("big.fwm")}};
  start(false);
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  auto s = take_up(accept_of(offers[0], big.manifest.fields.merkle_root, false, true));
  ask_blocks(s, 0, 150);
  CHECK(only<block_data>(sent_on(s)).size() == 1); // the first frame leaves at once
  advance(98ms);
  CHECK(only<block_data>(sent_on(s)).size() == 1);
  advance(1ms);
  CHECK(only<block_data>(sent_on(s)).size() == 2);
  advance(2s);
  auto blocks = only<block_data>(sent_on(s));
  REQUIRE(blocks.size() == 13); // 150 = 12 x 12 + 6
  CHECK(blocks[1].first == 12);
  CHECK(blocks[1].bytes.size() == 12 * 1024);
  CHECK(blocks[12].first == 144);
  CHECK(blocks[12].bytes.size() == 6 * 1024);
}

TEST_CASE_METHOD(donor_fixture, "under a revocation list the donor passes it on and serves "
                                "nothing it revokes") {
  ctx->trusted_keys = {release_key.public_part()};
  revocation_list list;
  list.serial = 5;
  auto other = image(32 * 1024, 9);
  list.roots.push_back(other.manifest.fields.merkle_root);
  start();
  auto put = [&](const revocation_list& l) {
    auto s = sign_revocations(release_key, l);
    REQUIRE(s);
    REQUIRE_FALSE(store->set_revocations(*s));
  };
  put(list);
  auto before = link->datagrams().size();
  link->deliver_datagram(from, encode(req)); // the request names no list (serial 0)
  run();
  REQUIRE(link->datagrams().size() == before + 2);
  auto first = decode(link->datagrams()[before].bytes);
  REQUIRE(first);
  auto* notice = std::get_if<revocation_notice>(&*first);
  REQUIRE(notice != nullptr); // the list comes before the offer
  CHECK(notice->list.fields.serial == 5);
  auto second = decode(link->datagrams()[before + 1].bytes);
  auto* o = std::get_if<offer>(&*second);
  REQUIRE(o != nullptr);
  CHECK(o->fields.revocation_serial == 5);

  SECTION("a recipient that holds the list gets only the offer") {
    auto current = make_request(6, 3, "recipient-x");
    current.revocation_serial = 5;
    CHECK(offers_for(current).size() == 1);
  }
  SECTION("a revoked image is not offered") {
    list.serial = 6;
    list.roots.push_back(img.manifest.fields.merkle_root);
    put(list);
    auto r = make_request(7, 3, "recipient-x");
    r.revocation_serial = 6;
    CHECK(offers_for(r).empty());
  }
  SECTION("a recipient whose node key is revoked is declined") {
    list.serial = 6;
    list.keys.push_back(recipient_key.public_part().bytes);
    put(list);
    auto frames = sent_on(take_up(accept_of(*o)));
    REQUIRE(frames.size() == 1);
    auto* d = std::get_if<decline>(&frames[0]);
    REQUIRE(d != nullptr);
    CHECK_THAT(d->reason, Catch::Contains("node key is revoked"));
  }
}

// -- slow links: no leaves, tree nodes, compressed runs ------------------------------------------

namespace {

/// The donor's image, whose tree the node requests are answered from.
merkle_tree tree_of(const test_image& t) {
  return merkle_tree{t.manifest.fields.hash, t.manifest.block_digests};
}

} // namespace

TEST_CASE_METHOD(donor_fixture,
                 "an accept asking for no leaves gets none, and tree nodes instead") {
  start();
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  auto s = take_up(accept_of(offers[0], img.manifest.fields.merkle_root, false, true));
  auto frames = sent_on(s);
  REQUIRE(frames.size() == 1);
  auto* c = std::get_if<confirm>(&frames[0]);
  REQUIRE(c != nullptr);
  CHECK(c->leaves_omitted);

  auto tree = tree_of(img); // 32 leaves: levels 0..5
  link->deliver_frame(s, encode(node_request{4, 0, 2}));
  link->deliver_frame(s, encode(node_request{0, 6, 3}));
  run();
  auto answers = only<nodes>(sent_on(s));
  REQUIRE(answers.size() == 2);
  CHECK((answers[0].level == 4 && answers[0].first == 0));
  CHECK(answers[0].digests == std::vector<digest>(tree.level(4).begin(), tree.level(4).end()));
  CHECK((answers[1].level == 0 && answers[1].first == 6));
  CHECK(answers[1].digests
        == std::vector<digest>(img.manifest.block_digests.begin() + 6,
                               img.manifest.block_digests.begin() + 9));
  CHECK(only<leaves>(sent_on(s)).empty());
  CHECK(link->is_open(s));
}

TEST_CASE_METHOD(donor_fixture, "node requests for nodes that do not exist, or beyond the whole "
                                "tree, end the upload with the reason") {
  start();
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  auto s = take_up(accept_of(offers[0], img.manifest.fields.merkle_root, false, true));
  std::string reason;
  SECTION("a level the tree does not have") {
    link->deliver_frame(s, encode(node_request{6, 0, 1}));
    reason = "tree level 6 does not exist (the tree has 6)";
  }
  SECTION("a range past the level's end") {
    link->deliver_frame(s, encode(node_request{1, 14, 3}));
    reason = "tree nodes 14..17 of level 1 do not exist (it has 16)";
  }
  SECTION("more in all than the whole tree") {
    // The tree has 32 + 16 + 8 + 4 + 2 + 1 = 63 nodes: an honest walk asks for each once.
    link->deliver_frame(s, encode(node_request{0, 0, 32}));
    link->deliver_frame(s, encode(node_request{1, 0, 16}));
    link->deliver_frame(s, encode(node_request{0, 0, 16}));
    reason = "asked for 64 tree nodes, more than the 63 of the whole tree";
  }
  run();
  auto aborts = only<abort_transfer>(sent_on(s));
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].reason == reason);
  CHECK_FALSE(link->is_open(s));
}

TEST_CASE_METHOD(donor_fixture, "tree nodes are not served before a confirmed accept") {
  start();
  auto s = link->open_inbound("10.0.0.9:51000");
  run();
  link->deliver_frame(s, encode(node_request{0, 0, 1}));
  run();
  CHECK(only<nodes>(sent_on(s)).empty());
  auto aborts = only<abort_transfer>(sent_on(s));
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].reason == "tree node request before a confirmed accept");
}

TEST_CASE_METHOD(donor_fixture, "blocks are compressed only when the accept takes zstd, and only "
                                "where that is smaller") {
  // Blocks 0..15 are erased flash (0xff), 16..31 random.
  auto bytes = random_bytes(32 * 1024, 31);
  std::fill(bytes.begin(), bytes.begin() + 16 * 1024, 0xff);
  auto padded = make_image(release_key, bytes);
  bool zstd = GENERATE(false, true);
  INFO("accepts zstd: " << zstd);
  write_bytes(dir.path("padded.img"), padded.bytes);
  write_bytes(dir.path("padded.fwm"), encode_manifest_file(padded.manifest));
  ctx->config.donor.images = {{dir.path("padded.img"), dir.path("padded.fwm")}};
  start(false);
  auto offers = offers_for(req);
  REQUIRE(offers.size() == 1);
  auto s = take_up(accept_of(offers[0], padded.manifest.fields.merkle_root, zstd));
  ask_blocks(s, 0, 16);
  ask_blocks(s, 16, 16);
  auto runs = only<block_data>(sent_on(s));
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].first == 0);
  CHECK(runs[1].first == 16);
  // Random blocks never get smaller: raw either way.
  CHECK(runs[1].encoding == block_encoding::raw);
  CHECK(runs[1].bytes == std::vector<uint8_t>(bytes.begin() + 16 * 1024, bytes.end()));
  if (!zstd) {
    CHECK(runs[0].encoding == block_encoding::raw);
    CHECK(runs[0].bytes == std::vector<uint8_t>(bytes.begin(), bytes.begin() + 16 * 1024));
    return;
  }
  REQUIRE(runs[0].encoding == block_encoding::zstd);
  CHECK(runs[0].bytes.size() < 1024);
  auto run = decompress_run(runs[0].bytes, 16 * 1024);
  REQUIRE(run);
  CHECK(*run == std::vector<uint8_t>(bytes.begin(), bytes.begin() + 16 * 1024));
}

TEST_CASE_METHOD(donor_fixture, "a request is answered only with images of the component it "
                                "names") {
  // Its own flash holds the BIOS (the node's component); the catalog holds a NIC image of the
  // same platform and svn.
  auto nic = make_image(release_key, random_bytes(16 * 1024, 7), 5, test_platform(), 1024, "nic");
  write_bytes(dir.path("nic.img"), nic.bytes);
  write_bytes(dir.path("nic.fwm"), encode_manifest_file(nic.manifest));
  ctx->config.donor.images = {{dir.path("nic.img"), dir.path("nic.fwm")}};
  start();

  auto bios_offers = offers_for(req);
  REQUIRE(bios_offers.size() == 1);
  CHECK(offered_manifest(bios_offers[0])->fields == img.manifest.fields);

  auto r = req;
  r.request_id = 6;
  r.component = "nic";
  auto nic_offers = offers_for(r);
  REQUIRE(nic_offers.size() == 1);
  CHECK(offered_manifest(nic_offers[0])->fields == nic.manifest.fields);

  r.request_id = 7;
  r.component = "cpld";
  CHECK(offers_for(r).empty());
}

TEST_CASE_METHOD(donor_fixture, "an accept cannot take up an image of another component than "
                                "the request named") {
  auto nic = make_image(release_key, random_bytes(16 * 1024, 7), 5, test_platform(), 1024, "nic");
  write_bytes(dir.path("nic.img"), nic.bytes);
  write_bytes(dir.path("nic.fwm"), encode_manifest_file(nic.manifest));
  ctx->config.donor.images = {{dir.path("nic.img"), dir.path("nic.fwm")}};
  start();
  auto offers = offers_for(req); // a bios request: the own flash's image is offered
  REQUIRE(offers.size() == 1);
  // The recipient names the NIC image's root, which this donor holds but did not offer to it.
  auto s = take_up(accept_of(offers[0], nic.manifest.fields.merkle_root));
  auto frames = sent_on(s);
  REQUIRE(frames.size() == 1);
  auto* d = std::get_if<decline>(&frames[0]);
  REQUIRE(d != nullptr);
  CHECK(d->reason == "the accepted image is for component nic, the request asked for bios");
  CHECK_FALSE(link->is_open(s));
}

TEST_CASE_METHOD(donor_fixture, "an installed manifest of another component is not served as "
                                "the own flash's") {
  // The node's flash holds its NIC firmware, but the installed manifest is a BIOS one.
  ctx->config.flash.component = "nic";
  start();
  CHECK(offers_for(req).empty());
  auto r = req;
  r.request_id = 6;
  r.component = "nic";
  CHECK(offers_for(r).empty());
}
