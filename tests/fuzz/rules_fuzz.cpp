// libFuzzer target for rule files (user input: --rules) and for a saved
// JSON report read back into Facts, evaluated with the default rules.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "probe/facts_json.h"
#include "rules/engine.h"
#include "rules/loader.h"
#include "rules/version.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  cvm::rules::LoadResult loaded = cvm::rules::LoadRulesText(text, "fuzz.yaml");
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_discarded()) {
    if (auto facts = cvm::probe::FactsFromJson(json); facts.has_value()) {
      cvm::rules::RuleSet set;
      for (auto& r : loaded.rules) set.Upsert(std::move(r));
      (void)cvm::rules::Evaluate(set, *facts, "coder-v1");
    }
  }
  auto mid = text.size() / 2;
  for (auto scheme : {cvm::rules::VersionScheme::kUpstream, cvm::rules::VersionScheme::kKernel,
                      cvm::rules::VersionScheme::kDpkg, cvm::rules::VersionScheme::kRpm}) {
    (void)cvm::rules::CompareVersions(text.substr(0, mid), text.substr(mid), scheme);
  }
  return 0;
}
