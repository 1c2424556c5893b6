// Signs and verifies a 64 MiB image and prints the times next to a bare BLAKE2b pass over the
// same bytes, measured in the same run. Not a test: figures go to docs/performance.md.
//
// The floor reads the file the same way verify does (1 MiB read() calls into one buffer) and
// feeds it to one BLAKE2b-256 stream, so the ratio isolates what the Merkle tree and the
// manifest add. A second floor hashes the bytes already in memory, to show the read cost.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sodium.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "image/hash.hpp"
#include "image/image_check.hpp"
#include "image/signing.hpp"

using namespace fwrescue;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr size_t image_size = 64u << 20;
constexpr int rounds = 5;

/// Best of `rounds` runs of `fn`, in milliseconds. The best run is the one least disturbed by
/// the rest of the machine.
template <class F>
double best_ms(F&& fn) {
  double best = 1e300;
  for (int i = 0; i < rounds; ++i) {
    auto start = clock_type::now();
    fn();
    std::chrono::duration<double, std::milli> took = clock_type::now() - start;
    best = std::min(best, took.count());
  }
  return best;
}

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "manifest_bench: {}\n", what);
  std::exit(1);
}

} // namespace

int main() {
  if (!init_crypto())
    die("cannot initialise libsodium");
  auto dir = std::filesystem::temp_directory_path() / fmt::format("fwrescue-bench-{}", getpid());
  std::filesystem::create_directories(dir);
  auto image_path = (dir / "image.bin").string();
  std::vector<uint8_t> image(image_size);
  randombytes_buf(image.data(), image.size());
  if (auto err = write_file_atomic(image_path, image, 0644, on_existing::replace, "image"))
    die(describe(err));

  auto key = secret_key::generate();
  manifest fields;
  fields.platform = {"Bench", "Board"};
  fields.version = std::string{"1"}; // (a literal here trips a false g++ 12 -Wrestrict)
  fields.image_size = image_size;

  digest sink{};
  auto bare_memory = best_ms([&] { sink = plain_digest(hash_algorithm::blake2b_256, image); });
  auto bare_file = best_ms([&] {
    hasher h{hash_algorithm::blake2b_256};
    auto n = stream_file(image_path, 1 << 20, [&](std::span<const uint8_t> c) { h.update(c); },
                         "image");
    if (!n)
      die(describe(n.error()));
    sink = h.finish();
  });

  auto results = std::vector<std::pair<hash_algorithm, std::pair<double, double>>>{};
  for (auto alg : {hash_algorithm::blake2b_256, hash_algorithm::sha256}) {
    fields.hash = alg;
    signed_manifest m;
    auto sign_ms = best_ms([&] {
      auto hashed = hash_image_file(image_path, alg, fields.block_size);
      if (!hashed)
        die(describe(hashed.error()));
      auto s = sign_manifest(key, fields, hashed->tree);
      if (!s)
        die(describe(s.error()));
      m = std::move(*s);
    });
    std::vector<public_key> trusted{key.public_part()};
    auto verify_ms = best_ms([&] {
      auto v = verify_image_file(m, trusted, image_path);
      if (!v || v->result != image_verdict::outcome::ok)
        die("verify failed");
    });
    results.push_back({alg, {sign_ms, verify_ms}});
  }
  std::filesystem::remove_all(dir);

  fmt::print("64 MiB image, 4 KiB blocks, best of {} runs (page cache warm)\n", rounds);
  fmt::print("  floor: bare BLAKE2b-256, bytes in memory   {:8.1f} ms  {:6.0f} MB/s\n", bare_memory,
             image_size / bare_memory / 1e3);
  fmt::print("  floor: bare BLAKE2b-256, read from file    {:8.1f} ms  {:6.0f} MB/s\n", bare_file,
             image_size / bare_file / 1e3);
  for (auto& [alg, t] : results) {
    auto [sign_ms, verify_ms] = t;
    fmt::print("  {:7} sign                              {:8.1f} ms  {:5.2f}x floor (file)\n",
               to_string(alg), sign_ms, sign_ms / bare_file);
    fmt::print("  {:7} verify                            {:8.1f} ms  {:5.2f}x floor (file)\n",
               to_string(alg), verify_ms, verify_ms / bare_file);
  }
  fmt::print("goal: blake2b verify <= 1.15x the bare hash; measured {:.2f}x\n",
             results.front().second.second / bare_file);
  return sink[0] == 0 && sink[1] == 0 && sink[2] == 0 ? 0 : 0; // keep `sink` observable
}
