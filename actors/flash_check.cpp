#include "actors/flash_check.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

write_check::write_check(const manifest& m, unsigned threads)
  : m_(m), threads_(std::max(threads, 1u)), leaves_(m.block_count()),
    hashed_from_(m.block_count()) {
  for (unsigned k = 1; k < threads_; ++k)
    helpers_.emplace_back([this] { run_tasks(); });
}

write_check::~write_check() {
  {
    std::lock_guard lock{mutex_};
    closed_ = true;
  }
  wake_.notify_all();
  helpers_.clear(); // joins
}

void write_check::push(std::function<void()> task) {
  {
    std::lock_guard lock{mutex_};
    queue_.push_back(std::move(task));
  }
  wake_.notify_all();
}

bool write_check::run_one(std::unique_lock<std::mutex>& lock) {
  if (queue_.empty())
    return false;
  auto task = std::move(queue_.front());
  queue_.pop_front();
  ++running_;
  lock.unlock();
  task();
  lock.lock();
  --running_;
  wake_.notify_all();
  return true;
}

void write_check::wait_for_tasks() {
  // Everything queued has run when the queue is empty and no task is running.
  std::unique_lock lock{mutex_};
  help_until(lock, [&] { return queue_.empty() && running_ == 0; });
}

void write_check::run_tasks() {
  std::unique_lock lock{mutex_};
  for (;;) {
    wake_.wait(lock, [&] { return !queue_.empty() || closed_; });
    if (!run_one(lock) && closed_)
      return;
  }
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
  push([this, first, end, bytes = content.subspan(from, to - from)] {
    leaf_digests(m_.hash, m_.block_size, first, bytes,
                 std::span{leaves_}.subspan(first, end - first), 1);
    for (uint64_t i = first, at = 0; i < end; ++i) {
      hashed_from_[i] = bytes.subspan(at, m_.block_length(i));
      at += hashed_from_[i].size();
    }
  });
}

void write_check::check_read(uint64_t first, uint64_t end, std::span<const uint8_t> bytes,
                             std::span<digest> leaves) {
  auto base = first * m_.block_size;
  auto read = [&](uint64_t i) { return bytes.subspan(i * m_.block_size - base, m_.block_length(i)); };
  auto same = [&](uint64_t i) {
    auto got = read(i);
    const auto& from = hashed_from_[i];
    return from.size() == got.size() && std::equal(got.begin(), got.end(), from.begin());
  };
  // A block equal to what it was hashed from keeps that digest (already in `leaves`). Each run
  // of blocks that differ is hashed from what was read, in one call, so whole runs go through
  // the hash several blocks at a time.
  for (auto i = first; i < end;) {
    if (same(i)) {
      ++i;
      continue;
    }
    auto run_end = i + 1;
    while (run_end < end && !same(run_end))
      ++run_end;
    auto from = i * m_.block_size - base;
    auto to = (run_end - 1) * m_.block_size + m_.block_length(run_end - 1) - base;
    leaf_digests(m_.hash, m_.block_size, i, bytes.subspan(from, to - from),
                 leaves.subspan(i, run_end - i), 1);
    i = run_end;
  }
}

caf::expected<merkle_tree> write_check::finish(flash& chip) {
  auto size = m_.image_size;
  if (size == 0 || size > chip.geometry().size)
    return make_error(
      errc::invalid_argument,
      fmt::format("image of {} bytes does not fit the {}-byte flash", size, chip.geometry().size));
  // The written pieces are hashed first, this thread helping. Then the image is read a
  // megabyte at a time on this thread, into a few buffers in turn, while the helpers compare
  // and hash what was read; this thread helps whenever it waits for a free buffer.
  wait_for_tasks();
  auto leaves = leaves_;
  auto n = m_.block_count();
  auto per_chunk = std::max<uint64_t>(1, (1 << 20) / m_.block_size);
  std::vector<std::vector<uint8_t>> buffers(threads_ + 1);
  std::vector<size_t> free_buffers(buffers.size());
  std::iota(free_buffers.begin(), free_buffers.end(), size_t{0});
  caf::error failure;
  for (uint64_t first = 0; first < n && !failure; first += per_chunk) {
    size_t k = 0;
    {
      std::unique_lock lock{mutex_};
      help_until(lock, [&] { return !free_buffers.empty(); });
      k = free_buffers.back();
      free_buffers.pop_back();
    }
    auto end = std::min(n, first + per_chunk);
    auto base = first * m_.block_size;
    auto& buf = buffers[k];
    buf.resize((end - 1) * m_.block_size + m_.block_length(end - 1) - base);
    if ((failure = chip.read(base, buf))) {
      std::lock_guard lock{mutex_};
      free_buffers.push_back(k);
      break;
    }
    push([this, first, end, k, &buf, &free_buffers, &leaves] {
      check_read(first, end, buf, leaves);
      std::lock_guard lock{mutex_};
      free_buffers.push_back(k);
    });
  }
  wait_for_tasks();
  if (failure)
    return failure;
  return merkle_tree{m_.hash, std::move(leaves)};
}

caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m, unsigned threads) {
  // Nothing written: every block is hashed from what is read.
  auto tree = write_check{m.fields, threads}.finish(chip);
  if (!tree)
    return std::move(tree.error());
  return compare_blocks(*tree, m);
}

const char* to_string(flash_fault f) {
  switch (f) {
    case flash_fault::none:
      return "none";
    case flash_fault::unreadable:
      return "unreadable";
    case flash_fault::unfixable:
      return "unfixable";
  }
  return "unknown";
}

flash_report flash_report_for(const signed_manifest& m, const caf::expected<block_report>& blocks,
                              const char* against) {
  flash_report report;
  report.checked = true;
  report.root = m.fields.merkle_root;
  report.block_count = m.fields.block_count();
  if (!blocks && has_code(blocks.error(), errc::io_failure)) {
    // Nothing is known of the content: calling every block bad would rewrite the whole chip
    // with the host off, through the very path that just failed.
    report.fault = flash_fault::unreadable;
    report.detail = fmt::format("cannot read the flash ({}): a fault of the path to the chip, "
                                "not of its content; nothing is rewritten",
                                describe(blocks.error()));
    return report;
  }
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
