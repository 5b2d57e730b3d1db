// Version-output parsers and the containerd.io -> runc table, on real
// outputs (tests/data/runtime-versions/SOURCES.md).
#include "probe/runtime_version.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/data.h"

namespace cvm::probe {

void PrintTo(const RuncVersion& v, std::ostream* os) {
  *os << "{" << v.version << ", " << v.commit << ", " << v.spec << ", " << v.go
      << ", " << v.libseccomp << "}";
}
void PrintTo(const ContainerdVersion& v, std::ostream* os) {
  *os << "{" << v.package << ", " << v.version << ", " << v.revision << "}";
}

namespace {

std::string Sample(const std::string& name) {
  return cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/runtime-versions/" + name));
}

TEST(RuncVersionParse, RealOutputs) {
  struct Row {
    std::string file;
    RuncVersion want;
  };
  const Row rows[] = {
      {"runc-1.0.0-rc92.txt", {"1.0.0-rc92", "", "1.0.2-dev", "", ""}},
      {"runc-1.0.0-rc92-containerd.io-1.4.3.txt",
       {"1.0.0-rc92", "ff819c7e9184c13b7c2607fe6c30ae19403a7aff", "1.0.2-dev", "", ""}},
      {"runc-1.0.0-rc2-docker-1.12.6.txt",
       {"1.0.0-rc2", "50a19c6ff828c58e5dab13830bd3dacde268afe5", "1.0.0-rc2-dev", "", ""}},
      {"runc-1.0.0-rc3-dirty.txt", {"1.0.0-rc3", "-dirty", "1.0.0-rc5", "", ""}},
      {"runc-1.0.2.txt",
       {"1.0.2", "v1.0.2-0-g52b36a2dd837", "1.0.2-dev", "go1.16.7", "2.5.1"}},
      {"runc-1.0.3-upstream.txt",
       {"1.0.3", "v1.0.3-0-gf46b6ba2c931", "1.0.2-dev", "go1.17.3", "2.5.1"}},
      {"runc-1.1.0.txt",
       {"1.1.0", "v1.1.0-0-g067aaf85", "1.0.2-dev", "go1.17.6", "2.5.3"}},
      {"runc-1.1.1-containerd.io.txt",
       {"1.1.1", "v1.1.1-0-g52de29d", "1.0.2-dev", "go1.17.9", "2.5.1"}},
      {"runc-1.1.3.txt",
       {"1.1.3", "v1.1.3-0-g6724737f", "1.0.2-dev", "go1.17.10", "2.5.4"}},
      {"runc-1.1.4.txt",
       {"1.1.4", "v1.1.4-0-g5fd4c4d1", "1.0.2-dev", "go1.17.10", "2.5.4"}},
      {"runc-1.1.5+ds1-debian-12.txt",
       {"1.1.5+ds1", "1.1.5+ds1-1+deb12u1", "1.0.2-dev", "go1.19.8", "2.5.4"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.file);
    std::string text = Sample(row.file);
    ASSERT_FALSE(text.empty());
    auto got = ParseRuncVersion(text);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, row.want);
  }
}

TEST(RuncVersionParse, InlineFormatsOfTheIssue) {
  // Version strings named in issue 4 and the reference: pre-release dots
  // and build suffixes are kept as printed.
  for (std::string v : {"1.1.0-rc.1", "1.2.0-rc.2-dirty", "1.1.5+ds1"}) {
    SCOPED_TRACE(v);
    auto got = ParseRuncVersion("runc version " + v + "\nspec: 1.0.2-dev\n");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->version, v);
  }
}

TEST(RuncVersionParse, RejectsOtherText) {
  for (std::string_view text :
       {"", "runc version\n", "crun version 1.8.1\n", "runc: not found\n",
        "spec: 1.0.2-dev\n"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ParseRuncVersion(text));
  }
}

TEST(ContainerdVersionParse, RealOutputs) {
  struct Row {
    std::string file;
    ContainerdVersion want;
  };
  const Row rows[] = {
      {"containerd-containerd.io-1.5.10.txt",
       {"containerd.io", "1.5.10", "2a1d4dbdb2a1030dc5b01e96fb110a9d9f150ecc"}},
      {"containerd-containerd.io-1.4.3.txt",
       {"containerd.io", "1.4.3", "269548fa27e0089a8b8278fc4fc781d7f65a939b"}},
      {"containerd-upstream-1.4.0.txt",
       {"github.com/containerd/containerd", "1.4.0",
        "09814d48d50816305a8e6c1a4ae3e2bcc4ba725a"}},
      {"containerd-upstream-1.6.2.txt",
       {"github.com/containerd/containerd", "1.6.2",
        "de8046a5501db9e0e478e1c10cbcfb21af4c6b2d"}},
      {"containerd-upstream-1.7.18.txt",
       {"github.com/containerd/containerd", "1.7.18",
        "ae71819c4f5e67bb4d5ae76a6b735f29cc25774e"}},
      {"containerd-upstream-1.7.20.txt",
       {"github.com/containerd/containerd", "1.7.20",
        "8fc6bcff51318944179630522a095cc9dbf9f353"}},
      {"containerd-azure-1.7.9.txt",
       {"github.com/containerd/containerd", "1.7.9+azure",
        "4f03e100cb967922bec7459a78d16ccbac9bb81d"}},
      {"containerd-debian-1.6.20~ds1.txt",
       {"github.com/containerd/containerd", "1.6.20~ds1", "1.6.20~ds1-1+b1"}},
      {"containerd-0.2.4-docker-1.12.6.txt",
       {"", "0.2.4", "2a5e70cbf65457815ee76b7e5dd2a01292d9eca8"}},
      {"containerd-0.2.3-docker-17.03.txt",
       {"", "0.2.3", "4ab9917febca54791c5f071a9d1f404867857fcc"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.file);
    std::string text = Sample(row.file);
    ASSERT_FALSE(text.empty());
    auto got = ParseContainerdVersion(text);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, row.want);
  }
}

TEST(ContainerdVersionParse, FormatsOfTheIssue) {
  struct Row {
    std::string text;
    ContainerdVersion want;
  };
  const Row rows[] = {
      // issue 4 / reference 6.2 (expected 1.5.11 output, commit from
      // docker/for-linux#1381).
      {"containerd containerd.io 1.5.11 3df54a852345ae127d1fa3092b95168e4a88e2f8\n",
       {"containerd.io", "1.5.11", "3df54a852345ae127d1fa3092b95168e4a88e2f8"}},
      // Debian 12 bookworm-security (issue 4).
      {"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n",
       {"github.com/containerd/containerd", "1.6.20~ds1", "1.6.20~ds1-1+deb12u3"}},
      // A build without a revision (a Go client's comment quoting the
      // format: "containerd github.com/containerd/containerd 1.7.27").
      {"containerd github.com/containerd/containerd 1.7.27\n",
       {"github.com/containerd/containerd", "1.7.27", ""}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto got = ParseContainerdVersion(row.text);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, row.want);
  }
}

TEST(ContainerdVersionParse, RejectsOtherText) {
  for (std::string_view text :
       {"", "containerd\n", "containerd: command not found\n",
        "ctr containerd.io 1.6.6\n", "runc version 1.1.2\n"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ParseContainerdVersion(text));
  }
}

TEST(ToolVersionParse, RealOutputs) {
  struct Row {
    std::string text;
    std::string want;
    std::string source;
  };
  const Row rows[] = {
      {"Docker version 20.10.17, build a89b842\n", "20.10.17",
       "minikube `version --components` output (dockerd)"},
      {"crio version 1.19.6\nVersion:       1.19.6\nGitCommit:     "
       "c12bb210e9888cf6160134c7e636ee952c45c05a\nGitTreeState:  clean\n",
       "1.19.6", "HTB Vessel write-up (crio --version)"},
      {"crio version 1.24.1\n", "1.24.1", "minikube components output"},
      {"crun version 1.7.2\ncommit: 0356bf4aff9a133d655dc13b1d9ac9424706cac4\n"
       "rundir: /run/user/501/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX +APPARMOR "
       "+CAP +SECCOMP +EBPF +CRIU +LIBKRUN +WASM:wasmedge +YAJL\n",
       "1.7.2", "WasmEdge docs (crun -v)"},
      {"crun version 1.6\ncommit: 18cf2efbb8feb2b2f20e316520e0fd0b6c41ef4d\n"
       "spec: 1.0.0\n",
       "1.6", "podman info on Fedora 36"},
      {"sysbox-runc\n        edition:         Community Edition (CE)\n"
       "        version:         0.4.0\n"
       "        commit:         9e55c35e249f753c7d31e987c21d4ca4a2ddacfb\n"
       "        built at:         Tue Jul 13 18:38:39 UTC 2021\n"
       "        built by:         Rodny Molina\n"
       "        oci-specs:         1.0.2-dev\n",
       "0.4.0", "nestybox/sysbox docs/user-guide/install.md (journal lines)"},
      {"NVIDIA Container Toolkit CLI version 1.13.1\n"
       "commit: 28b70663f1a2b982e59e83bcf1844177dc745208\n",
       "1.13.1", "public setup notes (nvidia-ctk --version)"},
      {"NVIDIA Container Toolkit CLI version 1.11.0-rc.1\n", "1.11.0-rc.1",
       "Jetson notes (nvidia-ctk)"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.source);
    auto got = ParseToolVersion(row.text);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, row.want);
  }
}

TEST(ToolVersionParse, RejectsTextWithoutAVersion) {
  // minikube's components output: "crun: crun version UNKNOWN".
  for (std::string_view text : {"", "crun version UNKNOWN\n", "usage: x\n"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ParseToolVersion(text));
  }
}

TEST(ContainerdIoRunc, BuiltinTableParsesCleanly) {
  const auto& t = BuiltinContainerdIoRuncTable();
  EXPECT_TRUE(t.warnings.empty()) << t.warnings.front();
  EXPECT_GE(t.rows.size(), 10u);
}

// The lookup takes the first row of a version, so a second row for it would
// never be read.
TEST(ContainerdIoRunc, BuiltinTableHasOneRowPerVersion) {
  const auto& t = BuiltinContainerdIoRuncTable();
  std::set<std::string> seen;
  for (const auto& row : t.rows) {
    EXPECT_TRUE(seen.insert(row.containerd_io).second) << row.containerd_io;
  }
}

TEST(ContainerdIoRunc, PackageVersionsToRunc) {
  const auto& t = BuiltinContainerdIoRuncTable();
  struct Row {
    std::string package_version;
    std::string want;  // "" = unknown
  };
  const Row rows[] = {
      {"1.5.11-1", "1.0.3"},      {"1.4.13-1", "1.0.3"},
      {"1.6.2-1", "1.1.0"},       {"1.6.3-1", "1.1.1"},
      {"1.6.5-1", "1.1.2"},       {"1.7.24-1", "1.2.2"},
      {"1.7.24-3.1.el9", "1.2.2"}, {"1.7.22-1", "1.1.14"},
      {"1.6.21-1", "1.1.7"},      {"1.6.21-3.1.el8", "1.1.7"},
      {"1.6.9-1", "1.1.4"},       {"1.6.22-1", "1.1.8"},
      // Package versions as apt and dnf print them (text-index ids in the
      // table's rows).
      {"1.7.27-1", "1.2.5"},      {"2.1.5-1~ubuntu.24.04~noble", "1.3.3"},
      {"2.2.0-1~ubuntu.24.04~noble", "1.3.4"},
      {"2.2.1-1.el9", "1.3.4"},   {"2.2.5-1~ubuntu.24.04~noble", "1.3.6"},
      {"2.3.5-1~ubuntu.24.04~noble", "1.5.1"},
      // Left out on purpose: 1.7.28's revisions ship different runc; no
      // Docker package of 2.0.x or 2.1.4 was seen with its runc.
      {"1.7.28-1~ubuntu.24.04~noble", ""}, {"1.7.28-2~debian.13~trixie", ""},
      {"2.0.4-1", ""},            {"2.1.4-1~debian.11~bullseye", ""},
      {"1.5.9-1", ""},            {"1.6.24-1", ""},
      {"1.5.1", ""},              {"", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.package_version);
    auto got = RuncOfContainerdIo(t, row.package_version);
    if (row.want.empty()) {
      EXPECT_FALSE(got.has_value());
    } else {
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->runc, row.want);
      EXPECT_FALSE(got->source.empty());
    }
  }
}

TEST(ContainerdIoRunc, MalformedRowsAreWarnings) {
  auto t = ParseContainerdIoRuncTable(
      "# comment\n\n1.5.11\t1.0.3\tsrc\n1.6.2 1.1.0 src\nx\ty\tz\n1.6.3\t1.1.1\n");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0], (ContainerdIoRunc{"1.5.11", "1.0.3", "src"}));
  EXPECT_EQ(t.warnings.size(), 3u);
}

}  // namespace
}  // namespace cvm::probe
