#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace fwrescue {

/// Error codes of the project. They travel inside `caf::error` under the category atom
/// `fwrescue`, always with a rendered message a person can act on as context.
enum class errc : uint8_t {
  /// A caller passed a value outside what the function accepts.
  invalid_argument = 1,
  /// A file or device could not be read or written.
  io_failure,
  /// Bytes that should hold one of our formats do not.
  malformed,
  /// A format or protocol version we do not speak.
  unsupported_version,
  /// No trusted key has the id a signature names.
  unknown_key,
  /// A signature does not verify.
  bad_signature,
  /// An image's size differs from what its manifest says.
  size_mismatch,
  /// An image's content differs from what its manifest says.
  content_mismatch,
  /// Refused to replace something that exists.
  already_exists,
  /// Not newer than what is held already (a revocation list of an older or equal serial).
  stale,
};

/// The category atom of every project error.
constexpr caf::atom_value error_category = caf::atom("fwrescue");

/// Makes a project error carrying `what` as its human-readable description.
caf::error make_error(errc code, std::string what);

/// Returns the code of a project error, or nothing when `err` belongs to another category.
bool has_code(const caf::error& err, errc code);

/// Renders any error as one line: the description for project errors, CAF's rendering otherwise.
std::string describe(const caf::error& err);

} // namespace fwrescue
