#pragma once

// Signed images in a directory a web server serves, signed with the project's own code as
// `fwrescue sign` does, and the checks the web location tests share.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "common/error.hpp"
#include "image/signing.hpp"
#include "messages/manifest.hpp"
#include "sources/image_location.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwrescue::test {

/// A temporary directory with `www/` to serve and room for a server's configuration.
struct web_images {
  temp_dir dir;
  secret_key key = secret_key::generate();
  std::map<std::string, signed_manifest> manifests;

  web_images() {
    std::filesystem::create_directories(www());
  }

  std::string www() const {
    return dir.path("www");
  }

  std::string www(const std::string& path) const {
    return www() + "/" + path;
  }

  /// Writes `path` under www/ (directories made as needed).
  void put(const std::string& path, std::string_view text) const {
    put(path, std::vector<uint8_t>{text.begin(), text.end()});
  }

  void put(const std::string& path, const std::vector<uint8_t>& bytes) const {
    std::filesystem::create_directories(std::filesystem::path{www(path)}.parent_path());
    write_bytes(www(path), bytes);
  }

  /// Writes image `name` (`size` random bytes) and its signed manifest `name.fwm`.
  std::vector<uint8_t> add_image(const std::string& name, size_t size, uint64_t seed) {
    auto image = random_bytes(size, seed);
    put(name, image);
    manifest fields;
    fields.platform = {"Acme", "X11"};
    fields.version = name;
    fields.svn = 1;
    fields.image_size = size;
    fields.block_size = 4096;
    fields.created_at = 1795000000;
    auto hashed = hash_image_file(www(name), fields.hash, fields.block_size);
    REQUIRE(hashed);
    auto m = sign_manifest(key, fields, hashed->tree);
    REQUIRE(m);
    put(name + ".fwm", encode_manifest_file(*m));
    manifests[name] = std::move(*m);
    return image;
  }
};

/// A sink that keeps what it is handed and checks that pieces come in order, each byte once.
struct collecting_sink {
  std::map<uint64_t, std::vector<uint8_t>> runs; // by the offset of a run's first byte
  uint64_t next = 0;
  uint64_t pieces = 0;
  bool overlapped = false;

  run_sink sink() {
    return [this](uint64_t offset, std::span<const uint8_t> bytes) -> caf::error {
      ++pieces;
      if (offset < next)
        overlapped = true;
      if (runs.empty() || offset != next)
        runs[offset] = {};
      auto& run = std::prev(runs.end())->second;
      run.insert(run.end(), bytes.begin(), bytes.end());
      next = offset + bytes.size();
      return {};
    };
  }

  /// Whether exactly `want` arrived, each run with the image's bytes.
  void check(const std::vector<uint8_t>& image, std::span<const byte_run> want) const {
    CHECK_FALSE(overlapped);
    // Adjacent runs arrive as one piece sequence; compare byte for byte over the union.
    std::vector<uint8_t> got_bytes, want_bytes;
    for (const auto& [offset, bytes] : runs) {
      (void)offset;
      got_bytes.insert(got_bytes.end(), bytes.begin(), bytes.end());
    }
    for (const auto& run : want)
      want_bytes.insert(want_bytes.end(), image.begin() + static_cast<ptrdiff_t>(run.offset),
                        image.begin() + static_cast<ptrdiff_t>(run.offset + run.length));
    CHECK(got_bytes.size() == want_bytes.size());
    CHECK(got_bytes == want_bytes);
    // And each run starts where it should.
    for (const auto& [offset, bytes] : runs) {
      bool starts_a_run = false;
      for (const auto& run : want)
        starts_a_run |= run.offset == offset;
      CHECK(starts_a_run);
      (void)bytes;
    }
  }
};

inline uint64_t total_length(std::span<const byte_run> runs) {
  uint64_t n = 0;
  for (const auto& r : runs)
    n += r.length;
  return n;
}

} // namespace fwrescue::test
