// Whole scans of hostile roots, made here in temporary folders (never
// committed): each must give a complete report, the right error, and no
// read outside the root. A hang fails the test through CTest's timeout.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::TempTree;

class HostileRoot : public ::testing::TestWithParam<Resolver> {
 protected:
  void SetUp() override {
    if (GetParam() == Resolver::kOpenat2 && !HostRoot::KernelHasOpenat2()) {
      GTEST_SKIP() << "kernel has no openat2(2)";
    }
    outside_.Write("etc/os-release", "ID=outside\nVERSION_ID=666\n");
    outside_.Write("proc/sys/kernel/osrelease", "6.6.6-outside\n");
    root_.Write("proc/sys/kernel/osrelease", "6.1.0-13-amd64\n");
    root_.Write("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    root_.Mkdir("sys/fs/cgroup/memory");
  }
  Facts Scan() {
    auto host = HostRoot::Open(root_.path(), GetParam());
    EXPECT_TRUE(host);
    Facts facts = RunProbes(*host);
    EXPECT_EQ(facts.runs().size(), AllProbes().size()) << "incomplete report";
    for (const auto& [name, fact] : facts.all()) {
      if (const auto* s = std::get_if<std::string>(&fact.value)) {
        EXPECT_EQ(s->find("outside"), std::string::npos) << name << " read outside";
        EXPECT_NE(*s, "666") << name;
      }
    }
    return facts;
  }
  static const ProbeError* ErrorOf(const Facts& f, std::string_view probe) {
    for (const auto& e : f.errors()) {
      if (e.probe == probe) return &e;
    }
    return nullptr;
  }
  TempTree outside_;
  TempTree root_;
};

TEST_P(HostileRoot, FifoAsOsRelease) {
  root_.Fifo("etc/os-release");
  Facts f = Scan();
  const ProbeError* e = ErrorOf(f, "os-release");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->message, "/etc/os-release: refused: a FIFO, not a regular file");
  EXPECT_FALSE(f.Has(kOsId)) << "a refused /etc/os-release must not fall back";
  EXPECT_EQ(*f.GetString(kKernelRelease), "6.1.0-13-amd64");
}

TEST_P(HostileRoot, LinkToDevZeroAsOsrelease) {
  root_.Symlink("proc/sys/kernel/osrelease.tmp", "/dev/zero");
  ::rename(root_.Abs("proc/sys/kernel/osrelease.tmp").c_str(),
           root_.Abs("proc/sys/kernel/osrelease").c_str());
  Facts f = Scan();
  const ProbeError* e = ErrorOf(f, "kernel");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->path, "/proc/sys/kernel/osrelease");
  EXPECT_FALSE(f.Has(kKernelRelease));
  EXPECT_EQ(*f.GetString(kOsId), "debian");
}

TEST_P(HostileRoot, SymlinkLoopAsOsRelease) {
  root_.Symlink("etc/os-release", "os-release.d");
  root_.Symlink("etc/os-release.d", "/etc/os-release");
  Facts f = Scan();
  const ProbeError* e = ErrorOf(f, "os-release");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->message, "/etc/os-release: Too many levels of symbolic links (ELOOP)");
}

TEST_P(HostileRoot, DotDotEscapeAsOsRelease) {
  root_.Symlink("etc/os-release",
                "../../../../../../../../../" + outside_.path() + "/etc/os-release");
  Facts f = Scan();
  // The escape clamps at the root, where no such file exists: ENOENT, so
  // the chain moves on to the root's own /usr/lib/os-release.
  EXPECT_EQ(*f.GetString(kOsId), "debian");
  EXPECT_EQ(f.Find(kOsId)->source, "/usr/lib/os-release");
}

TEST_P(HostileRoot, AbsoluteLinkOutsideAsOsRelease) {
  root_.Symlink("etc/os-release", outside_.Abs("etc/os-release"));
  root_.Symlink("proc/sys/kernel/osrelease.tmp",
                outside_.Abs("proc/sys/kernel/osrelease"));
  ::rename(root_.Abs("proc/sys/kernel/osrelease.tmp").c_str(),
           root_.Abs("proc/sys/kernel/osrelease").c_str());
  Facts f = Scan();
  EXPECT_EQ(*f.GetString(kOsId), "debian");
  EXPECT_FALSE(f.Has(kKernelRelease));
}

TEST_P(HostileRoot, HundredMebibyteOsRelease) {
  std::string p = root_.Abs("etc/os-release");
  root_.Write("etc/os-release", "");
  ASSERT_EQ(::truncate(p.c_str(), 100 << 20), 0);
  Facts f = Scan();
  const ProbeError* e = ErrorOf(f, "os-release");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->path, "/etc/os-release");
  EXPECT_NE(e->message.find("EFBIG"), std::string::npos) << e->message;
}

TEST_P(HostileRoot, BinaryGarbageEverywhere) {
  std::mt19937 rng(42);
  std::string junk(8192, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  root_.Write("etc/os-release", junk);
  root_.Write("proc/sys/kernel/osrelease", junk);
  root_.Write("proc/1/mountinfo", junk);
  root_.Write("etc/selinux/config", junk);
  root_.Write("sys/fs/selinux/enforce", junk.substr(0, 32));
  Facts f = Scan();
  EXPECT_NE(ErrorOf(f, "kernel"), nullptr);
  EXPECT_NE(ErrorOf(f, "selinux"), nullptr);
  EXPECT_NE(ErrorOf(f, "cgroup"), nullptr);
}

TEST_P(HostileRoot, DirectoryWhereAFileIsExpected) {
  root_.Mkdir("etc/os-release");
  root_.Mkdir("proc/1/mountinfo");
  Facts f = Scan();
  const ProbeError* e = ErrorOf(f, "os-release");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->message, "/etc/os-release: Is a directory (EISDIR)");
  const ProbeError* c = ErrorOf(f, "cgroup");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->path, "/proc/1/mountinfo");
}

TEST_P(HostileRoot, UnreadableOsReleaseAsAnUnprivilegedUser) {
  root_.Write("etc/os-release", "ID=hidden\n", 0000);
  auto host = HostRoot::Open(root_.path(), GetParam());
  ASSERT_TRUE(host);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(3);
    Facts f = RunProbes(*host);
    bool ok = !f.Has(kOsId);
    for (const auto& e : f.errors()) {
      if (e.probe == "os-release") ok = ok && e.message.find("EACCES") != std::string::npos;
    }
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "cannot drop privileges";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_P(HostileRoot, EmptyRootGivesAReportOfErrors) {
  TempTree empty;
  auto host = HostRoot::Open(empty.path(), GetParam());
  ASSERT_TRUE(host);
  Facts f = RunProbes(*host);
  EXPECT_EQ(f.runs().size(), AllProbes().size());
  // What an empty root still says for sure: the caller's settings, "no
  // SELinux config file", and that the host paths do not exist.
  for (const auto& [name, fact] : f.all()) {
    bool hostpath_absent = name.starts_with("hostpath.") && name.ends_with(".exists") &&
                           fact.value == FactValue(false);
    EXPECT_TRUE(hostpath_absent || name.rfind("settings.", 0) == 0 ||
                name == kSelinuxConfigMode)
        << name;
  }
  for (const auto& run : f.runs()) {
    // inputs reads no host file; blockdev works from storage's mount facts
    // and, without them, has nothing to do (storage reported why).
    if (run.name == "inputs" || run.name == "blockdev") continue;
    EXPECT_FALSE(run.ok) << run.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Resolvers, HostileRoot,
                         ::testing::Values(Resolver::kWalk, Resolver::kOpenat2),
                         [](const auto& info) {
                           return info.param == Resolver::kWalk ? "Walk" : "Openat2";
                         });

}  // namespace
}  // namespace cvm::probe
