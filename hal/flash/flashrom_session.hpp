#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "common/log.hpp"

struct flashrom_flashctx;
struct flashrom_programmer;

namespace fwrescue {

/// Where flashrom's messages go: one call per complete line, at our level for flashrom's.
using flashrom_log_sink = std::function<void(log_level, std::string_view)>;

/// What a session opens: a programmer and, optionally, the chip to probe for.
struct flashrom_target {
  /// The programmer string as configured, "name[:parameters]", for error messages.
  std::string spec;
  /// Before the first ':' ("dummy", "linux_mtd", "linux_spi", "internal", "ft2232_spi").
  std::string name;
  /// After it, as flashrom_programmer_init takes them; empty when there are none.
  std::string params;
  /// A chip name from flashrom's list ("W25Q128.V"); empty probes for every chip flashrom knows.
  std::string chip;
};

/// Splits `spec` at its first ':' into programmer name and parameters.
flashrom_target make_flashrom_target(std::string spec, std::string chip);

/// Turns flashrom's message fragments into lines (it prints "Reading flash... " and "done.\n"
/// apart) for the sink, and keeps the first error line, which a failed call's error quotes:
/// flashrom's return codes alone do not say what went wrong.
class flashrom_messages {
public:
  explicit flashrom_messages(const flashrom_log_sink& sink) : sink_(sink) {
  }

  /// A fragment at flashrom's level (enum flashrom_log_level).
  void add(int flashrom_level, std::string_view text);

  /// Passes on a line left without its newline.
  void flush();

  /// The first line flashrom logged as an error, without its "Error: " prefix; empty if none.
  const std::string& first_error() const {
    return first_error_;
  }

  /// The name of the chip a probe reported found ("W25Q128.V"); empty if none.
  const std::string& found_chip() const {
    return found_chip_;
  }

private:
  void emit();

  const flashrom_log_sink& sink_;
  std::string line_;
  int line_level_ = 0;
  std::string first_error_;
  std::string found_chip_;
};

/// One use of libflashrom, from programmer init to shutdown.
///
/// libflashrom keeps the programmer, its bus masters and the log callback in process globals and
/// is not thread-safe, so a session holds a process-wide lock from construction to destruction:
/// one session at a time in the process, whichever flash object opened it. The log callback is
/// installed once and passes messages to the sink of the session holding the lock.
class flashrom_session {
public:
  /// Waits for the lock; `target` and `sink` must outlive the session.
  flashrom_session(const flashrom_target& target, const flashrom_log_sink& sink);
  flashrom_session(const flashrom_session&) = delete;
  flashrom_session& operator=(const flashrom_session&) = delete;
  /// Shuts the programmer down if close() was not called.
  ~flashrom_session();

  /// Initialises the programmer and probes for the chip.
  caf::error open();

  /// The probed chip's size in bytes.
  uint64_t chip_size() const {
    return chip_size_;
  }

  /// The probed chip's name in flashrom's list, which a later session can probe for alone; taken
  /// from flashrom's message, as libflashrom 1.3 has no call that tells it. Empty if not seen.
  const std::string& chip_name() const {
    return messages_.found_chip();
  }

  /// Reads the chip bytes [start, start + length) into `chip`, a buffer of the chip's size, at
  /// the same offsets; flashrom reads nothing outside that region.
  caf::error read(std::span<uint8_t> chip, uint64_t start, uint64_t length);

  /// Writes `chip`'s bytes [start, start + length) to the chip: flashrom erases and programs
  /// only the erase blocks of that region whose content differs. `reference`, when not null,
  /// holds the region's current content (flashrom then does not read it first); `op` names the
  /// operation in the error.
  caf::error write(const char* op, std::span<uint8_t> chip, const uint8_t* reference,
                   uint64_t start, uint64_t length);

  /// Erases the erase blocks of [start, start + length), checking each reads back erased.
  caf::error erase(uint64_t start, uint64_t length);

  /// Shuts the programmer down (the dummy programmer writes its image file now).
  caf::error close();

private:
  /// "flashrom (name): `op` of 0xa..0xb failed (code n): <flashrom's first error line>".
  caf::error failed(std::string_view op, uint64_t start, uint64_t length, int code) const;

  /// "(code n): <flashrom's first error line>", or "(code n)" when it logged none.
  std::string reason(int code) const;

  std::unique_lock<std::mutex> lock_;
  const flashrom_target& target_;
  flashrom_messages messages_;
  flashrom_programmer* programmer_ = nullptr;
  flashrom_flashctx* chip_ = nullptr;
  uint64_t chip_size_ = 0;
  /// flashrom_programmer_init was called: shutdown is owed, even after a failed init (flashrom's
  /// own command line does the same, as an init can register cleanups before it fails).
  bool initialised_ = false;
};

} // namespace fwrescue
