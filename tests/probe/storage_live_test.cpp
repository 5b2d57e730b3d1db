// The storage and blockdev probes on a mount table the running kernel
// writes, not a saved one: in a forked child with private mount and PID
// namespaces, a copy of a real XFS image (tests/setup/make_fs_images.sh,
// Debian's mkfs.xfs) is loop-mounted on /var/lib as a separate disk, a
// directory with a space in its name is bind-mounted on /var/lib/kubelet
// (an escaped root field) and a tmpfs goes on "/var/lib/with space" (an
// escaped mount point). The child then scans "/" as PID 1 with a fresh
// /proc, so /proc/1/mountinfo is this namespace's table. Nothing outside
// the child's namespaces changes; the loop device clears itself when the
// namespace's mount goes away (mount(8) sets autoclear).
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "probe/child.h"
#include "probe/facts_json.h"
#include "probe/mountinfo.h"
#include "probe/registry.h"
#include "tests/support/pid1.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Runs in the child: the mounts, then the scan as PID 1. Returns a reason
// when a step fails (this machine may not allow it), else "".
std::string SetUpAndScan(const std::string& image, int out) {
  if (::unshare(CLONE_NEWNS) != 0) return "unshare: " + std::to_string(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "make private";
  std::string cmd = "mount -o loop " + image + " /var/lib";
  if (std::system(cmd.c_str()) != 0) return "`" + cmd + "` failed";
  for (const char* d : {"/var/lib/kubelet", "/var/lib/kubelet-data",
                        "/var/lib/kubelet-data/x y", "/var/lib/with space"}) {
    if (::mkdir(d, 0700) != 0) return std::string("mkdir ") + d;
  }
  if (::mount("/var/lib/kubelet-data/x y", "/var/lib/kubelet", nullptr, MS_BIND, nullptr) != 0) {
    return "bind mount";
  }
  if (::mount("tmpfs", "/var/lib/with space", "tmpfs", 0, "size=1m") != 0) return "tmpfs";
  // Only now (mount(8) above must not become PID 1).
  return cvm::testing::RunAsPid1([out] {
    json report;
    if (auto root = HostRoot::Open("/")) {
      report["facts"] = FactsToJson(RunProbes(*root))["facts"];
    }
    auto mountinfo = HostRoot::Open("/")->ReadFile("/proc/1/mountinfo", kMountInfoCap);
    report["mountinfo"] = mountinfo ? *mountinfo : "";
    WriteAll(out, report.dump());
  });
}

json RunScenario(const std::string& image) {
  auto run = RunChildWithDeadline(
      [&](int fd) {
        std::string why = SetUpAndScan(image, fd);
        if (!why.empty()) WriteAll(fd, json{{"error", why}}.dump());
      },
      std::chrono::seconds(120));
  if (!run) return {{"error", run.error().message}};
  return json::parse(run->output, nullptr, false);
}

TEST(StorageLive, SeparateXfsVarLibBindMountsAndEscapes) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for mount namespaces and loop devices";
  if (!fs::exists("/dev/loop-control")) GTEST_SKIP() << "no loop devices on this machine";
  cvm::testing::TempTree t;
  std::string image = t.Abs("var-lib.img");
  fs::copy_file(std::string(CVM_TEST_CACHE) + "/fs-images/xfs-v5.img", image);
  json got = RunScenario(image);
  ASSERT_FALSE(got.is_discarded());
  ASSERT_FALSE(got.contains("error")) << got["error"];
  const json& f = got["facts"];

  // The mount table as the kernel wrote it.
  MountTable table = ParseMountInfo(got["mountinfo"].get<std::string>());
  EXPECT_TRUE(table.warnings.empty());
  const MountInfo* spaced = FindMountFor(table, "/var/lib/with space/file");
  ASSERT_NE(spaced, nullptr);
  EXPECT_EQ(spaced->mount_point, "/var/lib/with space");
  EXPECT_EQ(spaced->fstype, "tmpfs");
  const MountInfo* kubelet = FindMountFor(table, "/var/lib/kubelet");
  ASSERT_NE(kubelet, nullptr);
  EXPECT_EQ(kubelet->root, "/kubelet-data/x y");
  EXPECT_EQ(kubelet->fstype, "xfs");

  // What the probes made of it.
  const json& var_lib = f["hostpath"]["var_lib"];
  EXPECT_EQ(var_lib["fstype"], "xfs");
  EXPECT_EQ(var_lib["mount_point"], "/var/lib");
  EXPECT_EQ(var_lib["source"].get<std::string>().rfind("/dev/loop", 0), 0u)
      << var_lib["source"];
  EXPECT_EQ(var_lib["readonly"], false);
  EXPECT_TRUE(var_lib["free_bytes"].is_number());
  EXPECT_EQ(f["hostpath"]["var_lib_kubelet"]["mount_point"], "/var/lib/kubelet");
  EXPECT_EQ(f["hostpath"]["var_lib_kubelet"]["fstype"], "xfs");
  const json& blk = f["blockdev"]["var_lib"];
  EXPECT_EQ(blk["type"], "xfs");
  EXPECT_EQ(blk["uuid"], "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c01");
  EXPECT_EQ(blk["label"], "cvm-xfs5");
  EXPECT_EQ(blk["xfs_ftype"], 1);
}

}  // namespace
}  // namespace cvm::probe
