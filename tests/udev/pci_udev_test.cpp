// The libudev path of probe/pci.h and PciMonitor against umockdev testbeds.
// Runs only under umockdev's preload (tests/CMakeLists.txt runs it through
// umockdev-wrapper); the code under test is the production code, libudev
// unfaked: umockdev redirects its /sys and netlink to the testbed.
#include <umockdev.h>

#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/gpu.h"
#include "probe/pci.h"
#include "probe/pci_monitor.h"
#include "probe/registry.h"
#include "tests/support/data.h"

namespace cvm::probe {
namespace {

[[maybe_unused]] void PrintTo(const PciDevice& d, std::ostream* os) {
  *os << "{" << d.address << " " << std::hex << d.vendor_id << ":" << d.device_id
      << " class " << d.class_code << std::dec << " driver=" << d.driver
      << " model=" << d.model << "}";
}

class Testbed {
 public:
  explicit Testbed(const std::string& description) : tb_(umockdev_testbed_new()) {
    if (description.empty()) return;
    GError* error = nullptr;
    std::string path = cvm::testing::SourcePath("tests/data/umockdev/" + description);
    ok_ = umockdev_testbed_add_from_file(tb_, path.c_str(), &error);
    if (error != nullptr) {
      message_ = error->message;
      g_error_free(error);
    }
  }
  ~Testbed() { g_object_unref(tb_); }
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;
  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }
  std::string root() const { return umockdev_testbed_get_root_dir(tb_); }
  UMockdevTestbed* get() { return tb_; }

 private:
  UMockdevTestbed* tb_;
  bool ok_ = true;
  std::string message_;
};

// What `systemd-hwdb query` says, independently of our hwdb code; "" when
// the tool or the entry is missing.
std::string HwdbQuery(std::uint32_t vendor, std::uint32_t device) {
  char cmd[128];
  std::snprintf(cmd, sizeof cmd,
                "systemd-hwdb query pci:v%08Xd%08X 2>/dev/null", vendor, device);
  std::string out;
  if (FILE* p = ::popen(cmd, "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) {
      std::string line = buf;
      const std::string key = "ID_MODEL_FROM_DATABASE=";
      if (line.rfind(key, 0) == 0) {
        out = line.substr(key.size());
        while (!out.empty() && out.back() == '\n') out.pop_back();
      }
    }
    ::pclose(p);
  }
  return out;
}

TEST(UmockdevEnvironment, IsActive) {
  Testbed tb("none.umockdev");  // sets UMOCKDEV_DIR, which the check reads
  ASSERT_TRUE(umockdev_in_mock_environment())
      << "run this binary under umockdev-wrapper";
}

struct Scenario {
  std::string file;
  std::vector<PciDevice> want;  // models left empty: checked against hwdb
  std::int64_t nvidia, amd, intel, other;
};

const Scenario kScenarios[] = {
    {"nvidia-bindings.umockdev",
     {{"0000:08:00.0", 0x10de, 0x2204, 0x030000, "nouveau", ""},
      {"0000:18:00.0", 0x10de, 0x1eb8, 0x030200, "nvidia", ""},
      {"0000:65:00.0", 0x10de, 0x1eb8, 0x030200, "vfio-pci", ""}},
     3, 0, 0, 0},
    {"amd.umockdev", {{"0000:03:00.0", 0x1002, 0x738c, 0x038000, "amdgpu", ""}}, 0, 1, 0, 0},
    {"none.umockdev", {}, 0, 0, 0, 0},
    {"mixed.umockdev",
     {{"0000:07:00.0", 0x1a03, 0x2000, 0x030000, "ast", ""},
      {"0000:17:00.0", 0x10de, 0x20b0, 0x030200, "nvidia", ""},
      {"0000:43:00.0", 0x1002, 0x738c, 0x038000, "", ""}},
     1, 1, 0, 1},
};

TEST(PciUdev, EnumeratesTheTestbed) {
  for (const auto& s : kScenarios) {
    SCOPED_TRACE(s.file);
    Testbed tb(s.file);
    ASSERT_TRUE(tb.ok()) << tb.message();
    PciScan scan = ReadPciDevicesFromUdev();
    EXPECT_TRUE(scan.errors.empty());
    ASSERT_EQ(scan.devices.size(), s.want.size());
    for (std::size_t i = 0; i < s.want.size(); ++i) {
      PciDevice got = scan.devices[i];
      std::string hwdb = HwdbQuery(got.vendor_id, got.device_id);
      if (!hwdb.empty()) {
        EXPECT_EQ(got.model, hwdb) << got.address;
      }
      got.model.clear();
      EXPECT_EQ(got, s.want[i]);
    }
  }
}

// The two paths agree on the same device tree: libudev over the testbed's
// /sys, and HostRoot over the testbed's folder.
TEST(PciUdev, SysfsPathGivesTheSameDevices) {
  for (const auto& s : kScenarios) {
    SCOPED_TRACE(s.file);
    Testbed tb(s.file);
    ASSERT_TRUE(tb.ok()) << tb.message();
    PciScan live = ReadPciDevicesFromUdev();
    auto root = HostRoot::Open(tb.root());
    ASSERT_TRUE(root) << root.error().message;
    PciScan folder = ReadPciDevicesFromRoot(*root);
    EXPECT_TRUE(folder.errors.empty());
    for (auto& d : live.devices) d.model.clear();  // no hwdb for a folder
    EXPECT_EQ(live.devices, folder.devices);
    GpuInventory a = ClassifyGpus(live.devices), b = ClassifyGpus(folder.devices);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.nvidia, s.nvidia);
    EXPECT_EQ(a.amd, s.amd);
    EXPECT_EQ(a.intel, s.intel);
    EXPECT_EQ(a.other, s.other);
  }
}

// The whole probe on "/" takes the libudev path under the preload.
TEST(PciUdev, GpuProbeOnSlashUsesUdev) {
  Testbed tb("nvidia-bindings.umockdev");
  ASSERT_TRUE(tb.ok()) << tb.message();
  auto root = HostRoot::Open("/");
  ASSERT_TRUE(root);
  ASSERT_TRUE(root->IsHostSlash());
  Facts f = RunProbes(*root);
  EXPECT_EQ(f.GetInt(kGpuNvidiaCount), 3);
  EXPECT_EQ(f.Find(kGpuNvidiaCount)->source, "udev (subsystem pci)");
  const auto* devs = std::get_if<RecordList>(&f.Find(kGpuNvidiaDevices)->value);
  ASSERT_NE(devs, nullptr);
  ASSERT_EQ(devs->size(), 3u);
  EXPECT_EQ(std::get<std::string>(devs->at(0).at("driver")), "nouveau");
  EXPECT_EQ(std::get<std::string>(devs->at(2).at("driver")), "vfio-pci");
  std::string hwdb = HwdbQuery(0x10de, 0x1eb8);
  if (!hwdb.empty()) {
    EXPECT_EQ(std::get<std::string>(devs->at(1).at("model")), hwdb);
  } else {
    EXPECT_EQ(devs->at(1).count("model"), 0u);
  }
}

TEST(PciMonitorTest, DebouncesABurstIntoOneCallback) {
  Testbed tb("mixed.umockdev");
  ASSERT_TRUE(tb.ok()) << tb.message();
  int calls = 0;
  auto mon = PciMonitor::Open([&] { ++calls; }, std::chrono::milliseconds(200));
  ASSERT_TRUE(mon) << mon.error().message;
  // A GPU and its audio function go away, then the GPU comes back.
  umockdev_testbed_uevent(tb.get(), "/sys/devices/pci0000:16/0000:16:00.0/0000:17:00.0", "remove");
  umockdev_testbed_uevent(tb.get(), "/sys/devices/pci0000:16/0000:16:00.0/0000:17:00.1", "remove");
  umockdev_testbed_uevent(tb.get(), "/sys/devices/pci0000:16/0000:16:00.0/0000:17:00.0", "add");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (calls == 0 && std::chrono::steady_clock::now() < deadline) {
    (*mon)->RunOnce(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*mon)->events_seen(), 3);
  // Quiet afterwards: no second callback.
  for (int i = 0; i < 6; ++i) (*mon)->RunOnce(std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 1);
  // A later event gives a later callback.
  umockdev_testbed_uevent(tb.get(), "/sys/devices/pci0000:40/0000:40:01.1/0000:43:00.0", "bind");
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (calls == 1 && std::chrono::steady_clock::now() < deadline) {
    (*mon)->RunOnce(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(calls, 2);
}

TEST(PciMonitorTest, IgnoresOtherSubsystems) {
  Testbed tb("");
  gchar* usb = umockdev_testbed_add_device(tb.get(), "usb", "usb1", nullptr,
                                           "idVendor", "1d6b", nullptr,
                                           "DEVTYPE", "usb_device", nullptr);
  ASSERT_NE(usb, nullptr);
  int calls = 0;
  auto mon = PciMonitor::Open([&] { ++calls; }, std::chrono::milliseconds(20));
  ASSERT_TRUE(mon) << mon.error().message;
  umockdev_testbed_uevent(tb.get(), usb, "add");
  for (int i = 0; i < 6; ++i) (*mon)->RunOnce(std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ((*mon)->events_seen(), 0);
  g_free(usb);
}

TEST(PciMonitorTest, TimeoutIsMinusOneWhenNothingIsPending) {
  Testbed tb("none.umockdev");
  auto mon = PciMonitor::Open([] {}, std::chrono::milliseconds(20));
  ASSERT_TRUE(mon) << mon.error().message;
  EXPECT_EQ((*mon)->TimeoutMs(PciMonitor::Clock::now()), -1);
}

}  // namespace
}  // namespace cvm::probe
