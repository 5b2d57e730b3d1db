#pragma once
// The default rule set's compiled form: rules/compile_rules.cpp loads
// rules/default/*.yaml with the loader at build time (a load error fails
// the build) and writes them as C++ that builds the same Rules, so a
// start of the binary parses no YAML. RulesAsCpp writes that C++;
// MakeCondition and the literal helpers are what it calls.

#include <optional>
#include <string>
#include <vector>

#include "rules/rule.h"

namespace cvm::rules {

// C++ definitions of one function per rule and of CompiledDefaultRules()
// returning them in order, every field of every rule and condition
// written out (to be put in namespace cvm::rules::detail).
// `function` names that function (CompiledImageRules for the image set).
std::string RulesAsCpp(const std::vector<Rule>& rules,
                       std::string_view function = "CompiledDefaultRules");

namespace detail {

Literal IntLiteral(std::int64_t i);
Literal StringLiteral(std::string s);
Literal BoolLiteral(bool b);
// A condition as the loader builds it; `matches` compiles its pattern as
// the loader does (ECMAScript).
Condition MakeCondition(Op op, std::string fact, std::vector<Literal> values,
                        std::optional<VersionScheme> scheme, std::string pattern,
                        std::vector<Condition> children);

// Generated (rules/compile_rules.cpp): the default rules, in load order.
std::vector<Rule> CompiledDefaultRules();
// Generated likewise from rules/default/image/*.yaml.
std::vector<Rule> CompiledImageRules();

}  // namespace detail
}  // namespace cvm::rules
