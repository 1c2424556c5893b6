#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/manifest.hpp"

namespace fwrescue {

/// A run of an image's bytes: [offset, offset + length).
struct byte_run {
  uint64_t offset = 0;
  uint64_t length = 0;
  friend bool operator==(const byte_run&, const byte_run&) = default;
};

/// One image a location holds: its manifest, decoded but not trusted, and where its bytes are.
struct located_image {
  /// Where the image is, for logs and status ("/media/usb0/bios.fd",
  /// "https://fw.example/x/bios.fd").
  std::string where;
  signed_manifest manifest;
};

/// Receives the bytes of one run, in order, possibly in several pieces (`offset` is the image
/// offset of the piece's first byte). An error it returns stops the read and is returned by it.
using run_sink = std::function<caf::error(uint64_t offset, std::span<const uint8_t> bytes)>;

/// A place an operator prepared in advance with signed images: a directory on the BMC's own
/// storage, removable media, a web server. Everything a location returns is untrusted: the
/// caller checks each manifest's signature and rules and each block against its digest, as it
/// does for a peer's. Calls block on file or network I/O: they run off the actor scheduler.
///
/// Images sit beside their manifests: the manifest of image `NAME` is `NAME.fwm`.
class image_location {
public:
  virtual ~image_location() = default;

  /// The source's name in recovery.sources ("local", "removable", "http").
  virtual std::string name() const = 0;

  /// The images there now, manifests decoded (at most max_images). Fails with a one-line reason
  /// when the location cannot be looked at (no medium, server unreachable, malformed index); an
  /// image whose manifest cannot be read or decoded is left out, with its reason appended to
  /// `skipped` ("https://…/x.fwm: HTTP 404").
  virtual caf::expected<std::vector<located_image>> list(std::vector<std::string>& skipped) = 0;

  /// Reads `runs` (sorted, disjoint, within the image's size) of `image`, handing their bytes to
  /// `sink` in order. A location that cannot read runs alone (a web server without range
  /// requests) may read more and hand `sink` only the runs' bytes.
  virtual caf::error read(const located_image& image, std::span<const byte_run> runs,
                          const run_sink& sink) = 0;

  /// Bytes read from the location so far (manifests, indexes and image bytes, as transferred).
  virtual uint64_t bytes_read() const = 0;
};

/// Bounds on what a location may make a node read, whoever prepared it.
namespace location_limits {
/// Images looked at per location and listing.
constexpr size_t max_images = 64;
/// An index of manifests (a web server's `index`).
constexpr size_t max_index_bytes = 64 * 1024;
} // namespace location_limits

} // namespace fwrescue
