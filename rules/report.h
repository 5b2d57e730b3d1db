#pragma once
// The Report: facts, the selected profile's checks and verdicts, every
// profile's verdicts, and rule-loading errors. What the sinks take out.

#include <string>
#include <vector>

#include "probe/facts.h"
#include "rules/engine.h"
#include "rules/loader.h"

namespace cvm::rules {

struct Report {
  probe::Facts facts;
  Evaluation selected;                // the chosen profile
  std::vector<Evaluation> profiles;   // every profile, in kProfiles order
  std::vector<LoadError> rule_errors; // user rule files rejected
};

Report BuildReport(probe::Facts facts, const RuleSet& rules,
                   std::string_view profile,
                   std::vector<LoadError> rule_errors = {});

}  // namespace cvm::rules
