#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "hal/host_power.hpp"
#include "messages/manifest.hpp"
#include "messages/revocation.hpp"

namespace fwrescue {

/// Where a recovery stands, written before each step that must survive a crash.
struct recovery_journal {
  enum class phase : uint8_t {
    /// Blocks are being pulled into the staging file.
    transferring = 0,
    /// Every block of the target is in the staging file and verified.
    staged = 1,
    /// The flash is being rewritten from the staging file.
    flashing = 2,
  };
  phase at = phase::transferring;
  /// The target image's signed manifest, with its block digests.
  signed_manifest target;
  /// Node id of the donor the blocks came from (for status and logs).
  std::string donor;
};

const char* to_string(recovery_journal::phase p);

/// Non-volatile state of a node in one directory. Every write is atomic (temporary file, fsync,
/// rename), so a crash leaves either the old or the new version of each file.
///
/// Files: installed.fwm (installed manifest), svn_floor, journal (+ journal.fwm for its
/// target manifest), staging.img (staged image), host_before (the host's power state to
/// restore), revocations.fwr (the newest revocation list accepted).
class nv_store {
public:
  explicit nv_store(std::string dir);

  /// Creates the directory if needed and checks it is writable.
  caf::error open();

  const std::string& dir() const {
    return dir_;
  }

  /// The manifest of the image on the flash, if one was ever recorded.
  caf::expected<std::optional<signed_manifest>> installed_manifest() const;
  caf::error set_installed_manifest(const signed_manifest& m);

  /// The anti-rollback floor: 0 when never raised.
  caf::expected<uint32_t> svn_floor() const;
  /// Raises the floor to `svn`; never lowers it.
  caf::error raise_svn_floor(uint32_t svn);

  caf::expected<std::optional<recovery_journal>> journal() const;
  caf::error write_journal(const recovery_journal& j);
  /// Ends a recovery: removes the journal, its manifest and the staging file.
  caf::error clear_journal();

  /// The file blocks are staged in before flashing.
  std::string staging_path() const;

  /// The host's power state before a recovery first quieted it, while it is still to be
  /// restored; nothing when no recovery has touched the host. It lives apart from the journal,
  /// which every phase of every attempt rewrites: a later attempt, or a restart, finds the host
  /// off because an earlier one turned it off, and must restore the state before that.
  caf::expected<std::optional<power_state>> host_before() const;
  /// Records `s` as the state to restore, unless one is recorded already (then that one stays).
  caf::error remember_host_before(power_state s);
  /// Forgets the recorded state, once it has been restored.
  caf::error forget_host_before();

  /// The newest revocation list this node accepted, if any (not checked again here: it was
  /// checked before it was stored).
  caf::expected<std::optional<signed_revocations>> revocations() const;
  /// Stores a checked revocation list in place of the previous one.
  caf::error set_revocations(const signed_revocations& r);

private:
  std::string dir_;
};

} // namespace fwrescue
