#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "hal/flash.hpp"
#include "hal/flash/flashrom_session.hpp"

namespace fwrescue {

/// How to reach a chip through libflashrom.
struct flashrom_options {
  /// The programmer string, verbatim: "name[:parameters]", as flashrom's -p takes it
  /// ("linux_mtd", "linux_spi:dev=/dev/spidev0.0", "internal", "dummy:emulate=W25Q128FV,image=F").
  std::string programmer;
  /// A chip name from flashrom's list ("W25Q128.V"); empty probes for every chip flashrom knows
  /// at open (0.2 s with the dummy programmer) and for the one found there afterwards.
  std::string chip;
  /// flashrom learns the chip's size from its table; the sector and page sizes the flasher plans
  /// with are ours. erase_size should be the chip's smallest erase block: flashrom erases with
  /// the first erase function its table lists that works, and a region smaller than that block
  /// costs it a read of the block's other bytes and a write back of them.
  uint32_t erase_size = 4096;
  uint32_t program_size = 256;
  /// Where flashrom's messages go (may be empty).
  flashrom_log_sink log;
};

/// A flash chip behind any programmer libflashrom (1.3) supports.
///
/// Every call is one flashrom session: programmer init, chip probe, one flashrom operation
/// through a layout whose only included region is the bytes the call names, and programmer
/// shutdown. So nothing of the chip is held between calls: a read sees what other writers did
/// since, and when a write-type call returns, the chip holds its result, including the dummy
/// programmer's image file, which flashrom writes back only at shutdown (so that QEMU, `fwrescue
/// verify` and tests reading the file see every completed write). The cost is an init and a
/// probe per call: with the dummy programmer and a 16 MiB chip, 2 ms once warm (10 to 100 ms
/// while its buffers are first faulted in), as it copies its whole image file in, and after a
/// write out again; a real programmer opens its device and sends a probe command, small beside
/// the flash I/O, at recovery frequency. The `internal` programmer's init (chipset detection)
/// is slower; see docs/flashrom.md.
///
/// rewrite() is one flashrom_image_write over exactly the sectors given: flashrom reads that
/// region, then erases and programs only the erase blocks whose content differs, and checks each
/// erased block reads back erased. libflashrom 1.3 erases with the first erase function in its
/// chip table that works, 4 KiB sectors on SPI NOR; it does not merge them into 32 or 64 KiB
/// blocks (1.4's erase planner does). Nothing outside the region is read or written. erase() is
/// flashrom's erase over such a region; program() reads the region, ANDs the data into it and
/// writes that back.
///
/// flashrom's verify-after-write is off: on 1.3 it first waits one second in a busy loop (a core
/// of a BMC's one or two, for each call that writes), and the flasher reads every written sector
/// back and checks it against the image's hashes anyway.
///
/// Write protection is this object's state, as file_flash's: erase, program and rewrite fail
/// while it is on. libflashrom 1.3 can set some chips' status-register protection
/// (flashrom_wp_*), which is not used: whether a chip supports it varies, and a recovery must not
/// depend on it.
///
/// Thread-safe: calls are serialised by this object's mutex, and every flashrom session in the
/// process by flashrom_session's lock (libflashrom is not thread-safe and keeps global state).
class flashrom_flash : public flash {
public:
  /// Initialises the programmer and probes the chip once to learn its size, which must be a
  /// multiple of `erase_size` (a non-zero multiple of the non-zero `program_size`). With the
  /// dummy programmer, its image= file must exist with the emulated chip's size: flashrom would
  /// otherwise start from an erased chip at every call and replace the file at the first write.
  static caf::expected<std::unique_ptr<flashrom_flash>> open(flashrom_options options);

  flash_geometry geometry() const override;
  caf::error read(uint64_t offset, std::span<uint8_t> out) override;
  caf::error erase(uint64_t offset, uint64_t length) override;
  /// One page at most, as on the chip; the cells become old AND new.
  caf::error program(uint64_t offset, std::span<const uint8_t> data) override;
  /// Any run of bytes in one flashrom write; the cells become old AND new.
  caf::error program_range(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error rewrite(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error set_write_protect(bool on) override;

private:
  flashrom_flash(flashrom_target target, flashrom_log_sink log, flash_geometry geometry);

  /// Opens a session on the chip this object was opened with (the same size).
  caf::error start(flashrom_session& session) const;

  /// Old AND new over [offset, offset + data.size()) in one session; the caller checked it.
  caf::error and_into(uint64_t offset, std::span<const uint8_t> data);

  /// Refuses a write-type call while protected or outside the chip; `op` names it.
  caf::error check_write(const char* op, uint64_t offset, uint64_t length) const;

  /// The error when the chip-sized buffer flashrom needs cannot be mapped.
  caf::error no_memory(const char* op, uint64_t offset, uint64_t length) const;

  /// An error for a request the chip would reject: "flashrom (name): what".
  caf::error refuse(const std::string& what) const;

  bool in_chip(uint64_t offset, uint64_t length) const {
    return offset <= geometry_.size && length <= geometry_.size - offset;
  }

  std::mutex mutex_;
  flashrom_target target_;
  flashrom_log_sink log_;
  flash_geometry geometry_;
  bool write_protected_ = false;
};

} // namespace fwrescue
