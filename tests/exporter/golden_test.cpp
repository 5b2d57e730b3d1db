// One golden test per fixture: the whole scan of fixtures/<name>/root as
// JSON, volatile fields normalised, equals fixtures/<name>/expected.json.
// CVM_PREFLIGHT_UPDATE_GOLDEN=1 rewrites the goldens (review the diff).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "exporter/report_json.h"
#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "rules/loader.h"
#include "rules/report.h"
#include "tests/support/data.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter {
namespace {

namespace fs = std::filesystem;

// Times, the tool's version and the absolute root change from run to run.
nlohmann::json Normalize(nlohmann::json report) {
  report["root"] = "<root>";
  report["version"] = "<version>";
  for (auto& p : report["probes"]) p["duration_seconds"] = 0;
  return report;
}

nlohmann::json ScanFixture(const std::string& name) {
  cvm::testing::Fixture fixture(name);
  static const rules::RuleSetLoad kRules = rules::LoadRuleSet({});
  EXPECT_TRUE(kRules.errors.empty());
  return Normalize(ReportToJson(
      rules::BuildReport(fixture.Scan(), kRules.set, rules::kDefaultProfile)));
}

std::string UnifiedDiff(const std::string& want, const std::string& got) {
  cvm::testing::TempTree t;
  t.Write("expected.json", want);
  t.Write("actual.json", got);
  std::string cmd = "diff -u '" + t.Abs("expected.json") + "' '" +
                    t.Abs("actual.json") + "' 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, ScanEqualsExpectedJson) {
  const std::string name = GetParam();
  std::string path = cvm::testing::SourcePath("fixtures/" + name + "/expected.json");
  std::string got = ScanFixture(name).dump(2) + "\n";
  const char* update = std::getenv("CVM_PREFLIGHT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::trunc) << got;
    GTEST_SKIP() << "rewrote " << path;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with "
                                << "CVM_PREFLIGHT_UPDATE_GOLDEN=1 and review it";
  std::string want = cvm::testing::ReadText(path);
  EXPECT_EQ(want, got) << UnifiedDiff(want, got);
}

TEST_P(Golden, EveryFactIsDeclaredWithItsType) {
  probe::Facts facts = cvm::testing::Fixture(GetParam()).Scan();
  for (const auto& [name, fact] : facts.all()) {
    const probe::FactSpec* spec = probe::FindFactSpec(name);
    ASSERT_NE(spec, nullptr) << name << " is not in probe/fact_catalog.cpp";
    EXPECT_EQ(spec->type, probe::TypeOfValue(fact.value)) << name;
    EXPECT_FALSE(fact.source.empty()) << name << " has no source";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::ValuesIn(cvm::testing::FixtureNames()),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& c : s) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace cvm::exporter
