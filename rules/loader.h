#pragma once
// Loads rule files (YAML, docs/rules.md) into Rules, checking every field:
// unknown keys, fact names not in the catalog, operators that do not fit
// the fact's type, bad regexes, missing sources. Errors carry file, line and
// column. A file with any error is rejected whole.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule.h"

namespace cvm::rules {

struct LoadError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string message;
  std::string Text() const;  // "file:line:col: message"
};

struct LoadResult {
  std::vector<Rule> rules;
  std::vector<LoadError> errors;
  bool ok() const { return errors.empty(); }
};

// Parses one file's text; `file` names it in errors and in Rule::file.
// `kind` says which verdicts a rule may name (a rule without `verdicts`
// counts for cvm, or for image in an image rule file).
LoadResult LoadRulesText(std::string_view text, const std::string& file,
                         RuleSetKind kind = RuleSetKind::kNode);
// The kind of a rule file's text: image when any rule names the verdict
// image, else node (`rules validate` of a file it is not told the kind of).
RuleSetKind DetectKind(std::string_view text);

// The default rule set compiled into the binary: rules/default/*.yaml as
// the loader reads them, turned into C++ at build time (rules/rules_cpp.h),
// so no YAML is parsed at start. Never has errors: they fail the build.
LoadResult LoadDefaultRules();
// The same files parsed from their YAML text now (the build step, tests).
LoadResult LoadDefaultRulesFromYaml();
// The cluster checks (rules/cluster/*.yaml), parsed from their embedded
// YAML when `cvm-preflight report` first judges the cluster.* facts.
LoadResult LoadClusterRules();
// The image rule set (rules/default/image/*.yaml, `cvm-preflight image`),
// compiled in as the default rules are, and parsed from its YAML.
LoadResult LoadImageRules();
LoadResult LoadImageRulesFromYaml();

// Every *.yaml / *.yml in a directory (sorted), or one file. User files,
// loaded as `kind`; without one, each file as DetectKind says.
LoadResult LoadRulesPath(const std::string& path,
                         std::optional<RuleSetKind> kind = RuleSetKind::kNode);

// Default rules, then each path's rules on top (same id replaces; a file
// with errors is skipped whole and its errors returned).
struct RuleSetLoad {
  RuleSet set;
  std::vector<LoadError> errors;
};
RuleSetLoad LoadRuleSet(const std::vector<std::string>& user_paths);
// The image rule set with each path's image rules on top (as LoadRuleSet).
RuleSetLoad LoadImageRuleSet(const std::vector<std::string>& user_paths);

}  // namespace cvm::rules
