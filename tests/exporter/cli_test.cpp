// The real CLI, run in-process: help, version, exit codes, errors.
#include "exporter/cli.h"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter {
namespace {

struct CliRun {
  int code;
  std::string out, err;
};

CliRun Cli(std::vector<std::string> args) {
  args.insert(args.begin(), "cvm-preflight");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream out, err;
  int code = RunCli(static_cast<int>(args.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

TEST(Cli, HelpAndVersionOnTheBinaryAndEachCommand) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"scan", "--help"}, {"facts", "--help"},
           {"rules", "--help"}, {"explain", "--help"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("Usage: cvm-preflight"), std::string::npos) << args[0];
  }
  for (auto args : std::vector<std::vector<std::string>>{
           {"--version"}, {"scan", "--version"}, {"facts", "-V"}, {"rules", "--version"},
           {"explain", "--version"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out.rfind("cvm-preflight ", 0), 0u);
  }
}

TEST(Cli, NoCommandIsUsage) {
  CliRun r = Cli({});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("Usage"), std::string::npos);
}

TEST(Cli, UnknownCommandAndFlagNameWhatWasWrong) {
  CliRun a = Cli({"frobnicate"});
  EXPECT_EQ(a.code, kExitUsage);
  EXPECT_EQ(a.err, "cvm-preflight: unknown command 'frobnicate' (see 'cvm-preflight --help')\n");
  CliRun b = Cli({"scan", "--bogus"});
  EXPECT_EQ(b.code, kExitUsage);
  EXPECT_NE(b.err.find("'--bogus'"), std::string::npos);
  CliRun c = Cli({"scan", "--format", "yaml"});
  EXPECT_EQ(c.code, kExitUsage);
  EXPECT_NE(c.err.find("yaml"), std::string::npos);
  CliRun d = Cli({"scan", "--root"});
  EXPECT_EQ(d.code, kExitUsage);
  EXPECT_NE(d.err.find("--root needs a value"), std::string::npos);
}

TEST(Cli, MissingRootIsFatalWithOneLine) {
  CliRun r = Cli({"scan", "--root", "/does/not/exist"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.err,
            "cvm-preflight: scan: cannot open root /does/not/exist: No such file "
            "or directory (ENOENT)\n");
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, JsonReportOfAFixture) {
  CliRun r = Cli({"scan", "--root=" + cvm::testing::SourcePath("fixtures/rhel-8/root"),
               "--format", "json"});
  ASSERT_EQ(r.code, kExitFalse) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["schema"], "cvm-preflight/v1");
  EXPECT_EQ(j["facts"]["os"]["id"], "rhel");
  EXPECT_EQ(j["facts"]["selinux"]["mode"], "enforcing");
  EXPECT_EQ(j["sources"]["os.id"], "/etc/os-release");
  EXPECT_EQ(j["verdicts"]["cvm"]["value"], "false");
  auto because = j["verdicts"]["cvm"]["because"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(because.begin(), because.end(), "selinux-not-enforcing"), because.end());
  EXPECT_NE(std::find(because.begin(), because.end(), "kernel-min-distro"), because.end())
      << "4.18 is below Sysbox's 5.12 for RHEL";
  EXPECT_EQ(j["profile"], "coder-v1");
}

TEST(Cli, TextReportGroupsFactsAndListsErrors) {
  CliRun r = Cli({"scan", "--root", cvm::testing::SourcePath("fixtures/bottlerocket/root")});
  EXPECT_NE(r.code, kExitUsage) << r.err;
  EXPECT_EQ(r.out.find("Operating system\n  os.build_id"), std::string::npos)
      << "facts only with --facts";
  EXPECT_NE(r.out.find("Verdicts\n  cvm "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Could not read ("), std::string::npos);
  EXPECT_NE(r.out.find("[kernel] /proc/sys/kernel/osrelease"), std::string::npos);
  EXPECT_EQ(r.out.find("\033["), std::string::npos) << "colour on a non-terminal";
}

TEST(Cli, FactsMarkdown) {
  CliRun r = Cli({"facts", "--markdown"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("| `kernel.release` |"), std::string::npos);
}

}  // namespace
}  // namespace cvm::exporter

namespace cvm::exporter {
namespace {

TEST(Cli, FactsFlagListsFacts) {
  CliRun r = Cli({"scan", "--facts", "--root",
                  cvm::testing::SourcePath("fixtures/bottlerocket/root")});
  EXPECT_NE(r.out.find("Operating system\n  os.build_id"), std::string::npos) << r.out;
}

TEST(Cli, ExitCodeFollowsTheSelectedVerdict) {
  std::string rhel = cvm::testing::SourcePath("fixtures/rhel-8/root");
  EXPECT_EQ(Cli({"scan", "--root", rhel}).code, kExitFalse);
  CliRun bad = Cli({"scan", "--root", rhel, "--verdict", "cvm-nope"});
  EXPECT_EQ(bad.code, kExitUsage);
  CliRun prof = Cli({"scan", "--root", rhel, "--profile", "coder-v9"});
  EXPECT_EQ(prof.code, kExitUsage);
  EXPECT_NE(prof.err.find("coder-v9"), std::string::npos);
}

TEST(Cli, RulesListAndExplain) {
  CliRun list = Cli({"rules", "list"});
  EXPECT_EQ(list.code, kExitOk) << list.err;
  EXPECT_NE(list.out.find("selinux-not-enforcing  [error; cvm]"), std::string::npos);
  EXPECT_NE(list.out.find("    source: "), std::string::npos);
  CliRun ex = Cli({"explain", "selinux-not-enforcing"});
  EXPECT_EQ(ex.code, kExitOk);
  EXPECT_NE(ex.out.find("Checks:    selinux.mode not in [enforcing]"), std::string::npos)
      << ex.out;
  EXPECT_NE(ex.out.find("Sources:"), std::string::npos);
  CliRun cluster = Cli({"explain", "cluster-sysbox-runtimeclass"});
  EXPECT_EQ(cluster.code, kExitOk) << cluster.err;
  EXPECT_NE(cluster.out.find("Defined in rules/cluster/cluster.yaml"), std::string::npos)
      << cluster.out;
  CliRun missing = Cli({"explain", "no-such-rule"});
  EXPECT_EQ(missing.code, kExitFalse);
}

TEST(Cli, RulesListClusterChecks) {
  // The cluster checks of `report` are listed apart from the node rules,
  // filtered by profile like them.
  CliRun v1 = Cli({"rules", "list", "--cluster", "--profile", "coder-v1"});
  EXPECT_EQ(v1.code, kExitOk) << v1.err;
  EXPECT_NE(v1.out.find("cluster-kubernetes-version-coder-v1  [warning; cvm]"), std::string::npos)
      << v1.out;
  EXPECT_EQ(v1.out.find("cluster-kubernetes-version-sysbox-0.6 "), std::string::npos) << v1.out;
  EXPECT_EQ(v1.out.find("selinux-not-enforcing"), std::string::npos) << v1.out;
  CliRun s06 = Cli({"rules", "list", "--cluster", "--profile", "sysbox-0.6"});
  EXPECT_NE(s06.out.find("cluster-kubernetes-version-sysbox-0.6 "), std::string::npos) << s06.out;
  CliRun node = Cli({"rules", "list"});
  EXPECT_EQ(node.out.find("cluster-kubernetes-version-coder-v1"), std::string::npos) << node.out;
  CliRun both = Cli({"rules", "list", "--cluster", "--image"});
  EXPECT_EQ(both.code, kExitUsage);
  EXPECT_NE(both.err.find("--image or --cluster, not both"), std::string::npos) << both.err;
  CliRun paths = Cli({"rules", "list", "--cluster", "--rules", "/nonexistent"});
  EXPECT_EQ(paths.code, kExitUsage);
  EXPECT_NE(paths.err.find("--rules does not apply"), std::string::npos) << paths.err;
}

TEST(Cli, RulesValidateReportsFileLineColumn) {
  cvm::testing::TempTree t;
  t.Write("bad.yaml", "- id: x\n  title: t\n  reason: TestReason\n  severity: fatal\n  expect: {fact: os.id, in: [a]}\n  sources: [s]\n");
  t.Write("good.yaml", "- id: x\n  title: t\n  reason: TestReason\n  severity: error\n  expect: {fact: os.id, in: [a]}\n  sources: [s]\n");
  CliRun r = Cli({"rules", "validate", t.Abs("bad.yaml"), t.Abs("good.yaml")});
  EXPECT_EQ(r.code, kExitFalse);
  EXPECT_EQ(r.err, t.Abs("bad.yaml") +
                       ":4:13: severity must be error, warning or info, not 'fatal'\n");
  EXPECT_NE(r.out.find("good.yaml: 1 rules OK"), std::string::npos);
}

}  // namespace
}  // namespace cvm::exporter
