// The default rule set against every fixture root, in every profile: each
// default rule must be seen passing, failing and unknown at least once,
// so no rule is dead or untested. A rule that cannot yet be covered is
// listed in kKnownGaps with the reason; the list is meant to shrink.
//
// Besides the fixture folders, a few live scans of this machine count: some
// facts exist only on a live host (free space by statvfs), and a private
// namespace gives real readings no folder has (a tiny /var/lib, a user
// namespace whose user.max_user_namespaces is 0). Those scenarios change
// only namespaces of a forked child, never the machine.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "probe/child.h"
#include "probe/registry.h"
#include "rules/loader.h"
#include "rules/report.h"
#include "tests/support/data.h"
#include "tests/support/fixture.h"
#include "tests/support/hung_fuse.h"
#include "tests/support/pid1.h"

namespace cvm::rules {
namespace {

namespace fs = std::filesystem;

// rule id -> statuses it still may miss, and why.
const std::map<std::string, std::string> kKnownGaps = {
};

bool WriteFile(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// A private mount namespace with a tmpfs of `size` on /var/lib.
std::function<bool()> TmpfsOnVarLib(std::string size) {
  return [size] {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    std::string opts = "size=" + size;
    return ::mount("tmpfs", "/var/lib", "tmpfs", 0, opts.c_str()) == 0;
  };
}

// A private tmpfs /var/lib holding the container storage directories, each
// with a FUSE filesystem mounted on it when `fuse` (an unresponsive one, as
// a hung s3fs or sshfs is: the scan must see the type without waiting).
std::function<bool()> ContainerDirsOnTmpfs(bool fuse) {
  return [fuse] {
    if (!TmpfsOnVarLib("64g")()) return false;
    for (const char* d : {"kubelet", "docker", "containerd", "sysbox"}) {
      std::string dir = std::string("/var/lib/") + d;
      if (::mkdir(dir.c_str(), 0700) != 0) return false;
      // Leaked on purpose: the forked child exits after its scan, which
      // closes /dev/fuse and ends the mount with its namespace.
      if (fuse && !(new cvm::testing::HungFuse(dir))->ok()) return false;
    }
    return true;
  };
}

// A user namespace (root mapped to our uid) whose max_user_namespaces is 0,
// as a container given no nested user namespaces sees it.
bool UsernsWithMaxZero() {
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER) != 0) return false;
  if (!WriteFile("/proc/self/setgroups", "deny")) return false;
  if (!WriteFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1")) return false;
  if (!WriteFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) return false;
  return WriteFile("/proc/sys/user/max_user_namespaces", "0\n");
}

// Scans "/" in a forked child after `setup`, evaluates every profile and
// hands back "id status" lines; an error names what failed. With
// `own_pid1` the scan runs as PID 1 of a new PID namespace with a fresh
// /proc, so /proc/1/mountinfo (what the storage probe reads first) is the
// scenario's own mount table, as it is for a scan of a container's root.
struct LiveResult {
  std::vector<std::pair<std::string, Status>> checks;
  std::string error;
};

void ScanInto(int fd, const RuleSet& rules) {
  std::ostringstream out;
  if (auto root = probe::HostRoot::Open("/")) {
    probe::Facts facts = probe::RunProbes(*root);
    for (const auto& p : kProfiles) {
      for (const auto& c : Evaluate(rules, facts, p.name).checks) {
        out << c.id << " " << static_cast<int>(c.status) << "\n";
      }
    }
  }
  probe::WriteAll(fd, out.str());
}

LiveResult ScanLive(const std::function<bool()>& setup, bool own_pid1, const RuleSet& rules) {
  auto failed = [](int fd) { probe::WriteAll(fd, "setup-failed " + std::to_string(errno) + "\n"); };
  auto run = probe::RunChildWithDeadline(
      [&](int fd) {
        if (!setup()) {
          failed(fd);
        } else if (!own_pid1) {
          ScanInto(fd, rules);
        } else if (!cvm::testing::RunAsPid1([&] { ScanInto(fd, rules); }).empty()) {
          failed(fd);
        }
      },
      std::chrono::seconds(120));
  LiveResult result;
  if (!run) return {{}, run.error().message};
  std::istringstream in(run->output);
  std::string id;
  int st;
  while (in >> id >> st) {
    if (id == "setup-failed") {
      result.error = "setup failed, errno " + std::to_string(st) + " (these scenarios need root)";
      return result;
    }
    result.checks.emplace_back(id, static_cast<Status>(st));
  }
  if (result.checks.empty()) result.error = "the live scan returned nothing";
  return result;
}

TEST(DefaultRules, LiveScenariosGiveTheirReadings) {
  RuleSetLoad load = LoadRuleSet({});
  ASSERT_TRUE(load.errors.empty());
  auto status_of = [](const LiveResult& r, std::string_view id) {
    std::set<Status> s;
    for (const auto& [cid, st] : r.checks) {
      if (cid == id) s.insert(st);
    }
    return s;
  };
  LiveResult tiny = ScanLive(TmpfsOnVarLib("1m"), true, load.set);
  ASSERT_EQ(tiny.error, "");
  EXPECT_EQ(status_of(tiny, "storage-var-lib-free-space"), std::set<Status>{Status::kFail});
  LiveResult big = ScanLive(TmpfsOnVarLib("64g"), true, load.set);
  ASSERT_EQ(big.error, "");
  EXPECT_EQ(status_of(big, "storage-var-lib-free-space"), std::set<Status>{Status::kPass});
  for (bool fuse : {false, true}) {
    SCOPED_TRACE(fuse ? "FUSE on the container directories" : "tmpfs");
    LiveResult dirs = ScanLive(ContainerDirsOnTmpfs(fuse), true, load.set);
    ASSERT_EQ(dirs.error, "");
    for (const char* id : {"storage-kubelet-not-network-fs", "storage-docker-not-network-fs",
                           "storage-containerd-not-network-fs",
                           "storage-sysbox-not-network-fs"}) {
      EXPECT_EQ(status_of(dirs, id), std::set<Status>{fuse ? Status::kFail : Status::kPass})
          << id;
    }
  }
  LiveResult userns = ScanLive(UsernsWithMaxZero, false, load.set);
  ASSERT_EQ(userns.error, "");
  EXPECT_EQ(status_of(userns, "userns-max-nonzero"), std::set<Status>{Status::kFail});
}

TEST(DefaultRules, EveryRuleIsSeenPassingFailingAndUnknown) {
  RuleSetLoad load = LoadRuleSet({});
  ASSERT_TRUE(load.errors.empty()) << load.errors[0].Text();
  std::map<std::string, std::set<Status>> seen;
  auto see = [&](const probe::Facts& facts) {
    for (const auto& p : kProfiles) {
      for (const auto& c : Evaluate(load.set, facts, p.name).checks) {
        seen[c.id].insert(c.status);
      }
    }
  };
  for (const auto& name : cvm::testing::FixtureNames()) {
    cvm::testing::Fixture fixture(name);
    for (bool autoload : {false, true}) {
      probe::ProbeOptions options;
      options.coder_shiftfs_autoload = autoload;
      see(fixture.Scan(options));
    }
    if (fixture.node() == nullptr) {
      // The agent on this node, had its read of the node object failed.
      probe::ProbeOptions options;
      options.agent = true;
      see(fixture.Scan(options));
    }
  }
  for (const auto& [setup, own_pid1] :
       std::vector<std::pair<std::function<bool()>, bool>>{
           {TmpfsOnVarLib("1m"), true},
           {TmpfsOnVarLib("64g"), true},
           {ContainerDirsOnTmpfs(false), true},
           {ContainerDirsOnTmpfs(true), true},
           {UsernsWithMaxZero, false}}) {
    LiveResult live = ScanLive(setup, own_pid1, load.set);
    EXPECT_EQ(live.error, "");
    for (const auto& [id, st] : live.checks) seen[id].insert(st);
  }
  std::string missing;
  for (const auto& rule : load.set.rules) {
    const auto& s = seen[rule.id];
    std::string lacks;
    if (!s.count(Status::kPass)) lacks += " pass";
    if (!s.count(Status::kFail)) lacks += " fail";
    if (!s.count(Status::kUnknown)) lacks += " unknown";
    if (lacks.empty() && kKnownGaps.count(rule.id)) {
      missing += "\n  " + rule.id + ": fully covered now: remove it from kKnownGaps";
      continue;
    }
    if (lacks.empty() || kKnownGaps.count(rule.id)) continue;
    missing += "\n  " + rule.id + ": never" + lacks;
  }
  EXPECT_TRUE(missing.empty()) << "default rules not covered by any fixture:" << missing;
}

}  // namespace
}  // namespace cvm::rules
