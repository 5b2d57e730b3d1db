#include "probe/nvidia_driver.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

[[maybe_unused]] void PrintTo(const NvidiaVersion& v, std::ostream* os) {
  *os << "{" << v.version << ", " << v.kind << "}";
}

// Real /proc/driver/nvidia/version texts (public transcripts and tests).
TEST(NvidiaVersionParse, RealTexts) {
  const std::pair<std::string_view, NvidiaVersion> rows[] = {
      {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  177.80  Wed Oct  1 14:43:46 PDT 2008\n"
       "GCC version:  gcc version 4.3.2 (Ubuntu 4.3.2-1ubuntu11)\n",
       {"177.80", "proprietary"}},
      {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  418.56  Fri Mar 15 12:59:26 CDT 2019\n"
       "GCC version:  gcc version 4.8.4 (Ubuntu 4.8.4-2ubuntu1~14.04.4) \n",
       {"418.56", "proprietary"}},
      {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  515.76  Mon Sep 12 19:21:56 UTC 2022\n"
       "GCC version:  gcc version 7.5.0 (Ubuntu 7.5.0-3ubuntu1~18.04)\n",
       {"515.76", "proprietary"}},
      {"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  525.60.11  Release Build  "
       "(archlinux-builder@localhost)  \nGCC version:  gcc version 12.2.0 (GCC) \n",
       {"525.60.11", "open"}},
      {"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  555.58.02  Release Build  "
       "(dvs-builder@U16-I3-B03-4-3)  Tue Jun 25 01:26:03 UTC 2024\n"
       "GCC version:  gcc version 14.2.1 20240801 (Red Hat 14.2.1-1) (GCC) \n",
       {"555.58.02", "open"}},
      {"NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  580.126.09  Release Build  "
       "(dvs-builder@U22-I3-AF04-07-5)  Wed Jan  7 22:35:57 UTC 2026\n"
       "GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04.1)\n",
       {"580.126.09", "open"}},
      {"NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  540.4.0  Release Build  "
       "(buildbrain@mobile-u64-6336-d8000)  Tue Jan  7 17:35:12 PST 2025\n"
       "GCC version:  collect2: error: ld returned 1 exit status    \n",
       {"540.4.0", "open"}},
      {"NVRM version: NVIDIA UNIX Kernel Module for aarch64  34.1.1  Release Build  "
       "(buildbrain@mobile-u64-5414-d7000)  Mon May 16 21:12:24 PDT 2022\n",
       {"34.1.1", "proprietary"}},
  };
  for (const auto& [text, want] : rows) {
    SCOPED_TRACE(text);
    auto got = ParseNvidiaVersion(text);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, want);
  }
}

TEST(NvidiaVersionParse, RejectsOtherTexts) {
  for (std::string_view bad :
       {"", "\n", "GCC version:  gcc version 12.2.0 (GCC)\n",
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module\n",
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  Release Build\n",
        "NVRM version: something else 1.2\n"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseNvidiaVersion(bad));
  }
}

TEST(NvidiaGpuModelParse, RealInformationFiles) {
  const std::pair<std::string_view, std::string_view> rows[] = {
      {"Model: \t\tNVIDIA GeForce GTX 1660 SUPER\nIRQ:   \t\t58\n", "NVIDIA GeForce GTX 1660 SUPER"},
      {"Model: \t\t NVIDIA A10G\nIRQ:   \t\t 42\nGPU UUID: \t GPU-82523fd8-3897-f599-d088-ccd04ae45ec1\n",
       "NVIDIA A10G"},
      {"Model: \t\t Tesla K80\nIRQ:   \t\t 33\n", "Tesla K80"},
  };
  for (const auto& [text, want] : rows) {
    SCOPED_TRACE(text);
    auto got = ParseNvidiaGpuModel(text);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, want);
  }
  EXPECT_FALSE(ParseNvidiaGpuModel("IRQ: 33\n"));
  EXPECT_FALSE(ParseNvidiaGpuModel("Model: \t\t \n"));
}

TEST(NvidiaDriverProbe, DellFixture) {
  auto root = HostRoot::Open(cvm::testing::SourcePath("fixtures/gpu-nvidia-dell-bare-metal/root"));
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  ASSERT_NE(f.GetString(kGpuNvidiaDriverVersion), nullptr);
  EXPECT_EQ(*f.GetString(kGpuNvidiaDriverVersion), "590.48.01");
  EXPECT_EQ(*f.GetString(kGpuNvidiaDriverKind), "open");
  ASSERT_NE(f.GetList(kGpuNvidiaModels), nullptr);
  EXPECT_EQ(*f.GetList(kGpuNvidiaModels), StringList{"NVIDIA GeForce RTX 3090"});
  EXPECT_FALSE(f.Has(kGpuNvidiaDeviceNodes));  // no /dev in the fixture
}

TEST(NvidiaDriverProbe, NoDriverLeavesFactsOutSilently) {
  cvm::testing::TempTree t;
  t.Mkdir("proc");
  t.Mkdir("dev");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_FALSE(f.Has(kGpuNvidiaDriverVersion));
  EXPECT_FALSE(f.Has(kGpuNvidiaModels));
  EXPECT_EQ(f.GetBool(kGpuNvidiaDeviceNodes), false);
  for (const auto& e : f.errors()) EXPECT_NE(e.probe, "nvidia-driver") << e.message;
}

TEST(NvidiaDriverProbe, RegularFilesAreNotDeviceNodes) {
  cvm::testing::TempTree t;
  t.Write("dev/nvidia0", "");
  t.Write("dev/nvidiactl", "");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  EXPECT_EQ(RunProbes(*root).GetBool(kGpuNvidiaDeviceNodes), false);
}

TEST(NvidiaDriverProbe, GarbledVersionIsAnError) {
  cvm::testing::TempTree t;
  t.Write("proc/driver/nvidia/version", "NVRM version: garbled\n");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_FALSE(f.Has(kGpuNvidiaDriverVersion));
  bool saw = false;
  for (const auto& e : f.errors()) saw |= e.path == "/proc/driver/nvidia/version";
  EXPECT_TRUE(saw);
}

}  // namespace
}  // namespace cvm::probe
