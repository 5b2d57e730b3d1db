#include "probe/sysctl.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::ScanTree;
using cvm::testing::TempTree;

std::vector<ProbeError> SysctlErrors(const Facts& f) {
  std::vector<ProbeError> out;
  for (const auto& e : f.errors()) {
    if (e.probe == "sysctl") out.push_back(e);
  }
  return out;
}

// This machine's values (cat /proc/sys/..., 2025-11-23).
void WriteThisMachine(TempTree& t) {
  t.Write("proc/sys/user/max_user_namespaces", "96365\n");
  t.Write("proc/sys/fs/inotify/max_queued_events", "16384\n");
  t.Write("proc/sys/fs/inotify/max_user_watches", "192536\n");
  t.Write("proc/sys/fs/inotify/max_user_instances", "128\n");
  t.Write("proc/sys/kernel/keys/maxkeys", "200\n");
  t.Write("proc/sys/kernel/keys/maxbytes", "20000\n");
  t.Write("proc/sys/kernel/pid_max", "32768\n");
  t.Write("proc/sys/vm/max_map_count", "65530\n");
}

TEST(SysctlParse, Integers) {
  struct Row {
    const char* text;
    std::optional<std::int64_t> want;
  } rows[] = {{"1\n", 1}, {"0", 0}, {"4194304\n", 4194304}, {" 65530 \n", 65530},
              {"-1\n", -1}, {"", std::nullopt}, {"Y\n", std::nullopt},
              {"1 2\n", std::nullopt}, {"99999999999999999999\n", std::nullopt}};
  for (const auto& r : rows) {
    SCOPED_TRACE(r.text);
    auto v = ParseSysctlInt(r.text);
    EXPECT_EQ(v.has_value(), r.want.has_value());
    if (v && r.want) {
      EXPECT_EQ(*v, *r.want);
    }
  }
}

TEST(SysctlParse, KernelBool) {
  EXPECT_EQ(*ParseKernelBool("Y\n"), true);
  EXPECT_EQ(*ParseKernelBool("N\n"), false);
  EXPECT_FALSE(ParseKernelBool("yes\n"));
  EXPECT_FALSE(ParseKernelBool(""));
}

TEST(SysctlProbe, ValuesAndSources) {
  TempTree t;
  WriteThisMachine(t);
  t.Write("proc/sys/kernel/unprivileged_userns_clone", "1\n");
  t.Write("proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n");
  t.Write("sys/module/apparmor/parameters/enabled", "Y\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetInt(kUsernsMax), 96365);
  EXPECT_EQ(f.GetInt(kUsernsUnprivilegedClone), 1);
  EXPECT_EQ(f.GetInt(kApparmorRestrictUnprivilegedUserns), 1);
  EXPECT_EQ(f.GetInt(kSysctlMaxMapCount), 65530);
  EXPECT_EQ(f.Find(kSysctlPidMax)->source, "/proc/sys/kernel/pid_max");
  EXPECT_EQ(f.GetBool(kApparmorEnabled), true);
  EXPECT_TRUE(SysctlErrors(f).empty());
}

// In a folder root the Debian/Ubuntu-only knobs' absence is unknown; on a
// live procfs (LiveHost suite) it is a finding without error.
TEST(SysctlProbe, OptionalKnobAbsentInFolderRootIsAnError) {
  TempTree t;
  WriteThisMachine(t);
  t.Mkdir("sys/module/kvm");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kUsernsUnprivilegedClone));
  EXPECT_FALSE(f.Has(kApparmorRestrictUnprivilegedUserns));
  auto errors = SysctlErrors(f);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "/proc/sys/kernel/unprivileged_userns_clone");
  EXPECT_EQ(errors[1].path, "/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
}

TEST(SysctlProbe, NoApparmorModuleUnderSysModuleIsDisabled) {
  TempTree t;
  t.Mkdir("sys/module/kvm");
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetBool(kApparmorEnabled), false);
}

TEST(SysctlProbe, NoSysModuleIsUnknown) {
  TempTree t;
  t.Mkdir("sys/fs");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kApparmorEnabled));
}

TEST(SysctlProbe, NoSysctlDirectoriesIsOneError) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "5.15.0-48-generic\n");
  t.Mkdir("sys/module/apparmor/parameters");
  t.Write("sys/module/apparmor/parameters/enabled", "N\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kUsernsMax));
  EXPECT_EQ(f.GetBool(kApparmorEnabled), false);
  auto errors = SysctlErrors(f);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/proc/sys");
}

TEST(SysctlProbe, GarbageValueIsAnError) {
  TempTree t;
  WriteThisMachine(t);
  t.Write("proc/sys/vm/max_map_count", "lots\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kSysctlMaxMapCount));
  EXPECT_EQ(f.GetInt(kSysctlPidMax), 32768);
}

}  // namespace
}  // namespace cvm::probe
