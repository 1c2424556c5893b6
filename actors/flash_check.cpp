#include "actors/flash_check.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

caf::expected<merkle_tree> hash_flash(flash& chip, uint64_t size, hash_algorithm alg,
                                      uint32_t block_size, unsigned threads) {
  if (size == 0 || size > chip.geometry().size)
    return make_error(
      errc::invalid_argument,
      fmt::format("image of {} bytes does not fit the {}-byte flash", size, chip.geometry().size));
  tree_builder builder{alg, block_size, threads};
  std::vector<uint8_t> buf(std::min<uint64_t>(size, 1 << 20));
  for (uint64_t off = 0; off < size;) {
    auto n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    if (auto err = chip.read(off, {buf.data(), n}))
      return err;
    builder.update({buf.data(), n});
    off += n;
  }
  return std::move(builder).finish();
}

write_check::write_check(const manifest& m, unsigned threads)
  : m_(m), threads_(std::max(threads, 1u)), leaves_(m.block_count()),
    hashed_from_(m.block_count()) {
  for (unsigned k = 1; k < threads_; ++k)
    helpers_.emplace_back([this] { hash_pieces(true); });
}

write_check::~write_check() {
  stop();
}

void write_check::stop() {
  {
    std::lock_guard lock{mutex_};
    closed_ = true;
  }
  wake_.notify_all();
  helpers_.clear(); // joins
}

void write_check::written(uint64_t offset, std::span<const uint8_t> content) {
  auto n = m_.block_count();
  auto first = (offset + m_.block_size - 1) / m_.block_size;
  auto end = first;
  while (end < n && end * m_.block_size + m_.block_length(end) <= offset + content.size())
    ++end;
  if (end == first)
    return;
  auto from = first * m_.block_size - offset;
  auto to = (end - 1) * m_.block_size + m_.block_length(end - 1) - offset;
  {
    std::lock_guard lock{mutex_};
    queue_.push_back({first, content.subspan(from, to - from)});
  }
  wake_.notify_one();
}

void write_check::hash_pieces(bool until_closed) {
  for (;;) {
    piece p;
    {
      std::unique_lock lock{mutex_};
      wake_.wait(lock, [&] { return !queue_.empty() || closed_ || !until_closed; });
      if (queue_.empty())
        return;
      p = queue_.front();
      queue_.pop_front();
    }
    for (uint64_t i = p.first_block, at = 0; at < p.bytes.size(); ++i) {
      auto block = p.bytes.subspan(at, m_.block_length(i));
      leaves_[i] = leaf_digest(m_.hash, i, block);
      hashed_from_[i] = block;
      at += block.size();
    }
  }
}

caf::expected<merkle_tree> write_check::finish(flash& chip) {
  // The caller's thread helps with what is still queued, then the helpers are joined.
  hash_pieces(false);
  stop();
  auto size = m_.image_size;
  if (size == 0 || size > chip.geometry().size)
    return make_error(
      errc::invalid_argument,
      fmt::format("image of {} bytes does not fit the {}-byte flash", size, chip.geometry().size));
  auto n = m_.block_count();
  auto per_chunk = std::max<uint64_t>(1, (1 << 20) / m_.block_size);
  std::vector<uint8_t> buf;
  std::vector<digest> digests;
  for (uint64_t first = 0; first < n; first += per_chunk) {
    auto end = std::min(n, first + per_chunk);
    auto base = first * m_.block_size;
    buf.resize((end - 1) * m_.block_size + m_.block_length(end - 1) - base);
    if (auto err = chip.read(base, buf))
      return err;
    auto block_at = [&](uint64_t i) {
      return std::span{buf}.subspan(i * m_.block_size - base, m_.block_length(i));
    };
    auto kept = [&](uint64_t i) {
      auto read = block_at(i);
      const auto& from = hashed_from_[i];
      return from.size() == read.size() && std::equal(read.begin(), read.end(), from.begin());
    };
    // Runs of blocks that keep no digest are hashed together, on every thread.
    for (auto i = first; i < end;) {
      if (kept(i)) {
        ++i;
        continue;
      }
      auto j = i + 1;
      while (j < end && !kept(j))
        ++j;
      digests.resize(j - i);
      auto from = i * m_.block_size - base;
      auto to = (j - 1) * m_.block_size + m_.block_length(j - 1) - base;
      leaf_digests(m_.hash, m_.block_size, i, std::span{buf}.subspan(from, to - from), digests,
                   threads_);
      std::copy(digests.begin(), digests.end(), leaves_.begin() + static_cast<ptrdiff_t>(i));
      i = j;
    }
  }
  return merkle_tree{m_.hash, std::move(leaves_)};
}

caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m, unsigned threads) {
  auto tree = hash_flash(chip, m.fields.image_size, m.fields.hash, m.fields.block_size, threads);
  if (!tree)
    return std::move(tree.error());
  return compare_blocks(*tree, m);
}

flash_report flash_report_for(const signed_manifest& m, const caf::expected<block_report>& blocks,
                              const char* against) {
  flash_report report;
  report.checked = true;
  report.root = m.fields.merkle_root;
  report.block_count = m.fields.block_count();
  if (!blocks) {
    report.bad = {{0, report.block_count}};
    report.detail = describe(blocks.error());
    return report;
  }
  report.bad = blocks->bad;
  if (blocks->ok()) {
    report.detail = fmt::format("flash matches {} {} svn {} ({} blocks)", m.fields.version,
                                m.fields.platform.board, m.fields.svn, report.block_count);
  } else {
    auto first = report.bad.front().first;
    report.detail = fmt::format("{} of {} blocks do not match {}, first bad block {} at {:#x}",
                                blocks->bad_blocks(), report.block_count, against, first,
                                first * m.fields.block_size);
  }
  return report;
}

} // namespace fwrescue
