#include "probe/cgroup.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::ScanTree;
using cvm::testing::TempTree;

TEST(CgroupLayout, ThisMachineIsHybrid) {
  MountTable t = ParseMountInfo(cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/mountinfo/this-machine-hybrid")));
  CgroupLayout got = CgroupLayoutFromMounts(t);
  EXPECT_EQ(got.version, "hybrid");
  EXPECT_EQ(got.controllers, (StringList{"blkio", "cpu", "cpuacct", "cpuset",
                                         "devices", "freezer", "memory", "pids"}));
  EXPECT_EQ(got.v2_mount, "/sys/fs/cgroup/unified");
}

TEST(CgroupLayout, DockerContainerOnV1) {
  MountTable t = ParseMountInfo(cvm::testing::ReadText(cvm::testing::SourcePath(
      "tests/data/mountinfo/runc-docker-container-cgroupv1")));
  CgroupLayout got = CgroupLayoutFromMounts(t);
  EXPECT_EQ(got.version, "v1");
  EXPECT_FALSE(got.controllers.empty());
}

TEST(CgroupLayout, PureV2) {
  MountTable t = ParseMountInfo(
      "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - "
      "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n");
  CgroupLayout got = CgroupLayoutFromMounts(t);
  EXPECT_EQ(got.version, "v2");
  EXPECT_TRUE(got.controllers.empty());
  EXPECT_EQ(got.v2_mount, "/sys/fs/cgroup");
}

TEST(CgroupLayout, CombinedV1MountsAndNamedHierarchies) {
  MountTable t = ParseMountInfo(
      "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "2 0 0:2 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "3 0 0:3 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n");
  CgroupLayout got = CgroupLayoutFromMounts(t);
  EXPECT_EQ(got.version, "v1");
  EXPECT_EQ(got.controllers, (StringList{"cpu", "cpuacct", "net_cls", "net_prio"}));
}

TEST(CgroupLayout, NoCgroupMounts) {
  EXPECT_EQ(CgroupLayoutFromMounts(ParseMountInfo("1 0 8:1 / / rw - ext4 /dev/sda rw\n"))
                .version,
            "");
}

TEST(CgroupProbe, V2ControllersComeFromTheHierarchy) {
  TempTree t;
  t.Write("proc/1/mountinfo",
          "30 23 0:26 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw\n");
  t.Write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kCgroupVersion), "v2");
  EXPECT_EQ(*f.GetList(kCgroupControllers),
            (StringList{"cpu", "cpuset", "hugetlb", "io", "memory", "misc", "pids", "rdma"}));
  EXPECT_EQ(f.Find(kCgroupControllers)->source, "/sys/fs/cgroup/cgroup.controllers");
}

TEST(CgroupProbe, FallsBackToSelfMountinfo) {
  TempTree t;
  t.Write("proc/self/mountinfo",
          "1 0 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kCgroupVersion), "v1");
  EXPECT_EQ(f.Find(kCgroupVersion)->source, "/proc/self/mountinfo");
}

TEST(CgroupProbe, WithoutAMountTableReadsTheLayout) {
  TempTree t;
  t.Mkdir("sys/fs/cgroup/cpu,cpuacct");
  t.Mkdir("sys/fs/cgroup/memory");
  t.Mkdir("sys/fs/cgroup/unified");
  t.Mkdir("sys/fs/cgroup/systemd");
  t.Symlink("sys/fs/cgroup/cpu", "cpu,cpuacct");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kCgroupVersion), "hybrid");
  EXPECT_EQ(*f.GetList(kCgroupControllers), (StringList{"cpu", "cpuacct", "memory"}));
  EXPECT_EQ(f.Find(kCgroupVersion)->source, "/sys/fs/cgroup (layout)");
}

TEST(CgroupProbe, NothingIsAnErrorNotAGuess) {
  TempTree t;
  t.Write("etc/hostname", "x\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kCgroupVersion));
  bool found = false;
  for (const auto& e : f.errors()) found |= e.probe == "cgroup";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace cvm::probe
