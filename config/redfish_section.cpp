#include "config/redfish_section.hpp"

namespace fwrescue::config_detail {

void read_redfish(table_reader r, redfish_config& redfish) {
  r.boolean("enabled", redfish.enabled);
  bool on = redfish.enabled;
  r.text("listen", redfish.listen, false, "an \"IPv4:port\" address such as \"127.0.0.1:8443\"",
         valid_endpoint);
  r.path("cert_file", redfish.cert_file, on);
  r.path("key_file", redfish.key_file, on);
  r.path("credentials", redfish.credentials, on);
  // Each thread holds a connection and its buffers; a BMC has one or two cores.
  r.integer("threads", redfish.threads, 1, 16);
  r.integer("max_body_kib", redfish.max_body_kib, 1, 1024);
  r.integer("timeout_s", redfish.timeout_s, 1, 300);
  r.integer("tasks_kept", redfish.tasks_kept, 1, 1024);
  r.finish();
}

} // namespace fwrescue::config_detail
