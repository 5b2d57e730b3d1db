// The runtime probe on Debian's real runc and containerd packages, made by
// tests/setup/runtime_debs.sh (CTest fixture "runtime_debs"): real ELF
// files with real .go.buildinfo, a dpkg database from the packages' own
// control data, and (this machine being live) real `--version` output.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>

#include <gtest/gtest.h>

#include "probe/exec_version.h"
#include "probe/fact_catalog.h"
#include "probe/go_buildinfo.h"
#include "probe/registry.h"
#include "probe/runtime_version.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

const std::string kCache = std::string(CVM_TEST_CACHE) + "/runtime-debs";

class RealDebs : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (::stat((kCache + "/root/usr/sbin/runc").c_str(), &st) != 0) {
      GTEST_SKIP() << "no " << kCache
                   << ": tests/setup/runtime_debs.sh did not run (offline?)";
    }
  }
  static Facts Scan(const std::string& dir, bool exec = false) {
    auto root = HostRoot::Open(dir);
    EXPECT_TRUE(root);
    ProbeOptions options;
    options.exec_versions = exec;
    return RunProbes(*root, options);
  }
  static std::vector<std::string> RuntimeErrors(const Facts& f) {
    std::vector<std::string> out;
    for (const auto& e : f.errors()) {
      if (e.probe == "runtime") out.push_back(e.message);
    }
    return out;
  }
};

TEST_F(RealDebs, GoBuildInfoOfDebianRunc) {
  auto root = HostRoot::Open(kCache + "/root");
  ASSERT_TRUE(root);
  auto info = ReadGoBuildInfo([&](std::uint64_t off, std::size_t len) {
    return root->ReadRange("/usr/sbin/runc", off, len);
  });
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->go_version, "go1.19.8");  // `runc --version`: "go: go1.19.8"
  EXPECT_EQ(info->path, "github.com/opencontainers/runc");
  // Debian builds with -trimpath, and Go leaves -ldflags out of the build
  // info then: no version is stamped in it.
  EXPECT_EQ(GoStampedVersion(*info), "");
  bool trimpath = false;
  for (const auto& [k, v] : info->settings) trimpath = trimpath || (k == "-trimpath" && v == "true");
  EXPECT_TRUE(trimpath);
}

TEST_F(RealDebs, GoBuildInfoOfDebianContainerd) {
  auto root = HostRoot::Open(kCache + "/root");
  ASSERT_TRUE(root);
  auto info = ReadGoBuildInfo([&](std::uint64_t off, std::size_t len) {
    return root->ReadRange("/usr/bin/containerd", off, len);
  });
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->path, "github.com/containerd/containerd/cmd/containerd");
  EXPECT_EQ(info->go_version.rfind("go1.", 0), 0u) << info->go_version;
}

TEST_F(RealDebs, ConfigFileIsNotAGoProgram) {
  auto root = HostRoot::Open(kCache + "/root");
  ASSERT_TRUE(root);
  auto info = ReadGoBuildInfo([&](std::uint64_t off, std::size_t len) {
    return root->ReadRange("/etc/containerd/config.toml", off, len);
  });
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("not an ELF"), std::string::npos);
}

TEST_F(RealDebs, DpkgGivesVersionsAndOwners) {
  Facts f = Scan(kCache + "/root");
  ASSERT_NE(f.GetString(kRuntimeRuncVersion), nullptr);
  EXPECT_EQ(*f.GetString(kRuntimeRuncVersion), "1.1.5+ds1");
  EXPECT_EQ(*f.GetString(kRuntimeRuncPackage), "runc");
  EXPECT_EQ(*f.GetString(kRuntimeRuncPackageVersion), "1.1.5+ds1-1+deb12u1");
  EXPECT_EQ(*f.GetString(kRuntimeRuncSource), "dpkg");
  EXPECT_EQ(*f.GetString(kRuntimeRuncPath), "/usr/bin/runc");
  EXPECT_EQ(f.Find(kRuntimeRuncPath)->source, "/usr/sbin/runc");  // usrmerge link
  ASSERT_NE(f.GetString(kRuntimeContainerdVersion), nullptr);
  EXPECT_EQ(*f.GetString(kRuntimeContainerdVersion), "1.6.20~ds1");
  EXPECT_EQ(*f.GetString(kRuntimeContainerdPackage), "containerd");
  EXPECT_EQ(*f.GetString(kRuntimeContainerdSource), "dpkg");
  // Debian's /etc/containerd/config.toml (version 2) configures no handler.
  ASSERT_NE(f.GetList(kRuntimeHandlers), nullptr);
  EXPECT_TRUE(f.GetList(kRuntimeHandlers)->empty());
  EXPECT_EQ(f.GetBool(kRuntimeSysboxInstalled), false);
  EXPECT_TRUE(RuntimeErrors(f).empty()) << RuntimeErrors(f).front();
}

TEST_F(RealDebs, WithoutPackageDataNoVersionAndAClearError) {
  Facts f = Scan(kCache + "/bare");
  EXPECT_FALSE(f.Has(kRuntimeRuncVersion));
  EXPECT_FALSE(f.Has(kRuntimeContainerdVersion));
  EXPECT_TRUE(f.Has(kRuntimeRuncPath));
  auto errors = RuntimeErrors(f);
  ASSERT_EQ(errors.size(), 2u);
  for (const auto& e : errors) {
    EXPECT_NE(e.find("no version found"), std::string::npos) << e;
    EXPECT_NE(e.find("--exec-versions is off"), std::string::npos) << e;
  }
}

TEST_F(RealDebs, ExecVersionsIsRefusedOnAFolderRoot) {
  Facts f = Scan(kCache + "/bare", /*exec=*/true);
  EXPECT_FALSE(f.Has(kRuntimeRuncVersion));
  bool refused = false;
  for (const auto& e : RuntimeErrors(f)) {
    refused = refused || e.find("--exec-versions refused") != std::string::npos;
  }
  EXPECT_TRUE(refused);
}

TEST_F(RealDebs, RealRuncVersionOutputParses) {
  // Runs the unpacked binary directly (this machine is live): the exec
  // path and the parser on the real output.
  auto text = RunVersionCommand(kCache + "/root/usr/sbin/runc");
  ASSERT_TRUE(text) << text.error().message;
  auto v = ParseRuncVersion(*text);
  ASSERT_TRUE(v) << *text;
  EXPECT_EQ(v->version, "1.1.5+ds1");
  EXPECT_EQ(v->commit, "1.1.5+ds1-1+deb12u1");
  EXPECT_EQ(v->go, "go1.19.8");
}

TEST_F(RealDebs, RealContainerdVersionOutputParses) {
  auto text = RunVersionCommand(kCache + "/root/usr/bin/containerd");
  ASSERT_TRUE(text) << text.error().message;
  auto v = ParseContainerdVersion(*text);
  ASSERT_TRUE(v) << *text;
  EXPECT_EQ(v->package, "github.com/containerd/containerd");
  EXPECT_EQ(v->version, "1.6.20~ds1");
  EXPECT_EQ(v->revision, "1.6.20~ds1-1+deb12u3");
}

TEST(ExecVersion, TimeoutKillsTheChild) {
  cvm::testing::TempTree t;
  t.Write("hang", "#!/bin/sh\nexec sleep 30\n", 0755);
  auto start = std::chrono::steady_clock::now();
  auto text = RunVersionCommand(t.Abs("hang"), std::chrono::milliseconds(300));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ETIMEDOUT);
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(ExecVersion, MissingBinaryIsAnError) {
  auto text = RunVersionCommand("/nonexistent/runc");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ENOEXEC);
}

TEST(ExecVersion, OutputOverTheCapIsEfbig) {
  // coreutils `yes --version` prints about 300 bytes.
  auto text = RunVersionCommand("/usr/bin/yes", kExecTimeout, 16);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, EFBIG);
}

TEST(ExecVersion, EnvironmentIsEmpty) {
  ::setenv("CVM_EXEC_LEAK_CHECK", "leaked", 1);
  cvm::testing::TempTree t;
  t.Write("printenv", "#!/bin/sh\n/usr/bin/env\necho done\n", 0755);
  auto text = RunVersionCommand(t.Abs("printenv"));
  ::unsetenv("CVM_EXEC_LEAK_CHECK");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_NE(text->find("done"), std::string::npos) << *text;
  EXPECT_EQ(text->find("CVM_EXEC_LEAK_CHECK"), std::string::npos) << *text;
  EXPECT_EQ(text->find("HOME="), std::string::npos) << *text;
}

}  // namespace
}  // namespace cvm::probe
