#include "exporter/report_json.h"

#include "exporter/version.h"
#include "probe/facts_json.h"

namespace cvm::exporter {

nlohmann::json ReportToJson(const probe::Facts& facts) {
  nlohmann::json report = probe::FactsToJson(facts);
  report["schema"] = kReportSchema;
  report["version"] = kVersion;
  return report;
}

}  // namespace cvm::exporter
