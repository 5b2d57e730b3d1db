#pragma once
// The JSON report (docs/report-format.md): schema, tool version, facts,
// sources, errors and probes (probe/facts_json.h), then the profile, checks,
// verdicts and every profile's verdicts.

#include <nlohmann/json.hpp>

#include "probe/facts.h"
#include "rules/report.h"

namespace cvm::exporter {

nlohmann::json ReportToJson(const rules::Report& report);
// The facts-only report, for callers without rules (kept for tools).
nlohmann::json FactsReportToJson(const probe::Facts& facts);

}  // namespace cvm::exporter
