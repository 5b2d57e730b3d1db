// Bad rule files, each with its exact error; overrides and disabling.
#include "rules/loader.h"

#include <functional>

#include <gtest/gtest.h>

#include "rules/rules_cpp.h"
#include "tests/support/temp_tree.h"

namespace cvm::rules {
namespace {

std::string FirstError(const std::string& yaml) {
  LoadResult r = LoadRulesText(yaml, "f.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  EXPECT_TRUE(r.rules.empty()) << "a bad file must be rejected whole";
  return r.errors.empty() ? "" : r.errors[0].Text();
}

const std::string kHead = "- id: r\n  title: t\n  reason: TestReason\n  severity: error\n  sources: [s]\n";

TEST(LoadRules, BadFilesGiveExactErrors) {
  struct Row {
    std::string yaml, error;
  };
  const Row rows[] = {
      {"- id: [unclosed\n", "f.yaml:2:1: end of sequence flow not found"},
      {"id: x\n", "f.yaml:1:1: a rule file is a list of rules"},
      {kHead + "  expect: {fact: os.nothing, in: [a]}\n",
       "f.yaml:6:18: unknown fact 'os.nothing' (see docs/facts.md)"},
      {kHead + "  expect: {fact: kernel.major, gt: five}\n",
       "f.yaml:6:36: kernel.major is an integer; 'five' is not"},
      {kHead + "  expect: {fact: os.id, isTrue: true}\n",
       "f.yaml:6:33: isTrue needs a boolean fact; os.id is a string"},
      {kHead + "  expect: {fact: os.id, matches: '('}\n",
       "f.yaml:6:34: bad regular expression '(': "},
      {kHead + "  expect: {fact: os.id, in: a}\n", "f.yaml:6:29: in takes a list"},
      {kHead + "  expect: {fact: os.id}\n",
       "f.yaml:6:11: a fact condition needs exactly one operator"},
      {kHead + "  expect: {fact: os.id, in: [a], eq: b}\n",
       "f.yaml:6:11: a fact condition needs exactly one operator"},
      {kHead + "  expect: {fact: os.id, bogus: 1}\n",
       "f.yaml:6:25: unknown condition key 'bogus'"},
      {kHead + "  expect: {allOf: []}\n",
       "f.yaml:6:19: allOf needs a non-empty list of conditions"},
      {kHead + "  expect: {fact: os.id, in: [a]}\n  colour: red\n",
       "f.yaml:7:3: unknown rule key 'colour'"},
      {"- id: r\n  title: t\n  reason: TestReason\n  severity: error\n  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:1:3: rule is missing 'sources'"},
      {"- id: r\n  title: t\n  reason: TestReason\n  severity: error\n  sources: []\n  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:5:12: a rule needs at least one source"},
      {"- id: Not_Kebab\n  title: t\n  reason: TestReason\n  severity: error\n  sources: [s]\n  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:1:7: id 'Not_Kebab' must be kebab-case"},
      {"- id: r\n  title: t\n  severity: error\n  sources: [s]\n  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:1:3: rule is missing 'reason'"},
      {"- id: r\n  title: t\n  reason: selinux-on\n  severity: error\n  sources: [s]\n"
       "  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:3:11: reason 'selinux-on' must be CamelCase"},
      {"- id: r\n  title: t\n  reason: SELinux On\n  severity: error\n  sources: [s]\n"
       "  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:3:11: reason 'SELinux On' must be CamelCase"},
      {kHead + "  verdicts: [cvm-fast]\n  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:6:13: unknown verdict 'cvm-fast' (cvm, cvm-cached, cvm-gpu)"},
      {kHead + "  profiles: [coder-v3]\n  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:6:13: unknown profile 'coder-v3'"},
      {kHead + "  expect: {fact: os.id, ge: '1', scheme: semver}\n",
       "f.yaml:6:42: scheme must be upstream, kernel, dpkg or rpm"},
      {kHead + "  expect: {fact: os.id, in: [a]}\n" + kHead + "  expect: {fact: os.id, in: [a]}\n",
       "f.yaml:7:3: duplicate rule id 'r'"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.yaml);
    std::string got = FirstError(row.yaml);
    EXPECT_EQ(got.substr(0, row.error.size()), row.error);
  }
}

TEST(LoadRules, EmptyFileHasNoRules) {
  LoadResult r = LoadRulesText("", "empty.yaml");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.rules.empty());
}

TEST(LoadRules, DefaultSetLoadsCleanlyAndEveryRuleHasSources) {
  LoadResult r = LoadDefaultRules();
  for (const auto& e : r.errors) ADD_FAILURE() << e.Text();
  EXPECT_FALSE(r.rules.empty());
  for (const auto& rule : r.rules) {
    EXPECT_FALSE(rule.sources.empty()) << rule.id;
    EXPECT_FALSE(rule.title.empty()) << rule.id;
    EXPECT_FALSE(rule.reason.empty()) << rule.id;
  }
}

// The compiled form the binary starts with is the YAML as the loader reads
// it: every field of every rule and condition (RulesAsCpp writes them all),
// and the compiled `matches` conditions have their regex.
TEST(LoadRules, CompiledDefaultRulesAreTheYamlAsLoaded) {
  LoadResult yaml = LoadDefaultRulesFromYaml();
  ASSERT_TRUE(yaml.ok());
  LoadResult compiled = LoadDefaultRules();
  ASSERT_TRUE(compiled.ok());
  ASSERT_EQ(compiled.rules.size(), yaml.rules.size());
  EXPECT_EQ(RulesAsCpp(compiled.rules), RulesAsCpp(yaml.rules));
  int regexes = 0;
  std::function<void(const Condition&)> check = [&](const Condition& c) {
    if (c.op == Op::kMatches) {
      ++regexes;
      EXPECT_NE(c.regex, nullptr) << c.pattern;
    }
    for (const auto& child : c.children) check(child);
  };
  for (const auto& r : compiled.rules) {
    check(r.expect);
    if (r.when) check(*r.when);
  }
  EXPECT_GT(regexes, 0);
}

// RulesAsCpp writes every field: a rule differing in any one of them is
// written differently.
TEST(RulesAsCpp, EveryFieldIsWritten) {
  Rule base;
  base.id = "a";
  base.expect = detail::MakeCondition(Op::kEq, "kernel.release", {detail::StringLiteral("x")},
                                      std::nullopt, "", {});
  std::vector<std::function<void(Rule&)>> changes = {
      [](Rule& r) { r.id = "b"; },
      [](Rule& r) { r.title = "t"; },
      [](Rule& r) { r.reason = "R"; },
      [](Rule& r) { r.severity = Severity::kInfo; },
      [](Rule& r) { r.profile_severity["coder-v2"] = Severity::kWarning; },
      [](Rule& r) { r.verdicts = {"cvm"}; },
      [](Rule& r) { r.profiles = {"coder-v2"}; },
      [](Rule& r) { r.when = r.expect; },
      [](Rule& r) { r.expect.op = Op::kNe; },
      [](Rule& r) { r.expect.fact = "os.id"; },
      [](Rule& r) { r.expect.values = {detail::IntLiteral(3)}; },
      [](Rule& r) { r.expect.values = {detail::BoolLiteral(true)}; },
      [](Rule& r) { r.expect.scheme = VersionScheme::kKernel; },
      [](Rule& r) { r.expect.pattern = "^x"; },
      [](Rule& r) { r.expect.children = {r.expect}; },
      [](Rule& r) { r.fix = "f"; },
      [](Rule& r) { r.rationale = "why"; },
      [](Rule& r) { r.sources = {"s"}; },
      [](Rule& r) { r.enabled = false; },
      [](Rule& r) { r.file = "f.yaml"; },
      [](Rule& r) { r.line = 7; },
  };
  const std::string written = RulesAsCpp({base});
  for (std::size_t i = 0; i < changes.size(); ++i) {
    SCOPED_TRACE(i);
    Rule r = base;
    changes[i](r);
    EXPECT_NE(RulesAsCpp({r}), written);
  }
}

TEST(LoadRuleSet, UserRulesOverrideAndDisableDefaults) {
  cvm::testing::TempTree t;
  t.Write("rules/10-override.yaml",
          "- id: selinux-not-enforcing\n  title: Mine\n  reason: TestReason\n  severity: warning\n"
          "  expect: {fact: selinux.mode, notIn: [enforcing]}\n  sources: [local policy]\n");
  t.Write("rules/20-off.yaml", "- id: selinux-not-permissive\n  enabled: false\n");
  t.Write("rules/30-broken.yaml", "- id: broken\n  title: t\n  reason: TestReason\n");
  RuleSetLoad load = LoadRuleSet({t.Abs("rules")});
  const Rule* mine = load.set.Find("selinux-not-enforcing");
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(mine->title, "Mine");
  EXPECT_EQ(mine->severity, Severity::kWarning);
  EXPECT_EQ(load.set.Find("selinux-not-permissive"), nullptr);
  EXPECT_EQ(load.set.Find("broken"), nullptr);
  ASSERT_FALSE(load.errors.empty());
  EXPECT_NE(load.errors[0].file.find("30-broken.yaml"), std::string::npos);
  EXPECT_NE(load.set.Find("selinux-config-not-enforcing"), nullptr)
      << "defaults still run when a user file is bad";
}

TEST(LoadRuleSet, MissingPathIsAnError) {
  RuleSetLoad load = LoadRuleSet({"/no/such/rules"});
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0].Text(), "/no/such/rules: no such rule file or directory");
}

}  // namespace
}  // namespace cvm::rules
