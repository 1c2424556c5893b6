// What reading from a web server costs (docs/sources.md): a 32 MiB image of random bytes served
// by lighttpd on loopback, read by the http location against the curl tool doing the same.
//
//   ranges: 1 % of the 4 KiB blocks at random positions, adjacent ones coalesced into runs; the
//           location's read() against one curl process fetching the same runs from a --config
//           file (one url and range per run, so it keeps one connection). Time and bytes.
//   full:   the whole image read through the location with a BLAKE2b pass over the bytes as
//           they arrive, against curl downloading it into memory plus one BLAKE2b pass.
//
// Goals: ranges at most 1.5x curl's time, bytes at most 1.10x the runs; full at most 1.25x.
// It prints the figures and does not fail on them. Best of 5 rounds, the two sides taking turns.
//
//   build/bench/http_location_bench

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "image/hash.hpp"
#include "sources/http_location.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/web_server.hpp"

using namespace fwrescue;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr uint64_t image_size = 32ull << 20;
constexpr uint64_t block = 4096;
constexpr int rounds = 5;

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

/// 1 % of the blocks at random positions, adjacent ones coalesced.
std::vector<byte_run> damaged_runs() {
  std::mt19937_64 gen{42};
  std::set<uint64_t> picked;
  uint64_t blocks = image_size / block;
  while (picked.size() < blocks / 100)
    picked.insert(gen() % blocks);
  std::vector<byte_run> runs;
  for (auto b : picked) {
    if (!runs.empty() && runs.back().offset + runs.back().length == b * block)
      runs.back().length += block;
    else
      runs.push_back({b * block, block});
  }
  return runs;
}

/// Runs `argv`, its stdout into memory (up to `limit` bytes), its stderr discarded.
std::string run_capture(const std::vector<std::string>& args, size_t limit) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  auto copy = args;
  std::vector<char*> argv;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  text.reserve(limit);
  std::vector<char> buf(1 << 20);
  for (ssize_t n; (n = ::read(out[0], buf.data(), buf.size())) > 0;)
    text.append(buf.data(), static_cast<size_t>(std::min<size_t>(n, limit - text.size())));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(args[0] + " failed");
  return text;
}

struct measured {
  double ms = 1e300;
  uint64_t bytes = 0;
};

void keep_best(measured& best, double ms, uint64_t bytes) {
  if (ms < best.ms)
    best = {ms, bytes};
}

} // namespace

int main() {
  if (!init_crypto()) {
    fmt::print(stderr, "http_location_bench: libsodium failed to initialise\n");
    return 1;
  }
  test::temp_dir dir;
  auto www = dir.path("www");
  std::filesystem::create_directories(www);
  auto image = test::random_bytes(image_size, 7);
  test::write_bytes(www + "/bios.fd", image);
  test::lighttpd_server server{{.document_root = www, .work_dir = dir.path("")}};
  auto url = server.url() + "/bios.fd";
  http_source_config config;
  config.url = server.url();
  config.allow_http = true;
  located_image where{url, {}};

  auto runs = damaged_runs();
  uint64_t run_bytes = 0;
  for (const auto& r : runs)
    run_bytes += r.length;
  auto curl_config = dir.path("runs.curl");
  {
    std::ofstream out{curl_config};
    for (size_t i = 0; i < runs.size(); ++i)
      out << (i > 0 ? "next\n" : "") << "url = \"" << url << "\"\nrange = \"" << runs[i].offset
          << "-" << runs[i].offset + runs[i].length - 1 << "\"\noutput = \"/dev/null\"\n"
          << "write-out = \"%{size_download} %{size_header}\\n\"\n";
  }
  std::vector<uint8_t> staging(image_size);
  auto copy_sink = [&](uint64_t offset, std::span<const uint8_t> bytes) -> caf::error {
    std::copy(bytes.begin(), bytes.end(), staging.begin() + static_cast<ptrdiff_t>(offset));
    return {};
  };

  measured ours_ranges, curl_ranges, ours_full, curl_full;
  digest ours_digest{}, curl_digest{};
  for (int round = 0; round < rounds; ++round) {
    {
      auto start = clock_type::now();
      http_location location{config};
      if (auto err = location.read(where, runs, copy_sink)) {
        fmt::print(stderr, "http_location_bench: {}\n", describe(err));
        return 1;
      }
      keep_best(ours_ranges, ms_since(start), location.bytes_read());
    }
    {
      auto start = clock_type::now();
      auto lines = run_capture({"curl", "--silent", "--config", curl_config}, 1 << 20);
      double ms = ms_since(start);
      uint64_t bytes = 0;
      std::istringstream in{lines};
      for (uint64_t body, head; in >> body >> head;)
        bytes += body + head;
      keep_best(curl_ranges, ms, bytes);
    }
    {
      auto start = clock_type::now();
      http_location location{config};
      hasher h{hash_algorithm::blake2b_256};
      std::vector<byte_run> whole{{0, image_size}};
      auto err = location.read(where, whole, [&](uint64_t, std::span<const uint8_t> bytes) {
        h.update(bytes);
        return caf::error{};
      });
      if (err) {
        fmt::print(stderr, "http_location_bench: {}\n", describe(err));
        return 1;
      }
      ours_digest = h.finish();
      keep_best(ours_full, ms_since(start), location.bytes_read());
    }
    {
      auto start = clock_type::now();
      auto body = run_capture({"curl", "--silent", url}, image_size);
      curl_digest = plain_digest(hash_algorithm::blake2b_256,
                                 {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
      keep_best(curl_full, ms_since(start), body.size());
    }
  }
  if (ours_digest != curl_digest) {
    fmt::print(stderr, "http_location_bench: the two full reads hashed differently\n");
    return 1;
  }
  fmt::print("32 MiB image on lighttpd over loopback, best of {} rounds\n", rounds);
  fmt::print("ranges: {} blocks in {} runs, {} bytes\n", image_size / block / 100, runs.size(),
             run_bytes);
  fmt::print("  location  {:8.1f} ms  {:>9} bytes ({:.3f}x the runs)\n", ours_ranges.ms,
             ours_ranges.bytes, double(ours_ranges.bytes) / double(run_bytes));
  fmt::print("  curl      {:8.1f} ms  {:>9} bytes ({:.3f}x the runs)\n", curl_ranges.ms,
             curl_ranges.bytes, double(curl_ranges.bytes) / double(run_bytes));
  fmt::print("  time ratio {:.2f} (goal <= 1.5), bytes ratio {:.3f} (goal <= 1.10)\n",
             ours_ranges.ms / curl_ranges.ms, double(ours_ranges.bytes) / double(run_bytes));
  fmt::print("full read with one BLAKE2b pass:\n");
  fmt::print("  location  {:8.1f} ms  {:>9} bytes\n", ours_full.ms, ours_full.bytes);
  fmt::print("  curl      {:8.1f} ms  {:>9} bytes (+ hash after)\n", curl_full.ms, curl_full.bytes);
  fmt::print("  time ratio {:.2f} (goal <= 1.25)\n", ours_full.ms / curl_full.ms);
  return 0;
}
