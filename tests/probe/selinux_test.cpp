#include "probe/selinux.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::ScanTree;
using cvm::testing::TempTree;

TEST(SelinuxProbe, EnforceOneIsEnforcing) {
  TempTree t;
  t.Write("sys/fs/selinux/enforce", "1");
  EXPECT_EQ(*ScanTree(t).GetString(kSelinuxMode), "enforcing");
}

TEST(SelinuxProbe, EnforceZeroIsPermissive) {
  TempTree t;
  t.Write("sys/fs/selinux/enforce", "0");
  EXPECT_EQ(*ScanTree(t).GetString(kSelinuxMode), "permissive");
}

TEST(SelinuxProbe, OldSelinuxMountPoint) {
  TempTree t;
  t.Mkdir("sys/fs");
  t.Write("selinux/enforce", "1");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kSelinuxMode), "enforcing");
  EXPECT_EQ(f.Find(kSelinuxMode)->source, "/selinux/enforce");
}

TEST(SelinuxProbe, SysfsWithoutSelinuxfsIsDisabled) {
  TempTree t;
  t.Mkdir("sys/fs/cgroup");
  EXPECT_EQ(*ScanTree(t).GetString(kSelinuxMode), "disabled");
}

TEST(SelinuxProbe, NoSysfsIsUnknownWithAnError) {
  TempTree t;
  t.Write("etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=targeted\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kSelinuxMode));
  EXPECT_EQ(*f.GetString(kSelinuxConfigMode), "enforcing");
  EXPECT_EQ(*f.GetString(kSelinuxConfigType), "targeted");
  bool found = false;
  for (const auto& e : f.errors()) {
    if (e.probe == "selinux") {
      EXPECT_EQ(e.path, "/sys/fs");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(SelinuxProbe, GarbageInEnforceIsAnError) {
  TempTree t;
  t.Write("sys/fs/selinux/enforce", "maybe");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kSelinuxMode));
}

TEST(SelinuxProbe, NoConfigIsNoneWithoutAnError) {
  TempTree t;
  t.Write("sys/fs/selinux/enforce", "0");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kSelinuxConfigMode), "none");
  EXPECT_FALSE(f.Has(kSelinuxConfigType));
  for (const auto& e : f.errors()) EXPECT_NE(e.probe, "selinux") << e.message;
}

}  // namespace
}  // namespace cvm::probe

namespace cvm::probe {
namespace {

TEST(SelinuxProbe, UnreadableConfigLeavesTheFactsOut) {
  TempTree t;
  t.Mkdir("etc/selinux/config");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kSelinuxConfigMode));
  bool found = false;
  for (const auto& e : f.errors()) found |= e.path == "/etc/selinux/config";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace cvm::probe
