#include "hal/flash/flashrom.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sys/mman.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {
namespace {

/// A buffer of the chip's size, as flashrom's read and write calls take, mapped anew for each
/// call: only the pages of the call's region are ever touched, so only they take memory, and all
/// of it goes back when the call returns (a malloc'ed buffer of this size would soon come from,
/// and stay in, the heap).
class chip_buffer {
public:
  explicit chip_buffer(uint64_t size) : size_(size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    data_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
  }
  chip_buffer(const chip_buffer&) = delete;
  chip_buffer& operator=(const chip_buffer&) = delete;
  ~chip_buffer() {
    if (data_)
      ::munmap(data_, size_);
  }

  /// Whether the mapping was made.
  explicit operator bool() const {
    return data_ != nullptr;
  }

  std::span<uint8_t> bytes() const {
    return {data_, size_};
  }

private:
  uint8_t* data_;
  size_t size_;
};

/// The value of `key` in a programmer's "k1=v1,k2=v2" parameters, or nothing.
std::optional<std::string> parameter(const std::string& params, std::string_view key) {
  size_t at = 0;
  while (at <= params.size()) {
    auto comma = std::min(params.find(',', at), params.size());
    std::string_view item{params.data() + at, comma - at};
    if (item.size() > key.size() && item.starts_with(key) && item[key.size()] == '=')
      return std::string{item.substr(key.size() + 1)};
    at = comma + 1;
  }
  return std::nullopt;
}

/// The dummy programmer emulates its chip in memory, loaded from image= at init and written
/// back at shutdown. It silently ignores a missing file or one of another size, starting from an
/// erased chip, and then replaces the file at the first write: refuse both here.
caf::error check_dummy_image(const flashrom_target& target, uint64_t chip_size) {
  auto image = parameter(target.params, "image");
  if (!image)
    return make_error(errc::invalid_argument,
                      "flashrom (dummy): no image= parameter: without it the emulated chip "
                      "starts erased at every call and forgets every write");
  struct stat st {};
  if (::stat(image->c_str(), &st) != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flashrom (dummy): image file {}: {}; create it with the "
                                  "emulated chip's size ({} bytes)",
                                  *image, std::strerror(errno), chip_size));
  if (static_cast<uint64_t>(st.st_size) != chip_size)
    return make_error(errc::invalid_argument,
                      fmt::format("flashrom (dummy): image file {} holds {} bytes, the emulated "
                                  "chip {}; flashrom would ignore it and replace it at the first "
                                  "write",
                                  *image, st.st_size, chip_size));
  return caf::none;
}

} // namespace

caf::expected<std::unique_ptr<flashrom_flash>> flashrom_flash::open(flashrom_options options) {
  auto target = make_flashrom_target(std::move(options.programmer), std::move(options.chip));
  if (target.name.empty())
    return make_error(
      errc::invalid_argument,
      fmt::format("flashrom: programmer '{}' names no programmer before its ':'", target.spec));
  if (options.erase_size == 0 || options.program_size == 0
      || options.erase_size % options.program_size != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flashrom ({}): erase size {} must be a non-zero multiple of the "
                                  "program size {}",
                                  target.name, options.erase_size, options.program_size));
  uint64_t size = 0;
  std::string found;
  {
    flashrom_session session{target, options.log};
    if (auto err = session.open())
      return err;
    size = session.chip_size();
    found = session.chip_name();
    if (auto err = session.close())
      return err;
  }
  // Later sessions probe for this chip alone: probing for every chip flashrom knows costs 0.2 s
  // with the dummy programmer, more on real buses, at every call.
  if (target.chip.empty())
    target.chip = std::move(found);
  if (size == 0 || size % options.erase_size != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flashrom ({}): the chip's size {} is not a multiple of the "
                                  "erase size {}",
                                  target.name, size, options.erase_size));
  if (target.name == "dummy")
    if (auto err = check_dummy_image(target, size))
      return err;
  flash_geometry geometry{size, options.erase_size, options.program_size};
  return std::unique_ptr<flashrom_flash>{
    new flashrom_flash(std::move(target), std::move(options.log), geometry)};
}

flashrom_flash::flashrom_flash(flashrom_target target, flashrom_log_sink log,
                               flash_geometry geometry)
  : target_(std::move(target)), log_(std::move(log)), geometry_(geometry) {
}

flash_geometry flashrom_flash::geometry() const {
  return geometry_;
}

caf::error flashrom_flash::start(flashrom_session& session) const {
  if (auto err = session.open())
    return err;
  if (session.chip_size() != geometry_.size)
    return make_error(errc::io_failure,
                      fmt::format("flashrom ({}): the chip now has {} bytes, {} when opened",
                                  target_.name, session.chip_size(), geometry_.size));
  return caf::none;
}

caf::error flashrom_flash::read(uint64_t offset, std::span<uint8_t> out) {
  if (!in_chip(offset, out.size()))
    return refuse(fmt::format("read of {} bytes at {:#x} is outside the chip (size {:#x})",
                              out.size(), offset, geometry_.size));
  if (out.empty())
    return caf::none;
  chip_buffer chip{geometry_.size};
  if (!chip)
    return no_memory("read", offset, out.size());
  std::lock_guard guard{mutex_};
  flashrom_session session{target_, log_};
  if (auto err = start(session))
    return err;
  if (auto err = session.read(chip.bytes(), offset, out.size()))
    return err;
  std::copy_n(chip.bytes().begin() + static_cast<ptrdiff_t>(offset), out.size(), out.begin());
  return session.close();
}

caf::error flashrom_flash::erase(uint64_t offset, uint64_t length) {
  if (offset % geometry_.erase_size != 0 || length % geometry_.erase_size != 0)
    return refuse(fmt::format("erase of {:#x} bytes at {:#x}: offset and length must be "
                              "multiples of the erase size {:#x}",
                              length, offset, geometry_.erase_size));
  std::lock_guard guard{mutex_};
  if (auto err = check_write("erase", offset, length))
    return err;
  if (length == 0)
    return caf::none;
  flashrom_session session{target_, log_};
  if (auto err = start(session))
    return err;
  if (auto err = session.erase(offset, length))
    return err;
  return session.close();
}

caf::error flashrom_flash::program(uint64_t offset, std::span<const uint8_t> data) {
  auto page = geometry_.program_size;
  if (!data.empty() && offset / page != (offset + data.size() - 1) / page)
    return refuse(fmt::format("program of {} bytes at {:#x} crosses a page boundary (page size "
                              "{}); split it at multiples of the page size",
                              data.size(), offset, page));
  return program_range(offset, data);
}

caf::error flashrom_flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard guard{mutex_};
  if (auto err = check_write("program", offset, data.size()))
    return err;
  if (data.empty())
    return caf::none;
  return and_into(offset, data);
}

caf::error flashrom_flash::and_into(uint64_t offset, std::span<const uint8_t> data) {
  chip_buffer buffer{geometry_.size};
  if (!buffer)
    return no_memory("program", offset, data.size());
  flashrom_session session{target_, log_};
  if (auto err = start(session))
    return err;
  auto cells = buffer.bytes();
  if (auto err = session.read(cells, offset, data.size()))
    return err;
  // A NOR cell can only go from 1 to 0 when programmed: the result is old AND new. flashrom
  // programs without erasing where that is possible, and otherwise erases the block first and
  // programs old AND new into it; the cells end up the same.
  auto region = cells.subspan(offset, data.size());
  std::transform(region.begin(), region.end(), data.begin(), region.begin(),
                 [](uint8_t old, uint8_t now) { return static_cast<uint8_t>(old & now); });
  // No reference of what was just read: flashrom copies a reference whole, the chip's size,
  // which costs more than its reading the region again.
  if (auto err = session.write("program", cells, nullptr, offset, data.size()))
    return err;
  return session.close();
}

caf::error flashrom_flash::rewrite(uint64_t offset, std::span<const uint8_t> data) {
  if (offset % geometry_.erase_size != 0 || data.size() % geometry_.erase_size != 0)
    return refuse(fmt::format("rewrite of {:#x} bytes at {:#x}: offset and length must be "
                              "multiples of the erase size {:#x}",
                              data.size(), offset, geometry_.erase_size));
  std::lock_guard guard{mutex_};
  if (auto err = check_write("rewrite", offset, data.size()))
    return err;
  if (data.empty())
    return caf::none;
  chip_buffer chip{geometry_.size};
  if (!chip)
    return no_memory("rewrite", offset, data.size());
  flashrom_session session{target_, log_};
  if (auto err = start(session))
    return err;
  std::copy(data.begin(), data.end(), chip.bytes().begin() + static_cast<ptrdiff_t>(offset));
  // No reference: flashrom reads the region itself, which it needs to skip the blocks that
  // already hold their data, and which this object could only do the same way.
  if (auto err = session.write("write", chip.bytes(), nullptr, offset, data.size()))
    return err;
  return session.close();
}

caf::error flashrom_flash::set_write_protect(bool on) {
  std::lock_guard guard{mutex_};
  write_protected_ = on;
  return caf::none;
}

caf::error flashrom_flash::check_write(const char* op, uint64_t offset, uint64_t length) const {
  if (write_protected_)
    return make_error(errc::io_failure,
                      fmt::format("flashrom ({}): {} of {:#x} bytes at {:#x}: write-protected",
                                  target_.name, op, length, offset));
  if (!in_chip(offset, length))
    return refuse(fmt::format("{} of {:#x} bytes at {:#x} is outside the chip (size {:#x})", op,
                              length, offset, geometry_.size));
  return caf::none;
}

caf::error flashrom_flash::no_memory(const char* op, uint64_t offset, uint64_t length) const {
  return make_error(errc::io_failure,
                    fmt::format("flashrom ({}): {} of {:#x} bytes at {:#x}: no memory for a "
                                "buffer of the chip's size ({:#x} bytes)",
                                target_.name, op, length, offset, geometry_.size));
}

caf::error flashrom_flash::refuse(const std::string& what) const {
  return make_error(errc::invalid_argument, fmt::format("flashrom ({}): {}", target_.name, what));
}

} // namespace fwrescue
