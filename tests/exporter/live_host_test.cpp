// LiveHost: the only suite that reads this machine's real "/". Checks the
// scan against what the kernel and the distro say by other means.
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"

namespace cvm::exporter {
namespace {

// A deliberately naive reading of KEY=value, independent of the probe's
// parser: good enough for the plain values Debian and Ubuntu write.
std::string NaiveOsRelease(const std::string& key) {
  std::string text = cvm::testing::ReadText("/etc/os-release");
  if (text.empty()) text = cvm::testing::ReadText("/usr/lib/os-release");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}

class LiveHost : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = probe::HostRoot::Open("/");
    ASSERT_TRUE(root);
    facts_ = probe::RunProbes(*root);
  }
  probe::Facts facts_;
};

TEST_F(LiveHost, KernelReleaseMatchesUname) {
  struct utsname u;
  ASSERT_EQ(::uname(&u), 0);
  ASSERT_NE(facts_.GetString(probe::kKernelRelease), nullptr);
  EXPECT_EQ(*facts_.GetString(probe::kKernelRelease), u.release);
  EXPECT_EQ(facts_.Find(probe::kKernelRelease)->source, "/proc/sys/kernel/osrelease");
}

TEST_F(LiveHost, OsFactsMatchOsRelease) {
  ASSERT_NE(facts_.GetString(probe::kOsId), nullptr);
  EXPECT_EQ(*facts_.GetString(probe::kOsId), NaiveOsRelease("ID"));
  std::string version_id = NaiveOsRelease("VERSION_ID");
  if (!version_id.empty()) {
    ASSERT_NE(facts_.GetString(probe::kOsVersionId), nullptr);
    EXPECT_EQ(*facts_.GetString(probe::kOsVersionId), version_id);
  }
}

TEST_F(LiveHost, CgroupVersionIsKnown) {
  ASSERT_NE(facts_.GetString(probe::kCgroupVersion), nullptr);
  EXPECT_TRUE(*facts_.GetString(probe::kCgroupVersion) == "v1" ||
              *facts_.GetString(probe::kCgroupVersion) == "v2" ||
              *facts_.GetString(probe::kCgroupVersion) == "hybrid");
}

// Checked against a plain reading of /proc/cpuinfo and DMI: a machine with
// the hypervisor flag is a vm; without DMI (Firecracker) it names no
// hypervisor, rather than a guessed one.
TEST_F(LiveHost, PlatformKindFollowsCpuinfoAndDmi) {
  std::string cpuinfo = cvm::testing::ReadText("/proc/cpuinfo");
  bool flag = cpuinfo.find(" hypervisor") != std::string::npos;
  bool dmi = !cvm::testing::ReadText("/sys/class/dmi/id/sys_vendor").empty();
  if (flag) {
    ASSERT_NE(facts_.GetString(probe::kPlatformKind), nullptr);
    EXPECT_EQ(*facts_.GetString(probe::kPlatformKind), "vm");
    if (!dmi && cvm::testing::ReadText("/sys/hypervisor/type").empty()) {
      EXPECT_FALSE(facts_.Has(probe::kPlatformHypervisor));
    }
  }
  ASSERT_TRUE(facts_.GetInt(probe::kNodeCpus).has_value());
  EXPECT_EQ(*facts_.GetInt(probe::kNodeCpus),
            static_cast<std::int64_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
}

TEST_F(LiveHost, GpuCountsArePresent) {
  EXPECT_TRUE(facts_.GetInt(probe::kGpuNvidiaCount).has_value());
  EXPECT_EQ(facts_.Find(probe::kGpuNvidiaCount)->source, "udev (subsystem pci)");
}

}  // namespace
}  // namespace cvm::exporter
