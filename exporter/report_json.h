#pragma once
// The JSON report (docs/report-format.md): schema, tool version, facts,
// sources, errors and probes (probe/facts_json.h), then the profile, checks,
// verdicts and every profile's verdicts.

#include <nlohmann/json.hpp>

#include "probe/facts.h"
#include "rules/report.h"

namespace cvm::exporter {

nlohmann::json ReportToJson(const rules::Report& report);
// The "checks" array of one evaluation (also the cluster checks of
// `cvm-preflight report --format json`).
nlohmann::json ChecksToJson(const rules::Evaluation& ev);

// A report (or any JSON) as text that is valid JSON and valid UTF-8 whatever
// bytes the host's files held: every byte of a string or key that is not
// part of well-formed UTF-8 becomes U+FFFD, one per bad byte, the rule the
// Prometheus exposition follows too (exporter/utf8.h, docs/report-format.md).
// Never throws for bad text. `indent` as nlohmann's dump (-1: one line).
std::string DumpJson(const nlohmann::json& j, int indent = 2);
// The facts-only report, for callers without rules (kept for tools).
nlohmann::json FactsReportToJson(const probe::Facts& facts);

}  // namespace cvm::exporter
