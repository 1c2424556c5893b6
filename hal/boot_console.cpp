#include "hal/boot_console.hpp"

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/unique_fd.hpp"

namespace fwrescue {

namespace {

constexpr size_t chunk_size = 64 * 1024;
/// A poll reads at most this much: a host that floods its console is read over several polls.
constexpr size_t max_per_poll = 4 * 1024 * 1024;
constexpr size_t max_line = 120;

} // namespace

const char* to_string(boot_outcome o) {
  switch (o) {
    case boot_outcome::booted:
      return "booted";
    case boot_outcome::no_output:
      return "no_output";
    case boot_outcome::no_pattern:
      return "no_pattern";
  }
  return "unknown";
}

uint64_t console_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return 0;
  return static_cast<uint64_t>(st.st_size);
}

boot_console_watch::boot_console_watch(std::string path, uint64_t offset,
                                       std::vector<std::string> patterns)
  : path_(std::move(path)), offset_(offset), patterns_(std::move(patterns)) {
  for (const auto& p : patterns_)
    keep_ = std::max(keep_, p.empty() ? size_t{0} : p.size() - 1);
}

bool boot_console_watch::poll() {
  if (matched_)
    return true;
  unique_fd fd{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0)
    return false;
  // A log that shrank was replaced: the new one is read from its start.
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) < offset_)
    offset_ = 0;
  std::string buf(chunk_size, '\0');
  size_t read_now = 0;
  while (!matched_ && read_now < max_per_poll) {
    auto n = ::pread(fd.get(), buf.data(), buf.size(), static_cast<off_t>(offset_));
    if (n <= 0)
      break;
    offset_ += static_cast<uint64_t>(n);
    read_now += static_cast<size_t>(n);
    verdict_.bytes_seen += static_cast<uint64_t>(n);
    scan(std::string_view{buf.data(), static_cast<size_t>(n)});
  }
  return matched_;
}

void boot_console_watch::scan(std::string_view chunk) {
  for (char c : chunk) {
    if (c == '\n' || c == '\r') {
      if (!line_.empty())
        verdict_.last_line = line_;
      line_.clear();
    } else if (c >= 0x20 && c <= 0x7e && line_.size() < max_line) {
      line_.push_back(c);
    }
  }
  carry_.append(chunk);
  for (const auto& p : patterns_)
    if (!p.empty() && carry_.find(p) != std::string::npos) {
      matched_ = true;
      verdict_.matched = p;
      return;
    }
  if (carry_.size() > keep_)
    carry_.erase(0, carry_.size() - keep_);
}

boot_verdict boot_console_watch::verdict() const {
  auto v = verdict_;
  if (!line_.empty())
    v.last_line = line_;
  v.outcome = matched_ ? boot_outcome::booted
              : v.bytes_seen == 0 ? boot_outcome::no_output
                                  : boot_outcome::no_pattern;
  return v;
}

} // namespace fwrescue
