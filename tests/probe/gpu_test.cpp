#include "probe/gpu.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

TEST(PciParse, SysfsHex) {
  const std::pair<std::string_view, std::uint32_t> rows[] = {
      {"0x10de\n", 0x10de}, {"0x030200\n", 0x030200}, {"0x1002", 0x1002},
      {"0x20B0\n", 0x20b0}};
  for (const auto& [in, want] : rows) {
    SCOPED_TRACE(in);
    auto got = ParseSysfsHex(in);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, want);
  }
  for (std::string_view bad : {"", "\n", "10de", "0x", "0xzz", "0x123456789", "0x10de junk"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseSysfsHex(bad));
  }
}

TEST(PciParse, DisplayClasses) {
  EXPECT_TRUE(IsDisplayClass(0x030000));   // VGA
  EXPECT_TRUE(IsDisplayClass(0x030200));   // 3D controller
  EXPECT_TRUE(IsDisplayClass(0x038000));   // display controller
  EXPECT_FALSE(IsDisplayClass(0x030100));  // XGA
  EXPECT_FALSE(IsDisplayClass(0x040300));  // HD audio function of a GPU
  EXPECT_FALSE(IsDisplayClass(0x020000));  // Ethernet
}

TEST(GpuClassify, CountsByVendorAndListsNvidiaAndAmd) {
  const PciDevice devices[] = {
      {"0000:01:00.0", 0x10de, 0x2204, 0x030000, "nvidia", "GA102 [GeForce RTX 3090]"},
      {"0000:01:00.1", 0x10de, 0x1aef, 0x040300, "snd_hda_intel", ""},  // audio
      {"0000:03:00.0", 0x102b, 0x0536, 0x030000, "mgag200", ""},
      {"0000:04:00.0", 0x1002, 0x738c, 0x038000, "", ""},
      {"0000:00:02.0", 0x8086, 0x56a0, 0x030000, "i915", ""},
      {"0000:05:00.0", 0x10de, 0x1eb8, 0x030200, "vfio-pci", ""},
  };
  GpuInventory inv = ClassifyGpus(devices);
  EXPECT_EQ(inv.nvidia, 2);
  EXPECT_EQ(inv.amd, 1);
  EXPECT_EQ(inv.intel, 1);
  EXPECT_EQ(inv.other, 1);
  ASSERT_EQ(inv.nvidia_devices.size(), 2u);
  Record want{{"address", std::string("0000:01:00.0")},
              {"vendor_id", std::string("0x10de")},
              {"device_id", std::string("0x2204")},
              {"class", std::string("0x030000")},
              {"model", std::string("GA102 [GeForce RTX 3090]")},
              {"driver", std::string("nvidia")}};
  EXPECT_EQ(inv.nvidia_devices[0], want);
  EXPECT_EQ(std::get<std::string>(inv.nvidia_devices[1].at("driver")), "vfio-pci");
  EXPECT_EQ(inv.nvidia_devices[1].count("model"), 0u);
  EXPECT_EQ(std::get<std::string>(inv.amd_devices[0].at("driver")), "none");
}

TEST(GpuClassify, NoDevices) {
  GpuInventory inv = ClassifyGpus({});
  EXPECT_EQ(inv, GpuInventory{});
}

TEST(PciSysfs, ReadsTheDellFixture) {
  auto root = HostRoot::Open(cvm::testing::SourcePath("fixtures/gpu-nvidia-dell-bare-metal/root"));
  ASSERT_TRUE(root);
  PciScan scan = ReadPciDevicesFromRoot(*root);
  EXPECT_TRUE(scan.errors.empty());
  ASSERT_EQ(scan.devices.size(), 2u);
  EXPECT_EQ(scan.devices[0], (PciDevice{"0000:01:00.0", 0x10de, 0x2204, 0x030000, "nvidia", ""}));
  EXPECT_EQ(scan.devices[1], (PciDevice{"0000:03:00.0", 0x102b, 0x0536, 0x030000, "mgag200", ""}));
}

TEST(PciSysfs, UnboundDeviceHasNoDriver) {
  cvm::testing::TempTree t;
  t.Write("sys/devices/pci0000:00/0000:00:04.0/vendor", "0x10de\n");
  t.Write("sys/devices/pci0000:00/0000:00:04.0/device", "0x1eb8\n");
  t.Write("sys/devices/pci0000:00/0000:00:04.0/class", "0x030200\n");
  t.Symlink("sys/bus/pci/devices/0000:00:04.0", "../../../devices/pci0000:00/0000:00:04.0");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_EQ(f.GetInt(kGpuNvidiaCount), 1);
  const auto* devs = std::get_if<RecordList>(&f.Find(kGpuNvidiaDevices)->value);
  ASSERT_NE(devs, nullptr);
  EXPECT_EQ(std::get<std::string>(devs->at(0).at("driver")), "none");
}

TEST(PciSysfs, NoPciBusUnderSysBusMeansNoGpus) {
  cvm::testing::TempTree t;
  t.Mkdir("sys/bus/platform");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_EQ(f.GetInt(kGpuNvidiaCount), 0);
  EXPECT_EQ(f.GetInt(kGpuOtherCount), 0);
}

TEST(PciSysfs, NoSysBusLeavesGpuFactsOut) {
  cvm::testing::TempTree t;
  t.Write("etc/os-release", "ID=debian\n");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_FALSE(f.Has(kGpuNvidiaCount));
  bool saw = false;
  for (const auto& e : f.errors()) saw |= e.probe == "gpu";
  EXPECT_TRUE(saw);
}

TEST(PciSysfs, UnreadableDeviceLeavesCountsOut) {
  cvm::testing::TempTree t;
  t.Write("sys/devices/pci0000:00/0000:00:04.0/vendor", "0x10de\n");
  t.Write("sys/devices/pci0000:00/0000:00:04.0/device", "0x1eb8\n");
  t.Write("sys/devices/pci0000:00/0000:00:04.0/class", "garbage\n");
  t.Symlink("sys/bus/pci/devices/0000:00:04.0", "../../../devices/pci0000:00/0000:00:04.0");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_FALSE(f.Has(kGpuNvidiaCount));
  bool saw = false;
  for (const auto& e : f.errors()) {
    saw |= e.path == "/sys/bus/pci/devices/0000:00:04.0/class";
  }
  EXPECT_TRUE(saw);
}

TEST(GpuProbe, Fixtures) {
  struct F {
    std::string name;
    std::int64_t nvidia, amd, other;
  };
  for (const F& row : {F{"gpu-nvidia-dell-bare-metal", 1, 0, 1},
                       F{"gpu-amd-hpe-bare-metal", 0, 1, 0},
                       F{"gpu-nvidia-gce-vm", 1, 0, 0}}) {
    SCOPED_TRACE(row.name);
    auto root = HostRoot::Open(cvm::testing::SourcePath("fixtures/" + row.name + "/root"));
    ASSERT_TRUE(root);
    Facts f = RunProbes(*root);
    EXPECT_EQ(f.GetInt(kGpuNvidiaCount), row.nvidia);
    EXPECT_EQ(f.GetInt(kGpuAmdCount), row.amd);
    EXPECT_EQ(f.GetInt(kGpuOtherCount), row.other);
    EXPECT_EQ(f.GetInt(kGpuIntelCount), 0);
  }
}

}  // namespace
}  // namespace cvm::probe
