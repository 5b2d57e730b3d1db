// The runtime probe on small trees: ownership through dpkg .list files,
// containerd.io's runc from the table, handlers across imports and CRI-O
// drop-ins, and what absence means.
#include "probe/runtime.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::TempTree;

Facts Scan(const TempTree& t, const NodeInfo* node = nullptr) {
  auto root = HostRoot::Open(t.path());
  EXPECT_TRUE(root);
  return RunProbes(*root, ProbeOptions{}, node);
}

std::string Config(const std::string& name) {
  return cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/runtime-config/" + name));
}

// containerd.io 1.5.11-1 as Docker's repository installs it: containerd
// and runc in /usr/bin, both listed in containerd.io.list.
void ContainerdIo(TempTree& t, std::string_view version) {
  t.Write("usr/bin/containerd", "not an ELF file", 0755);
  t.Write("usr/bin/runc", "not an ELF file", 0755);
  t.Write("var/lib/dpkg/status",
          "Package: containerd.io\nStatus: install ok installed\nPriority: optional\n"
          "Section: devel\nArchitecture: amd64\nVersion: " + std::string(version) +
          "\nDescription: An open and reliable container runtime\n");
  t.Write("var/lib/dpkg/info/containerd.io.list",
          "/.\n/etc\n/etc/containerd\n/etc/containerd/config.toml\n/usr\n/usr/bin\n"
          "/usr/bin/containerd\n/usr/bin/containerd-shim-runc-v2\n/usr/bin/ctr\n"
          "/usr/bin/runc\n");
}

TEST(RuntimeProbe, ContainerdIoShipsItsRunc) {
  TempTree t;
  ContainerdIo(t, "1.5.11-1");
  Facts f = Scan(t);
  EXPECT_EQ(*f.GetString(kRuntimeContainerdVersion), "1.5.11");
  EXPECT_EQ(*f.GetString(kRuntimeContainerdPackage), "containerd.io");
  EXPECT_EQ(*f.GetString(kRuntimeContainerdPackageVersion), "1.5.11-1");
  EXPECT_EQ(*f.GetString(kRuntimeRuncPackage), "containerd.io");
  EXPECT_EQ(*f.GetString(kRuntimeRuncPackageVersion), "1.5.11-1");
  EXPECT_EQ(*f.GetString(kRuntimeRuncVersion), "1.0.3");
  EXPECT_EQ(*f.GetString(kRuntimeRuncSource), "dpkg");
  EXPECT_NE(f.Find(kRuntimeRuncVersion)->source.find("containerd-io-runc.tsv"),
            std::string::npos);
}

TEST(RuntimeProbe, ContainerdIoMissingFromTheTableIsAnError) {
  TempTree t;
  ContainerdIo(t, "1.6.24-1");
  Facts f = Scan(t);
  EXPECT_EQ(*f.GetString(kRuntimeRuncPackageVersion), "1.6.24-1");
  EXPECT_FALSE(f.Has(kRuntimeRuncVersion));
  bool named = false;
  for (const auto& e : f.errors()) {
    named = named || e.message.find("not in the containerd.io-to-runc table") != std::string::npos;
  }
  EXPECT_TRUE(named);
}

TEST(RuntimeProbe, NoBinariesInExistingDirectoriesIsAnEmptyList) {
  TempTree t;
  t.Write("usr/bin/bash", "x", 0755);
  Facts f = Scan(t);
  ASSERT_NE(f.GetList(kRuntimeBinaries), nullptr);
  EXPECT_TRUE(f.GetList(kRuntimeBinaries)->empty());
  EXPECT_EQ(f.GetBool(kRuntimeSysboxInstalled), false);
  EXPECT_FALSE(f.Has(kRuntimeHandlers));  // no config file: unknown, not empty
}

TEST(RuntimeProbe, NonExecutableFileIsNotABinary) {
  TempTree t;
  t.Write("usr/bin/runc", "x", 0644);
  Facts f = Scan(t);
  EXPECT_FALSE(f.Has(kRuntimeRuncPath));
}

TEST(RuntimeProbe, SysboxFoundInFlatcarOptBin) {
  TempTree t;
  t.Mkdir("usr/bin");
  t.Write("opt/bin/sysbox-runc", "x", 0755);
  Facts f = Scan(t);
  EXPECT_EQ(f.GetBool(kRuntimeSysboxInstalled), true);
  EXPECT_EQ(*f.GetString(kRuntimeSysboxPath), "/opt/bin/sysbox-runc");
}

TEST(RuntimeProbe, HandlersFromImportsAndCrioDropIns) {
  TempTree t;
  t.Mkdir("usr/bin");
  t.Write("etc/containerd/config.toml",
          Config("k3s-v2-nvidia-operator.toml") +
              "\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n");
  t.Write("etc/containerd/conf.d/sysbox.toml", Config("k0s-v3-sysbox-dropin.toml"));
  t.Write("etc/containerd/conf.d/ignored.conf", "not toml [");
  t.Write("etc/crio/crio.conf.d/99-sysbox.conf", Config("crio-sysbox.conf"));
  Facts f = Scan(t);
  const StringList* h = f.GetList(kRuntimeHandlers);
  ASSERT_NE(h, nullptr);
  StringList sorted = *h;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (StringList{"nvidia", "runc", "sysbox-runc"}));
  for (const auto& e : f.errors()) EXPECT_NE(e.probe, "runtime") << e.message;
}

TEST(RuntimeProbe, BrokenConfigIsAnErrorNamingTheFile) {
  TempTree t;
  t.Mkdir("usr/bin");
  t.Write("etc/containerd/config.toml", "version = 2\n[plugins\n");
  Facts f = Scan(t);
  bool named = false;
  for (const auto& e : f.errors()) {
    named = named || (e.probe == "runtime" && e.path == "/etc/containerd/config.toml");
  }
  EXPECT_TRUE(named);
}

TEST(RuntimeProbe, NodeInfoOnlyWhenNothingBetter) {
  TempTree t;
  t.Mkdir("usr/bin");
  NodeInfo node;
  node.container_runtime_version = "containerd://1.7.15";
  Facts f = Scan(t, &node);
  EXPECT_EQ(*f.GetString(kRuntimeContainerdVersion), "1.7.15");
  EXPECT_EQ(*f.GetString(kRuntimeContainerdSource), "node-info");

  TempTree with_pkg;
  ContainerdIo(with_pkg, "1.5.11-1");
  Facts g = Scan(with_pkg, &node);
  EXPECT_EQ(*g.GetString(kRuntimeContainerdVersion), "1.5.11");
  EXPECT_EQ(*g.GetString(kRuntimeContainerdSource), "dpkg");
}

TEST(RuntimeProbe, CrioNodeInfo) {
  TempTree t;
  t.Mkdir("usr/bin");
  NodeInfo node;
  node.container_runtime_version = "cri-o://1.29.1";
  Facts f = Scan(t, &node);
  EXPECT_EQ(*f.GetString(kRuntimeCrioVersion), "1.29.1");
  EXPECT_FALSE(f.Has(kRuntimeContainerdVersion));
}

}  // namespace
}  // namespace cvm::probe
