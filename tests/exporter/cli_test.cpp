// The real CLI, run in-process: help, version, exit codes, errors.
#include "exporter/cli.h"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/data.h"

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
           {"--help"}, {"-h"}, {"scan", "--help"}, {"facts", "--help"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("Usage: cvm-preflight"), std::string::npos) << args[0];
  }
  for (auto args : std::vector<std::vector<std::string>>{{"--version"}, {"scan", "--version"}}) {
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
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["schema"], "cvm-preflight/v1");
  EXPECT_EQ(j["facts"]["os"]["id"], "rhel");
  EXPECT_EQ(j["facts"]["selinux"]["mode"], "enforcing");
  EXPECT_EQ(j["sources"]["os.id"], "/etc/os-release");
}

TEST(Cli, TextReportGroupsFactsAndListsErrors) {
  CliRun r = Cli({"scan", "--root", cvm::testing::SourcePath("fixtures/bottlerocket/root")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Operating system\n  os.build_id"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Errors ("), std::string::npos);
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
