#pragma once
// Runs a rule set over Facts for one profile: tri-state conditions, check
// results with the facts they looked at, and the three verdicts.

#include <optional>
#include <string>
#include <vector>

#include "probe/facts.h"
#include "rules/rule.h"

namespace cvm::rules {

// Three-valued logic: a condition over a fact that is absent is unknown.
enum class Tri { kFalse, kTrue, kUnknown };
std::string_view TriName(Tri t);  // "false", "true", "unknown"

enum class Status { kPass, kFail, kUnknown, kSkipped };
std::string_view StatusName(Status s);

struct CheckResult {
  std::string id;
  std::string title;
  std::string reason;  // the rule's, for the node condition
  Status status = Status::kUnknown;
  Severity severity = Severity::kError;
  std::vector<std::string> verdicts;
  // The facts the rule looked at; nullopt where absent.
  std::vector<std::pair<std::string, std::optional<probe::FactValue>>> facts;
  std::string message;  // what was found, for people
  std::string fix;      // placeholders filled; empty on pass/skip
  std::vector<std::string> sources;
};

struct VerdictResult {
  std::string name;
  Tri value = Tri::kUnknown;
  std::vector<std::string> because;  // failing (or unknown) error checks
};

struct Evaluation {
  std::string profile;
  std::vector<CheckResult> checks;
  std::vector<VerdictResult> verdicts;  // in VerdictsOf(kind) order
  const VerdictResult* Verdict(std::string_view name) const;
};

Tri EvaluateCondition(const Condition& c, const probe::Facts& facts);
Evaluation Evaluate(const RuleSet& rules, const probe::Facts& facts,
                    std::string_view profile);
// "{kernel.release}" -> the value; absent facts read "unknown".
std::string FillPlaceholders(std::string_view text, const probe::Facts& facts);

}  // namespace cvm::rules
