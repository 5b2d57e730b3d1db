#pragma once
// JSON form of Facts (docs/report-format.md): `facts` nested by dotted name,
// `sources` flat by dotted name, `errors`, `probes`. Round-trips.

#include <nlohmann/json.hpp>

#include "probe/facts.h"
#include "probe/result.h"

namespace cvm::probe {

// {"root", "facts", "sources", "errors", "probes"} of the report object.
nlohmann::json FactsToJson(const Facts& facts);
// The inverse, for tests and for rules run on a saved report. Errors name
// the JSON field that is wrong.
Result<Facts> FactsFromJson(const nlohmann::json& report);

}  // namespace cvm::probe
