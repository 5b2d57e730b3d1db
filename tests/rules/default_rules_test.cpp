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
    {"gpu-support-is-beta",
     "never pass: a notice: fails whenever it applies, by design"},
    {"gpu-not-with-cached-cvms",
     "never pass: a notice: fails whenever it applies, by design"},
    {"node-size",
     "never pass: no fixture has real /proc/meminfo and CPU count of a machine with 4+ CPUs (firecracker-debian-12-hybrid fails it with 2)"},
    {"kubernetes-version-sysbox-0.7",
     "never unknown: the kubelet version comes from the node object or not at all; without one (a one-shot scan) the check is skipped by design, so unknown cannot happen"},
    {"kubernetes-version-sysbox-0.6",
     "never unknown: the kubelet version comes from the node object or not at all; without one (a one-shot scan) the check is skipped by design, so unknown cannot happen"},
    {"kubernetes-version-coder-v1",
     "never unknown: the kubelet version comes from the node object or not at all; without one (a one-shot scan) the check is skipped by design, so unknown cannot happen"},
    {"runc-1.2-needs-sysbox-0.6.6",
     "never pass: no fixture yet"},
    {"containerd-2.0.1-2.0.4-with-sysbox-0.7",
     "never pass fail: ubuntu-24.04-sysbox-0.7.1 makes it unknown (no containerd version); no real Sysbox 0.7 node with a readable containerd 2.0.1-2.0.4 (fail) or a dpkg/node-object containerd version (pass) was found yet (nestybox/sysbox#1013 has 0.7.0 with containerd 2.2.1, but through sysbox-deploy-k8s, so no package gives Sysbox's version)"},
    {"shiftfs-or-idmapped-mounts",
     "never fail: shiftfs.state needs /proc/modules beside the module tree (fixtures ubuntu-22.04-shiftfs-5.15.0-48, ubuntu-24.04-no-shiftfs have the trees) and no real /proc/modules of those kernels was found yet"},
    {"shiftfs-recommended",
     "never fail: needs a 5.12-5.18 kernel with shiftfs.state absent, and absent needs a real /proc/modules of such a node beside its module tree; none found yet"},
    {"shiftfs-registered-when-loaded",
     "never pass fail: shiftfs.state needs /proc/modules beside the module tree (fixtures ubuntu-22.04-shiftfs-5.15.0-48, ubuntu-24.04-no-shiftfs have the trees) and no real /proc/modules of those kernels was found yet"},
    {"cached-shiftfs",
     "never fail: needs shiftfs.state absent (a real /proc/modules beside a module tree without shiftfs) plus headers absent or Secure Boot on; none found yet"},
    {"storage-containerd-not-network-fs",
     "never fail: no real mountinfo of a node with /var/lib/containerd on NFS/CIFS/Ceph/GlusterFS/FUSE found yet (searched GitHub issues and test data; only synthetic test lines); k8s-node-in-sysbox-container passes it"},
    {"storage-docker-not-network-fs",
     "never fail: no real mountinfo of a node with /var/lib/docker on NFS/CIFS/Ceph/GlusterFS/FUSE found yet (searched GitHub issues and test data; only synthetic test lines); k8s-node-in-sysbox-container passes it"},
    {"storage-sysbox-not-network-fs",
     "never pass fail: no real mountinfo of a Sysbox host found yet (k8s-node-in-sysbox-container is the node inside a Sysbox container, which has no /var/lib/sysbox)"},
    {"storage-kubelet-not-network-fs",
     "never fail: no real mountinfo of a node with /var/lib/kubelet on NFS/CIFS/Ceph/GlusterFS/FUSE found yet (searched GitHub issues and test data; only synthetic test lines); k8s-node-in-sysbox-container passes it"},
    {"storage-var-lib-not-network-fs",
     "never fail: no real mountinfo of a node with /var/lib on NFS/CIFS/Ceph/GlusterFS/FUSE (e.g. an NFS-root diskless node) found yet"},
    {"cached-var-lib-writable",
     "never fail: no real mountinfo of a node with /var/lib read-only found yet (COS, Flatcar and Bottlerocket keep /var writable)"},
    {"cached-autoload-usr-src-writable",
     "never fail: no complete real mountinfo of Flatcar (/usr ro), COS (/ ro) or Bottlerocket found yet; a 5-line GKE COS excerpt in a README of unknown repository lacks the /var mount and was not used"},
    {"cached-autoload-lib-modules-writable",
     "never fail: no complete real mountinfo of Flatcar (/usr ro), COS (/ ro) or Bottlerocket found yet; a 5-line GKE COS excerpt in a README of unknown repository lacks the /var mount and was not used"},
    {"storage-var-lib-free-space",
     "never pass fail: free_bytes is measured only when the root's /proc is a live procfs (probe/storage.h), never in a fixture folder; StorageProbe.FreeBytesOnLocalTypesOnly (tests/probe/storage_test.cpp) covers the measurement"},
    {"userns-unprivileged-clone",
     "never fail: no public reading of a real host with kernel.unprivileged_userns_clone = 0 found (only hardening configs that set it)"},
    {"userns-max-nonzero",
     "never fail: no public reading of a real host with user.max_user_namespaces = 0 found yet (RHEL 7 before 7.6 is the lead)"},
    {"apparmor-userns-restriction",
     "never pass: it passes on a live kernel without the knob (this machine: `cvm-preflight scan`) or with it at 0; no fixture has a real reading of 0, and a folder root without the file is unknown by design"},
    {"sysctl-inotify-watches",
     "never pass: no real host reading with fs.inotify.max_user_watches >= 1048576 in a fixture yet"},
    {"sysctl-keys-maxkeys",
     "never pass: the kernel default is 200; only a host Sysbox's installer configured has 20000, and no real reading of one was found"},
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
