#pragma once
// The Prometheus side of a report (docs/metrics.md): metric families built
// from a Report with prometheus-cpp's types, and the text exposition. The
// agent adds its own counters, histogram and process_* families; `scan
// --format prometheus` prints the report's families once.

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "rules/report.h"

namespace cvm::exporter {

using Families = std::vector<prometheus::MetricFamily>;

// Verdicts, checks, node info, the runc flag, GPUs, probe runs and the time
// the scan finished (`scan_end_unix`, seconds since the epoch). Every label
// value is valid UTF-8 (ValidUtf8) whatever the host's files hold.
Families ReportFamilies(const rules::Report& report, double scan_end_unix);

// cvm_preflight_build_info{version, revision} 1.
prometheus::MetricFamily BuildInfoFamily();

// The text exposition format 0.0.4 (prometheus::TextSerializer).
std::string RenderExposition(const Families& families);
inline constexpr const char* kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace cvm::exporter
