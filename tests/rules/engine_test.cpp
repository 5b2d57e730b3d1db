// The engine: every operator, combinator and unknown propagation, on
// conditions loaded from YAML text the way users write them.
#include "rules/engine.h"

#include <gtest/gtest.h>

#include "rules/loader.h"

namespace cvm::rules {
namespace {

probe::Facts Sample() {
  probe::Facts f;
  f.Set("os.id", std::string("ubuntu"), "/etc/os-release");
  f.Set("os.id_like", probe::StringList{"debian"}, "/etc/os-release");
  f.Set("kernel.version", std::string("5.15.0"), "/proc/sys/kernel/osrelease");
  f.Set("kernel.release", std::string("5.15.0-48-generic"), "/proc/sys/kernel/osrelease");
  f.Set("kernel.major", std::int64_t{5}, "/proc/sys/kernel/osrelease");
  f.Set("selinux.mode", std::string("disabled"), "/sys/fs/selinux/enforce");
  return f;
}

Condition Parse(const std::string& yaml) {
  LoadResult r = LoadRulesText(
      "- id: t\n  title: t\n  reason: TestReason\n  severity: error\n  sources: [s]\n  expect: " + yaml + "\n",
      "test.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].Text());
  return r.rules.empty() ? Condition{} : r.rules[0].expect;
}

struct Row {
  std::string cond;
  Tri want;
};

TEST(EvaluateCondition, Table) {
  const Row rows[] = {
      {"{fact: os.id, in: [ubuntu, debian]}", Tri::kTrue},
      {"{fact: os.id, in: [rhel]}", Tri::kFalse},
      {"{fact: os.id, notIn: [rhel]}", Tri::kTrue},
      {"{fact: os.id_like, in: [debian]}", Tri::kTrue},
      {"{fact: os.id_like, notIn: [debian]}", Tri::kFalse},
      {"{fact: os.id, matches: '^ubu'}", Tri::kTrue},
      {"{fact: os.id, matches: '^rhel$'}", Tri::kFalse},
      {"{fact: os.id_like, matches: 'deb'}", Tri::kTrue},
      {"{fact: os.id, exists: true}", Tri::kTrue},
      {"{fact: os.version_id, exists: true}", Tri::kFalse},
      {"{fact: os.version_id, absent: true}", Tri::kTrue},
      {"{fact: os.id, eq: ubuntu}", Tri::kTrue},
      {"{fact: os.id, ne: ubuntu}", Tri::kFalse},
      {"{fact: kernel.major, eq: 5}", Tri::kTrue},
      {"{fact: kernel.major, gt: 4}", Tri::kTrue},
      {"{fact: kernel.major, ge: 6}", Tri::kFalse},
      {"{fact: kernel.major, lt: 6}", Tri::kTrue},
      {"{fact: kernel.major, le: 4}", Tri::kFalse},
      {"{fact: kernel.major, in: [4, 5]}", Tri::kTrue},
      {"{fact: kernel.version, ge: '5.12', scheme: kernel}", Tri::kTrue},
      {"{fact: kernel.version, lt: '5.4', scheme: kernel}", Tri::kFalse},
      {"{fact: kernel.version, gt: '5.15.0-rc1'}", Tri::kTrue},
      {"{fact: kernel.release, ge: '5.15.0-56', scheme: kernel}", Tri::kFalse},
      {"{fact: selinux.mode, notIn: [enforcing]}", Tri::kTrue},
      // Absent facts make every operator but exists/absent unknown.
      {"{fact: os.version_id, in: ['22.04']}", Tri::kUnknown},
      {"{fact: os.version_id, notIn: ['22.04']}", Tri::kUnknown},
      {"{fact: os.version_id, matches: x}", Tri::kUnknown},
      {"{fact: kernel.minor, gt: 1}", Tri::kUnknown},
      {"{fact: kernel.minor, ne: 1}", Tri::kUnknown},
      // Combinators.
      {"{allOf: [{fact: os.id, eq: ubuntu}, {fact: kernel.major, eq: 5}]}", Tri::kTrue},
      {"{allOf: [{fact: os.id, eq: ubuntu}, {fact: kernel.major, eq: 6}]}", Tri::kFalse},
      {"{allOf: [{fact: os.id, eq: ubuntu}, {fact: kernel.minor, eq: 6}]}", Tri::kUnknown},
      {"{allOf: [{fact: os.id, eq: rhel}, {fact: kernel.minor, eq: 6}]}", Tri::kFalse},
      {"{anyOf: [{fact: os.id, eq: rhel}, {fact: kernel.major, eq: 5}]}", Tri::kTrue},
      {"{anyOf: [{fact: os.id, eq: rhel}, {fact: kernel.major, eq: 6}]}", Tri::kFalse},
      {"{anyOf: [{fact: os.id, eq: rhel}, {fact: kernel.minor, eq: 6}]}", Tri::kUnknown},
      {"{anyOf: [{fact: os.id, eq: ubuntu}, {fact: kernel.minor, eq: 6}]}", Tri::kTrue},
      {"{not: {fact: os.id, eq: ubuntu}}", Tri::kFalse},
      {"{not: {fact: os.id, eq: rhel}}", Tri::kTrue},
      {"{not: {fact: kernel.minor, eq: 1}}", Tri::kUnknown},
  };
  probe::Facts facts = Sample();
  for (const auto& row : rows) {
    SCOPED_TRACE(row.cond);
    EXPECT_EQ(EvaluateCondition(Parse(row.cond), facts), row.want);
  }
}

RuleSet Load(const std::string& yaml) {
  LoadResult r = LoadRulesText(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].Text());
  RuleSet set;
  for (auto& rule : r.rules) set.Upsert(std::move(rule));
  return set;
}

const CheckResult* Check(const Evaluation& ev, std::string_view id) {
  for (const auto& c : ev.checks) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

TEST(Evaluate, StatusesAndVerdicts) {
  RuleSet set = Load(R"(
- id: pass-rule
  title: passes
  reason: TestReason
  severity: error
  expect: {fact: os.id, eq: ubuntu}
  sources: [s]
- id: warn-fail
  title: a failing warning
  reason: TestReason
  severity: warning
  expect: {fact: os.id, eq: rhel}
  fix: "os is {os.id}, kernel {kernel.release}, missing {os.version_id}"
  sources: [s]
- id: gpu-unknown
  title: unknown for gpu only
  reason: TestReason
  severity: error
  verdicts: [cvm-gpu]
  expect: {fact: kernel.minor, ge: 1}
  sources: [s]
- id: skipped-rule
  title: only on rhel
  reason: TestReason
  severity: error
  when: {fact: os.id, eq: rhel}
  expect: {fact: os.id, eq: nope}
  sources: [s]
- id: cached-fail
  title: fails for cached
  reason: TestReason
  severity: error
  verdicts: [cvm-cached]
  expect: {fact: kernel.major, ge: 6}
  sources: [s]
)");
  Evaluation ev = Evaluate(set, Sample(), "coder-v1");
  EXPECT_EQ(Check(ev, "pass-rule")->status, Status::kPass);
  const CheckResult* warn = Check(ev, "warn-fail");
  EXPECT_EQ(warn->status, Status::kFail);
  EXPECT_EQ(warn->fix, "os is ubuntu, kernel 5.15.0-48-generic, missing unknown");
  EXPECT_EQ(warn->message, "Expected os.id == rhel; found os.id=ubuntu");
  EXPECT_EQ(Check(ev, "gpu-unknown")->status, Status::kUnknown);
  EXPECT_EQ(Check(ev, "skipped-rule")->status, Status::kSkipped);
  EXPECT_EQ(ev.Verdict("cvm")->value, Tri::kTrue);  // a failing warning does not block
  EXPECT_EQ(ev.Verdict("cvm-cached")->value, Tri::kFalse);
  EXPECT_EQ(ev.Verdict("cvm-cached")->because, std::vector<std::string>{"cached-fail"});
  EXPECT_EQ(ev.Verdict("cvm-gpu")->value, Tri::kUnknown);
  EXPECT_EQ(ev.Verdict("cvm-gpu")->because, std::vector<std::string>{"gpu-unknown"});
}

TEST(Evaluate, UnknownWhenMakesTheCheckUnknown) {
  RuleSet set = Load(R"(
- id: r
  title: t
  reason: TestReason
  severity: error
  when: {fact: os.version_id, eq: '22.04'}
  expect: {fact: os.id, eq: ubuntu}
  sources: [s]
)");
  EXPECT_EQ(Evaluate(set, Sample(), "coder-v1").checks[0].status, Status::kUnknown);
}

TEST(Evaluate, CvmChecksCountForEveryVerdict) {
  RuleSet set = Load(R"(
- id: r
  title: t
  reason: TestReason
  severity: error
  expect: {fact: os.id, eq: rhel}
  sources: [s]
)");
  Evaluation ev = Evaluate(set, Sample(), "coder-v1");
  for (auto v : kVerdicts) EXPECT_EQ(ev.Verdict(v)->value, Tri::kFalse) << v;
}

TEST(Evaluate, ProfilesFilterRulesAndChangeSeverity) {
  RuleSet set = Load(R"(
- id: only-v1
  title: t
  reason: TestReason
  severity: error
  profiles: [coder-v1]
  expect: {fact: os.id, eq: rhel}
  sources: [s]
- id: softer-elsewhere
  title: t
  reason: TestReason
  severity: error
  severityByProfile: {sysbox-0.7: warning}
  expect: {fact: os.id, eq: rhel}
  sources: [s]
)");
  Evaluation v1 = Evaluate(set, Sample(), "coder-v1");
  EXPECT_EQ(v1.checks.size(), 2u);
  EXPECT_EQ(v1.Verdict("cvm")->because,
            (std::vector<std::string>{"only-v1", "softer-elsewhere"}));
  Evaluation v7 = Evaluate(set, Sample(), "sysbox-0.7");
  ASSERT_EQ(v7.checks.size(), 1u);
  EXPECT_EQ(v7.checks[0].severity, Severity::kWarning);
  EXPECT_EQ(v7.Verdict("cvm")->value, Tri::kTrue);
}

TEST(Evaluate, CheckListsTheFactsItLookedAt) {
  RuleSet set = Load(R"(
- id: r
  title: t
  reason: TestReason
  severity: error
  when: {fact: os.id, eq: ubuntu}
  expect: {allOf: [{fact: kernel.major, ge: 5}, {fact: kernel.minor, ge: 1}]}
  sources: [s]
)");
  Evaluation ev = Evaluate(set, Sample(), "coder-v1");
  const CheckResult& c = ev.checks[0];
  ASSERT_EQ(c.facts.size(), 3u);
  EXPECT_EQ(c.facts[0].first, "os.id");
  EXPECT_EQ(c.facts[2].first, "kernel.minor");
  EXPECT_FALSE(c.facts[2].second.has_value());
  EXPECT_EQ(c.status, Status::kUnknown);
}

}  // namespace
}  // namespace cvm::rules
