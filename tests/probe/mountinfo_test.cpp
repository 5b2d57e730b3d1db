#include "probe/mountinfo.h"

#include <gtest/gtest.h>

#include "tests/support/data.h"

namespace cvm::probe {
namespace {

TEST(MountInfoParse, TheProc5Example) {
  MountTable t = ParseMountInfo(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root "
      "rw,errors=continue\n");
  ASSERT_EQ(t.mounts.size(), 1u);
  MountInfo want;
  want.mount_id = 36;
  want.parent_id = 35;
  want.major = 98;
  want.minor = 0;
  want.root = "/mnt1";
  want.mount_point = "/mnt2";
  want.options = "rw,noatime";
  want.optional_fields = {"master:1"};
  want.fstype = "ext3";
  want.source = "/dev/root";
  want.super_options = "rw,errors=continue";
  EXPECT_EQ(t.mounts[0], want);
  EXPECT_EQ(t.mounts[0].Propagation(), "slave");
  EXPECT_FALSE(t.mounts[0].ReadOnly());
  EXPECT_TRUE(t.warnings.empty());
}

TEST(MountInfoParse, OctalEscapesAreDecoded) {
  MountTable t = ParseMountInfo(
      "50 27 0:44 / /mnt/with\\040space\\011tab ro,relatime shared:7 "
      "master:3 - fuse.sshfs user@host:/a\\134b rw\n");
  ASSERT_EQ(t.mounts.size(), 1u);
  EXPECT_EQ(t.mounts[0].mount_point, "/mnt/with space\ttab");
  EXPECT_EQ(t.mounts[0].source, "user@host:/a\\b");
  EXPECT_TRUE(t.mounts[0].ReadOnly());
  EXPECT_EQ(t.mounts[0].Propagation(), "shared,slave");
}

TEST(MountInfoParse, NoOptionalFieldsIsPrivate) {
  MountTable t = ParseMountInfo("22 27 0:21 / /proc rw,relatime - proc proc rw\n");
  ASSERT_EQ(t.mounts.size(), 1u);
  EXPECT_TRUE(t.mounts[0].optional_fields.empty());
  EXPECT_EQ(t.mounts[0].Propagation(), "private");
}

TEST(MountInfoParse, BadLinesWarnWithTheirNumber) {
  MountTable t = ParseMountInfo(
      "garbage\n"
      "x 27 0:21 / /proc rw - proc proc rw\n"
      "22 27 0:21 / /proc rw,relatime no-dash proc proc rw\n"
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n");
  EXPECT_EQ(t.mounts.size(), 1u);
  ASSERT_EQ(t.warnings.size(), 3u);
  EXPECT_EQ(t.warnings[0], "line 1: too few fields; line ignored");
  EXPECT_EQ(t.warnings[1], "line 2: bad mount id or device; line ignored");
}

TEST(MountInfoParse, MalformedEscapesAreKept) {
  EXPECT_EQ(UnescapeMountField("a\\9b\\"), "a\\9b\\");
  EXPECT_EQ(UnescapeMountField("\\040"), " ");
  EXPECT_EQ(UnescapeMountField("\\04"), "\\04");
}

// A diskless HPC compute node with its root on NFS (RHEL 7.6), as
// treydock/gpfs_exporter's collectors/mount_test.go quotes its /proc/mounts
// (tests/data/proc-mounts/SOURCES.md).
TEST(ProcMountsParse, NfsRootNode) {
  std::string text = cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/proc-mounts/osc-pitzer-nfs-root"));
  MountTable t = ParseProcMounts(text);
  EXPECT_TRUE(t.warnings.empty());
  EXPECT_FALSE(t.has_ids);
  ASSERT_EQ(t.mounts.size(), 5u);
  const MountInfo* var_lib = FindMountFor(t, "/var/lib/kubelet");
  ASSERT_NE(var_lib, nullptr);
  EXPECT_EQ(var_lib->mount_point, "/");
  EXPECT_EQ(var_lib->fstype, "nfs");
  EXPECT_EQ(var_lib->source, "pitzer_root.ten.osc.edu:/pitzer_root_rhel76_1");
  EXPECT_FALSE(var_lib->ReadOnly());
  const MountInfo* users = FindMountFor(t, "/users/PZS0710/x");
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->fstype, "nfs4");
  EXPECT_EQ(FindMountFor(t, "/tmp")->source, "/dev/mapper/vg0-lv_tmp");
}

TEST(ProcMountsParse, EscapesAndBadLines) {
  MountTable t = ParseProcMounts(
      "/dev/sdb1 /media/usb\\040disk vfat ro,nosuid 0 0\n"
      "\n"
      "short line\n"
      "none relative tmpfs rw 0 0\n");
  ASSERT_EQ(t.mounts.size(), 1u);
  EXPECT_EQ(t.mounts[0].mount_point, "/media/usb disk");
  EXPECT_TRUE(t.mounts[0].ReadOnly());
  ASSERT_EQ(t.warnings.size(), 2u);
  EXPECT_EQ(t.warnings[0], "line 3: too few fields; line ignored");
  EXPECT_EQ(t.warnings[1], "line 4: mount point is not an absolute path; line ignored");
}

TEST(MountInfoParse, RealDumpsParseCleanly) {
  std::string dir = cvm::testing::SourcePath("tests/data/mountinfo");
  for (const auto& name : cvm::testing::ListNames(dir, true)) {
    if (name == "SOURCES.md") continue;
    SCOPED_TRACE(name);
    MountTable t = ParseMountInfo(cvm::testing::ReadText(dir + "/" + name));
    EXPECT_TRUE(t.warnings.empty()) << t.warnings.front();
    EXPECT_GE(t.mounts.size(), 5u);
    EXPECT_NE(FindMountFor(t, "/"), nullptr);
  }
}

TEST(FindMountFor, LongestPrefixAndLastOnTopWins) {
  MountTable t = ParseMountInfo(
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "2 1 8:2 / /var rw - xfs /dev/sda2 rw\n"
      "3 2 0:50 / /var/lib/kubelet rw - nfs srv:/k rw\n"
      "4 1 8:3 / /var rw - ext4 /dev/sdb1 rw\n");
  EXPECT_EQ(FindMountFor(t, "/usr/src")->source, "/dev/sda1");
  EXPECT_EQ(FindMountFor(t, "/var/lib")->source, "/dev/sdb1");
  EXPECT_EQ(FindMountFor(t, "/var/lib/kubelet/pods")->fstype, "nfs");
  EXPECT_EQ(FindMountFor(t, "/var/lib/kubeletx")->source, "/dev/sdb1");
  EXPECT_EQ(FindMountFor(t, "/")->source, "/dev/sda1");
  EXPECT_EQ(FindMountFor(MountTable{}, "/"), nullptr);
}

TEST(MountInfoParse, MobyFedoraHostWithCifsEscapes) {
  MountTable t = ParseMountInfo(cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/mountinfo/moby-fedora-host-cifs")));
  EXPECT_TRUE(t.warnings.empty());
  ASSERT_EQ(t.mounts.size(), 58u);
  const MountInfo& cifs = t.mounts.back();
  EXPECT_EQ(cifs.mount_point, "/DATA/foo_bla_bla");
  EXPECT_EQ(cifs.fstype, "cifs");
  EXPECT_EQ(cifs.source, "//foo/BLA BLA BLA/");
  EXPECT_EQ(cifs.Propagation(), "private");
  struct Row { std::string_view path, mount_point, fstype; };
  for (const Row& r : {Row{"/var/lib", "/", "ext4"},
                       Row{"/var/lib/docker", "/", "ext4"},
                       Row{"/var/lib/libvirt/images/x", "/var/lib/libvirt/images", "ext4"},
                       Row{"/tmp/mnt/a", "/tmp/mnt", "ext4"},
                       Row{"/tmp", "/tmp", "tmpfs"},
                       Row{"/run/user/1000/gvfs", "/run/user/1000/gvfs", "fuse.gvfsd-fuse"},
                       Row{"/DATA/foo_bla_bla/f", "/DATA/foo_bla_bla", "cifs"}}) {
    SCOPED_TRACE(r.path);
    const MountInfo* m = FindMountFor(t, r.path);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->mount_point, r.mount_point);
    EXPECT_EQ(m->fstype, r.fstype);
  }
  EXPECT_EQ(FindMountFor(t, "/var/lib")->source, "/dev/mapper/ssd-root--f20");
  EXPECT_EQ(FindMountFor(t, "/var/lib")->Propagation(), "shared");
}

}  // namespace
}  // namespace cvm::probe
