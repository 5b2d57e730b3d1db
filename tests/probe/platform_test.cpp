#include "probe/platform.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

[[maybe_unused]] void PrintTo(const Platform& p, std::ostream* os) {
  *os << "{kind=" << p.kind << ", hypervisor=" << p.hypervisor
      << ", cloud=" << p.cloud << "}";
}

struct Row {
  std::string_view name;
  PlatformEvidence in;
  std::string_view kind, hypervisor, cloud;
};

DmiIds Dmi(std::string sys_vendor, std::string product_name,
           std::string bios_version = "", std::string asset_tag = "") {
  DmiIds d;
  d.sys_vendor = std::move(sys_vendor);
  d.product_name = std::move(product_name);
  d.bios_version = std::move(bios_version);
  d.chassis_asset_tag = std::move(asset_tag);
  return d;
}

PlatformEvidence Ev(DmiIds dmi, std::optional<bool> flag) {
  PlatformEvidence e;
  e.dmi = std::move(dmi);
  e.cpuinfo_hypervisor_flag = flag;
  return e;
}

// DMI strings from real `Hardware name:` lines (fixtures/*/SOURCES.md).
TEST(PlatformClassify, Table) {
  const std::optional<bool> kFlag = true, kNoFlag = false, kUnknown;
  const Row rows[] = {
      {"aws xen", Ev(Dmi("Xen", "HVM domU", "4.11.amazon"), kFlag), "vm", "xen", "aws"},
      // A Qubes OS Xen VM, no cloud: "Hardware name: Xen HVM domU, BIOS
      // 4.17.3 03/12/2024" (text-index id 24529826322).
      {"xen, not aws", Ev(Dmi("Xen", "HVM domU", "4.17.3"), kFlag), "vm", "xen", "none"},
      {"aws nitro", Ev(Dmi("Amazon EC2", "c5.large", "1.0"), kFlag), "vm", "amazon", "aws"},
      {"aws metal", Ev(Dmi("Amazon EC2", "i3.metal", "1.0"), kNoFlag), "bare-metal", "", "aws"},
      {"aws metal-24xl", Ev(Dmi("Amazon EC2", "r8g.metal-24xl", "1.0"), kUnknown), "bare-metal", "", "aws"},
      {"gce", Ev(Dmi("Google", "Google Compute Engine", "Google"), kFlag), "vm", "google", "gce"},
      // Older GCE (fixtures/platform-gce-google): with or without cpuinfo.
      {"gce older", Ev(Dmi("Google", "Google", "Google"), kFlag), "vm", "google", "gce"},
      {"gce older without cpuinfo", Ev(Dmi("Google", "Google", "Google"), kUnknown), "vm", "google", "gce"},
      {"azure", Ev(Dmi("Microsoft Corporation", "Virtual Machine", "090007",
                     "7783-7084-3265-9085-8269-3286-77"), kFlag), "vm", "hyperv", "azure"},
      {"hyper-v on premises", Ev(Dmi("Microsoft Corporation", "Virtual Machine",
                                   "Hyper-V UEFI Release v4.1"), kFlag), "vm", "hyperv", "none"},
      {"vmware", Ev(Dmi("VMware, Inc.", "VMware Virtual Platform", "6.00"), kFlag), "vm", "vmware", "none"},
      {"qemu q35", Ev(Dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)"), kFlag), "vm", "qemu", "none"},
      {"alibaba ecs", Ev(Dmi("Alibaba Cloud", "Alibaba Cloud ECS"), kFlag), "vm", "kvm", "alibaba"},
      {"openstack nova", Ev(Dmi("OpenStack Foundation", "OpenStack Nova", "1.13.0-1ubuntu1.1"), kFlag), "vm", "kvm", "openstack"},
      {"openstack rhosp", Ev(Dmi("Red Hat", "OpenStack Compute", "1.14.0-1.module+el8.4.0+8855+a9e237a9"), kFlag), "vm", "kvm", "openstack"},
      // cloud-init's ds-identify: Open Telekom Cloud gen1 (Xen) says so only
      // in the asset tag; cloud-init's own test has nothing else.
      {"open telekom cloud xen", Ev(Dmi("", "", "", "OpenTelekomCloud"), kFlag), "vm", "", "openstack"},
      // cloud-init's DataSourceOracle: VMs and bare metal carry the tag.
      {"oracle vm", Ev(Dmi("", "", "", "OracleCloud.com"), kFlag), "vm", "", "oracle"},
      {"oracle bare metal", Ev(Dmi("", "", "", "OracleCloud.com"), kNoFlag), "bare-metal", "", "oracle"},
      // Azure VMs whose firmware vendor is not Microsoft (ClusterLabs/crmsh#865:
      // "American Megatrends Inc."): the asset tag still names Azure.
      {"azure, other firmware vendor", Ev(Dmi("American Megatrends Inc.", "", "", "7783-7084-3265-9085-8269-3286-77"), kFlag), "vm", "", "azure"},
      {"dell", Ev(Dmi("Dell Inc.", "PowerEdge R740", "2.22.2"), kNoFlag), "bare-metal", "", "none"},
      {"hpe without cpuinfo", Ev(Dmi("HPE", "ProLiant DL380 Gen10", "U30"), kUnknown), "bare-metal", "", "none"},
      {"supermicro", Ev(Dmi("Supermicro", "SYS-2028TP-DECR", "2.0b"), kNoFlag), "bare-metal", "", "none"},
      {"hypervisor flag beats physical DMI", Ev(Dmi("Dell Inc.", "PowerEdge R740"), kFlag), "vm", "", "none"},
      {"firecracker: flag, no DMI", Ev(DmiIds{}, kFlag), "vm", "", ""},
      {"nothing known", Ev(DmiIds{}, kUnknown), "", "", ""},
      {"x86 without flag and without DMI", Ev(DmiIds{}, kNoFlag), "", "", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    Platform p = ClassifyPlatform(row.in);
    EXPECT_EQ(p.kind, row.kind);
    EXPECT_EQ(p.hypervisor, row.hypervisor);
    EXPECT_EQ(p.cloud, row.cloud);
  }
}

// dmidecode on AWS Xen: System Information "Version: 4.2.amazon" (the
// product_version) as well as the BIOS version
// (fixtures/platform-aws-xen/SOURCES.md); either names the cloud.
TEST(PlatformClassify, AwsXenFromProductVersionAlone) {
  DmiIds d = Dmi("Xen", "HVM domU");
  d.product_version = "4.2.amazon";
  Platform p = ClassifyPlatform(Ev(d, true));
  EXPECT_EQ(p.cloud, "aws");
  EXPECT_EQ(p.hypervisor, "xen");
  d.product_version.clear();
  EXPECT_EQ(ClassifyPlatform(Ev(d, true)).cloud, "none");
}

TEST(PlatformClassify, XenFromSysHypervisorWithoutDmi) {
  PlatformEvidence e;
  e.sys_hypervisor_type = "xen";
  Platform p = ClassifyPlatform(e);
  EXPECT_EQ(p.kind, "vm");
  EXPECT_EQ(p.hypervisor, "xen");
  EXPECT_EQ(p.cloud, "");
}

TEST(PlatformClassify, DeviceTreeBoardIsBareMetal) {
  PlatformEvidence e;
  e.device_tree_model = "Raspberry Pi 4 Model B Rev 1.4";
  EXPECT_EQ(ClassifyPlatform(e).kind, "bare-metal");
}

TEST(PlatformClassify, ProviderIdIsTheStrongerSourceForTheCloud) {
  PlatformEvidence e;
  e.dmi = Dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)");
  e.provider_id = "gce://my-project/us-central1-a/gke-node-1";
  Platform p = ClassifyPlatform(e);
  EXPECT_EQ(p.cloud, "gce");
  EXPECT_EQ(p.cloud_from, "node spec.providerID");
  e.provider_id = "kind://docker/kind/kind-control-plane";
  EXPECT_EQ(ClassifyPlatform(e).cloud, "none");
}

TEST(PlatformProviderId, Schemes) {
  const std::pair<std::string_view, std::string_view> rows[] = {
      {"aws:///us-east-1a/i-0abcdef1234567890", "aws"},
      {"gce://project/us-central1-a/node", "gce"},
      {"azure:///subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/virtualMachines/z", "azure"},
      {"digitalocean://123456", "digitalocean"},
      {"hcloud://123456", "hetzner"},
      {"openstack:///0c5d-uuid", "openstack"},
      {"kind://docker/kind/kind-worker", ""},
      {"k3s://node1", ""},
      {"", ""},
      {"i-0abcdef", ""},
  };
  for (const auto& [in, want] : rows) {
    SCOPED_TRACE(in);
    EXPECT_EQ(CloudFromProviderId(in), want);
  }
}

TEST(PlatformParse, CpuInfoOfThisKindOfMachine) {
  // Shape of /proc/cpuinfo on x86 (two CPUs, flags abridged) and on arm64.
  std::string x86 =
      "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme de hypervisor lahf_lm\n\n"
      "processor\t: 1\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme de hypervisor lahf_lm\n";
  EXPECT_EQ(ParseCpuInfo(x86), (CpuInfo{2, true}));
  std::string metal = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr\n";
  EXPECT_EQ(ParseCpuInfo(metal), (CpuInfo{1, false}));
  std::string hypervisor_prefix = "processor\t: 0\nflags\t\t: hypervisorx fpu\n";
  EXPECT_EQ(ParseCpuInfo(hypervisor_prefix), (CpuInfo{1, false}));
  std::string arm =
      "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull\n"
      "CPU implementer\t: 0x41\n";
  EXPECT_EQ(ParseCpuInfo(arm), (CpuInfo{1, std::nullopt}));
}

TEST(PlatformParse, CpuList) {
  const std::pair<std::string_view, std::int64_t> rows[] = {
      {"0-1\n", 2}, {"0\n", 1}, {"0-3,8-11\n", 8}, {"0,2,4-5", 4}, {"0-127\n", 128}};
  for (const auto& [in, want] : rows) {
    SCOPED_TRACE(in);
    auto got = ParseCpuList(in);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, want);
  }
  for (std::string_view bad : {"", "\n", "a", "3-1", "0-", "-1", "0,,1", "1-2-3"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseCpuList(bad));
  }
}

TEST(PlatformParse, MemTotal) {
  auto got = ParseMemTotal("MemTotal:       24684096 kB\nMemFree:         1234 kB\n");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 24684096LL * 1024);
  EXPECT_FALSE(ParseMemTotal("MemFree: 12 kB\n"));
  EXPECT_FALSE(ParseMemTotal("MemTotal: 12 MB\n"));
  EXPECT_FALSE(ParseMemTotal("MemTotal: x kB\n"));
}

Facts ScanFixture(const std::string& name) {
  auto root = HostRoot::Open(cvm::testing::SourcePath("fixtures/" + name + "/root"));
  EXPECT_TRUE(root);
  return RunProbes(*root);
}

TEST(PlatformProbe, Fixtures) {
  struct F {
    std::string name;
    std::string kind, hypervisor, cloud;
  };
  const F rows[] = {
      {"platform-aws-xen", "vm", "xen", "aws"},
      {"platform-aws-nitro", "vm", "amazon", "aws"},
      {"platform-aws-metal", "bare-metal", "", "aws"},
      {"platform-azure", "vm", "hyperv", "azure"},
      {"platform-vmware", "vm", "vmware", "none"},
      {"platform-qemu-kvm", "vm", "qemu", "none"},
      {"platform-supermicro", "bare-metal", "", "none"},
      {"gpu-nvidia-dell-bare-metal", "bare-metal", "", "none"},
      {"gpu-amd-hpe-bare-metal", "bare-metal", "", "none"},
      {"gpu-nvidia-gce-vm", "vm", "google", "gce"},
      {"platform-gce-google", "vm", "google", "gce"},
      {"platform-openstack-nova", "vm", "kvm", "openstack"},
      {"platform-openstack-rhosp", "vm", "kvm", "openstack"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    Facts f = ScanFixture(row.name);
    ASSERT_NE(f.GetString(kPlatformKind), nullptr);
    EXPECT_EQ(*f.GetString(kPlatformKind), row.kind);
    const std::string* hv = f.GetString(kPlatformHypervisor);
    EXPECT_EQ(hv ? *hv : "", row.hypervisor);
    ASSERT_NE(f.GetString(kPlatformCloud), nullptr);
    EXPECT_EQ(*f.GetString(kPlatformCloud), row.cloud);
  }
}

TEST(PlatformProbe, NoSourcesLeavesKindOut) {
  cvm::testing::TempTree t;
  t.Write("etc/os-release", "ID=debian\n");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  EXPECT_FALSE(f.Has(kPlatformKind));
  EXPECT_FALSE(f.Has(kPlatformCloud));
  EXPECT_FALSE(f.Has(kNodeCpus));
}

TEST(PlatformProbe, FirecrackerShapeIsVmWithoutHypervisor) {
  cvm::testing::TempTree t;
  t.Write("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu hypervisor\n\nprocessor\t: 1\nflags\t\t: fpu hypervisor\n");
  t.Write("proc/meminfo", "MemTotal:       24684096 kB\n");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  ASSERT_NE(f.GetString(kPlatformKind), nullptr);
  EXPECT_EQ(*f.GetString(kPlatformKind), "vm");
  EXPECT_FALSE(f.Has(kPlatformHypervisor));
  EXPECT_EQ(f.GetInt(kNodeCpus), 2);  // no cpu/online: cpuinfo count
  EXPECT_EQ(f.Find(kNodeCpus)->source, "/proc/cpuinfo");
  EXPECT_EQ(f.GetInt(kNodeMemoryBytes), 24684096LL * 1024);
}

TEST(PlatformProbe, UnreadableDmiIsAnErrorNotEvidence) {
  cvm::testing::TempTree t;
  t.Mkdir("sys/class/dmi/id/sys_vendor");  // a directory: not a regular file
  t.Write("sys/class/dmi/id/product_name", "PowerEdge R740\n");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root);
  bool saw = false;
  for (const auto& e : f.errors()) {
    if (e.probe == "platform" && e.path == "/sys/class/dmi/id/sys_vendor") saw = true;
  }
  EXPECT_TRUE(saw);
  EXPECT_FALSE(f.Has(kPlatformSysVendor));
}

}  // namespace
}  // namespace cvm::probe
