#pragma once

// Readers of the tables of the image locations a recovery may draw from besides its peers:
// recovery.sources, [local], [removable], [http] (docs/sources.md).

#include "config/node_config.hpp"
#include "config/table_reader.hpp"

namespace fwrescue::config_detail {

/// recovery.sources: each known name at most once.
void read_sources(table_reader& recovery, std::vector<std::string>& sources);

/// The location tables; a table whose source is listed in recovery.sources must say where the
/// images are (its `dir`, `watch` or `url`).
void read_local(table_reader r, local_source_config& local, bool listed);
void read_removable(table_reader r, removable_source_config& removable, bool listed);
void read_http(table_reader r, http_source_config& http, bool listed);

} // namespace fwrescue::config_detail
