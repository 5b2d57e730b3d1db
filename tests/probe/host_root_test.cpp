// HostRoot: every resolution and refusal case, on both resolvers.
#include "probe/host_root.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::TempTree;

class HostRootTest : public ::testing::TestWithParam<Resolver> {
 protected:
  void SetUp() override {
    if (GetParam() == Resolver::kOpenat2 && !HostRoot::KernelHasOpenat2()) {
      GTEST_SKIP() << "kernel has no openat2(2)";
    }
    // A file outside the root that no resolution may ever reach.
    outside_.Write("etc/os-release", "ID=outside\n");
    outside_.Write("secret", "outside\n");
    tree_.Write("usr/lib/os-release", "ID=inside\n");
  }
  HostRoot Root() {
    auto root = HostRoot::Open(tree_.path(), GetParam());
    EXPECT_TRUE(root.has_value());
    return *root;
  }
  TempTree outside_;
  TempTree tree_;
};

TEST_P(HostRootTest, ReadsARegularFile) {
  auto text = Root().ReadFile("/usr/lib/os-release");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, "ID=inside\n");
}

TEST_P(HostRootTest, ReportsTheResolverInUse) {
  EXPECT_EQ(Root().resolver(), GetParam());
}

TEST_P(HostRootTest, AbsoluteSymlinkLandsInsideTheRoot) {
  tree_.Symlink("etc/os-release", "/usr/lib/os-release");
  auto text = Root().ReadFile("/etc/os-release");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, "ID=inside\n");
}

TEST_P(HostRootTest, RelativeSymlinkResolves) {
  tree_.Symlink("etc/os-release", "../usr/lib/os-release");
  auto text = Root().ReadFile("etc/os-release");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, "ID=inside\n");
}

TEST_P(HostRootTest, DotDotStopsAtTheRoot) {
  auto text = Root().ReadFile("/../../../usr/lib/os-release");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, "ID=inside\n");
}

TEST_P(HostRootTest, RelativeLinkEscapingWithDotDotStaysInside) {
  // ../../../../<outside>/secret from /etc: clamps at the root.
  tree_.Symlink("etc/escape", "../../../../../../../../" + outside_.path() + "/secret");
  auto text = Root().ReadFile("/etc/escape");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ENOENT);
}

TEST_P(HostRootTest, AbsoluteLinkToAnOutsidePathStaysInside) {
  tree_.Symlink("etc/os-release", outside_.Abs("etc/os-release"));
  auto text = Root().ReadFile("/etc/os-release");
  ASSERT_FALSE(text) << "read outside the root: " << *text;
  EXPECT_EQ(text.error().code, ENOENT);
}

TEST_P(HostRootTest, AbsoluteLinkToEtcPasswdReadsTheRootsOwn) {
  tree_.Write("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  tree_.Symlink("etc/link", "/etc/passwd");
  auto text = Root().ReadFile("/etc/link");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, "root:x:0:0::/root:/bin/sh\n");
}

TEST_P(HostRootTest, SymlinkLoopIsEloop) {
  tree_.Symlink("etc/a", "b");
  tree_.Symlink("etc/b", "a");
  auto text = Root().ReadFile("/etc/a");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ELOOP);
  EXPECT_EQ(text.error().message,
            "/etc/a: Too many levels of symbolic links (ELOOP)");
}

TEST_P(HostRootTest, ChainLongerThanTheLimitIsEloop) {
  tree_.Write("f", "end\n");
  tree_.Symlink("l0", "/f");
  for (int i = 1; i <= kMaxSymlinkHops + 1; ++i) {
    tree_.Symlink("l" + std::to_string(i), "/l" + std::to_string(i - 1));
  }
  auto root = Root();
  EXPECT_TRUE(root.ReadFile("/l" + std::to_string(kMaxSymlinkHops - 1)));
  auto text = root.ReadFile("/l" + std::to_string(kMaxSymlinkHops + 1));
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ELOOP);
}

TEST_P(HostRootTest, FifoIsRefusedWithoutBlocking) {
  tree_.Fifo("etc/os-release");
  auto text = Root().ReadFile("/etc/os-release");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().message,
            "/etc/os-release: refused: a FIFO, not a regular file");
}

TEST_P(HostRootTest, LinkToDevZeroDoesNotReachTheHostsDevice) {
  tree_.Symlink("etc/os-release", "/dev/zero");
  auto text = Root().ReadFile("/etc/os-release");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ENOENT);
}

TEST_P(HostRootTest, CharacterDeviceInsideTheRootIsRefused) {
  std::string dev = tree_.Abs("dev/zero");
  tree_.Mkdir("dev");
  if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 5)) != 0) {
    GTEST_SKIP() << "mknod needs CAP_MKNOD";
  }
  tree_.Symlink("etc/os-release", "/dev/zero");
  auto text = Root().ReadFile("/etc/os-release");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().message,
            "/etc/os-release: refused: a character device, not a regular file");
}

TEST_P(HostRootTest, SocketIsRefused) {
  tree_.Mkdir("run");
  std::string path = tree_.Abs("run/sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  path.copy(addr.sun_path, path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto text = Root().ReadFile("/run/sock");
  ::close(fd);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().message, "/run/sock: refused: a socket, not a regular file");
}

TEST_P(HostRootTest, DirectoryWhereAFileIsExpectedIsEisdir) {
  tree_.Mkdir("etc/os-release");
  auto text = Root().ReadFile("/etc/os-release");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, EISDIR);
}

TEST_P(HostRootTest, FileOverTheCapIsEfbigNotTruncated) {
  std::string big = tree_.Abs("big");
  int fd = ::open(big.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 100 << 20), 0);  // 100 MiB, sparse
  ::close(fd);
  auto text = Root().ReadFile("/big");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, EFBIG);
  EXPECT_EQ(text.error().path, "/big");
}

TEST_P(HostRootTest, CapIsOverridablePerCall) {
  tree_.Write("ten", "0123456789");
  auto root = Root();
  EXPECT_TRUE(root.ReadFile("/ten", 10));
  auto text = root.ReadFile("/ten", 9);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, EFBIG);
}

TEST_P(HostRootTest, UnreadableFileIsEacces) {
  tree_.Write("etc/shadow", "secret\n", 0000);
  auto root = Root();
  // Root reads anything: check as an unprivileged user in a child process.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(3);
    auto text = root.ReadFile("/etc/shadow");
    _exit(!text && text.error().code == EACCES ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "cannot drop privileges";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_P(HostRootTest, MissingFileNamesTheInRootPath) {
  auto text = Root().ReadFile("etc//nothing/");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ENOENT);
  EXPECT_EQ(text.error().message,
            "/etc/nothing: No such file or directory (ENOENT)");
}

TEST_P(HostRootTest, FileUsedAsDirectoryIsEnotdir) {
  auto text = Root().ReadFile("/usr/lib/os-release/x");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ENOTDIR);
}

TEST_P(HostRootTest, ListDirSortsAndTypesEntries) {
  tree_.Write("d/b", "");
  tree_.Mkdir("d/a");
  tree_.Symlink("d/c", "/nowhere");
  auto entries = Root().ListDir("/d");
  ASSERT_TRUE(entries) << entries.error().message;
  std::vector<DirEntry> want = {{"a", FileType::kDirectory},
                                {"b", FileType::kRegular},
                                {"c", FileType::kSymlink}};
  EXPECT_EQ(*entries, want);
}

TEST_P(HostRootTest, ListDirFollowsLinksInsideTheRoot) {
  tree_.Write("real/x", "");
  tree_.Symlink("alias", "/real");
  auto entries = Root().ListDir("/alias");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].name, "x");
}

TEST_P(HostRootTest, ListDirIsBounded) {
  for (int i = 0; i < 5; ++i) tree_.Write("many/" + std::to_string(i), "");
  auto entries = Root().ListDir("/many", 4);
  ASSERT_FALSE(entries);
  EXPECT_EQ(entries.error().code, E2BIG);
}

TEST_P(HostRootTest, StatFollowsAndLstatDoesNot) {
  tree_.Symlink("etc/os-release", "../usr/lib/os-release");
  auto root = Root();
  auto st = root.Stat("/etc/os-release");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->type, FileType::kRegular);
  EXPECT_EQ(st->size, 10u);
  auto lst = root.Lstat("/etc/os-release");
  ASSERT_TRUE(lst);
  EXPECT_EQ(lst->type, FileType::kSymlink);
}

TEST_P(HostRootTest, ReadLinkGivesTheStoredTarget) {
  tree_.Symlink("etc/os-release", "../usr/lib/os-release");
  auto target = Root().ReadLink("/etc/os-release");
  ASSERT_TRUE(target);
  EXPECT_EQ(*target, "../usr/lib/os-release");
}

TEST_P(HostRootTest, ResolveGivesTheCanonicalInRootPath) {
  tree_.Mkdir("run/lock");
  tree_.Symlink("var/run", "/run");
  auto root = Root();
  auto p = root.Resolve("/var/run/lock");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, "/run/lock");
  auto top = root.Resolve("/..");
  ASSERT_TRUE(top);
  EXPECT_EQ(*top, "/");
}

TEST_P(HostRootTest, OpenBlockDeviceAcceptsImageFilesAndRefusesFifos) {
  tree_.Write("dev/disk.img", std::string(4096, '\0'));
  tree_.Symlink("dev/sda", "/dev/disk.img");
  tree_.Fifo("dev/fifo");
  auto root = Root();
  auto fd = root.OpenBlockDevice("/dev/sda");
  ASSERT_TRUE(fd) << fd.error().message;
  EXPECT_TRUE(fd->valid());
  auto bad = root.OpenBlockDevice("/dev/fifo");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "/dev/fifo: refused: a FIFO, not a block device");
}

TEST_P(HostRootTest, PinDirectoryGivesAUsablePath) {
  tree_.Write("lib/modules/6.1.0/modules.dep", "kernel/fs/x.ko:\n");
  auto pinned = Root().PinDirectory("/lib/modules/6.1.0");
  ASSERT_TRUE(pinned) << pinned.error().message;
  struct stat st;
  EXPECT_EQ(::stat((pinned->path + "/modules.dep").c_str(), &st), 0);
}

TEST_P(HostRootTest, AFolderRootHasNoProcfs) { EXPECT_FALSE(Root().HasProcfs()); }

// The gated Resolve (the storage probe's in-process path) asks before
// every lookup, with canonical in-root paths, links followed.
TEST(HostRootGatedResolve, AsksBeforeEachLookupWithCanonicalPaths) {
  TempTree t;
  t.Mkdir("run/lock");
  t.Symlink("var/run", "../run");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  std::vector<std::string> asked;
  auto r = root->Resolve("/var/run/lock", [&](std::string_view p) {
    asked.emplace_back(p);
    return true;
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "/run/lock");
  EXPECT_EQ(asked, (std::vector<std::string>{"/", "/var", "/var/run", "/run", "/run/lock"}));
}

TEST(HostRootGatedResolve, ARefusalStopsTheWalkBeforeTheLookup) {
  TempTree t;
  t.Mkdir("run");
  t.Symlink("var/run", "/run");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  std::vector<std::string> asked;
  auto r = root->Resolve("/var/run/missing", [&](std::string_view p) {
    asked.emplace_back(p);
    return p != "/run";
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, HostRoot::kLookupRefused);
  EXPECT_EQ(asked.back(), "/run") << "nothing is looked up after a refusal";
  // Without a refusal the same path is an ordinary ENOENT.
  auto plain = root->Resolve("/var/run/missing", [](std::string_view) { return true; });
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, ENOENT);
}

TEST(HostRootPathInProcess, NamesTheOpenRoot) {
  TempTree t;
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  auto where = root->PathInProcess();
  ASSERT_TRUE(where) << where.error().message;
  char real[4096];
  ASSERT_NE(::realpath(t.path().c_str(), real), nullptr);
  EXPECT_EQ(*where, real);
  auto slash = HostRoot::Open("/");
  ASSERT_TRUE(slash);
  EXPECT_EQ(*slash->PathInProcess(), "/");
}

INSTANTIATE_TEST_SUITE_P(Resolvers, HostRootTest,
                         ::testing::Values(Resolver::kWalk, Resolver::kOpenat2),
                         [](const auto& info) {
                           return info.param == Resolver::kWalk ? "Walk" : "Openat2";
                         });

TEST(HostRootOpen, MissingRootIsAnError) {
  auto root = HostRoot::Open("/nonexistent-cvm-root");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code, ENOENT);
}

TEST(HostRootOpen, FileAsRootIsAnError) {
  TempTree t;
  t.Write("f", "x");
  auto root = HostRoot::Open(t.Abs("f"));
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code, ENOTDIR);
}

TEST(HostRootOpen, AutoPicksOpenat2WhereTheKernelHasIt) {
  TempTree t;
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  EXPECT_EQ(root->resolver(),
            HostRoot::KernelHasOpenat2() ? Resolver::kOpenat2 : Resolver::kWalk);
}

TEST(NormalizeInRootPath, CleansSlashes) {
  EXPECT_EQ(NormalizeInRootPath(""), "/");
  EXPECT_EQ(NormalizeInRootPath("etc//os-release/"), "/etc/os-release");
  EXPECT_EQ(NormalizeInRootPath("/./etc/./x"), "/etc/x");
}

TEST(LiveHostRoot, SlashHasProcfs) {
  auto root = HostRoot::Open("/");
  ASSERT_TRUE(root);
  EXPECT_TRUE(root->HasProcfs());
}

}  // namespace
}  // namespace cvm::probe

namespace cvm::probe {
namespace {

TEST(HostRootReadRange, ReadsTheMiddleOfAFile) {
  cvm::testing::TempTree t;
  t.Write("bin/x", "0123456789");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  auto r = root->ReadRange("/bin/x", 3, 4);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "3456");
}

TEST(HostRootReadRange, ShortAtEndOfFile) {
  cvm::testing::TempTree t;
  t.Write("bin/x", "0123456789");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  EXPECT_EQ(*root->ReadRange("/bin/x", 8, 10), "89");
  EXPECT_EQ(*root->ReadRange("/bin/x", 20, 10), "");
}

TEST(HostRootReadRange, LengthOverTheCapIsEfbig) {
  cvm::testing::TempTree t;
  t.Write("bin/x", "0123456789");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  auto r = root->ReadRange("/bin/x", 0, kDefaultReadCap + 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EFBIG);
}

TEST(HostRootReadRange, RefusesAFifo) {
  cvm::testing::TempTree t;
  t.Fifo("bin/x");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  EXPECT_FALSE(root->ReadRange("/bin/x", 0, 4));
}

TEST(HostRootReadRange, StaysInsideTheRoot) {
  cvm::testing::TempTree outside;
  outside.Write("secret", "outside");
  cvm::testing::TempTree t;
  t.Symlink("bin/x", "/../../../../../../" + outside.Abs("secret"));
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  auto r = root->ReadRange("/bin/x", 0, 7);
  EXPECT_FALSE(r.has_value() && *r == "outside");
}

}  // namespace
}  // namespace cvm::probe
