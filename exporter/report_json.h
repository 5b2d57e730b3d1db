#pragma once
// The JSON report (docs/report-format.md): schema, tool version, then the
// facts part from probe/facts_json.h.

#include <nlohmann/json.hpp>

#include "probe/facts.h"

namespace cvm::exporter {

nlohmann::json ReportToJson(const probe::Facts& facts);

}  // namespace cvm::exporter
