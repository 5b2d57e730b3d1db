// The kernel-modules probe on module directories indexed by the real
// depmod (tests/probe/make_module_trees.sh, CTest fixture module_trees),
// and its parsers on real /proc samples (tests/data/proc-modules).
#include "probe/kmod.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::TempTree;

std::string Tree(const std::string& name) {
  return std::string(CVM_MODULE_TREES) + "/" + name;
}

// A host root: a module tree, the release, and optional /proc files.
Facts Scan(TempTree& t, const std::string& tree, const std::string& release,
           const char* proc_modules, const char* proc_filesystems) {
  if (!tree.empty()) t.CopyFrom(Tree(tree));
  t.Write("proc/sys/kernel/osrelease", release + "\n");
  if (proc_modules != nullptr) t.Write("proc/modules", proc_modules);
  if (proc_filesystems != nullptr) t.Write("proc/filesystems", proc_filesystems);
  auto root = HostRoot::Open(t.path());
  EXPECT_TRUE(root);
  return RunProbes(*root);
}

std::string State(const Facts& f, const std::string& name) {
  const std::string* s = f.GetString("kernel.modules." + name);
  return s == nullptr ? "<none>" : *s;
}

std::vector<ProbeError> ModuleErrors(const Facts& f) {
  std::vector<ProbeError> out;
  for (const auto& e : f.errors()) {
    if (e.probe == "kernel-modules") out.push_back(e);
  }
  return out;
}

constexpr const char* kFilesystemsNoShiftfs = "nodev\tsysfs\nnodev\tproc\n\text4\n";
constexpr const char* kFilesystemsShiftfs =
    "nodev\tsysfs\nnodev\toverlay\nnodev\tshiftfs\n\text4\n";

TEST(KmodParse, ProcModulesRealSamples) {
  auto names = ParseProcModules(cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/proc-modules/centos7-bridge")));
  EXPECT_EQ(names, (std::set<std::string>{"br_netfilter", "bridge", "llc", "stp"}));
  names = ParseProcModules(cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/proc-modules/out-of-tree-tainted")));
  EXPECT_EQ(names, (std::set<std::string>{"lkm"}));
  EXPECT_TRUE(ParseProcModules("").empty());
  EXPECT_TRUE(ParseProcModules("\n\n").empty());
}

TEST(KmodParse, ProcFilesystemsThisMachine) {
  auto names = ParseProcFilesystems(cvm::testing::ReadText(cvm::testing::SourcePath(
      "tests/data/filesystems/this-machine-debian12-firecracker")));
  EXPECT_TRUE(names.contains("sysfs"));
  EXPECT_TRUE(names.contains("overlay"));
  EXPECT_FALSE(names.contains("nodev"));
  EXPECT_FALSE(names.contains("shiftfs"));
  EXPECT_TRUE(ParseProcFilesystems(kFilesystemsShiftfs).contains("shiftfs"));
}

TEST(KmodParse, ModulesBuiltinNamesFoldDashes) {
  struct Row {
    const char* text;
    std::set<std::string> want;
  } rows[] = {
      {"kernel/fs/overlayfs/overlay.ko\nkernel/fs/configfs/configfs.ko\n",
       {"configfs", "overlay"}},
      {"kernel/drivers/hid/hid-generic.ko\n", {"hid_generic"}},
      {"", {}},
      {"kernel/fs/notamodule.txt\n\n", {}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.text);
    EXPECT_EQ(ParseModulesBuiltin(r.text), r.want);
  }
}

TEST(KmodParse, ModuleOrigin) {
  EXPECT_EQ(ModuleOrigin("kernel/fs/shiftfs.ko"), "in-tree");
  EXPECT_EQ(ModuleOrigin("updates/dkms/shiftfs.ko"), "dkms");
  EXPECT_EQ(ModuleOrigin("extra/shiftfs.ko.xz"), "dkms");
  EXPECT_EQ(ModuleOrigin("weak-updates/shiftfs.ko"), "other");
}

TEST(KmodProbe, UbuntuInTreeShiftfsAvailable) {
  TempTree t;
  Facts f = Scan(t, "ubuntu-intree", "5.15.0-48-generic",
                 "overlay 151552 0 - Live 0x0000000000000000\n",
                 kFilesystemsNoShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "available");
  EXPECT_EQ(*f.GetString(kShiftfsPath),
            "/lib/modules/5.15.0-48-generic/kernel/fs/shiftfs.ko");
  EXPECT_EQ(*f.GetString(kShiftfsOrigin), "in-tree");
  EXPECT_EQ(f.GetBool(kShiftfsRegistered), false);
  EXPECT_EQ(State(f, "shiftfs"), "available");
  EXPECT_EQ(State(f, "overlay"), "loaded");
  EXPECT_EQ(f.Find("kernel.modules.overlay")->source, "/proc/modules");
  EXPECT_EQ(State(f, "configfs"), "builtin");
  EXPECT_EQ(f.Find("kernel.modules.configfs")->source,
            "/lib/modules/5.15.0-48-generic/modules.builtin");
  for (const char* m : {"fuse", "br_netfilter", "nf_tables", "ip_tables", "binfmt_misc"}) {
    SCOPED_TRACE(m);
    EXPECT_EQ(State(f, m), "available");
  }
  EXPECT_TRUE(ModuleErrors(f).empty());
}

TEST(KmodProbe, LoadedShiftfsIsLoadedAndRegistered) {
  TempTree t;
  Facts f = Scan(t, "ubuntu-intree", "5.15.0-48-generic",
                 "shiftfs 32768 0 - Live 0x0000000000000000\n",
                 kFilesystemsShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "loaded");
  EXPECT_EQ(*f.GetString(kShiftfsOrigin), "in-tree");
  EXPECT_EQ(f.GetBool(kShiftfsRegistered), true);
}

TEST(KmodProbe, DkmsShiftfs) {
  TempTree t;
  Facts f = Scan(t, "debian-dkms", "6.1.0-18-amd64", "", kFilesystemsNoShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "available");
  EXPECT_EQ(*f.GetString(kShiftfsPath),
            "/lib/modules/6.1.0-18-amd64/updates/dkms/shiftfs.ko");
  EXPECT_EQ(*f.GetString(kShiftfsOrigin), "dkms");
  EXPECT_EQ(State(f, "configfs"), "available");
  EXPECT_TRUE(ModuleErrors(f).empty());
}

TEST(KmodProbe, NoShiftfsIsAbsentAndBuiltinOverlay) {
  TempTree t;
  Facts f = Scan(t, "no-shiftfs-builtin-overlay", "6.8.0-31-generic", "",
                 kFilesystemsNoShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "absent");
  EXPECT_EQ(State(f, "shiftfs"), "absent");
  EXPECT_FALSE(f.Has(kShiftfsPath));
  EXPECT_FALSE(f.Has(kShiftfsOrigin));
  EXPECT_EQ(State(f, "overlay"), "builtin");
  EXPECT_EQ(State(f, "configfs"), "builtin");
  EXPECT_EQ(State(f, "fuse"), "available");
  EXPECT_TRUE(ModuleErrors(f).empty());
}

TEST(KmodProbe, FlatcarLoadedButNotIndexed) {
  TempTree t;
  Facts f = Scan(t, "flatcar", "5.15.32-flatcar",
                 "shiftfs 32768 0 - Live 0x0000000000000000\n",
                 kFilesystemsShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "loaded");
  EXPECT_EQ(*f.GetString(kShiftfsPath), "/opt/lib/modules-load.d/shiftfs.ko");
  EXPECT_EQ(*f.GetString(kShiftfsOrigin), "insmod");
  EXPECT_EQ(f.GetBool(kShiftfsRegistered), true);
  EXPECT_TRUE(ModuleErrors(f).empty());
}

TEST(KmodProbe, FlatcarFileNotLoadedIsAvailable) {
  TempTree t;
  Facts f = Scan(t, "flatcar", "5.15.32-flatcar", "", kFilesystemsNoShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "available");
  EXPECT_EQ(*f.GetString(kShiftfsOrigin), "insmod");
}

TEST(KmodProbe, CompressedModulesCount) {
  TempTree t;
  Facts f = Scan(t, "compressed", "6.5.0-9-generic", "", kFilesystemsNoShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "available");
  EXPECT_EQ(*f.GetString(kShiftfsPath),
            "/lib/modules/6.5.0-9-generic/kernel/fs/shiftfs.ko.zst");
  EXPECT_EQ(State(f, "overlay"), "available");
  EXPECT_TRUE(ModuleErrors(f).empty());
}

// This machine's shape: no /lib/modules at all.
TEST(KmodProbe, NoModuleDirectoryKeepsLoadedAndRegistered) {
  TempTree t;
  Facts f = Scan(t, "", "6.18.44-fc-v595",
                 "shiftfs 32768 0 - Live 0x0000000000000000\n",
                 kFilesystemsShiftfs);
  EXPECT_EQ(*f.GetString(kShiftfsState), "loaded");
  EXPECT_EQ(f.GetBool(kShiftfsRegistered), true);
  EXPECT_FALSE(f.Has("kernel.modules.overlay"));  // not loaded: unknown
  auto errors = ModuleErrors(f);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/lib/modules/6.18.44-fc-v595");
  EXPECT_NE(errors[0].message.find("ENOENT"), std::string::npos);
}

TEST(KmodProbe, UnindexedDirectoryIsAnErrorNotAbsent) {
  TempTree t;
  Facts f = Scan(t, "unindexed", "5.15.0-48-generic", "", kFilesystemsNoShiftfs);
  EXPECT_FALSE(f.Has(kShiftfsState));
  auto errors = ModuleErrors(f);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/lib/modules/5.15.0-48-generic/modules.dep.bin");
}

// A folder root without /proc/modules: only `builtin` can be told.
TEST(KmodProbe, NoProcModulesLeavesOnlyLoadedUnknown) {
  TempTree t;
  Facts f = Scan(t, "no-shiftfs-builtin-overlay", "6.8.0-31-generic", nullptr,
                 nullptr);
  EXPECT_EQ(State(f, "overlay"), "builtin");
  // shiftfs is not in the index, but could be loaded from outside it.
  EXPECT_FALSE(f.Has(kShiftfsState));
  // fuse's module file is in the index: available at least.
  EXPECT_EQ(State(f, "fuse"), "available");
  EXPECT_FALSE(f.Has(kShiftfsRegistered));
  auto errors = ModuleErrors(f);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "/proc/modules");
  EXPECT_EQ(errors[1].path, "/proc/filesystems");
}

TEST(KmodProbe, NoReleaseIsOneError) {
  TempTree t;
  t.Write("proc/modules", "");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_FALSE(f.Has(kShiftfsState));
  auto errors = ModuleErrors(f);
  ASSERT_EQ(errors.size(), 2u);  // release, /proc/filesystems
  EXPECT_EQ(errors[0].path, "/lib/modules");
}

// The real / of the machine running the tests: on a live procfs the
// absence of the Debian/Ubuntu-only sysctls is a finding, not an error, and
// a missing /lib/modules/<release> is one error naming it.
TEST(LiveHost, AbsenceOnALiveProcfs) {
  auto root = HostRoot::Open("/");
  ASSERT_TRUE(root);
  if (!root->HasProcfs()) GTEST_SKIP() << "no procfs at /proc";
  Facts f = RunProbes(*root);
  for (const auto& e : f.errors()) {
    EXPECT_NE(e.path, "/proc/sys/kernel/unprivileged_userns_clone");
    EXPECT_NE(e.path, "/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  }
  const std::string* release = f.GetString(kKernelRelease);
  ASSERT_NE(release, nullptr);
  if (!root->Stat("/lib/modules/" + *release)) {
    auto errors = ModuleErrors(f);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].path, "/lib/modules/" + *release);
  }
  EXPECT_TRUE(f.GetBool(kShiftfsRegistered).has_value());
}

}  // namespace
}  // namespace cvm::probe
