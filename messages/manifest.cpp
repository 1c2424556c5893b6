#include "messages/manifest.hpp"

#include <algorithm>
#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>

#include "common/error.hpp"
#include "messages/manifest.capnp.h"

namespace fwrescue {

namespace {

caf::error malformed(const std::string& what) {
  return make_error(errc::malformed, "malformed manifest: " + what);
}

bool printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

caf::error check_text(const char* field, const std::string& value) {
  if (value.empty())
    return make_error(errc::invalid_argument, fmt::format("{} is empty", field));
  if (value.size() > manifest_limits::max_text)
    return make_error(errc::invalid_argument,
                      fmt::format("{} is {} bytes long, the limit is {}", field, value.size(),
                                  manifest_limits::max_text));
  if (!printable(value))
    return make_error(errc::invalid_argument,
                      fmt::format("{} holds characters other than printable ASCII", field));
  return caf::none;
}

/// Untrusted text made safe for a one-line message: other than printable ASCII becomes \xNN, and
/// it is cut after 40 characters.
std::string excerpt(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 40; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return s.size() > 40 ? out + "..." : out;
}

/// Word-aligned copy of untrusted bytes; Cap'n Proto reads from aligned words.
kj::Array<capnp::word> to_words(std::span<const uint8_t> bytes) {
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
  return words;
}

/// Reader options sized for our largest legitimate message. This limit exists for security
/// reasons: it bounds the work and memory a hostile message can cost.
capnp::ReaderOptions reader_options(size_t max_bytes) {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = max_bytes / sizeof(capnp::word) + 64;
  opts.nestingLimit = 8;
  return opts;
}

template <class Span>
std::vector<uint8_t> to_vector(const Span& data) {
  return {data.begin(), data.end()};
}

} // namespace

const char* to_string(hash_algorithm alg) {
  switch (alg) {
    case hash_algorithm::blake2b_256:
      return "blake2b";
    case hash_algorithm::sha256:
      return "sha256";
  }
  return "unknown";
}

bool valid_component(std::string_view name) {
  return !name.empty() && name.size() <= manifest_limits::max_component
         && std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
}

uint32_t manifest::block_length(uint64_t index) const {
  auto start = index * block_size;
  return static_cast<uint32_t>(std::min<uint64_t>(block_size, image_size - start));
}

caf::error validate(const manifest& m) {
  using namespace manifest_limits;
  if (m.format_version != manifest::current_format_version
      && m.format_version != manifest::component_format_version)
    return make_error(errc::unsupported_version,
                      fmt::format("manifest format version {} is not supported (this build "
                                  "reads versions {} and {})",
                                  m.format_version, manifest::current_format_version,
                                  manifest::component_format_version));
  if (auto err = check_text("platform vendor", m.platform.vendor))
    return err;
  if (auto err = check_text("platform board", m.platform.board))
    return err;
  if (auto err = check_text("version", m.version))
    return err;
  if (!valid_component(m.component))
    return make_error(errc::invalid_argument,
                      fmt::format("component \"{}\" is not 1 to {} characters of a-z, 0-9 and "
                                  "'-'",
                                  excerpt(m.component), manifest_limits::max_component));
  if (m.format_version != manifest::format_version_for(m.component))
    return make_error(errc::malformed,
                      fmt::format("manifest format version {} does not go with component {} "
                                  "(version {} does)",
                                  m.format_version, m.component,
                                  manifest::format_version_for(m.component)));
  if (m.block_size < min_block_size || m.block_size > max_block_size
      || (m.block_size & (m.block_size - 1)) != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("block size {} is not a power of two between {} and {}",
                                  m.block_size, min_block_size, max_block_size));
  if (m.image_size == 0 || m.image_size > max_image_size)
    return make_error(errc::invalid_argument,
                      fmt::format("image size {} is outside 1..{} bytes", m.image_size,
                                  max_image_size));
  if (m.block_count() > max_blocks)
    return make_error(errc::invalid_argument,
                      fmt::format("image of {} bytes has {} blocks of {} bytes, the limit is {}",
                                  m.image_size, m.block_count(), m.block_size, max_blocks));
  if (m.hash != hash_algorithm::blake2b_256 && m.hash != hash_algorithm::sha256)
    return make_error(errc::invalid_argument,
                      fmt::format("hash algorithm {} is unknown", static_cast<int>(m.hash)));
  return caf::none;
}

std::vector<uint8_t> encode_body(const manifest& m) {
  capnp::MallocMessageBuilder builder{512};
  auto body = builder.initRoot<schema::ManifestBody>();
  body.setFormatVersion(m.format_version);
  auto platform = body.initPlatform();
  platform.setVendor(m.platform.vendor);
  platform.setBoard(m.platform.board);
  body.setVersion(m.version);
  body.setSvn(m.svn);
  body.setImageSize(m.image_size);
  body.setBlockSize(m.block_size);
  body.setHashAlgorithm(static_cast<schema::HashAlgorithm>(m.hash));
  body.setMerkleRoot({m.merkle_root.data(), m.merkle_root.size()});
  body.setSignerKeyId({m.signer_key_id.data(), m.signer_key_id.size()});
  body.setCreatedAt(m.created_at);
  body.setComponent(m.component);
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return {bytes.begin(), bytes.end()};
}

caf::expected<manifest> decode_body(std::span<const uint8_t> bytes) {
  using namespace manifest_limits;
  if (bytes.size() > max_body_bytes)
    return malformed(fmt::format("signed body is {} bytes, the limit is {}", bytes.size(),
                                 max_body_bytes));
  if (bytes.size() % sizeof(capnp::word) != 0 || bytes.empty())
    return malformed(fmt::format("signed body is {} bytes, not a whole number of 8-byte words",
                                 bytes.size()));
  auto words = to_words(bytes);
  manifest m;
  // Cap'n Proto reports malformed input by throwing kj::Exception; it stays inside this function.
  try {
    capnp::FlatArrayMessageReader reader{words, reader_options(max_body_bytes)};
    auto body = reader.getRoot<schema::ManifestBody>();
    m.format_version = body.getFormatVersion();
    if (m.format_version != manifest::current_format_version
        && m.format_version != manifest::component_format_version)
      return validate(m);
    auto platform = body.getPlatform();
    m.platform.vendor = platform.getVendor();
    m.platform.board = platform.getBoard();
    m.version = body.getVersion();
    m.svn = body.getSvn();
    m.image_size = body.getImageSize();
    m.block_size = body.getBlockSize();
    // Check the wire value before narrowing it, so 256 cannot pass as 0.
    auto hash = static_cast<uint16_t>(body.getHashAlgorithm());
    if (hash > static_cast<uint16_t>(hash_algorithm::sha256))
      return malformed(fmt::format("hash algorithm {} is unknown", hash));
    m.hash = static_cast<hash_algorithm>(hash);
    auto root = body.getMerkleRoot();
    if (root.size() != m.merkle_root.size())
      return malformed(fmt::format("Merkle root is {} bytes, expected {}", root.size(),
                                   m.merkle_root.size()));
    std::copy(root.begin(), root.end(), m.merkle_root.begin());
    auto id = body.getSignerKeyId();
    if (id.size() != m.signer_key_id.size())
      return malformed(fmt::format("signer key id is {} bytes, expected {}", id.size(),
                                   m.signer_key_id.size()));
    std::copy(id.begin(), id.end(), m.signer_key_id.begin());
    m.created_at = body.getCreatedAt();
    // A body signed before the field existed has none: all of those were for the BIOS flash.
    if (body.hasComponent())
      m.component = body.getComponent();
  } catch (const kj::Exception& e) {
    return malformed(std::string{"signed body does not decode: "} + e.getDescription().cStr());
  }
  if (auto err = validate(m))
    return make_error(errc::malformed, "malformed manifest: " + describe(err));
  return m;
}

std::vector<uint8_t> encode_manifest_file(const signed_manifest& m) {
  // Size the first segment to hold everything, so the file is always a single segment with the
  // layout docs/manifest.md draws: root pointer, struct, body, signature, digests.
  auto words = [](size_t bytes) { return (bytes + sizeof(capnp::word) - 1) / sizeof(capnp::word); };
  auto total = 1 + 3 + words(m.body.size()) + words(m.sig.size())
               + words(m.block_digests.size() * sizeof(digest));
  capnp::MallocMessageBuilder builder{static_cast<unsigned>(total),
                                      capnp::AllocationStrategy::FIXED_SIZE};
  auto root = builder.initRoot<schema::SignedManifest>();
  root.setBody({m.body.data(), m.body.size()});
  root.setSignature({m.sig.data(), m.sig.size()});
  if (!m.block_digests.empty()) {
    auto digests = root.initBlockDigests(m.block_digests.size() * sizeof(digest));
    std::memcpy(digests.begin(), m.block_digests.data(), digests.size());
  }
  auto flat = capnp::messageToFlatArray(builder);
  auto bytes = flat.asBytes();
  std::vector<uint8_t> out(manifest_file_magic.size() + bytes.size());
  auto rest = std::copy(manifest_file_magic.begin(), manifest_file_magic.end(), out.begin());
  std::copy(bytes.begin(), bytes.end(), rest);
  return out;
}

caf::expected<signed_manifest> decode_manifest_file(std::span<const uint8_t> bytes) {
  using namespace manifest_limits;
  if (bytes.size() < manifest_file_magic.size()
      || !std::equal(manifest_file_magic.begin(), manifest_file_magic.end(), bytes.begin()))
    return malformed("not a manifest file (it does not start with \"FWRMANIF\")");
  auto message = bytes.subspan(manifest_file_magic.size());
  if (message.size() > max_file_bytes)
    return malformed(fmt::format("{} bytes after the magic, the limit is {}", message.size(),
                                 max_file_bytes));
  if (message.size() % sizeof(capnp::word) != 0 || message.empty())
    return malformed(fmt::format("{} bytes after the magic, not a whole number of 8-byte words",
                                 message.size()));
  auto words = to_words(message);
  signed_manifest out;
  try {
    capnp::FlatArrayMessageReader reader{words, reader_options(max_file_bytes)};
    auto root = reader.getRoot<schema::SignedManifest>();
    out.body = to_vector(root.getBody());
    auto sig = root.getSignature();
    if (sig.size() != out.sig.size())
      return malformed(fmt::format("signature is {} bytes, expected {}", sig.size(),
                                   out.sig.size()));
    std::copy(sig.begin(), sig.end(), out.sig.begin());
    auto digests = root.getBlockDigests();
    if (digests.size() % sizeof(digest) != 0)
      return malformed(fmt::format("block digest list is {} bytes, not a multiple of {}",
                                   digests.size(), sizeof(digest)));
    out.block_digests.resize(digests.size() / sizeof(digest));
    if (digests.size() != 0)
      std::memcpy(out.block_digests.data(), digests.begin(), digests.size());
  } catch (const kj::Exception& e) {
    return malformed(std::string{"does not decode: "} + e.getDescription().cStr());
  }
  auto fields = decode_body(out.body);
  if (!fields)
    return std::move(fields.error());
  out.fields = std::move(*fields);
  if (!out.block_digests.empty() && out.block_digests.size() != out.fields.block_count())
    return malformed(fmt::format("block digest list has {} entries for {} blocks",
                                 out.block_digests.size(), out.fields.block_count()));
  return out;
}

} // namespace fwrescue
