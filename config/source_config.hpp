#pragma once

#include <cstdint>
#include <string>
#include <vector>

// The tables of the image locations a recovery may draw from besides its peers
// (recovery.sources; docs/sources.md).

namespace fwrescue {

/// [local]: signed images on the BMC's own storage.
struct local_source_config {
  /// The directory holding images and their manifests (NAME and NAME.fwm).
  std::string dir;
  /// After a successful recovery, keep the installed image there as the golden copy; the older
  /// one is removed only once the new one verifies.
  bool keep_golden = false;
  friend bool operator==(const local_source_config&, const local_source_config&) = default;
};

/// [removable]: removable media (USB, PCMCIA flash) mounted on the BMC.
struct removable_source_config {
  /// Directories watched for media: each is a medium's mount point or holds mount points one
  /// level down (/media/fwrescue with /media/fwrescue/usb0 mounted under it).
  std::vector<std::string> watch;
  friend bool operator==(const removable_source_config&,
                         const removable_source_config&) = default;
};

/// [http]: a web server holding signed images, listed by an index of manifests.
struct http_source_config {
  /// The base URL; the index is `index` under it, and paths in the index are relative to it.
  std::string url;
  /// The index's name under the base URL: one manifest path per line.
  std::string index = "index";
  /// Plain http:// URLs are refused unless this is set (images are signed either way, but an
  /// attacker on the path could withhold them unseen).
  bool allow_http = false;
  /// PEM file of the certificate authorities a server's certificate must chain to; empty: the
  /// system's.
  std::string ca_file;
  /// A client certificate and its key (PEM) for servers that ask for one; both or neither.
  std::string client_cert;
  std::string client_key;
  /// How long connecting may take.
  uint32_t connect_timeout_ms = 5000;
  /// A transfer that moves no byte for this long is cut and retried.
  uint32_t stall_timeout_s = 15;
  /// Tries after the first for a request that fails on the way (connection refused or cut,
  /// timeout, HTTP 5xx); each resumes from the last byte received.
  uint32_t retries = 3;
  /// Backoff between tries: starts here and doubles.
  uint32_t backoff_initial_ms = 250;
  friend bool operator==(const http_source_config&, const http_source_config&) = default;
};

} // namespace fwrescue
