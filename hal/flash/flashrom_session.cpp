#include "hal/flash/flashrom_session.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

extern "C" {
#include <libflashrom.h>
}

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {
namespace {

/// Serialises every use of libflashrom in the process (see flashrom_session).
std::mutex& library_mutex() {
  static std::mutex mutex;
  return mutex;
}

/// The messages of the session that holds library_mutex(); null between sessions.
flashrom_messages* current_messages = nullptr;

/// Whether flashrom_init ran, and what it returned; guarded by library_mutex().
bool library_initialised = false;
int library_init_code = 0;

} // namespace
} // namespace fwrescue

extern "C" {

/// libflashrom's log callback: formats a fragment and hands it to the current session.
/// DEBUG2 and SPEW (one line per SPI command and per chip probed) are dropped unformatted.
static int fwrescue_flashrom_log(enum flashrom_log_level level, const char* format, va_list args) {
  auto* messages = fwrescue::current_messages;
  if (!messages || level > FLASHROM_MSG_DEBUG)
    return 0;
  va_list again;
  va_copy(again, args);
  char small[256];
  int n = std::vsnprintf(small, sizeof small, format, args);
  if (n >= 0 && static_cast<size_t>(n) < sizeof small) {
    messages->add(level, std::string_view{small, static_cast<size_t>(n)});
  } else if (n > 0) {
    std::string text(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(text.data(), text.size(), format, again);
    text.pop_back();
    messages->add(level, text);
  }
  va_end(again);
  return n;
}
}

namespace fwrescue {
namespace {

/// A layout of the one region [start, start + length), set on the chip for as long as it lives:
/// flashrom reads, erases and writes only the included regions of the layout in force.
class one_region {
public:
  one_region(flashrom_flashctx* chip, uint64_t start, uint64_t length) : chip_(chip) {
    if (flashrom_layout_new(&layout_) != 0)
      return;
    ok_ = flashrom_layout_add_region(layout_, start, start + length - 1, "fwrescue") == 0
          && flashrom_layout_include_region(layout_, "fwrescue") == 0;
    if (ok_)
      flashrom_layout_set(chip_, layout_);
  }
  one_region(const one_region&) = delete;
  one_region& operator=(const one_region&) = delete;
  ~one_region() {
    if (ok_)
      flashrom_layout_set(chip_, nullptr);
    flashrom_layout_release(layout_);
  }

  bool ok() const {
    return ok_;
  }

private:
  flashrom_flashctx* chip_;
  flashrom_layout* layout_ = nullptr;
  bool ok_ = false;
};

log_level our_level(int flashrom_level) {
  switch (flashrom_level) {
    case FLASHROM_MSG_ERROR:
      return log_level::error;
    case FLASHROM_MSG_WARN:
      return log_level::warn;
    default:
      // flashrom's INFO is its progress chatter ("Reading flash... done."), which every
      // operation repeats; the daemon reports what it does itself.
      return log_level::debug;
  }
}

/// A line ending in ':' introduces a list that follows ("Valid choices are:"); an error quotes
/// only the sentences before it.
std::string without_list_intro(std::string line) {
  if (line.empty() || line.back() != ':')
    return line;
  auto stop = line.rfind(". ");
  return stop == std::string::npos ? line : line.substr(0, stop + 1);
}

} // namespace

flashrom_target make_flashrom_target(std::string spec, std::string chip) {
  auto colon = spec.find(':');
  flashrom_target t;
  t.name = spec.substr(0, colon);
  t.params = colon == std::string::npos ? std::string{} : spec.substr(colon + 1);
  t.spec = std::move(spec);
  t.chip = std::move(chip);
  return t;
}

void flashrom_messages::add(int flashrom_level, std::string_view text) {
  while (!text.empty()) {
    auto newline = text.find('\n');
    auto part = text.substr(0, newline);
    // A line's level is that of its most severe fragment.
    line_level_ = line_.empty() ? flashrom_level : std::min(line_level_, flashrom_level);
    line_.append(part);
    if (newline == std::string_view::npos)
      return;
    emit();
    text.remove_prefix(newline + 1);
  }
}

void flashrom_messages::flush() {
  if (!line_.empty())
    emit();
}

void flashrom_messages::emit() {
  auto first = line_.find_first_not_of(" \t");
  auto last = line_.find_last_not_of(" \t");
  std::string line = first == std::string::npos ? "" : line_.substr(first, last - first + 1);
  line_.clear();
  if (line.empty())
    return;
  // Some errors come at INFO level ("Error: Unknown programmer"), so the text counts too.
  bool is_error =
    line_level_ == FLASHROM_MSG_ERROR || line.starts_with("Error") || line.starts_with("ERROR");
  if (is_error && first_error_.empty()) {
    first_error_ = line;
    for (std::string_view prefix : {"Error: ", "ERROR: "})
      if (first_error_.starts_with(prefix))
        first_error_.erase(0, prefix.size());
    first_error_ = without_list_intro(first_error_);
  }
  // probe_flash's "Found <vendor> flash chip "<name>" (<size> kB, <bus>) on <programmer>."
  constexpr std::string_view found = " flash chip \"";
  auto name = line.find(found);
  if (found_chip_.empty() && line.starts_with("Found ") && name != std::string::npos) {
    auto from = name + found.size();
    auto to = line.find('"', from);
    if (to != std::string::npos)
      found_chip_ = line.substr(from, to - from);
  }
  if (sink_)
    sink_(our_level(line_level_), line);
}

flashrom_session::flashrom_session(const flashrom_target& target, const flashrom_log_sink& sink)
  : lock_(library_mutex()), target_(target), messages_(sink) {
  current_messages = &messages_;
}

flashrom_session::~flashrom_session() {
  close();
  current_messages = nullptr;
}

caf::error flashrom_session::open() {
  if (!library_initialised) {
    flashrom_set_log_callback(&fwrescue_flashrom_log);
    // The self-check looks over flashrom's chip table; it and the delay calibration run once.
    library_init_code = flashrom_init(1);
    library_initialised = true;
  }
  if (library_init_code != 0)
    return make_error(errc::io_failure, fmt::format("flashrom: the library failed its self-check "
                                                    "(code {})",
                                                    library_init_code));
  initialised_ = true;
  auto* params = target_.params.empty() ? nullptr : target_.params.c_str();
  if (int code = flashrom_programmer_init(&programmer_, target_.name.c_str(), params)) {
    messages_.flush();
    return make_error(errc::io_failure,
                      fmt::format("flashrom: programmer '{}' could not be initialised {}",
                                  target_.spec, reason(code)));
  }
  auto* name = target_.chip.empty() ? nullptr : target_.chip.c_str();
  int code = flashrom_flash_probe(&chip_, programmer_, name);
  messages_.flush();
  if (code == 3)
    return make_error(errc::io_failure,
                      fmt::format("flashrom ({}): more than one chip definition matches the chip "
                                  "found; name the one to use",
                                  target_.name));
  if (code != 0 && name)
    return make_error(errc::io_failure, fmt::format("flashrom ({}): no chip '{}' found (code {})",
                                                    target_.name, target_.chip, code));
  if (code != 0)
    return make_error(errc::io_failure, fmt::format("flashrom ({}): no flash chip found (code {})",
                                                    target_.name, code));
  chip_size_ = flashrom_flash_getsize(chip_);
  return caf::none;
}

caf::error flashrom_session::read(std::span<uint8_t> chip, uint64_t start, uint64_t length) {
  one_region region{chip_, start, length};
  if (!region.ok())
    return failed("read", start, length, -1);
  int code = flashrom_image_read(chip_, chip.data(), chip.size());
  messages_.flush();
  return code == 0 ? caf::none : failed("read", start, length, code);
}

caf::error flashrom_session::write(const char* op, std::span<uint8_t> chip,
                                   const uint8_t* reference, uint64_t start, uint64_t length) {
  one_region region{chip_, start, length};
  if (!region.ok())
    return failed(op, start, length, -1);
  int code = flashrom_image_write(chip_, chip.data(), chip.size(), reference);
  messages_.flush();
  return code == 0 ? caf::none : failed(op, start, length, code);
}

caf::error flashrom_session::erase(uint64_t start, uint64_t length) {
  one_region region{chip_, start, length};
  if (!region.ok())
    return failed("erase", start, length, -1);
  int code = flashrom_flash_erase(chip_);
  messages_.flush();
  return code == 0 ? caf::none : failed("erase", start, length, code);
}

caf::error flashrom_session::close() {
  if (chip_) {
    flashrom_flash_release(chip_);
    chip_ = nullptr;
  }
  int code = 0;
  if (initialised_) {
    code = flashrom_programmer_shutdown(programmer_);
    programmer_ = nullptr;
    initialised_ = false;
  }
  messages_.flush();
  if (code != 0)
    return make_error(errc::io_failure, fmt::format("flashrom ({}): programmer shutdown failed {}",
                                                    target_.name, reason(code)));
  return caf::none;
}

caf::error flashrom_session::failed(std::string_view op, uint64_t start, uint64_t length,
                                    int code) const {
  return make_error(errc::io_failure,
                    fmt::format("flashrom ({}): {} of {:#x}..{:#x} failed {}", target_.name, op,
                                start, start + length - 1, reason(code)));
}

std::string flashrom_session::reason(int code) const {
  if (code == -1)
    return "(no memory for the layout)";
  if (messages_.first_error().empty())
    return fmt::format("(code {})", code);
  return fmt::format("(code {}): {}", code, messages_.first_error());
}

} // namespace fwrescue
