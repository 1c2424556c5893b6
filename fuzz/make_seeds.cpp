// Writes the fuzzers' binary seed corpora: real encoded messages of every kind, manifest
// files and bodies, LAN byte streams, journals and hashing parameters. Its output is committed
// under fuzz/corpus/; run it again when an encoding changes (docs/fuzzing.md):
//
//   build-fuzz/fuzz/make_seeds fuzz/corpus
//
// Everything is derived from fixed keys, times and contents, so the same build writes the same
// bytes and a diff of the corpus shows only what an encoding change did.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "image/hash.hpp"
#include "image/keys.hpp"
#include "image/merkle.hpp"
#include "image/revocation.hpp"
#include "image/signing.hpp"
#include "messages/block_codec.hpp"
#include "messages/manifest.hpp"
#include "messages/protocol.hpp"
#include "transports/ble/ble_sdu.hpp"
#include "transports/icmb/icmb_frame.hpp"

namespace fwrescue::fuzz {
namespace {

namespace fs = std::filesystem;

using bytes = std::vector<uint8_t>;

secret_key key_from(uint8_t seed) {
  std::array<uint8_t, 32> b{};
  b.fill(seed);
  return secret_key{b};
}

bytes pattern(size_t n, uint8_t salt) {
  bytes out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>(i * 31 + salt + (i >> 8));
  return out;
}

nonce sample_nonce() {
  nonce n{};
  for (size_t i = 0; i < n.size(); ++i)
    n[i] = static_cast<uint8_t>(0xa0 + i);
  return n;
}

/// A signed manifest over a small image, with its block digests.
signed_manifest sample_manifest(hash_algorithm alg, uint64_t image_size, uint32_t block_size,
                                std::string component = default_component) {
  auto image = pattern(image_size, static_cast<uint8_t>(block_size));
  auto count = (image_size + block_size - 1) / block_size;
  std::vector<digest> leaves(count);
  leaf_digests(alg, block_size, 0, image, leaves);
  merkle_tree tree{alg, std::move(leaves)};
  manifest fields;
  fields.platform = {"QEMU", "q35"};
  fields.version = "2.7.1";
  fields.svn = 4;
  fields.image_size = image_size;
  fields.block_size = block_size;
  fields.created_at = 1795000000;
  fields.component = std::move(component);
  auto m = sign_manifest(key_from(1), fields, tree);
  if (!m) {
    std::fprintf(stderr, "make_seeds: cannot sign the sample manifest\n");
    std::exit(1);
  }
  return std::move(*m);
}

class corpus_writer {
public:
  explicit corpus_writer(fs::path root) : root_(std::move(root)) {
  }

  void write(const std::string& harness, const std::string& name, std::span<const uint8_t> b) {
    auto dir = root_ / harness;
    fs::create_directories(dir);
    std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) {
      std::fprintf(stderr, "make_seeds: cannot write %s\n", (dir / name).c_str());
      std::exit(1);
    }
  }

  void write(const std::string& harness, const std::string& name, const std::string& text) {
    write(harness, name, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }

private:
  fs::path root_;
};

std::vector<std::pair<std::string, wire_message>> sample_messages() {
  auto donor = key_from(2);
  auto recipient = key_from(3);
  auto m = sample_manifest(hash_algorithm::blake2b_256, 4096, 512);

  offer_fields of;
  of.request_id = 42;
  of.challenge = sample_nonce();
  of.donor = "bmc-b";
  of.donor_key = donor.public_part();
  of.role = node_role::console;
  of.active_uploads = 1;
  of.max_uploads = 4;
  of.session_address = "192.168.10.18:7411";
  of.manifest_body = m.body;
  of.manifest_sig = m.sig;
  of.revocation_serial = 6;

  accept_fields af;
  af.request_id = 42;
  af.challenge = sample_nonce();
  af.recipient = "bmc-a";
  af.recipient_key = recipient.public_part();
  af.merkle_root = m.fields.merkle_root;
  af.donor_key = donor.public_part();

  auto image = pattern(1024, 7);
  std::vector<std::pair<std::string, wire_message>> out;
  out.emplace_back("image_request", image_request{42, sample_nonce(), "bmc-a", {"QEMU", "q35"}, 3, 6});
  auto nic_request = image_request{42, sample_nonce(), "bmc-a", {"QEMU", "q35"}, 3, 6};
  nic_request.component = "nic";
  out.emplace_back("image_request_nic", nic_request);
  out.emplace_back("offer", make_offer(of, donor));
  out.emplace_back("accept", make_accept(af, recipient));
  out.emplace_back("confirm", confirm{42});
  out.emplace_back("busy", busy{42, 250});
  out.emplace_back("decline", decline{42, "unknown image"});
  out.emplace_back("leaves", leaves{0, {m.block_digests.begin(), m.block_digests.begin() + 4}});
  out.emplace_back("block_request", block_request{3, 5});
  out.emplace_back("block_data", block_data{2, image});
  out.emplace_back("done", done{});
  out.emplace_back("abort", abort_transfer{"flash write failed"});
  out.emplace_back("refusal", refusal{protocol_version, "version 3 is not spoken here"});
  revocation_list list;
  list.serial = 7;
  list.created_at = 1795000000;
  list.keys.push_back(key_from(9).public_part().bytes);
  list.roots.push_back(m.fields.merkle_root);
  out.emplace_back("revocations", revocation_notice{*sign_revocations(key_from(4), list)});
  out.emplace_back("node_request", node_request{2, 4, 2});
  out.emplace_back("nodes",
                   nodes{0, 4, {m.block_digests.begin() + 4, m.block_digests.begin() + 6}});
  // The slow-link variants: an accept asking for zstd and no leaves, the confirm omitting them,
  // and a compressed run.
  auto slow = af;
  slow.accepts_zstd = true;
  slow.no_leaves = true;
  out.emplace_back("accept_slow_link", make_accept(slow, recipient));
  out.emplace_back("confirm_leaves_omitted", confirm{42, true});
  auto padded = pattern(4096, 8);
  std::fill(padded.begin() + 1024, padded.end(), 0xff);
  out.emplace_back("block_data_zstd", block_data{2, *compress_run(padded), block_encoding::zstd});
  // The fleet view: a padded query, and an answer with two targets (one never recovered).
  out.emplace_back(
    "fleet_query",
    make_fleet_query({9, sample_nonce(), "bmc-a", recipient.public_part()}, recipient));
  fleet_answer_fields fa;
  fa.query_id = 9;
  fa.challenge = sample_nonce();
  fa.node = "bmc-b";
  fa.node_key = donor.public_part();
  fa.links = {{"lan", true}, {"icmb", false}};
  fa.targets = {
    {"bios", "bios", "2022.11", 1, m.fields.merkle_root, "done", "succeeded", 2, 1795000000},
    {"nic", "nic", "", 0, std::nullopt, "idle", "", 0, 0}};
  out.emplace_back("fleet_answer", *make_fleet_answer(fa, donor, fleet_limits::max_datagram));
  return out;
}

void write_protocol(corpus_writer& w) {
  for (const auto& [name, message] : sample_messages())
    w.write("protocol", name + ".bin", encode(message));
}

void write_manifest(corpus_writer& w) {
  auto blake = sample_manifest(hash_algorithm::blake2b_256, 8192, 512);
  w.write("manifest", "blake2b_16_blocks.fwm", encode_manifest_file(blake));
  // An odd block count and a short last block: the tree promotes unpaired nodes.
  auto sha = sample_manifest(hash_algorithm::sha256, 7 * 512 - 100, 512);
  w.write("manifest", "sha256_7_blocks.fwm", encode_manifest_file(sha));
  auto one = sample_manifest(hash_algorithm::blake2b_256, 300, 512);
  w.write("manifest", "one_block.fwm", encode_manifest_file(one));
  auto bare = blake;
  bare.block_digests.clear();
  w.write("manifest", "no_digests.fwm", encode_manifest_file(bare));
  w.write("manifest", "body.bin", blake.body);
  auto nic = sample_manifest(hash_algorithm::blake2b_256, 2048, 512, "nic");
  w.write("manifest", "component_nic.fwm", encode_manifest_file(nic));
}

/// A LAN stream seed: the write size (two bytes, little-endian, minus one), the frame limit
/// (0: lan::max_frame), then the frames.
bytes lan_stream(uint16_t write_size, const std::vector<bytes>& frames, uint8_t limit = 0) {
  uint16_t field = write_size - 1;
  bytes out{static_cast<uint8_t>(field), static_cast<uint8_t>(field >> 8), limit};
  for (const auto& f : frames) {
    auto n = static_cast<uint32_t>(f.size());
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

void write_lan_frames(corpus_writer& w) {
  std::vector<bytes> frames;
  for (const auto& [name, message] : sample_messages())
    if (name == "accept" || name == "leaves" || name == "block_data" || name == "done")
      frames.push_back(encode(message));
  w.write("lan_frames", "session_whole_writes.bin", lan_stream(65535, frames));
  w.write("lan_frames", "session_7_byte_writes.bin", lan_stream(7, frames));
  w.write("lan_frames", "empty_frames.bin", lan_stream(3, {{}, {1}, {}, {2, 3}}));
  auto partial = lan_stream(100, {pattern(40, 1), pattern(200, 2)});
  partial.resize(partial.size() - 50);
  w.write("lan_frames", "partial_last_frame.bin", partial);
  // A length of max_frame + 1 after a good frame: the session must close.
  auto over = lan_stream(16, {pattern(20, 3)});
  uint32_t n = 2 * 1024 * 1024 + 1;
  for (int i = 0; i < 4; ++i)
    over.push_back(static_cast<uint8_t>(n >> (8 * i)));
  w.write("lan_frames", "over_limit.bin", over);
  // With a limit of 40 bytes: a frame at the limit passes, the next one (41) closes.
  w.write("lan_frames", "at_small_limit.bin",
          lan_stream(5, {pattern(40, 4), pattern(41, 5), pattern(3, 6)}, 40));
}

/// The BLE SDU harness's input: the MTU byte (MTU - 23), the limit byte, then each SDU as a
/// 2-byte little-endian length and its bytes.
bytes ble_input(size_t mtu, uint8_t limit, const std::vector<bytes>& sdus) {
  bytes out{static_cast<uint8_t>(mtu - ble::min_mtu), limit};
  for (const auto& s : sdus) {
    out.push_back(static_cast<uint8_t>(s.size()));
    out.push_back(static_cast<uint8_t>(s.size() >> 8));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

void write_ble_sdu(corpus_writer& w) {
  std::vector<bytes> frames;
  for (const auto& [name, message] : sample_messages())
    if (name == "accept" || name == "leaves" || name == "block_data" || name == "done")
      frames.push_back(encode(message));
  w.write("ble_sdu", "frames_mtu_247.bin", ble_input(247, 0, ble::segment_all(frames, 247)));
  w.write("ble_sdu", "frames_mtu_23.bin", ble_input(23, 0, ble::segment_all(frames, 23)));
  w.write("ble_sdu", "empty_messages.bin", ble_input(23, 0, ble::segment_all({{}, {1}, {}}, 23)));
  // With a limit of 40 bytes: a message at the limit passes, the next one (41) closes.
  w.write("ble_sdu", "at_small_limit.bin",
          ble_input(30, 40, ble::segment_all({pattern(40, 4), pattern(41, 5)}, 30)));
  // A continuation SDU that runs past its message's end.
  auto sdus = ble::segment_all({pattern(60, 6)}, 40);
  sdus.back().push_back(0);
  w.write("ble_sdu", "past_the_end.bin", ble_input(40, 0, sdus));
}

/// ICMB bus streams: a one-byte feed size and a one-byte payload limit, then the bytes.
void write_icmb_frames(corpus_writer& w) {
  auto stream = [](uint8_t chunk, uint8_t limit, const std::vector<icmb::frame>& frames,
                   const bytes& noise = {}) {
    bytes out{chunk, limit};
    out.insert(out.end(), noise.begin(), noise.end());
    for (const auto& f : frames)
      icmb::encode(f, out);
    return out;
  };
  auto f = [](icmb::frame_kind kind, uint16_t seq, bytes payload) {
    return icmb::frame{0x0012, 0x0034, kind, icmb::flag_from_opener, 7, seq, 3, std::move(payload),
                       0};
  };
  std::vector<icmb::frame> session{f(icmb::frame_kind::open, 0x4242, {}),
                                   f(icmb::frame_kind::data, 0, pattern(300, 1)),
                                   f(icmb::frame_kind::ack, 0, {1, 0, 0, 0}),
                                   f(icmb::frame_kind::close, 1, {})};
  w.write("icmb_frames", "session_whole.bin", stream(255, 0, session));
  w.write("icmb_frames", "session_3_byte_feeds.bin", stream(2, 0, session));
  w.write("icmb_frames", "garbage_first.bin", stream(16, 0, session, pattern(40, 9)));
  auto datagram = f(icmb::frame_kind::datagram, 5, pattern(200, 3));
  datagram.dst = icmb::broadcast_address;
  w.write("icmb_frames", "datagram_over_small_limit.bin", stream(255, 4, {datagram, session[1]}));
  auto damaged = stream(255, 0, session);
  damaged[30] ^= 0x10;
  w.write("icmb_frames", "bit_error.bin", damaged);
}

void write_journal(corpus_writer& w) {
  auto file = encode_manifest_file(sample_manifest(hash_algorithm::blake2b_256, 4096, 512));
  auto seed = [&](const std::string& text, bool with_manifest) {
    bytes out{text.begin(), text.end()};
    if (with_manifest)
      out.insert(out.end(), file.begin(), file.end());
    return out;
  };
  w.write("journal", "transferring.bin", seed("phase transferring\ndonor bmc-b\n", true));
  w.write("journal", "staged.bin", seed("phase staged\ndonor console\n", true));
  w.write("journal", "no_manifest.bin", seed("phase staged\ndonor bmc-b\n", false));
  // Earlier versions kept the host's power state in the journal; it is still read.
  w.write("journal", "flashing_legacy_power.bin",
          seed("power_before reset_held\nphase flashing\n\ndonor bmc-c\n", true));
  w.write("journal", "staged_legacy_power.bin",
          seed("phase staged\ndonor bmc-b\npower_before off\n", true));
}

/// The differential fuzzer's input is parameters read by FuzzedDataProvider, then contents:
/// any bytes will do, so these are a few lengths of varied bytes.
void write_blake2b_lanes(corpus_writer& w) {
  for (size_t n : {16, 40, 200, 1100})
    w.write("blake2b_lanes", "random_" + std::to_string(n) + ".bin",
            pattern(n, static_cast<uint8_t>(n)));
}

} // namespace
} // namespace fwrescue::fuzz

int main(int argc, char** argv) {
  using namespace fwrescue::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR   (e.g. fuzz/corpus)\n");
    return 2;
  }
  if (!fwrescue::init_crypto()) {
    std::fprintf(stderr, "make_seeds: libsodium cannot be initialised\n");
    return 1;
  }
  corpus_writer w{argv[1]};
  write_protocol(w);
  write_manifest(w);
  write_lan_frames(w);
  write_ble_sdu(w);
  write_icmb_frames(w);
  write_journal(w);
  write_blake2b_lanes(w);
  return 0;
}
