// The Prometheus families of a report (exporter/metrics.h): one golden
// exposition per fixture (fixtures/<name>/expected.prom, probe durations and
// the scan time set to 0), every golden linted by Debian's promtool, and
// what each family must say on fixtures that make it meaningful.
// CVM_PREFLIGHT_UPDATE_GOLDEN=1 rewrites the goldens (review the diff).
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "exporter/metrics.h"
#include "exporter/utf8.h"
#include "rules/loader.h"
#include "rules/report.h"
#include "tests/support/data.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter {
namespace {

namespace fs = std::filesystem;

rules::Report ScanReport(const std::string& name,
                         std::string_view profile = rules::kDefaultProfile) {
  static const rules::RuleSetLoad kRules = rules::LoadRuleSet({});
  return rules::BuildReport(cvm::testing::Fixture(name).Scan(), kRules.set, profile);
}

std::string GoldenExposition(const rules::Report& report) {
  Families families = ReportFamilies(report, 0);
  for (auto& f : families) {
    if (f.name != "cvm_preflight_probe_duration_seconds") continue;
    for (auto& m : f.metric) m.gauge.value = 0;
  }
  return RenderExposition(families);
}

const prometheus::MetricFamily* FindFamily(const Families& fs, std::string_view name) {
  for (const auto& f : fs) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string Label(const prometheus::ClientMetric& m, std::string_view name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "<none>";
}

struct Command {
  int status;
  std::string output;
};

Command RunShell(const std::string& cmd) {
  Command c{-1, ""};
  if (FILE* p = ::popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) c.output.append(buf, n);
    int st = ::pclose(p);
    c.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  return c;
}

class GoldenProm : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenProm, ExpositionEqualsExpectedProm) {
  const std::string name = GetParam();
  std::string path = cvm::testing::SourcePath("fixtures/" + name + "/expected.prom");
  std::string got = GoldenExposition(ScanReport(name));
  const char* update = std::getenv("CVM_PREFLIGHT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::trunc) << got;
    GTEST_SKIP() << "rewrote " << path;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with "
                                << "CVM_PREFLIGHT_UPDATE_GOLDEN=1 and review it";
  EXPECT_EQ(cvm::testing::ReadText(path), got);
}

// promtool reads the exposition on stdin and names each problem (names,
// units, help text, label syntax); its exit status is 0 for clean input.
TEST_P(GoldenProm, PromtoolChecksExpectedProm) {
  std::string path = cvm::testing::SourcePath("fixtures/" + GetParam() + "/expected.prom");
  ASSERT_TRUE(fs::exists(path)) << path;
  Command c = RunShell("promtool check metrics < '" + path + "'");
  EXPECT_EQ(c.status, 0) << "promtool (Debian's prometheus package) on " << path
                         << ":\n" << c.output;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenProm,
                         ::testing::ValuesIn(cvm::testing::FixtureNames()),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& c : s) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

TEST(Metrics, PromtoolRejectsABrokenExposition) {
  // The lint above can fail: a counter without _total and a bad name.
  cvm::testing::TempTree t;
  t.Write("bad.prom", "# HELP x_requests A counter\n# TYPE x_requests counter\n"
                      "x_requests 1\n");
  Command c = RunShell("promtool check metrics < '" + t.Abs("bad.prom") + "'");
  EXPECT_NE(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("_total"), std::string::npos) << c.output;
}

TEST(Metrics, VerdictsAreAbsentWhileUnknownAndFlaggedUnknown) {
  rules::Report report = ScanReport("debian-12");  // a partial root: unknowns
  Families fs = ReportFamilies(report, 0);
  const auto* verdict = FindFamily(fs, "cvm_preflight_verdict");
  const auto* unknown = FindFamily(fs, "cvm_preflight_verdict_unknown");
  ASSERT_TRUE(verdict && unknown);
  ASSERT_EQ(unknown->metric.size(), std::size(rules::kVerdicts));
  std::size_t known = 0;
  for (const auto& v : report.selected.verdicts) {
    known += v.value != rules::Tri::kUnknown;
  }
  EXPECT_EQ(verdict->metric.size(), known);
  for (const auto& m : unknown->metric) {
    const rules::VerdictResult* v = report.selected.Verdict(Label(m, "verdict"));
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(m.gauge.value, v->value == rules::Tri::kUnknown ? 1 : 0);
    EXPECT_EQ(Label(m, "profile"), "coder-v1");
  }
}

TEST(Metrics, KnownVerdictsOnAWholeHost) {
  // A fixture whose verdicts are known: each appears with 1 or 0.
  for (const std::string& name : cvm::testing::FixtureNames()) {
    rules::Report report = ScanReport(name);
    Families fs = ReportFamilies(report, 0);
    const auto* verdict = FindFamily(fs, "cvm_preflight_verdict");
    for (const auto& m : verdict->metric) {
      const rules::VerdictResult* v = report.selected.Verdict(Label(m, "verdict"));
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(m.gauge.value, v->value == rules::Tri::kTrue ? 1 : 0) << name;
      EXPECT_NE(v->value, rules::Tri::kUnknown) << name;
    }
  }
}

TEST(Metrics, OneCheckSeriesPerRuleWithItsStatus) {
  rules::Report report = ScanReport("rhel-8");
  Families fs = ReportFamilies(report, 0);
  const auto* checks = FindFamily(fs, "cvm_preflight_check_status");
  ASSERT_NE(checks, nullptr);
  ASSERT_EQ(checks->metric.size(), report.selected.checks.size());
  for (std::size_t i = 0; i < checks->metric.size(); ++i) {
    const auto& m = checks->metric[i];
    const auto& c = report.selected.checks[i];
    EXPECT_EQ(Label(m, "check"), c.id);
    EXPECT_EQ(Label(m, "status"), rules::StatusName(c.status));
    EXPECT_EQ(Label(m, "severity"), rules::SeverityName(c.severity));
    EXPECT_EQ(m.gauge.value, 1);
  }
}

TEST(Metrics, NodeInfoLabelsAreTheFactsOrEmpty) {
  rules::Report report = ScanReport("debian-12");
  Families fs = ReportFamilies(report, 0);
  const auto* info = FindFamily(fs, "cvm_preflight_node_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 1u);
  const auto& m = info->metric[0];
  EXPECT_EQ(Label(m, "os_id"), *report.facts.GetString("os.id"));
  EXPECT_EQ(Label(m, "kernel_release"), *report.facts.GetString("kernel.release"));
  // This fixture has no runc: an empty value, not a guess.
  ASSERT_FALSE(report.facts.Has("runtime.runc.version"));
  EXPECT_EQ(Label(m, "runc_version"), "");
  EXPECT_EQ(m.label.size(), 11u);
}

TEST(Metrics, RuncFlagFollowsItsRule) {
  for (const std::string& name : cvm::testing::FixtureNames()) {
    rules::Report report = ScanReport(name);
    const rules::CheckResult* rule = nullptr;
    for (const auto& c : report.selected.checks) {
      if (c.id == "runc-containerd-io-1.5.11-era") rule = &c;
    }
    ASSERT_NE(rule, nullptr) << name;
    // The families outlive the pointer into them (ASan found it dangling).
    const auto families = ReportFamilies(report, 0);
    const auto* flag = FindFamily(families, "cvm_preflight_runc_1_5_11_era");
    if (rule->status == rules::Status::kPass || rule->status == rules::Status::kFail) {
      ASSERT_EQ(flag->metric.size(), 1u) << name;
      EXPECT_EQ(flag->metric[0].gauge.value, rule->status == rules::Status::kPass ? 1 : 0)
          << name;
    } else {
      EXPECT_TRUE(flag->metric.empty()) << name;
    }
  }
}

TEST(Metrics, GpuDevicesByVendorAndModel) {
  rules::Report report = ScanReport("gpu-nvidia-dell-bare-metal");
  Families fs = ReportFamilies(report, 0);
  const auto* gpus = FindFamily(fs, "cvm_preflight_gpu_devices");
  ASSERT_NE(gpus, nullptr);
  double nvidia = 0;
  for (const auto& m : gpus->metric) {
    if (Label(m, "vendor") == "nvidia") {
      nvidia += m.gauge.value;
      EXPECT_NE(Label(m, "model"), "") << "the fixture's pci.ids names its GPUs";
    }
  }
  EXPECT_EQ(nvidia, static_cast<double>(*report.facts.GetInt("gpu.nvidia.count")));
  EXPECT_GT(nvidia, 0);
}

TEST(Metrics, ProbeSeriesPerProbeRun) {
  rules::Report report = ScanReport("debian-12");
  Families fs = ReportFamilies(report, 0);
  const auto* ok = FindFamily(fs, "cvm_preflight_probe_success");
  const auto* took = FindFamily(fs, "cvm_preflight_probe_duration_seconds");
  ASSERT_TRUE(ok && took);
  ASSERT_EQ(ok->metric.size(), report.facts.runs().size());
  ASSERT_EQ(took->metric.size(), report.facts.runs().size());
  for (std::size_t i = 0; i < ok->metric.size(); ++i) {
    EXPECT_EQ(Label(ok->metric[i], "probe"), report.facts.runs()[i].name);
    EXPECT_EQ(ok->metric[i].gauge.value, report.facts.runs()[i].ok ? 1 : 0);
  }
}

TEST(Metrics, LabelValuesAreValidUtf8WhateverTheHostSays) {
  cvm::testing::TempTree t;
  t.Write("etc/os-release", "ID=ub\xffuntu\nVERSION_ID=\"22.04\xc3\"\n");
  rules::RuleSetLoad rules_load = rules::LoadRuleSet({});
  rules::Report report = rules::BuildReport(cvm::testing::ScanTree(t), rules_load.set,
                                            rules::kDefaultProfile);
  Families fs = ReportFamilies(report, 0);
  const auto* info = FindFamily(fs, "cvm_preflight_node_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(Label(info->metric[0], "os_id"), "ub\xEF\xBF\xBDuntu");
  EXPECT_EQ(Label(info->metric[0], "os_version_id"), "22.04\xEF\xBF\xBD");
  t.Write("out.prom", RenderExposition(fs));
  Command c = RunShell("promtool check metrics < '" + t.Abs("out.prom") + "'");
  EXPECT_EQ(c.status, 0) << c.output;
}

TEST(Utf8, ValidTextIsUnchanged) {
  for (std::string_view s : {"", "debian", "Grüße", "日本", "\xF0\x9F\x98\x80",
                             "\xEF\xBF\xBD", "\x7F"}) {
    EXPECT_EQ(ValidUtf8(s), s);
  }
}

TEST(Utf8, EachBadByteBecomesOneReplacement) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(ValidUtf8("\xff"), r);
  EXPECT_EQ(ValidUtf8("a\x80" "b"), "a" + r + "b");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), r + r);                // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), r + r + r);        // a surrogate
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(ValidUtf8("\xE6\x97"), r + r);                // cut short at the end
  EXPECT_EQ(ValidUtf8("\xC3"), r);
  EXPECT_EQ(ValidUtf8(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

}  // namespace
}  // namespace cvm::exporter

namespace cvm::exporter {
namespace {

TEST(ScanFormatPrometheus, PrintsTheReportFamiliesAndBuildInfoOnce) {
  std::string root = cvm::testing::SourcePath("fixtures/debian-12/root");
  cvm::testing::TempTree t;
  std::string out = t.Abs("scan.prom");
  Command scan = RunShell(std::string(CVM_BINARY) + " scan --root '" + root +
                          "' --format prometheus > '" + out + "'");
  EXPECT_EQ(scan.status, 3) << "debian-12's cvm verdict is unknown: " << scan.output;
  std::string text = cvm::testing::ReadText(out);
  EXPECT_NE(text.find("cvm_preflight_build_info{version=\""), std::string::npos) << text;
  EXPECT_NE(text.find("cvm_preflight_node_info{kernel_release=\"6.1.0-31-amd64\""),
            std::string::npos) << text;
  EXPECT_EQ(text.find("process_"), std::string::npos) << "one-shot: no process metrics";
  Command lint = RunShell("promtool check metrics < '" + out + "'");
  EXPECT_EQ(lint.status, 0) << lint.output;
}

TEST(ScanFormatPrometheus, AnUnknownFormatIsAUsageError) {
  Command c = RunShell(std::string(CVM_BINARY) + " scan --format prom");
  EXPECT_EQ(c.status, 2);
  EXPECT_NE(c.output.find("text, json or prometheus"), std::string::npos) << c.output;
}

}  // namespace
}  // namespace cvm::exporter
