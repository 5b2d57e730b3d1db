#include "probe/arch.h"

#include <sys/utsname.h>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::ScanTree;
using cvm::testing::TempTree;

TEST(ArchFromRelease, Table) {
  struct Row {
    std::string_view release, arch;
  };
  const Row rows[] = {
      {"4.18.0-477.27.1.el8_8.x86_64", "x86_64"},
      {"6.1.0-13-amd64", "x86_64"},
      {"5.14.0-362.8.1.el9_3.aarch64", "aarch64"},
      {"6.1.0-13-arm64", "aarch64"},
      {"5.15.0-91-generic", ""},
      {"6.6.21-flatcar", ""},
      {"6.1.0-13-686-pae", "i686"},
      {"x86_64", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.release);
    EXPECT_EQ(ArchFromRelease(row.release), row.arch);
  }
}

TEST(ArchProbe, SysctlWins) {
  TempTree t;
  t.Write("proc/sys/kernel/arch", "aarch64\n");
  t.Write("proc/sys/kernel/osrelease", "6.1.0-13-amd64\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kKernelArch), "aarch64");
  EXPECT_EQ(f.Find(kKernelArch)->source, "/proc/sys/kernel/arch");
}

TEST(ArchProbe, AFolderFallsBackToTheReleaseSuffix) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "4.18.0-477.27.1.el8_8.x86_64\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kKernelArch), "x86_64");
  EXPECT_EQ(f.Find(kKernelArch)->source, "kernel.release suffix");
}

TEST(ArchProbe, NoSourceIsAnError) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "5.15.0-91-generic\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kKernelArch));
}

TEST(LiveHostArch, MatchesUname) {
  auto root = HostRoot::Open("/");
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  struct utsname u;
  ASSERT_EQ(::uname(&u), 0);
  ASSERT_NE(f.GetString(kKernelArch), nullptr);
  EXPECT_EQ(*f.GetString(kKernelArch), u.machine);
}

}  // namespace
}  // namespace cvm::probe
