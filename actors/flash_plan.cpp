#include "actors/flash_plan.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "common/error.hpp"
#include "hal/flash/erase_plan.hpp"
#include "image/hash.hpp"
#include "image/signing.hpp"
#include "image/verified_blocks.hpp"

namespace fwrescue {

namespace {

caf::error fail(const std::string& what) {
  return make_error(errc::io_failure, what);
}

/// The image is planned in chunks of whole image blocks, whole sectors and whole erase blocks,
/// about a megabyte each.
uint64_t plan_chunk(const flash_geometry& geo, uint32_t block_size) {
  uint64_t unit = std::lcm(uint64_t{geo.erase_size}, uint64_t{block_size});
  if (geo.block_erase_size != 0)
    unit = std::lcm(unit, uint64_t{geo.block_erase_size});
  return std::max<uint64_t>(1, (1 << 20) / unit) * unit;
}

/// Of the chunk of sectors [first, first + marks.size()), marks also every sector of each
/// aligned erase block lying whole in it where so many sectors are marked that erasing the
/// block whole may pay: those blocks are read and planned whole.
void widen_to_blocks(const flash_geometry& geo, uint64_t first, std::vector<bool>& marks) {
  auto per_block = geo.block_erase_size / geo.erase_size;
  if (per_block <= 1)
    return;
  auto at = [&](uint64_t s) { return marks.begin() + static_cast<ptrdiff_t>(s - first); };
  for (auto b = (first + per_block - 1) / per_block * per_block;
       b + per_block <= first + marks.size(); b += per_block)
    if (block_erase_may_pay(geo, static_cast<uint64_t>(std::count(at(b), at(b + per_block), true))))
      std::fill(at(b), at(b + per_block), true);
}

/// Where the planned content of a block is taken from; `neither` names a block that verified in
/// no copy.
enum class block_source { flash, staging, memory, neither };

caf::error no_match(uint64_t block, block_source from) {
  switch (from) {
    case block_source::staging:
    case block_source::memory:
      return fail(fmt::format("staged block {} does not match the signed Merkle root; the flash "
                              "is untouched",
                              block));
    case block_source::flash:
      return fail(fmt::format("block {} on the flash no longer matches the signed Merkle root "
                              "(it changed since it was checked); the flash is untouched",
                              block));
    case block_source::neither:
      break;
  }
  return fail(fmt::format("block {} matches the signed Merkle root neither in the staging file "
                          "nor on the flash; the flash is untouched",
                          block));
}

} // namespace

/// Before anything is erased: which sectors must change, with every block they will hold
/// checked against the signed manifest's digests (nothing unverified is written).
///
/// Each block comes from the staging file when `job.staged` says it was staged, or else stays
/// what the flash holds; a sector holding no staged block is not even read. A staged block that
/// `job.verified` holds is taken from memory as the transfer verified it, and not checked again.
/// When `job.staged` is empty (a restart, from the journal) or does not fit the image, a block
/// comes from the staging file if its staged copy verifies, else from the flash if that
/// verifies, and if neither does nothing is written. The manifest must carry its block digests
/// (the transfer and the journal always keep them).
caf::expected<flash_plan> plan_writes(flash& chip, const staging_file& staging,
                                      const flash_job& job) {
  const auto& target = job.target;
  const auto& m = target.fields;
  auto geo = chip.geometry();
  auto n_blocks = m.block_count();
  auto span_end = (m.image_size + geo.erase_size - 1) / geo.erase_size * geo.erase_size;
  if (!block_digest_tree(target))
    return fail("the manifest's block digests do not build its signed Merkle root, so no block "
                "can be checked; the flash is untouched");
  bool known = job.staged.size() == n_blocks;
  auto staged_block = [&](uint64_t i) { return known ? bool{job.staged[i]} : true; };
  // Staged blocks verified in memory (known staged list only: a restart has no memory).
  const verified_blocks* memory =
    known && job.verified && job.verified->root() == m.merkle_root ? job.verified.get() : nullptr;
  auto source_of = [&](uint64_t i) {
    if (!staged_block(i))
      return block_source::flash;
    return memory && memory->holds(i) ? block_source::memory : block_source::staging;
  };
  flash_plan plan;
  // Reserved, not touched: only the pages of sectors that change are ever filled. Each chunk's
  // wanted content is assembled at the end of it, and only its changing sectors are kept. A run
  // in `bytes` is recorded by its offset there until planning ends.
  plan.bytes.reserve(span_end);
  std::vector<size_t> offset_in_bytes;
  auto chunk = plan_chunk(geo, m.block_size);
  std::vector<uint8_t> have;
  std::vector<digest> digests;
  // Blocks [first, end) overlapping the bytes [from, to) of the image span.
  auto blocks_of = [&](uint64_t from, uint64_t to) {
    return std::pair{from / m.block_size,
                     std::min(n_blocks, (to + m.block_size - 1) / m.block_size)};
  };
  auto count_staged = [&](uint64_t from, uint64_t to) {
    auto [first, end] = blocks_of(from, to);
    return static_cast<uint64_t>(std::count_if(job.staged.begin() + static_cast<ptrdiff_t>(first),
                                               job.staged.begin() + static_cast<ptrdiff_t>(end),
                                               [](bool b) { return b; }));
  };
  // Plans the bytes [off, off + n), whole blocks and whole sectors.
  auto plan_range = [&](uint64_t off, size_t n) -> caf::error {
    auto [first, end] = blocks_of(off, off + n);
    auto in_image = static_cast<size_t>(std::min<uint64_t>(n, m.image_size - off));
    // Content held whole in memory is planned where it lies.
    bool in_memory = in_image == n;
    for (auto i = first; in_memory && i < end; ++i)
      in_memory = source_of(i) == block_source::memory;
    // A block in memory was pulled because the flash did not hold it, so when no block straddles
    // two sectors, every sector of such a range differs and the flash need not be read. (Had
    // the flash changed to match since, a sector is rewritten with the same bytes.)
    bool all_differ = in_memory && geo.erase_size % m.block_size == 0;
    if (!all_differ) {
      have.resize(n);
      if (auto err = chip.read(off, have))
        return err;
    }
    auto base = plan.bytes.size();
    std::span<uint8_t> want;
    auto block_at = [&](std::span<uint8_t> bytes, uint64_t i) {
      return bytes.subspan((i - first) * m.block_size, m.block_length(i));
    };
    if (!in_memory) {
      plan.bytes.resize(base + n);
      want = std::span{plan.bytes}.subspan(base, n);
    }
    auto wanted = in_memory ? memory->bytes(off, n) : std::span<const uint8_t>{want};
    // The wanted bytes: each run of blocks from where it comes (memory, staging file, or the
    // flash as it is), and past the image's end, the flash as it is.
    for (auto i = first; !in_memory && i < end;) {
      auto from = source_of(i);
      auto j = i + 1;
      while (j < end && source_of(j) == from)
        ++j;
      auto a = (i - first) * m.block_size;
      auto b = std::min<uint64_t>((j - first) * m.block_size, in_image);
      auto into = want.subspan(a, b - a);
      if (from == block_source::staging) {
        if (auto err = staging.read(off + a, into))
          return err;
      } else {
        auto src = from == block_source::memory ? memory->bytes(off + a, b - a)
                                                : std::span<const uint8_t>{have}.subspan(a, b - a);
        std::copy(src.begin(), src.end(), into.begin());
      }
      i = j;
    }
    if (!in_memory)
      std::copy(have.begin() + static_cast<ptrdiff_t>(in_image), have.end(),
                want.begin() + static_cast<ptrdiff_t>(in_image));
    std::vector<bool> flash_copy(end - first, false);
    for (auto i = first; known && i < end; ++i)
      flash_copy[i - first] = source_of(i) == block_source::flash;
    if (!known) {
      // Which copy of each block verifies: the staged one, else the flash's.
      digests.resize(end - first);
      leaf_digests(m.hash, m.block_size, first, want.first(in_image), digests, hash_threads());
      for (auto i = first; i < end; ++i) {
        if (digests[i - first] == target.block_digests[i])
          continue;
        auto from_flash = block_at(have, i);
        if (leaf_digest(m.hash, i, from_flash) != target.block_digests[i])
          return no_match(i, block_source::neither);
        std::copy(from_flash.begin(), from_flash.end(), block_at(want, i).begin());
        flash_copy[i - first] = true;
      }
    }
    // Runs of sectors that differ are kept (in `bytes`, moved down over the ones that do not);
    // the blocks each run holds are checked together.
    std::vector<bool> differs(n / geo.erase_size);
    for (size_t a = 0; a < n; a += geo.erase_size)
      differs[a / geo.erase_size] =
        all_differ
        || !std::equal(wanted.begin() + static_cast<ptrdiff_t>(a),
                       wanted.begin() + static_cast<ptrdiff_t>(a + geo.erase_size),
                       have.begin() + static_cast<ptrdiff_t>(a));
    // Where one block erase costs the chip less than the block's differing sectors, the whole
    // block is rewritten (its unchanged sectors with what they hold).
    auto rewrite = plan_erase_blocks(geo, off / geo.erase_size, differs, wanted);
    auto sector_differs = [&](size_t a) { return bool{rewrite[a / geo.erase_size]}; };
    size_t kept = 0;
    for (size_t at = 0; at < n;) {
      if (!sector_differs(at)) {
        at += geo.erase_size;
        continue;
      }
      auto run_end = at + geo.erase_size;
      while (run_end < n && sector_differs(run_end))
        run_end += geo.erase_size;
      if (known) {
        // Every block the run holds, except those verified in memory, checked in runs.
        auto b1 = std::min(n_blocks, (off + run_end + m.block_size - 1) / m.block_size);
        for (auto b0 = (off + at) / m.block_size; b0 < b1;) {
          if (source_of(b0) == block_source::memory) {
            ++b0;
            continue;
          }
          auto e = b0 + 1;
          while (e < b1 && source_of(e) != block_source::memory)
            ++e;
          digests.resize(e - b0);
          auto from = (b0 - first) * m.block_size;
          auto to = std::min<uint64_t>((e - first) * m.block_size, in_image);
          leaf_digests(m.hash, m.block_size, b0, wanted.subspan(from, to - from), digests,
                       hash_threads());
          for (auto i = b0; i < e; ++i)
            if (digests[i - b0] != target.block_digests[i])
              return no_match(i, source_of(i));
          b0 = e;
        }
      }
      for (auto i = (off + at + m.block_size - 1) / m.block_size;
           i < n_blocks && i * m.block_size + m.block_length(i) <= off + run_end; ++i)
        if (flash_copy[i - first])
          plan.from_flash.push_back(i);
      auto sectors = (run_end - at) / geo.erase_size;
      plan.runs.push_back({(off + at) / geo.erase_size, sectors, {}});
      plan.sector_count += sectors;
      if (in_memory) {
        plan.runs.back().content = wanted.subspan(at, run_end - at);
        offset_in_bytes.push_back(0);
      } else {
        if (kept != at)
          std::memmove(want.data() + kept, want.data() + at, run_end - at);
        offset_in_bytes.push_back(base + kept);
        kept += run_end - at;
      }
      at = run_end;
    }
    plan.bytes.resize(base + kept);
    return caf::none;
  };
  for (uint64_t off = 0; off < span_end; off += chunk) {
    auto n = std::min<uint64_t>(chunk, span_end - off);
    if (!known) {
      if (auto err = plan_range(off, n))
        return err;
      continue;
    }
    // Only sectors holding a staged block can change; runs of them are planned together, with
    // the erase blocks where so many may change that erasing the block whole may pay.
    std::vector<bool> marks(n / geo.erase_size);
    for (uint64_t at = off; at < off + n; at += geo.erase_size)
      marks[(at - off) / geo.erase_size] = count_staged(at, at + geo.erase_size) > 0;
    widen_to_blocks(geo, off / geo.erase_size, marks);
    auto holds_staged = [&](uint64_t at) { return bool{marks[(at - off) / geo.erase_size]}; };
    for (auto at = off; at < off + n;) {
      if (!holds_staged(at)) {
        at += geo.erase_size;
        continue;
      }
      auto run_end = at + geo.erase_size;
      while (run_end < off + n && holds_staged(run_end))
        run_end += geo.erase_size;
      if (auto err = plan_range(at, run_end - at))
        return err;
      at = run_end;
    }
  }
  for (size_t k = 0; k < plan.runs.size(); ++k)
    if (plan.runs[k].content.empty())
      plan.runs[k].content = std::span{plan.bytes}.subspan(
        offset_in_bytes[k], plan.runs[k].sector_count * geo.erase_size);
  return plan;
}

/// Copies the checked content of the blocks in `plan.from_flash` into the staging file and makes
/// it durable, before anything is erased: should the daemon die between erasing such a block's
/// sector and programming it, the resumed flash still finds a copy that verifies.
caf::error stage_blocks_from_flash(staging_file& staging, const flash_plan& plan, const manifest& m,
                                   uint32_t erase_size) {
  if (plan.from_flash.empty())
    return caf::none;
  size_t k = 0;
  for (auto i : plan.from_flash) {
    auto offset = i * m.block_size;
    while (offset >= (plan.runs[k].first_sector + plan.runs[k].sector_count) * erase_size)
      ++k;
    const auto& run = plan.runs[k];
    auto bytes = run.content.subspan(offset - run.first_sector * erase_size, m.block_length(i));
    if (auto err = staging.write(offset, bytes))
      return err;
  }
  return staging.sync();
}

} // namespace fwrescue
