#pragma once

// Reading one Cap'n Proto message from untrusted bytes, for the decoders in messages/*.cpp only
// (Cap'n Proto stays inside messages/).

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include <caf/expected.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>

#include "common/error.hpp"

namespace fwrescue::untrusted {

/// Parses one Cap'n Proto message from untrusted bytes and hands its reader to `read`; errors
/// are errc::malformed, "<prefix>: <what> ...". The reader limits exist for security reasons:
/// they bound the work and memory a hostile message can cost. Cap'n Proto reports malformed
/// input by throwing kj::Exception; it stays in here.
template <class T, class Read>
caf::expected<T> parse(std::span<const uint8_t> bytes, size_t max_bytes, const char* prefix,
                       const char* what, Read&& read) {
  auto malformed = [prefix](const std::string& why) {
    return make_error(errc::malformed, fmt::format("{}: {}", prefix, why));
  };
  if (bytes.size() > max_bytes)
    return malformed(fmt::format("{} is {} bytes, the limit is {}", what, bytes.size(), max_bytes));
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0)
    return malformed(
      fmt::format("{} is {} bytes, not a whole number of 8-byte words", what, bytes.size()));
  // Cap'n Proto reads aligned words. Buffers from the allocator already are; copy the others.
  auto count = bytes.size() / sizeof(capnp::word);
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
    words = {reinterpret_cast<const capnp::word*>(bytes.data()), count};
  } else {
    copy = kj::heapArray<capnp::word>(count);
    std::memcpy(copy.begin(), bytes.data(), bytes.size());
    words = copy;
  }
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = max_bytes / sizeof(capnp::word) + 64;
  opts.nestingLimit = 8;
  try {
    capnp::FlatArrayMessageReader reader{words, opts};
    if (reader.getEnd() != words.end())
      return malformed(fmt::format("{} has {} bytes after its end", what,
                                   (words.end() - reader.getEnd()) * sizeof(capnp::word)));
    return read(reader);
  } catch (const kj::Exception& e) {
    return malformed(fmt::format("{} does not decode: {}", what, e.getDescription().cStr()));
  }
}

} // namespace fwrescue::untrusted
