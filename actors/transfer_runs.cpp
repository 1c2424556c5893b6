// Decoding a block run that a donor compressed, before the transfer checks its blocks.

#include <algorithm>

#include <fmt/format.h>

#include "actors/transfer_steps.hpp"
#include "common/error.hpp"
#include "messages/block_codec.hpp"

namespace fwrescue::transfer_steps {

caf::error expand_run(const transfer_state& st, const transfer_state::puller& p, block_data& b) {
  if (b.encoding == block_encoding::raw)
    return caf::none;
  if (!p.compress)
    return make_error(
      errc::malformed,
      fmt::format("sent blocks from {} compressed, which the accept did not take", b.first));
  // The run may hold at most the blocks outstanding from its first, and no more than a frame's
  // worth: more output than that is a decompression bomb, and is never allocated.
  const auto& m = st.target.fields;
  auto end =
    std::min(m.block_count(), b.first + std::max<uint64_t>(1, block_data_bytes / m.block_size));
  uint64_t bound = 0;
  for (auto i = b.first; i < end && p.outstanding.count(i); ++i)
    bound += m.block_length(i);
  if (bound == 0)
    return make_error(errc::malformed,
                      fmt::format("sent block {}, which was not requested", b.first));
  auto run = decompress_run(b.bytes, bound);
  if (!run)
    return make_error(errc::malformed, fmt::format("sent blocks from {} in a bad {}", b.first,
                                                   describe(run.error())));
  b.bytes = std::move(*run);
  b.encoding = block_encoding::raw;
  return caf::none;
}

} // namespace fwrescue::transfer_steps
