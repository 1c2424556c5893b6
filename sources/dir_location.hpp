#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sources/image_location.hpp"

namespace fwrescue {

/// The images in directories of this machine: a golden-copy directory on the BMC's own storage
/// (`local`), or the media mounted under watched directories (`removable`: each watched
/// directory, and each directory one level down, is a medium).
///
/// What a medium holds is untrusted in its shape as well as its content: symbolic links,
/// devices and pipes are never opened (a link to /dev/watchdog must not be read), and an image
/// that disappears or changes while it is read ends the read with a one-line error.
class dir_location : public image_location {
public:
  /// `name` is the source's name; `depth` 0 looks in `roots` only, 1 also in each directory
  /// directly under them.
  dir_location(std::string name, std::vector<std::string> roots, int depth);

  std::string name() const override {
    return name_;
  }
  caf::expected<std::vector<located_image>> list(std::vector<std::string>& skipped) override;
  caf::error read(const located_image& image, std::span<const byte_run> runs,
                  const run_sink& sink) override;
  uint64_t bytes_read() const override {
    return bytes_read_;
  }

private:
  std::string name_;
  std::vector<std::string> roots_;
  int depth_;
  uint64_t bytes_read_ = 0;
};

} // namespace fwrescue
