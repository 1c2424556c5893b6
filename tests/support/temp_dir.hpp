#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fwrescue::test {

/// A fresh directory under the system's temporary directory, removed with its contents when
/// the object goes out of scope.
class temp_dir {
public:
  temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir();

  /// Path of `name` inside the directory.
  std::string path(const std::string& name) const;

private:
  std::filesystem::path dir_;
};

/// `n` bytes from a deterministic generator seeded with `seed`.
std::vector<uint8_t> random_bytes(size_t n, uint64_t seed);

/// Writes `bytes` to `path`, replacing it.
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

/// The whole content of `path`; throws (failing the test) when it cannot be read.
std::vector<uint8_t> read_bytes(const std::string& path);

/// `n` bytes of `v` from `offset`.
std::vector<uint8_t> slice(const std::vector<uint8_t>& v, size_t offset, size_t n);

} // namespace fwrescue::test
