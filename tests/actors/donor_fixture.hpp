#pragma once

// A donor node on the fake transport, for the donor's tests (donor_test, donor_partial_test).

#include "tests/actors/actor_fixture.hpp"

#include <algorithm>

#include "actors/donor.hpp"

namespace fwrescue::test {

/// A donor node serving its own verified flash (32 blocks of 1 KiB, svn 5), with the fake
/// transport's events decoded straight to the donor actor.
struct donor_fixture : actor_fixture {
  actor_bridge bridge;
  caf::actor don;
  test_image img = image(32 * 1024);
  image_request req = make_request(5, 3, "recipient-x");
  const std::string from = "10.0.0.9:47710";
  secret_key recipient_key = secret_key::generate();

  donor_fixture() {
    ctx->config.id = "donor-node";
    ctx->config.donor.max_uploads = 1;
    std::copy(img.bytes.begin(), img.bytes.end(), chip->cells().begin());
    REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  }

  /// Starts the donor; `own` is what the monitor says of the node's flash.
  void start(bool own = true) {
    don = spawn(donor);
    bridge.target = don;
    REQUIRE_FALSE(link->start(bridge));
    caf::anon_send(don, own_image_state{own});
    run();
  }

  /// Sends `r` as a datagram and returns the offers the donor sent back to its sender.
  std::vector<offer> offers_for(const image_request& r) {
    auto before = link->datagrams().size();
    link->deliver_datagram(from, encode(r));
    run();
    std::vector<offer> out;
    for (size_t i = before; i < link->datagrams().size(); ++i) {
      const auto& d = link->datagrams()[i];
      CHECK(d.to == from);
      auto m = decode(d.bytes);
      REQUIRE(m);
      auto* o = std::get_if<offer>(&*m);
      REQUIRE(o != nullptr);
      out.push_back(*o);
    }
    return out;
  }

  /// The recipient's accept of `o`, for the image with `root` (by default the fixture's).
  accept accept_of(const offer& o) {
    return accept_of(o, img.manifest.fields.merkle_root);
  }
  /// `zstd` and `no_leaves` set the accept's fields of the same names.
  /// `blocks_held`: how many blocks of the image the recipient says it holds.
  accept accept_of(const offer& o, const digest& root, bool zstd = false, bool no_leaves = false,
                   uint64_t blocks_held = 0) {
    accept_fields f{
      o.fields.request_id, o.fields.challenge, "recipient-x", recipient_key.public_part(), root,
      o.fields.donor_key};
    f.accepts_zstd = zstd;
    f.no_leaves = no_leaves;
    f.blocks_held = blocks_held;
    return make_accept(std::move(f), recipient_key);
  }

  /// Starts the donor serving `served` from its catalog, as its only image, and opens a session
  /// from a recipient that accepts its offer.
  session_id take_up_catalog_image(const test_image& served) {
    write_bytes(dir.path("big.img"), served.bytes);
    write_bytes(dir.path("big.fwm"), encode_manifest_file(served.manifest));
    ctx->config.donor.images = {{dir.path("big.img"), dir.path("big.fwm")}};
    start(false);
    auto offers = offers_for(req);
    REQUIRE(offers.size() == 1);
    return take_up(accept_of(offers[0], served.manifest.fields.merkle_root));
  }

  /// Opens a session from the recipient and sends `a` on it.
  session_id take_up(const accept& a, const std::string& peer = "10.0.0.9:51000") {
    auto s = link->open_inbound(peer);
    run();
    link->deliver_frame(s, encode(a));
    run();
    return s;
  }

  std::vector<wire_message> sent_on(session_id s) {
    return decode_all(link->frames_on(s));
  }

  void ask_blocks(session_id s, uint64_t first, uint32_t count) {
    link->deliver_frame(s, encode(block_request{first, count}));
    run();
  }

  std::vector<uint8_t> block(uint64_t i) const {
    auto first = img.bytes.begin() + static_cast<ptrdiff_t>(i * 1024);
    return {first, first + 1024};
  }
};

} // namespace fwrescue::test
