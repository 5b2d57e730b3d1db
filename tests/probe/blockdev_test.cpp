// libblkid and the XFS superblock on real filesystem images, made by
// tests/setup/make_fs_images.sh (CTest fixture fs_images) with Debian's
// mkfs tools and cached in build/test-cache/fs-images.
#include "probe/blockdev.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "probe/registry.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::TempTree;
namespace fs = std::filesystem;

std::string Image(const std::string& name) {
  return std::string(CVM_TEST_CACHE) + "/fs-images/" + name;
}

std::string FirstBytes(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string out(n, '\0');
  in.read(out.data(), static_cast<std::streamsize>(n));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

TEST(XfsFtype, RealSuperblocks) {
  struct Row { std::string image; int want; };
  for (const Row& r : {Row{"xfs-v5.img", 1}, Row{"xfs-v4-ftype0.img", 0},
                       Row{"xfs-v4-ftype1.img", 1}}) {
    SCOPED_TRACE(r.image);
    auto got = ParseXfsFtype(FirstBytes(Image(r.image), 512));
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, r.want);
  }
}

TEST(XfsFtype, NotXfsIsAnError) {
  EXPECT_FALSE(ParseXfsFtype(FirstBytes(Image("ext4.img"), 512)));
  EXPECT_FALSE(ParseXfsFtype(FirstBytes(Image("xfs-v5.img"), 100)));
  EXPECT_FALSE(ParseXfsFtype(""));
}

TEST(XfsFtype, V4WithoutMoreBitsHasNoFtype) {
  std::string sb = FirstBytes(Image("xfs-v4-ftype1.img"), 512);
  sb[100] = static_cast<char>(static_cast<unsigned char>(sb[100]) & 0x7f);
  auto got = ParseXfsFtype(sb);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 0);
}

TEST(Uevent, DevName) {
  // /sys/dev/block/254:0/uevent of the build machine (Firecracker virtio).
  EXPECT_EQ(DevNameFromUevent("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n"
                              "DISKSEQ=9\n"),
            "vda");
  EXPECT_EQ(DevNameFromUevent("MAJOR=259\nMINOR=1\nDEVNAME=nvme1n1p1\nDEVTYPE=partition"),
            "nvme1n1p1");
  EXPECT_EQ(DevNameFromUevent("MAJOR=8\nMINOR=0\n"), "");
}

// Puts an image into the tree at `rel` (a hard link where it can, else a
// sparse copy) so that /dev/... inside the root is the image file.
void PlaceImage(TempTree& t, const std::string& image, const std::string& rel) {
  std::string dst = t.Abs(rel);
  fs::create_directories(fs::path(dst).parent_path());
  if (::link(Image(image).c_str(), dst.c_str()) == 0) return;
  std::string cmd = "cp --sparse=always '" + Image(image) + "' '" + dst + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

Facts ScanNode(TempTree& t, const std::string& mountinfo) {
  t.Write("proc/1/mountinfo", mountinfo);
  t.Mkdir("var/lib/kubelet");
  t.Mkdir("var/lib/containerd");
  auto root = HostRoot::Open(t.path());
  EXPECT_TRUE(root);
  return RunProbes(*root);
}

std::vector<std::string> BlockdevErrors(const Facts& f) {
  std::vector<std::string> out;
  for (const auto& e : f.errors()) {
    if (e.probe == "blockdev") out.push_back(e.message);
  }
  return out;
}

constexpr const char* kRoot = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n";

TEST(BlockdevProbe, FilesystemsOfVarLib) {
  struct Row { std::string image, type, uuid, label; int ftype; };
  for (const Row& r :
       {Row{"ext4.img", "ext4", "0f3c9a52-6d1e-4b0a-9f57-2e8d4c1b7a01", "cvm-ext4", -1},
        Row{"xfs-v5.img", "xfs", "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c01", "cvm-xfs5", 1},
        Row{"xfs-v4-ftype0.img", "xfs", "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c02", "cvm-xfs4-0", 0},
        Row{"btrfs.img", "btrfs", "2b3c4d5e-6f70-4b1c-9d2e-4f5a6b7c8d01", "cvm-btrfs", -1}}) {
    SCOPED_TRACE(r.image);
    TempTree t;
    PlaceImage(t, r.image, "dev/sdb1");
    Facts f = ScanNode(t, std::string(kRoot) + "2 1 8:17 / /var/lib rw - " + r.type +
                              " /dev/sdb1 rw\n");
    EXPECT_TRUE(BlockdevErrors(f).empty()) << BlockdevErrors(f).front();
    ASSERT_NE(f.GetString("blockdev.var_lib.type"), nullptr);
    EXPECT_EQ(*f.GetString("blockdev.var_lib.type"), r.type);
    EXPECT_EQ(*f.GetString("blockdev.var_lib.uuid"), r.uuid);
    EXPECT_EQ(*f.GetString("blockdev.var_lib.label"), r.label);
    if (r.ftype < 0) {
      EXPECT_FALSE(f.Has("blockdev.var_lib.xfs_ftype"));
    } else {
      EXPECT_EQ(f.GetInt("blockdev.var_lib.xfs_ftype"), r.ftype);
    }
    // kubelet and containerd dirs are on the same device: nothing repeated.
    EXPECT_FALSE(f.Has("blockdev.var_lib_kubelet.type"));
  }
}

TEST(BlockdevProbe, KubeletOnItsOwnDevice) {
  TempTree t;
  PlaceImage(t, "ext4.img", "dev/sdb1");
  PlaceImage(t, "xfs-v4-ftype0.img", "dev/mapper/vg-kubelet");
  Facts f = ScanNode(t, std::string(kRoot) +
                            "2 1 8:17 / /var/lib rw - ext4 /dev/sdb1 rw\n"
                            "3 2 253:0 / /var/lib/kubelet rw - xfs "
                            "/dev/mapper/vg-kubelet rw\n");
  EXPECT_TRUE(BlockdevErrors(f).empty()) << BlockdevErrors(f).front();
  EXPECT_EQ(*f.GetString("blockdev.var_lib.type"), "ext4");
  EXPECT_EQ(*f.GetString("blockdev.var_lib_kubelet.type"), "xfs");
  EXPECT_EQ(f.GetInt("blockdev.var_lib_kubelet.xfs_ftype"), 0);
  EXPECT_FALSE(f.Has("blockdev.var_lib_containerd.type"));
}

TEST(BlockdevProbe, SourceNotInRootFallsBackToSysDevBlock) {
  TempTree t;
  PlaceImage(t, "xfs-v5.img", "dev/nvme0n1p1");
  t.Write("sys/dev/block/259:1/uevent",
          "MAJOR=259\nMINOR=1\nDEVNAME=nvme0n1p1\nDEVTYPE=partition\n");
  Facts f = ScanNode(t, "1 0 259:1 / / rw - xfs /dev/root rw\n");
  EXPECT_TRUE(BlockdevErrors(f).empty()) << BlockdevErrors(f).front();
  EXPECT_EQ(*f.GetString("blockdev.var_lib.type"), "xfs");
  EXPECT_EQ(f.Find("blockdev.var_lib.type")->source, "libblkid(/dev/nvme0n1p1)");
}

TEST(BlockdevProbe, NoBlockDeviceIsSkippedSilently) {
  TempTree t;
  Facts f = ScanNode(t, "1 0 0:30 / / rw - overlay overlay rw,lowerdir=/a\n"
                        "2 1 0:31 / /var/lib rw - tmpfs tmpfs rw\n");
  EXPECT_TRUE(BlockdevErrors(f).empty());
  EXPECT_FALSE(f.Has("blockdev.var_lib.type"));
}

TEST(BlockdevProbe, BlankImageIsAnError) {
  TempTree t;
  PlaceImage(t, "blank.img", "dev/sdb1");
  Facts f = ScanNode(t, std::string(kRoot) + "2 1 8:17 / /var/lib rw - ext4 /dev/sdb1 rw\n");
  ASSERT_EQ(BlockdevErrors(f).size(), 1u);
  EXPECT_EQ(BlockdevErrors(f)[0], "/dev/sdb1: libblkid found no filesystem");
  EXPECT_FALSE(f.Has("blockdev.var_lib.type"));
}

TEST(BlockdevProbe, MissingDeviceIsAnError) {
  TempTree t;
  Facts f = ScanNode(t, std::string(kRoot) + "2 1 8:17 / /var/lib rw - ext4 /dev/sdb1 rw\n");
  ASSERT_EQ(BlockdevErrors(f).size(), 1u);
  EXPECT_NE(BlockdevErrors(f)[0].find("/dev/sdb1"), std::string::npos);
  EXPECT_NE(BlockdevErrors(f)[0].find("ENOENT"), std::string::npos);
}

TEST(BlockdevProbe, FifoIsRefused) {
  TempTree t;
  t.Fifo("dev/sdb1");
  Facts f = ScanNode(t, std::string(kRoot) + "2 1 8:17 / /var/lib rw - ext4 /dev/sdb1 rw\n");
  ASSERT_EQ(BlockdevErrors(f).size(), 1u);
  EXPECT_NE(BlockdevErrors(f)[0].find("not a block device"), std::string::npos);
}

}  // namespace
}  // namespace cvm::probe
