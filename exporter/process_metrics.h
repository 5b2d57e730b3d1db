#pragma once
// process_* metrics of the running process, read from /proc/self at each
// scrape (the names client libraries use: prometheus/client_golang's
// process collector).

#include "exporter/metrics.h"

namespace cvm::exporter {

// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds. A file that cannot be read leaves its
// families out.
Families ProcessFamilies();

}  // namespace cvm::exporter
