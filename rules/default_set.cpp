// The default rule set as the binary has it (its compiled form), and the
// rule set of a scan: defaults with the user's files on top.
#include "rules/loader.h"
#include "rules/rules_cpp.h"

namespace cvm::rules {

LoadResult LoadDefaultRules() {
  LoadResult all;
  all.rules = detail::CompiledDefaultRules();
  return all;
}

LoadResult LoadImageRules() {
  LoadResult all;
  all.rules = detail::CompiledImageRules();
  return all;
}

namespace {

RuleSetLoad Load(RuleSetKind kind, LoadResult defaults,
                 const std::vector<std::string>& user_paths) {
  RuleSetLoad out;
  out.set.kind = kind;
  for (auto& r : defaults.rules) out.set.Upsert(std::move(r));
  out.errors = defaults.errors;
  for (const auto& p : user_paths) {
    LoadResult user = LoadRulesPath(p, kind);
    for (auto& r : user.rules) out.set.Upsert(std::move(r));
    for (auto& e : user.errors) out.errors.push_back(std::move(e));
  }
  // Disabled rules are dropped after overrides, so a user file can turn a
  // default rule off by id.
  std::erase_if(out.set.rules, [](const Rule& r) { return !r.enabled; });
  return out;
}

}  // namespace

RuleSetLoad LoadRuleSet(const std::vector<std::string>& user_paths) {
  return Load(RuleSetKind::kNode, LoadDefaultRules(), user_paths);
}

RuleSetLoad LoadImageRuleSet(const std::vector<std::string>& user_paths) {
  return Load(RuleSetKind::kImage, LoadImageRules(), user_paths);
}

}  // namespace cvm::rules
