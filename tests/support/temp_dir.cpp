#include "tests/support/temp_dir.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

namespace fwrescue::test {

temp_dir::temp_dir() {
  auto pattern = (std::filesystem::temp_directory_path() / "fwrescue-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary directory");
  dir_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string temp_dir::path(const std::string& name) const {
  return (dir_ / name).string();
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 gen{seed};
  std::vector<uint8_t> out(n);
  for (auto& b : out)
    b = static_cast<uint8_t>(gen());
  return out;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> out{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  if (in.bad())
    throw std::runtime_error("cannot read " + path);
  return out;
}

std::vector<uint8_t> slice(const std::vector<uint8_t>& v, size_t offset, size_t n) {
  if (offset > v.size() || n > v.size() - offset)
    throw std::out_of_range("slice past the end");
  return {v.begin() + static_cast<ptrdiff_t>(offset),
          v.begin() + static_cast<ptrdiff_t>(offset + n)};
}

} // namespace fwrescue::test
