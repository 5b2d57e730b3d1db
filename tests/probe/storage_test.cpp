#include "probe/storage.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "probe/child.h"
#include "probe/fact_catalog.h"
#include "probe/lookup_gate.h"
#include "probe/mountinfo.h"
#include "tests/support/hung_fuse.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::TempTree;
using namespace std::chrono_literals;

TEST(HostPathName, SlashesBecomeUnderscores) {
  struct Row { std::string_view path, want; };
  for (const Row& r : {Row{"/usr/src", "usr_src"}, Row{"/lib/modules", "lib_modules"},
                       Row{"/var/lib/kubelet", "var_lib_kubelet"}, Row{"/tmp", "tmp"}}) {
    SCOPED_TRACE(r.path);
    EXPECT_EQ(HostPathName(r.path), r.want);
  }
}

TEST(FsTypes, NetworkLocalAndNeither) {
  struct Row { std::string_view type; bool network, local; };
  for (const Row& r : {Row{"nfs", true, false}, Row{"nfs4", true, false},
                       Row{"cifs", true, false}, Row{"ceph", true, false},
                       Row{"glusterfs", true, false}, Row{"fuse.glusterfs", true, false},
                       Row{"fuse.sshfs", true, false}, Row{"fuse", true, false},
                       Row{"fuseblk", true, false}, Row{"ext4", false, true},
                       Row{"xfs", false, true}, Row{"btrfs", false, true},
                       Row{"overlay", false, true}, Row{"tmpfs", false, true},
                       Row{"proc", false, false}, Row{"fusectl", false, false},
                       Row{"nfsd", false, false}}) {
    SCOPED_TRACE(r.type);
    EXPECT_EQ(IsNetworkFsType(r.type), r.network);
    EXPECT_EQ(IsLocalFsType(r.type), r.local);
  }
}

TEST(ReadMountTable, PrefersPid1AndFallsBackOnlyOnEnoent) {
  TempTree t;
  t.Write("proc/self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/self rw\n");
  auto root = HostRoot::Open(t.path());
  auto got = ReadMountTable(*root);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->source, "/proc/self/mountinfo");
  EXPECT_EQ(got->table.mounts.at(0).source, "/dev/self");

  t.Write("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/pid1 rw\n");
  got = ReadMountTable(*root);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->source, "/proc/1/mountinfo");
  EXPECT_EQ(got->table.mounts.at(0).source, "/dev/pid1");
}

TEST(ReadMountTable, ProcMountsIsTheLastResort) {
  TempTree t;
  t.Write("proc/mounts", "/dev/sda1 / ext4 rw,relatime 0 0\n");
  auto root = HostRoot::Open(t.path());
  auto got = ReadMountTable(*root);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->source, "/proc/mounts");
  EXPECT_FALSE(got->table.has_ids);
  EXPECT_EQ(got->table.mounts.at(0).source, "/dev/sda1");

  t.Write("proc/self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/self rw\n");
  got = ReadMountTable(*root);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->source, "/proc/self/mountinfo");
  EXPECT_TRUE(got->table.has_ids);
}

// One read per scan: a second Get() returns the same table even when the
// file changed in between.
TEST(MountTableOnce, ReadsOnFirstUseOnly) {
  TempTree t;
  t.Write("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/first rw\n");
  auto root = HostRoot::Open(t.path());
  MountTableOnce once(*root);
  const auto& first = once.Get();
  ASSERT_TRUE(first);
  t.Write("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/second rw\n");
  const auto& second = once.Get();
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(second->table.mounts.at(0).source, "/dev/first");
}

TEST(ReadMountTable, OtherErrorsStopTheChain) {
  TempTree t;
  t.Mkdir("proc/1/mountinfo");  // EISDIR, not ENOENT
  t.Write("proc/self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/self rw\n");
  auto got = ReadMountTable(*HostRoot::Open(t.path()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, EISDIR);
  EXPECT_EQ(got.error().path, "/proc/1/mountinfo");
}

TEST(ReadMountTable, NeitherFileIsEnoent) {
  TempTree t;
  t.Mkdir("etc");
  auto got = ReadMountTable(*HostRoot::Open(t.path()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ENOENT);
}

TEST(MountInfoReadOnly, SuperblockRoCounts) {
  MountTable t = ParseMountInfo(
      "1 0 8:1 / / rw,relatime - ext4 /dev/a ro\n"
      "2 0 8:2 / /b ro,relatime - ext4 /dev/b rw\n"
      "3 0 8:3 / /c rw,relatime - ext4 /dev/c rw,errors=remount-ro\n");
  EXPECT_TRUE(t.mounts[0].ReadOnly());
  EXPECT_TRUE(t.mounts[1].ReadOnly());
  EXPECT_FALSE(t.mounts[2].ReadOnly());
}

TEST(RunChildWithDeadline, CleanExitGivesAllOutput) {
  auto run = RunChildWithDeadline([](int fd) { WriteAll(fd, "hello"); }, 2000ms);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->output, "hello");
  EXPECT_FALSE(run->timed_out);
  EXPECT_TRUE(run->clean_exit);
}

TEST(RunChildWithDeadline, HangIsKilledAndEarlierOutputKept) {
  auto start = std::chrono::steady_clock::now();
  auto run = RunChildWithDeadline(
      [](int fd) {
        WriteAll(fd, "step1");
        std::this_thread::sleep_for(60s);
      },
      200ms);
  ASSERT_TRUE(run);
  EXPECT_TRUE(run->timed_out);
  EXPECT_FALSE(run->clean_exit);
  EXPECT_EQ(run->output, "step1");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// Three hung children and two quick ones: the call ends at about one
// deadline (not three), answers come back in order, and each hung child
// keeps what it wrote before it was killed.
TEST(RunChildrenWithDeadline, HungChildrenShareOneDeadline) {
  std::vector<std::function<void(int)>> works;
  for (int i = 0; i < 5; ++i) {
    works.push_back([i](int fd) {
      WriteAll(fd, "child" + std::to_string(i));
      if (i % 2 == 0) std::this_thread::sleep_for(60s);
    });
  }
  auto start = std::chrono::steady_clock::now();
  auto runs = RunChildrenWithDeadline(works, 1000ms);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 5u);
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ((*runs)[i].output, "child" + std::to_string(i));
    EXPECT_EQ((*runs)[i].timed_out, i % 2 == 0);
    EXPECT_EQ((*runs)[i].clean_exit, i % 2 != 0);
  }
  EXPECT_GE(took, 1000ms);
  // Three deadlines one after another would be 3000 ms; the margin is for
  // a loaded machine, not a speed goal.
  EXPECT_LT(took, 2800ms);
}

TEST(RunChildrenWithDeadline, NoWorksIsNoChildren) {
  auto runs = RunChildrenWithDeadline({}, 100ms);
  ASSERT_TRUE(runs);
  EXPECT_TRUE(runs->empty());
}

// LookupGate: this process's mounts decide which lookups may block.
MountTable Mounts(std::string_view text) { return ParseMountInfo(text); }

constexpr std::string_view kOwnMounts =
    "21 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
    "22 21 0:20 / /proc rw - proc proc rw\n"
    "30 21 0:25 / /run rw - tmpfs tmpfs rw\n"
    "40 21 259:1 / /var/lib rw - xfs /dev/nvme1n1p1 rw\n"
    "41 40 0:51 / /var/lib/kubelet rw - nfs4 10.0.0.5:/export rw\n"
    "42 40 0:77 / /var/lib/sysboxfs rw - fuse sysbox-fs rw\n"
    "43 21 0:78 / /mnt/auto rw - autofs systemd-1 rw\n";

TEST(LookupGate, AllowsWhatSitsOnLocalAndPseudoFilesystemsOnly) {
  LookupGate gate(Mounts(kOwnMounts), "/");
  struct Row { std::string_view path; bool allowed; };
  for (const Row& r : {Row{"/", true}, Row{"/var/lib", true}, Row{"/var/lib/docker", true},
                       Row{"/run", true}, Row{"/proc/1", true},
                       Row{"/var/lib/kubelet", false}, Row{"/var/lib/kubelet/pods", false},
                       Row{"/var/lib/sysboxfs", false}, Row{"/mnt/auto", false},
                       Row{"/mnt/auto/x", false},
                       // component-wise: a longer name is another path
                       Row{"/var/lib/kubelet2", true}, Row{"/var/lib/sysboxfs.d", true}}) {
    SCOPED_TRACE(r.path);
    EXPECT_EQ(gate.Allows(r.path), r.allowed);
  }
}

TEST(LookupGate, MapsInRootPathsThroughTheRootsPath) {
  LookupGate gate(Mounts(kOwnMounts), "/var/lib");
  EXPECT_TRUE(gate.Allows("/"));
  EXPECT_TRUE(gate.Allows("/docker"));
  EXPECT_FALSE(gate.Allows("/kubelet"));
  EXPECT_FALSE(gate.Allows("/kubelet/x"));
  // A root inside a blocking mount: even its own directory is refused.
  LookupGate under(Mounts(kOwnMounts), "/var/lib/kubelet/pods");
  EXPECT_FALSE(under.Allows("/"));
  EXPECT_FALSE(under.Allows("/etc"));
}

TEST(LookupGate, EveryMountOnTheWayCountsNotOnlyTheTopOne) {
  // tmpfs on /var/lib/docker, then a FUSE filesystem mounted over /var/lib
  // hides it: the lookup of /var/lib/docker goes through the FUSE one.
  LookupGate gate(Mounts("21 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                         "30 21 0:25 / /var/lib/docker rw - tmpfs tmpfs rw\n"
                         "31 21 0:26 / /var/lib rw - fuse.sshfs host:/ rw\n"),
                  "/");
  EXPECT_FALSE(gate.Allows("/var/lib/docker"));
  EXPECT_TRUE(gate.Allows("/usr"));
}

TEST(LookupGate, ABlockingRootMountOrNoTableAllowsNothing) {
  LookupGate nfs_root(Mounts("21 1 0:51 / / rw - nfs 10.0.0.5:/root rw\n"), "/");
  EXPECT_FALSE(nfs_root.Allows("/"));
  EXPECT_FALSE(nfs_root.Allows("/etc"));
  LookupGate none;
  EXPECT_FALSE(none.AllowsAnything());
  EXPECT_FALSE(none.Allows("/etc"));
  LookupGate unknown(Mounts("21 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                            "30 21 0:25 / /data rw - newfs x rw\n"),
                     "/");
  EXPECT_FALSE(unknown.Allows("/data/x")) << "an unknown type may block";
  EXPECT_TRUE(unknown.Allows("/etc"));
}

TEST(LookupGate, ForRootReadsThisProcesssMounts) {
  TempTree t;
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  LookupGate gate = LookupGate::ForRoot(*root);
  ASSERT_TRUE(gate.AllowsAnything());
  // The test's temporary folder is on a disk or tmpfs here; a machine
  // whose /tmp is on NFS would refuse, which is the point.
  std::ifstream in("/proc/self/mountinfo");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  LookupGate same(ParseMountInfo(text), *root->PathInProcess());
  EXPECT_EQ(gate.Allows("/x"), same.Allows("/x"));
}

Facts Scan(const TempTree& t, const StorageOptions& options = {}) {
  auto root = HostRoot::Open(t.path());
  EXPECT_TRUE(root);
  Facts earlier;
  ProbeOptions popts;
  MountTableOnce mounts(*root);
  ProbeContext ctx{*root, earlier, popts, mounts};
  ProbeOutput out = ProbeStorageWith(ctx, options);
  Facts f;
  for (auto& [name, fact] : out.facts) {
    EXPECT_NE(FindFactSpec(name), nullptr) << name << " is not declared";
    f.Set(name, fact.value, fact.source);
  }
  for (auto& e : out.errors) f.AddError({"storage", e.path, e.message});
  return f;
}

constexpr std::string_view kNode =
    "21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "30 21 0:25 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,mode=755\n"
    "40 21 259:1 / /var/lib rw,noatime shared:20 - xfs /dev/nvme1n1p1 rw\n"
    "41 40 0:51 / /var/lib/kubelet rw,relatime master:7 - nfs4 "
    "10.0.0.5:/export rw,vers=4.1\n"
    "50 21 8:1 / /usr ro,relatime shared:2 - ext4 /dev/sda1 ro\n";

void LayOutNode(TempTree& t) {
  t.Write("proc/1/mountinfo", std::string(kNode));
  t.Mkdir("run");
  t.Symlink("var/run", "../run");
  t.Mkdir("var/lib/kubelet");
  t.Mkdir("usr/src");
  t.Mkdir("tmp");
}

TEST(StorageProbe, MountFactsOfANode) {
  TempTree t;
  LayOutNode(t);
  Facts f = Scan(t);
  EXPECT_TRUE(f.errors().empty()) << f.errors().front().message;
  EXPECT_EQ(*f.GetString("hostpath.var_run.resolved"), "/run");
  EXPECT_EQ(*f.GetString("hostpath.var_run.fstype"), "tmpfs");
  EXPECT_EQ(*f.GetString("hostpath.var_lib.fstype"), "xfs");
  EXPECT_EQ(*f.GetString("hostpath.var_lib.source"), "/dev/nvme1n1p1");
  EXPECT_EQ(*f.GetString("hostpath.var_lib.mount_point"), "/var/lib");
  EXPECT_EQ(*f.GetString("hostpath.var_lib.propagation"), "shared");
  EXPECT_EQ(*f.GetString("hostpath.var_lib_kubelet.propagation"), "slave");
  EXPECT_EQ(*f.GetString("hostpath.var_lib_kubelet.fstype"), "nfs4");
  EXPECT_EQ(f.GetBool("hostpath.usr_src.readonly"), true);
  EXPECT_EQ(f.GetBool("hostpath.tmp.readonly"), false);
  EXPECT_EQ(*f.GetList(kStorageNetworkFilesystems),
            (StringList{"/var/lib/kubelet nfs4 10.0.0.5:/export"}));
  // A folder root: its /proc is not live, so no statvfs.
  EXPECT_FALSE(f.Has("hostpath.var_lib.free_bytes"));
}

TEST(StorageProbe, MissingPathIsFalseWithoutMountFactsOrError) {
  TempTree t;
  LayOutNode(t);
  Facts f = Scan(t);
  EXPECT_EQ(f.GetBool("hostpath.lib_modules.exists"), false);
  EXPECT_EQ(f.GetBool("hostpath.var_lib_docker.exists"), false);
  EXPECT_FALSE(f.Has("hostpath.lib_modules.resolved"));
  EXPECT_FALSE(f.Has("hostpath.lib_modules.fstype"));
  EXPECT_FALSE(f.Has("hostpath.var_lib_docker.mount_point"));
  EXPECT_TRUE(f.errors().empty());
}

TEST(StorageProbe, DanglingLinkIsMissing) {
  TempTree t;
  t.Write("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
  t.Symlink("var/run", "/run");  // no /run
  Facts f = Scan(t);
  EXPECT_EQ(f.GetBool("hostpath.var_run.exists"), false);
  EXPECT_FALSE(f.Has("hostpath.var_run.resolved"));
}

TEST(StorageProbe, ComponentNotADirectoryIsMissing) {
  TempTree t;
  t.Write("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
  t.Write("var/lib", "a file");
  Facts f = Scan(t);
  EXPECT_EQ(f.GetBool("hostpath.var_lib_kubelet.exists"), false);
  EXPECT_EQ(f.GetBool("hostpath.var_lib.exists"), true);
}

TEST(StorageProbe, LinkLoopIsAnErrorNotFalse) {
  TempTree t;
  t.Write("proc/1/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
  t.Symlink("tmp", "/tmp");
  Facts f = Scan(t);
  EXPECT_FALSE(f.Has("hostpath.tmp.exists"));
  ASSERT_EQ(f.errors().size(), 1u);
  EXPECT_NE(f.errors()[0].message.find("ELOOP"), std::string::npos);
}

TEST(StorageProbe, NoMountTableLeavesMountFactsOutWithOneError) {
  TempTree t;
  t.Mkdir("var/lib");
  t.Symlink("var/run", "/run");
  t.Mkdir("run");
  StorageOptions options;
  options.statvfs_without_procfs = true;
  Facts f = Scan(t, options);
  EXPECT_EQ(f.GetBool("hostpath.var_lib.exists"), true);
  EXPECT_EQ(*f.GetString("hostpath.var_run.resolved"), "/run");
  EXPECT_FALSE(f.Has("hostpath.var_lib.fstype"));
  EXPECT_FALSE(f.Has("hostpath.var_lib.free_bytes"));
  EXPECT_FALSE(f.Has(kStorageNetworkFilesystems));
  ASSERT_EQ(f.errors().size(), 1u);
  EXPECT_EQ(f.errors()[0].path, "/proc/mounts");
}

TEST(StorageProbe, FreeBytesOnLocalTypesOnly) {
  TempTree t;
  LayOutNode(t);
  StorageOptions options;
  options.statvfs_without_procfs = true;
  Facts f = Scan(t, options);
  EXPECT_TRUE(f.errors().empty()) << f.errors().front().message;
  // The temp folder's own filesystem answers for the local mounts.
  auto got = f.GetInt("hostpath.var_lib.free_bytes");
  ASSERT_TRUE(got.has_value());
  EXPECT_GT(*got, 0);
  EXPECT_TRUE(f.GetInt("hostpath.tmp.free_bytes").has_value());
  EXPECT_FALSE(f.Has("hostpath.var_lib_kubelet.free_bytes"));  // nfs4
  EXPECT_FALSE(f.Has("hostpath.lib_modules.free_bytes"));      // missing
}

// A FUSE server that never answers, mounted on /var/lib/kubelet: resolving
// the path already blocks (fstat sends FUSE_GETATTR), so the child is
// killed at the deadline with an error, and the scan goes on with the
// other paths. The path being a mount point, the mount table still says it
// exists and what is mounted there.
TEST(StorageProbe, HungFuseMountEndsAtTheDeadline) {
  for (bool as_local : {false, true}) {
    SCOPED_TRACE(as_local ? "fuse.hung passed off as local" : "fuse.hung");
    TempTree t;
    LayOutNode(t);
    t.Write("proc/1/mountinfo",
            std::string(kNode) +
                "60 40 0:77 / /var/lib/kubelet rw,nosuid,nodev - fuse.hung "
                "hung rw,user_id=0,group_id=0\n");
    cvm::testing::HungFuse fuse(t.Abs("var/lib/kubelet"));
    if (!fuse.ok()) GTEST_SKIP() << fuse.why();
    StorageOptions options;
    options.statvfs_deadline = 300ms;
    options.statvfs_without_procfs = true;
    if (as_local) options.extra_local_types = {"fuse.hung"};
    auto start = std::chrono::steady_clock::now();
    Facts f = Scan(t, options);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
    EXPECT_EQ(f.GetBool("hostpath.var_lib_kubelet.exists"), true);
    EXPECT_EQ(*f.GetString("hostpath.var_lib_kubelet.fstype"), "fuse.hung");
    EXPECT_FALSE(f.Has("hostpath.var_lib_kubelet.resolved"));
    EXPECT_FALSE(f.Has("hostpath.var_lib_kubelet.free_bytes"));
    EXPECT_EQ(*f.GetList(kStorageNetworkFilesystems),
              StringList{"/var/lib/kubelet fuse.hung hung"});
    EXPECT_EQ(f.GetBool("hostpath.var_lib.exists"), true);
    EXPECT_TRUE(f.GetInt("hostpath.var_lib.free_bytes").has_value());
    ASSERT_EQ(f.errors().size(), 1u);
    EXPECT_EQ(f.errors()[0].path, "/var/lib/kubelet");
    EXPECT_NE(f.errors()[0].message.find("did not answer within 300 ms"),
              std::string::npos)
        << f.errors()[0].message;
  }
}

// The process state letter of `pid` (/proc/PID/stat), '?' if gone.
char ProcState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

// Issue 20: a child killed at its deadline while the kernel holds it (a
// FUSE request the server took and never answers: SIGKILL waits) is not
// left a zombie, not forked again for the same key while it hangs, and
// reaped once it ends.
TEST(HungChildren, AChildStuckAfterSigkillIsKeptReapedAndNotForkedAgain) {
  TempTree t;
  t.Mkdir("m");
  cvm::testing::HungFuse fuse(t.Abs("m"), cvm::testing::HungFuse::Mode::kTakeAndHold);
  if (!fuse.ok()) GTEST_SKIP() << fuse.why();
  std::string dir = t.Abs("m");
  std::function<void(int)> statfs = [dir](int fd) {
    struct statvfs sv;
    int r = ::statvfs(dir.c_str(), &sv);
    WriteAll(fd, r == 0 ? "ok" : "errno " + std::to_string(errno));
  };
  const std::vector<std::string> keys = {"statvfs m"};
  ASSERT_TRUE(ReapHungChildren().empty());

  auto first = RunChildrenWithDeadline({statfs}, 300ms, keys);
  ASSERT_TRUE(first);
  EXPECT_TRUE((*first)[0].timed_out);
  EXPECT_FALSE((*first)[0].hung_since);
  std::vector<HungChild> hung = ReapHungChildren();
  ASSERT_EQ(hung.size(), 1u) << "the killed child should still be in the kernel";
  EXPECT_EQ(hung[0].key, "statvfs m");
  pid_t pid = hung[0].pid;
  EXPECT_EQ(ProcState(pid), 'D') << "uninterruptible, SIGKILL pending";
  EXPECT_EQ(fuse.held(), 1);

  // The same key again: no fork, the answer says since when it hangs.
  auto second = RunChildrenWithDeadline({statfs}, 300ms, keys);
  ASSERT_TRUE(second);
  EXPECT_TRUE((*second)[0].timed_out);
  ASSERT_TRUE((*second)[0].hung_since);
  EXPECT_EQ(*(*second)[0].hung_since, hung[0].since);
  EXPECT_EQ((*second)[0].output, "");
  EXPECT_EQ(fuse.held(), 1) << "a second child reached the dead mount";
  // Another key still runs.
  auto other = RunChildrenWithDeadline({[](int fd) { WriteAll(fd, "x"); }}, 2000ms, {"other"});
  ASSERT_TRUE(other);
  EXPECT_TRUE((*other)[0].clean_exit);

  // The server goes away: the held request fails, the child ends and is
  // reaped (no zombie left), and the key is tried again.
  EXPECT_EQ(ProcState(pid), 'D') << "still held";
  fuse.Abort();
  for (auto end = std::chrono::steady_clock::now() + 10s;
       !ReapHungChildren().empty() && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ReapHungChildren().empty());
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD) << "the child was not reaped";
  EXPECT_EQ(ProcState(pid), '?');
  auto third = RunChildrenWithDeadline({statfs}, 2000ms, keys);
  ASSERT_TRUE(third);
  EXPECT_FALSE((*third)[0].hung_since);
  EXPECT_FALSE((*third)[0].timed_out);
  // Abort() also detached the mount: the folder answers for itself again.
  EXPECT_EQ((*third)[0].output, "ok");
}

// The storage probe keys its children by root and path: the scan after a
// hang reports the path as hung since the first scan, without a new child.
TEST(StorageProbe, TheNextScanReportsAPathStillHungSinceTheFirst) {
  TempTree t;
  LayOutNode(t);
  t.Write("proc/1/mountinfo",
          std::string(kNode) +
              "60 40 0:77 / /var/lib/kubelet rw,nosuid,nodev - fuse.hung "
              "hung rw,user_id=0,group_id=0\n");
  cvm::testing::HungFuse fuse(t.Abs("var/lib/kubelet"),
                              cvm::testing::HungFuse::Mode::kTakeAndHold);
  if (!fuse.ok()) GTEST_SKIP() << fuse.why();
  StorageOptions options;
  options.statvfs_deadline = 300ms;
  options.statvfs_without_procfs = true;
  Facts first = Scan(t, options);
  ASSERT_EQ(first.errors().size(), 1u);
  EXPECT_NE(first.errors()[0].message.find("did not answer within 300 ms"), std::string::npos)
      << first.errors()[0].message;
  int held = fuse.held();
  EXPECT_GE(held, 1);
  Facts second = Scan(t, options);
  ASSERT_EQ(second.errors().size(), 1u);
  EXPECT_EQ(second.errors()[0].path, "/var/lib/kubelet");
  EXPECT_NE(second.errors()[0].message.find("has hung since 20"), std::string::npos)
      << second.errors()[0].message;
  EXPECT_EQ(fuse.held(), held) << "the second scan forked a child onto the dead mount";
  // The mount table still says what holds the path.
  EXPECT_EQ(*second.GetString("hostpath.var_lib_kubelet.fstype"), "fuse.hung");
  EXPECT_TRUE(second.GetInt("hostpath.var_lib.free_bytes").has_value());
  fuse.Abort();
  for (auto end = std::chrono::steady_clock::now() + 10s;
       !ReapHungChildren().empty() && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ReapHungChildren().empty());
}

}  // namespace
}  // namespace cvm::probe
