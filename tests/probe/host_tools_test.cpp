#include "probe/host_tools.h"

#include <gtest/gtest.h>

#include "probe/registry.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::ScanTree;
using cvm::testing::TempTree;

TEST(HostToolsProbe, FoundNotFoundAndNotExecutable) {
  TempTree t;
  t.Write("usr/bin/rsync", "#!/bin/sh\n", 0755);
  t.Write("usr/sbin/iptables-legacy", "x", 0755);
  // Debian: /usr/sbin/iptables -> /etc/alternatives/iptables -> ...
  t.Symlink("usr/sbin/iptables", "/etc/alternatives/iptables");
  t.Symlink("etc/alternatives/iptables", "/usr/sbin/iptables-legacy");
  t.Write("bin/fusermount", "x", 0644);  // not executable
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetBool("host.tools.rsync"), true);
  EXPECT_EQ(f.Find("host.tools.rsync")->source, "/usr/bin/rsync");
  EXPECT_EQ(f.GetBool("host.tools.iptables"), true);
  EXPECT_EQ(f.GetBool("host.tools.fusermount"), false);
  EXPECT_EQ(f.GetBool("host.tools.modprobe"), false);
  EXPECT_EQ(f.GetBool("host.tools.fusermount3"), false);
}

TEST(HostToolsProbe, LinkLeavingTheRootDoesNotCount) {
  TempTree t;
  t.Mkdir("usr/bin");
  // Absolute: resolves inside the root, where there is no /sbin/modprobe.
  t.Symlink("usr/sbin/modprobe", "/sbin/kmod-elsewhere");
  EXPECT_EQ(ScanTree(t).GetBool("host.tools.modprobe"), false);
}

TEST(HostToolsProbe, NoBinaryDirectoriesIsUnknown) {
  TempTree t;
  t.Write("etc/os-release", "ID=debian\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has("host.tools.rsync"));
  int errors = 0;
  for (const auto& e : f.errors()) errors += e.probe == "host-tools";
  EXPECT_EQ(errors, 1);
}

}  // namespace
}  // namespace cvm::probe
