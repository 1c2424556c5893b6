// What a recovery costs on a slow link (docs/performance.md): the digest bytes a recipient
// receives before the first block moves, through every leaf or through a walk of the donor's
// tree, for a 32 MiB image of 4 KiB blocks with d damaged blocks; and how much zstd saves on
// the block runs of a real firmware file.
//
//   build/bench/slow_link_bench [firmware file, default /usr/share/OVMF/OVMF_CODE_4M.fd]

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "image/tree_walk.hpp"
#include "messages/block_codec.hpp"
#include "messages/protocol.hpp"

using namespace fwrescue;

namespace {

constexpr uint64_t blocks = 8192; // 32 MiB of 4 KiB blocks
constexpr double link_bps = 19200;

/// Frame bytes on the wire: the message and its 4-byte length.
uint64_t wire(const wire_message& m) {
  return encode(m).size() + 4;
}

std::vector<digest> random_leaves(uint64_t n, uint64_t seed) {
  std::mt19937_64 gen{seed};
  std::vector<digest> out(n);
  for (auto& d : out)
    for (auto& b : d)
      b = static_cast<uint8_t>(gen());
  return out;
}

uint64_t leaves_bytes(const std::vector<digest>& leaves) {
  uint64_t bytes = 0;
  for (size_t at = 0; at < leaves.size(); at += wire_limits::max_leaves_per_message) {
    auto n = std::min(wire_limits::max_leaves_per_message, leaves.size() - at);
    bytes += wire(fwrescue::leaves{at, {leaves.begin() + at, leaves.begin() + at + n}});
  }
  return bytes;
}

struct walk_cost {
  uint64_t digests = 0;
  uint64_t to_recipient = 0;
  uint64_t to_donor = 0;
  uint64_t round_trips = 0;
};

walk_cost walk(const std::vector<digest>& theirs_leaves, const std::set<uint64_t>& damaged) {
  merkle_tree theirs{hash_algorithm::blake2b_256, theirs_leaves};
  auto ours = theirs_leaves;
  for (auto i : damaged)
    ours[i][0] ^= 1;
  tree_walk w{merkle_tree{hash_algorithm::blake2b_256, ours}, theirs.root()};
  walk_cost c;
  while (!w.done()) {
    ++c.round_trips;
    for (const auto& r : w.requests(wire_limits::max_nodes_per_message)) {
      node_request q{static_cast<uint8_t>(r.level), r.first, static_cast<uint32_t>(r.count)};
      auto level = theirs.level(r.level);
      nodes n{q.level, r.first, {level.begin() + r.first, level.begin() + r.first + r.count}};
      c.to_donor += wire(q);
      c.to_recipient += wire(n);
      c.digests += r.count;
      if (w.take(r.level, r.first, n.digests))
        throw std::runtime_error("an honest walk failed");
    }
  }
  return c;
}

void digest_table() {
  auto leaves = random_leaves(blocks, 1);
  auto full = leaves_bytes(leaves);
  fmt::print("digests for a 32 MiB image ({} blocks of 4 KiB), at {:.1f} kbit/s:\n", blocks,
             link_bps / 1000);
  fmt::print("  {:<34} {:>8} {:>10} {:>10} {:>8} {:>6}\n", "damage", "digests", "to recip.",
             "to donor", "seconds", "trips");
  fmt::print("  {:<34} {:>8} {:>10} {:>10} {:>8.1f} {:>6}\n", "any (every leaf)", blocks, full, 0,
             full * 8 / link_bps, 1);
  std::mt19937_64 gen{2};
  auto scattered = [&](uint64_t d) {
    std::set<uint64_t> out;
    while (out.size() < d)
      out.insert(std::uniform_int_distribution<uint64_t>{0, blocks - 1}(gen));
    return out;
  };
  auto run_of = [](uint64_t first, uint64_t d) {
    std::set<uint64_t> out;
    for (auto i = first; i < first + d; ++i)
      out.insert(i);
    return out;
  };
  struct row {
    std::string name;
    std::set<uint64_t> damaged;
  };
  std::vector<row> rows{{"same root (held digests)", {}},
                        {"1 block", {4321}},
                        {"1 % scattered (82 blocks)", scattered(82)},
                        {"1 % in one run (82 blocks)", run_of(1000, 82)},
                        {"10 % scattered (819 blocks)", scattered(819)},
                        {"50 % scattered", scattered(4096)},
                        {"all (blank flash)", run_of(0, blocks)}};
  for (const auto& r : rows) {
    auto c = walk(leaves, r.damaged);
    auto bytes = c.to_recipient + c.to_donor;
    fmt::print("  {:<34} {:>8} {:>10} {:>10} {:>8.1f} {:>6}\n", "walk, " + r.name, c.digests,
               c.to_recipient, c.to_donor, bytes * 8 / link_bps, c.round_trips);
  }
}

void compression_table(const std::string& path) {
  auto bytes = read_file(path, 64 << 20, "firmware");
  if (!bytes) {
    fmt::print("no firmware to compress ({})\n", describe(bytes.error()));
    return;
  }
  uint64_t raw = 0, sent = 0, runs = 0, compressed = 0;
  std::chrono::nanoseconds spent{0};
  for (size_t at = 0; at < bytes->size(); at += block_data_bytes) {
    auto n = std::min(block_data_bytes, bytes->size() - at);
    std::span<const uint8_t> run{bytes->data() + at, n};
    auto t0 = std::chrono::steady_clock::now();
    auto z = compress_run(run);
    spent += std::chrono::steady_clock::now() - t0;
    raw += n;
    sent += z ? z->size() : n;
    compressed += z ? 1 : 0;
    ++runs;
  }
  fmt::print("\nzstd level {} on the 64 KiB runs of {} ({} bytes):\n", block_zstd_level, path, raw);
  fmt::print("  {} of {} runs compressed; {} bytes sent instead of {} ({:.1f} %); "
             "at {:.1f} kbit/s {:.0f} s instead of {:.0f} s; compressing took {:.1f} ms/MiB\n",
             compressed, runs, sent, raw, 100.0 * static_cast<double>(sent) / raw, link_bps / 1000,
             sent * 8 / link_bps, raw * 8 / link_bps,
             static_cast<double>(spent.count()) / 1e6 / (static_cast<double>(raw) / (1 << 20)));
}

} // namespace

int main(int argc, char** argv) {
  digest_table();
  compression_table(argc > 1 ? argv[1] : "/usr/share/OVMF/OVMF_CODE_4M.fd");
  return 0;
}
