// The default rule set against every fixture root, in every profile: each
// default rule must be seen passing, failing and unknown at least once,
// so no rule is dead or untested. A rule that cannot yet be covered is
// listed in kKnownGaps with the reason; the list is meant to shrink.
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "probe/registry.h"
#include "rules/loader.h"
#include "rules/report.h"
#include "tests/support/data.h"
#include "tests/support/fixture.h"

namespace cvm::rules {
namespace {

namespace fs = std::filesystem;

// rule id -> statuses it still may miss, and why.
const std::map<std::string, std::string> kKnownGaps = {
    {"arch-supported",
     "never fail: no fixture yet"},
    {"gpu-amd-not-supported",
     "never pass: no fixture yet"},
    {"gpu-nvidia-driver-loaded",
     "never fail: no fixture yet"},
    {"gpu-nvidia-bound-to-nvidia",
     "never fail: no fixture yet"},
    {"gpu-nvidia-device-nodes",
     "never pass fail: no fixture yet"},
    {"gpu-support-is-beta",
     "never pass: no fixture yet"},
    {"gpu-not-with-cached-cvms",
     "never pass: no fixture yet"},
    {"node-size",
     "never pass fail: no fixture yet"},
    {"gpu-nvidia-container-runtime",
     "never pass fail: no fixture yet"},
    {"kubernetes-version-sysbox-0.7",
     "never pass fail unknown: no fixture yet"},
    {"kubernetes-version-sysbox-0.6",
     "never pass fail unknown: no fixture yet"},
    {"kubernetes-version-coder-v1",
     "never pass fail unknown: no fixture yet"},
    {"runc-containerd-io-1.5.11-era",
     "never unknown: the containerd.io fixtures (1.5.11-1 pass, 1.6.21-1 fail) give runc a version; no fixture has a runc without one"},
    {"runc-1.2-needs-sysbox-0.6.6",
     "never fail unknown: the containerd.io fixtures pass it (runc 1.0.3, 1.1.7); no fixture has runc 1.2+"},
    {"containerd-2.0.1-2.0.4-with-sysbox-0.7",
     "never pass fail: no fixture yet"},
    {"sysbox-version-matches-profile-0.6",
     "never pass fail: no fixture yet"},
    {"sysbox-version-matches-profile-0.7",
     "never pass fail: no fixture yet"},
    {"sysbox-version-matches-profile-coder-v1",
     "never pass fail: no fixture yet"},
    {"runtime-handler-sysbox",
     "never pass: the containerd.io fixtures fail it (config.toml as shipped, no handlers); no fixture configures sysbox-runc"},
    {"selinux-not-enforcing",
     "never pass: no fixture yet"},
    {"selinux-not-permissive",
     "never pass fail: no fixture yet"},
    {"selinux-config-not-enforcing",
     "never unknown: no fixture yet"},
    {"shiftfs-or-idmapped-mounts",
     "never fail: no fixture yet"},
    {"shiftfs-recommended",
     "never pass fail: no fixture yet"},
    {"shiftfs-registered-when-loaded",
     "never pass fail: no fixture yet"},
    {"kernel-known-broken-shiftfs",
     "never fail: no fixture yet"},
    {"cached-known-broken-shiftfs",
     "never fail: no fixture yet"},
    {"cached-shiftfs",
     "never pass fail: no fixture yet"},
    {"kernel-headers-present",
     "never pass: no fixture yet"},
    {"storage-containerd-not-network-fs",
     "never pass fail: the real host dumps found (moby's Ubuntu, gofsutil's CentOS 7) are Docker hosts without /var/lib/containerd; no public mountinfo with it on NFS/CIFS/FUSE found (moby#32964, moby#15239 and kubernetes#98009 report such nodes but quote docker info or logs, not the mount table)"},
    {"storage-docker-not-network-fs",
     "never fail: no public mountinfo with it on NFS/CIFS/FUSE found (moby#32964, moby#15239 and kubernetes#98009 report such nodes but quote docker info or logs, not the mount table)"},
    {"storage-sysbox-not-network-fs",
     "never pass fail: no public mount table of a Sysbox host found; no public mountinfo with it on NFS/CIFS/FUSE found (moby#32964, moby#15239 and kubernetes#98009 report such nodes but quote docker info or logs, not the mount table)"},
    {"storage-kubelet-not-network-fs",
     "never pass fail: no public full host mountinfo of a kubelet node found; no public mountinfo with it on NFS/CIFS/FUSE found (moby#32964, moby#15239 and kubernetes#98009 report such nodes but quote docker info or logs, not the mount table)"},
    {"storage-var-lib-not-network-fs",
     "never fail: no public mountinfo of a node with /var/lib on a network filesystem (an NFS-root node) found"},
    {"hostpath-usr-src-present",
     "never unknown: .exists is left out only when resolving fails with other than ENOENT/ENOTDIR (ELOOP, EACCES, a hung mount), which no real node dump shows; StorageProbe.LinkLoopIsAnErrorNotFalse (tests/probe/storage_test.cpp) covers it"},
    {"hostpath-lib-modules-present",
     "never unknown: as hostpath-usr-src-present"},
    {"lib-modules-release-present",
     "never pass: no fixture yet"},
    {"cached-var-lib-writable",
     "never fail: every real dump found has /var/lib on a writable mount (Flatcar, COS and Bottlerocket keep /var writable by design); no public dump with a read-only /var/lib found"},
    {"cached-autoload-usr-src-writable",
     "never fail: needs a Flatcar (/usr read-only) or COS (/ read-only) mount table; none found in public test data or issues (flatcar/Flatcar#722 quotes only its /proc lines)"},
    {"cached-autoload-lib-modules-writable",
     "never fail: as cached-autoload-usr-src-writable"},
    {"storage-var-lib-free-space",
     "never pass fail: free_bytes is measured only when the root's /proc is a live procfs (probe/storage.h), never in a fixture folder; StorageProbe.FreeBytesOnLocalTypesOnly (tests/probe/storage_test.cpp) covers the measurement"},
    {"userns-unprivileged-clone",
     "never pass fail: no fixture yet"},
    {"userns-max-nonzero",
     "never pass fail: no fixture yet"},
    {"apparmor-userns-restriction",
     "never pass fail: no fixture yet"},
    {"sysctl-inotify-watches",
     "never pass fail: no fixture yet"},
    {"sysctl-max-map-count",
     "never pass fail: no fixture yet"},
    {"sysctl-keys-maxkeys",
     "never pass fail: no fixture yet"},
    {"host-tools-sysbox-mgr",
     "never pass: the containerd.io fixtures fail it (their /usr/bin has only containerd and runc); no fixture has rsync, modprobe and iptables"},
};

TEST(DefaultRules, EveryRuleIsSeenPassingFailingAndUnknown) {
  RuleSetLoad load = LoadRuleSet({});
  ASSERT_TRUE(load.errors.empty()) << load.errors[0].Text();
  std::map<std::string, std::set<Status>> seen;
  for (const auto& name : cvm::testing::FixtureNames()) {
    cvm::testing::Fixture fixture(name);
    for (bool autoload : {false, true}) {
      probe::ProbeOptions options;
      options.coder_shiftfs_autoload = autoload;
      probe::Facts facts = fixture.Scan(options);
      for (const auto& p : kProfiles) {
        for (const auto& c : Evaluate(load.set, facts, p.name).checks) {
          seen[c.id].insert(c.status);
        }
      }
    }
  }
  std::string missing;
  for (const auto& rule : load.set.rules) {
    const auto& s = seen[rule.id];
    std::string lacks;
    if (!s.count(Status::kPass)) lacks += " pass";
    if (!s.count(Status::kFail)) lacks += " fail";
    if (!s.count(Status::kUnknown)) lacks += " unknown";
    if (lacks.empty() || kKnownGaps.count(rule.id)) continue;
    missing += "\n  " + rule.id + ": never" + lacks;
  }
  EXPECT_TRUE(missing.empty()) << "default rules not covered by any fixture:" << missing;
}

}  // namespace
}  // namespace cvm::rules
