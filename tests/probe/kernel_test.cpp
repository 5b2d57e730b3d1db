#include "probe/kernel.h"

#include <gtest/gtest.h>

#include "tests/support/data.h"

namespace cvm::probe {
namespace {

[[maybe_unused]] void PrintTo(const KernelRelease& k, std::ostream* os) {
  *os << "{" << k.release << ", " << k.version << ", " << k.major << "."
      << k.minor << "." << k.patch << ", flavor=" << k.flavor << "}";
}

struct Row {
  std::string_view input;
  KernelRelease want;
};

// Releases named in the foundation issue and in tests/data, with the parts
// they must give.
const Row kRows[] = {
    {"5.15.0-1034-azure", {"5.15.0-1034-azure", "5.15.0", 5, 15, 0, "1034-azure"}},
    {"6.1.0-13-amd64", {"6.1.0-13-amd64", "6.1.0", 6, 1, 0, "13-amd64"}},
    {"4.18.0-477.27.1.el8_8.x86_64",
     {"4.18.0-477.27.1.el8_8.x86_64", "4.18.0", 4, 18, 0, "477.27.1.el8_8.x86_64"}},
    {"5.10.199-190.747.amzn2.x86_64",
     {"5.10.199-190.747.amzn2.x86_64", "5.10.199", 5, 10, 199, "190.747.amzn2.x86_64"}},
    {"6.1.58+", {"6.1.58+", "6.1.58", 6, 1, 58, "+"}},
    {"5.4.0-1.el7.elrepo.x86_64",
     {"5.4.0-1.el7.elrepo.x86_64", "5.4.0", 5, 4, 0, "1.el7.elrepo.x86_64"}},
    {"6.6.21-flatcar", {"6.6.21-flatcar", "6.6.21", 6, 6, 21, "flatcar"}},
    {"6.2.0-rc5", {"6.2.0-rc5", "6.2.0", 6, 2, 0, "rc5"}},
    {"3.10.0-1160.el7.x86_64",
     {"3.10.0-1160.el7.x86_64", "3.10.0", 3, 10, 0, "1160.el7.x86_64"}},
    {"6.6.130.1-3.azl3", {"6.6.130.1-3.azl3", "6.6.130", 6, 6, 130, "1-3.azl3"}},
    {"5.4.51-v8+", {"5.4.51-v8+", "5.4.51", 5, 4, 51, "v8+"}},
    {"4.9.140-l4t-r32.3.1", {"4.9.140-l4t-r32.3.1", "4.9.140", 4, 9, 140, "l4t-r32.3.1"}},
    {"5.15.153.1-microsoft-standard-WSL2",
     {"5.15.153.1-microsoft-standard-WSL2", "5.15.153", 5, 15, 153,
      "1-microsoft-standard-WSL2"}},
    {"6.18.44-fc-v595", {"6.18.44-fc-v595", "6.18.44", 6, 18, 44, "fc-v595"}},
    {"5.15.0-91-generic\n", {"5.15.0-91-generic", "5.15.0", 5, 15, 0, "91-generic"}},
    {"4.4", {"4.4", "4.4.0", 4, 4, 0, ""}},
    {"5.19", {"5.19", "5.19.0", 5, 19, 0, ""}},
    {"6.8.0", {"6.8.0", "6.8.0", 6, 8, 0, ""}},
    {"2.6.32-754.el6.x86_64",
     {"2.6.32-754.el6.x86_64", "2.6.32", 2, 6, 32, "754.el6.x86_64"}},
};

TEST(KernelReleaseParse, Table) {
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.input);
    auto got = ParseKernelRelease(row.input);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, row.want);
  }
}

TEST(KernelReleaseParse, EveryRealReleaseInTestData) {
  auto lines = cvm::testing::DataLines(
      cvm::testing::SourcePath("tests/data/kernel-releases.txt"));
  ASSERT_GE(lines.size(), 40u);
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    auto got = ParseKernelRelease(line);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->release, line);
    EXPECT_EQ(line.rfind(got->version.substr(0, got->version.rfind('.')), 0), 0u);
    EXPECT_GE(got->major, 2);
  }
}

TEST(KernelReleaseParse, RejectsWhatIsNotARelease) {
  for (std::string_view bad :
       {"", "\n", "linux", "5", "5.", ".5.4", "v5.4.0", "5.x", "5.4 generic",
        "99999999999999999999.1", "5.4.99999999999999999999"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseKernelRelease(bad));
  }
}

TEST(ProcVersion, TakesTheThirdField) {
  auto got = ReleaseFromProcVersion(
      "Linux version 6.18.44-fc-v595 (builder@sandboxing) (gcc (GCC) 15.3.0, "
      "GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0\n");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "6.18.44-fc-v595");
}

TEST(ProcVersion, RejectsOtherText) {
  EXPECT_FALSE(ReleaseFromProcVersion(""));
  EXPECT_FALSE(ReleaseFromProcVersion("Linux"));
  EXPECT_FALSE(ReleaseFromProcVersion("FreeBSD version 13.2"));
}

TEST(ProcVersion, EveryRealSampleInTestData) {
  std::string dir = cvm::testing::SourcePath("tests/data/proc-version");
  auto names = cvm::testing::ListNames(dir, true);
  int checked = 0;
  for (const auto& name : names) {
    if (name == "SOURCES.md") continue;
    SCOPED_TRACE(name);
    std::string text = cvm::testing::ReadText(dir + "/" + name);
    auto rel = ReleaseFromProcVersion(text);
    ASSERT_TRUE(rel) << rel.error().message;
    auto parsed = ParseKernelRelease(*rel);
    EXPECT_TRUE(parsed) << *rel;
    // File names carry the release (e.g. "ubuntu-5.4.0-42-generic").
    std::string stem = parsed ? parsed->version.substr(0, parsed->version.find('.')) : "";
    EXPECT_NE(name.find(stem), std::string::npos);
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace cvm::probe
