#include "probe/platform.h"

#include <cerrno>
#include <charconv>

#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

constexpr std::size_t kSmallCap = 4096;
constexpr std::size_t kCpuinfoCap = 4 << 20;  // 4 KiB a CPU, ~1000 CPUs
constexpr std::string_view kDmiDir = "/sys/class/dmi/id/";
// cloud-init's DataSourceAzure (ChassisAssetTag.AZURE_CLOUD): every Azure VM.
constexpr std::string_view kAzureAssetTag = "7783-7084-3265-9085-8269-3286-77";
// cloud-init's DataSourceOracle (CHASSIS_ASSET_TAG).
constexpr std::string_view kOracleAssetTag = "OracleCloud.com";

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
bool Contains(std::string_view s, std::string_view p) {
  return s.find(p) != std::string_view::npos;
}
std::string_view TrimLine(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' ||
                        s.back() == '\t' || s.back() == '\0')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  return s;
}

// Prefixes of any of sys_vendor, product_name, board_vendor, bios_vendor
// that only hypervisors write, after systemd's dmi_vendor_table
// (src/basic/virt.c), minus the vendors that also sell hardware
// ("Oracle Corporation", "Google", "Microsoft Corporation" alone).
struct VendorHint {
  std::string_view prefix;
  std::string_view hypervisor;
};
constexpr VendorHint kVmVendors[] = {
    {"KVM", "kvm"},
    {"OpenStack", "kvm"},
    {"KubeVirt", "kvm"},
    {"Alibaba Cloud ECS", "kvm"},
    {"Amazon EC2", "amazon"},
    {"QEMU", "qemu"},
    {"VMware", "vmware"},
    {"VMW", "vmware"},
    {"innotek GmbH", "virtualbox"},
    {"VirtualBox", "virtualbox"},
    {"Xen", "xen"},
    {"Bochs", "bochs"},
    {"Parallels", "parallels"},
    {"BHYVE", "bhyve"},
    {"Hyper-V", "hyperv"},
    {"Apple Virtualization", "apple"},
    {"Google Compute Engine", "google"},
};

// Older GCE instances say only "Google" where newer ones say "Google
// Compute Engine": DMI_PRODUCT_NAME=Google, DMI_SYS_VENDOR=Google with a
// GoogleCloud-... serial in a GCE instance's ds-identify.log
// (canonical/cloud-init#2835, LP: #1674861), and "Hardware name: Google
// Google/Google, BIOS Google 01/01/2011" from syzkaller's GCE VMs
// (google/syzkaller report/report_test.go@2f41f8b). systemd's table matches
// "Google Compute Engine" only, so this shape is ours to name. Both fields
// must say it, as in both sources: a vendor "Google" alone is left out of
// kVmVendors above (Google also sells hardware).
bool OlderGceShape(const DmiIds& d) {
  return d.sys_vendor == "Google" && d.product_name == "Google";
}

std::string HypervisorFromDmi(const DmiIds& d) {
  if (d.sys_vendor == "Microsoft Corporation" &&
      d.product_name == "Virtual Machine") {
    return "hyperv";
  }
  if (OlderGceShape(d)) return "google";
  for (const std::string* field :
       {&d.product_name, &d.sys_vendor, &d.board_vendor, &d.bios_vendor}) {
    for (const auto& hint : kVmVendors) {
      if (StartsWith(*field, hint.prefix)) return std::string(hint.hypervisor);
    }
  }
  return {};
}

std::string CloudFromDmi(const DmiIds& d) {
  // Older AWS instances run on Xen and name the cloud only in a version:
  // "Version: 4.11.amazon" for the system and the BIOS in dmidecode output
  // (fixtures/platform-aws-xen/SOURCES.md).
  if (d.sys_vendor == "Amazon EC2" || Contains(d.bios_version, "amazon") ||
      Contains(d.product_version, "amazon")) {
    return "aws";
  }
  if (d.product_name == "Google Compute Engine" || OlderGceShape(d)) {
    return "gce";
  }
  if (d.chassis_asset_tag == kAzureAssetTag) return "azure";
  if (StartsWith(d.sys_vendor, "Alibaba Cloud")) return "alibaba";
  if (d.chassis_asset_tag == kOracleAssetTag) return "oracle";
  // cloud-init's ds-identify (tools/ds-identify@b4ae0e1, dscheck_OpenStack):
  // product_name "OpenStack Nova", or "OpenStack Compute" where RDO installed
  // nova (Red Hat's: "Hardware name: Red Hat OpenStack Compute",
  // fixtures/platform-openstack-rhosp); Open Telekom Cloud's first, Xen
  // generation says so only in the asset tag "OpenTelekomCloud"
  // (LP: #1756471).
  if (StartsWith(d.product_name, "OpenStack") ||
      StartsWith(d.sys_vendor, "OpenStack") ||
      d.chassis_asset_tag == "OpenTelekomCloud") {
    return "openstack";
  }
  if (d.sys_vendor == "DigitalOcean") return "digitalocean";
  if (d.sys_vendor == "Hetzner") return "hetzner";
  return {};
}

}  // namespace

bool DmiIds::Empty() const {
  return sys_vendor.empty() && product_name.empty() &&
         product_version.empty() && board_vendor.empty() &&
         board_name.empty() && bios_vendor.empty() && bios_version.empty() &&
         chassis_asset_tag.empty();
}

std::string CloudFromProviderId(std::string_view id) {
  auto colon = id.find("://");
  if (colon == std::string_view::npos) return {};
  std::string_view scheme = id.substr(0, colon);
  struct Scheme {
    std::string_view scheme;
    std::string_view cloud;
  };
  // The schemes of the clouds' cloud-controller-managers.
  static constexpr Scheme kSchemes[] = {
      {"aws", "aws"},       {"gce", "gce"},
      {"azure", "azure"},   {"alicloud", "alibaba"},
      {"oci", "oracle"},    {"openstack", "openstack"},
      {"digitalocean", "digitalocean"}, {"hcloud", "hetzner"},
      {"linode", "linode"}, {"ibm", "ibm"},
      {"equinixmetal", "equinix"}, {"packet", "equinix"},
  };
  for (const auto& s : kSchemes) {
    if (scheme == s.scheme) return std::string(s.cloud);
  }
  return {};
}

Platform ClassifyPlatform(const PlatformEvidence& e) {
  Platform p;
  const DmiIds& d = e.dmi;
  std::string dmi_hv = HypervisorFromDmi(d);
  // EC2 bare metal keeps "Amazon EC2" and names the instance type:
  // "i3.metal", "r8g.metal-24xl" (systemd matches ".metal" anywhere).
  bool ec2_metal = d.sys_vendor == "Amazon EC2" &&
                   Contains(d.product_name, ".metal");

  if (std::string c = CloudFromProviderId(e.provider_id); !c.empty()) {
    p.cloud = c;
    p.cloud_from = "node spec.providerID";
  } else if (std::string c2 = CloudFromDmi(d); !c2.empty()) {
    p.cloud = c2;
    p.cloud_from = "DMI";
  } else if (!d.Empty()) {
    p.cloud = "none";
    p.cloud_from = "DMI";
  }

  if (!ec2_metal) {
    p.hypervisor = dmi_hv;
    p.hypervisor_from = dmi_hv.empty() ? "" : "DMI";
    if (p.hypervisor.empty() && !e.sys_hypervisor_type.empty()) {
      p.hypervisor = e.sys_hypervisor_type;
      p.hypervisor_from = "/sys/hypervisor/type";
    }
  }

  if (e.cpuinfo_hypervisor_flag.value_or(false)) {
    p.kind = "vm";
    p.kind_from = "/proc/cpuinfo hypervisor flag";
  } else if (ec2_metal) {
    p.kind = "bare-metal";
    p.kind_from = "DMI product_name";
  } else if (!dmi_hv.empty()) {
    p.kind = "vm";
    p.kind_from = "DMI";
  } else if (!e.sys_hypervisor_type.empty()) {
    p.kind = "vm";
    p.kind_from = "/sys/hypervisor/type";
  } else if (!d.Empty()) {
    p.kind = "bare-metal";
    p.kind_from = e.cpuinfo_hypervisor_flag.has_value()
                      ? "DMI, /proc/cpuinfo without hypervisor flag"
                      : "DMI";
  } else if (!e.device_tree_model.empty()) {
    p.kind = "bare-metal";
    p.kind_from = "device tree model";
  }
  return p;
}

CpuInfo ParseCpuInfo(std::string_view text) {
  CpuInfo info;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = TrimLine(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    if (key == "processor") {
      ++info.processors;
    } else if (key == "flags" && !info.hypervisor_flag.value_or(false)) {
      // Each x86 CPU repeats its flags; one with the flag is enough.
      bool found = false;
      std::size_t i = 0;
      while (i < value.size()) {
        while (i < value.size() && value[i] == ' ') ++i;
        std::size_t j = value.find(' ', i);
        if (j == std::string_view::npos) j = value.size();
        if (TrimLine(value.substr(i, j - i)) == "hypervisor") found = true;
        i = j;
      }
      info.hypervisor_flag = found;
    }
  }
  return info;
}

Result<std::int64_t> ParseCpuList(std::string_view text) {
  std::string_view s = TrimLine(text);
  if (s.empty()) return MakeError("", "empty CPU list");
  std::int64_t count = 0;
  while (!s.empty()) {
    auto comma = s.find(',');
    std::string_view range = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    auto dash = range.find('-');
    std::int64_t lo = 0, hi = 0;
    auto parse = [](std::string_view n, std::int64_t& out) {
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), out);
      return !n.empty() && ec == std::errc() && p == n.data() + n.size() &&
             out >= 0;
    };
    if (!parse(range.substr(0, dash), lo) ||
        !parse(dash == std::string_view::npos ? range.substr(0, dash)
                                              : range.substr(dash + 1),
               hi) ||
        hi < lo || hi - lo > (1 << 20)) {
      return MakeError("", "bad CPU list entry \"" + std::string(range) + "\"");
    }
    count += hi - lo + 1;
  }
  return count;
}

Result<std::int64_t> ParseMemTotal(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!StartsWith(line, "MemTotal:")) continue;
    std::string_view v = TrimLine(line.substr(9));
    if (v.size() < 3 || v.substr(v.size() - 3) != " kB") {
      return MakeError("", "MemTotal is not in kB: \"" + std::string(line) + "\"");
    }
    v = TrimLine(v.substr(0, v.size() - 3));
    std::int64_t kb = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), kb);
    if (ec != std::errc() || p != v.data() + v.size() || kb < 0 ||
        kb > (INT64_MAX >> 10)) {
      return MakeError("", "bad MemTotal \"" + std::string(line) + "\"");
    }
    return kb * 1024;
  }
  return MakeError("", "no MemTotal line");
}

ProbeOutput ProbePlatform(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    PlatformEvidence e;
    // A missing file is no evidence; other errors are recorded and skipped.
    auto read = [&](std::string_view path) -> std::string {
      auto text = ctx.root.ReadFile(path, kSmallCap);
      if (text) return std::string(TrimLine(*text));
      if (text.error().code != ENOENT) out.AddError(text.error());
      return {};
    };
    auto dmi = [&](std::string_view name) {
      return read(std::string(kDmiDir) + std::string(name));
    };
    e.dmi.sys_vendor = dmi("sys_vendor");
    e.dmi.product_name = dmi("product_name");
    e.dmi.product_version = dmi("product_version");
    e.dmi.board_vendor = dmi("board_vendor");
    e.dmi.board_name = dmi("board_name");
    e.dmi.bios_vendor = dmi("bios_vendor");
    e.dmi.bios_version = dmi("bios_version");
    e.dmi.chassis_asset_tag = dmi("chassis_asset_tag");
    e.sys_hypervisor_type = read("/sys/hypervisor/type");
    e.device_tree_model = read("/proc/device-tree/model");
    if (e.device_tree_model.empty()) {
      e.device_tree_model = read("/sys/firmware/devicetree/base/model");
    }
    if (ctx.node != nullptr) e.provider_id = ctx.node->provider_id;

    std::optional<CpuInfo> cpu;
    constexpr std::string_view kCpuinfo = "/proc/cpuinfo";
    if (auto text = ctx.root.ReadFile(kCpuinfo, kCpuinfoCap)) {
      cpu = ParseCpuInfo(*text);
      e.cpuinfo_hypervisor_flag = cpu->hypervisor_flag;
    } else if (text.error().code != ENOENT) {
      out.AddError(text.error());
    }

    Platform p = ClassifyPlatform(e);
    if (!p.kind.empty()) {
      out.Set(kPlatformKind, p.kind, p.kind_from);
    } else {
      out.AddError(MakeError("/sys/class/dmi/id",
                             "no DMI, no /proc/cpuinfo hypervisor flags, no "
                             "/sys/hypervisor and no device tree: bare metal "
                             "or VM is unknown",
                             ENOENT));
    }
    if (!p.hypervisor.empty()) {
      out.Set(kPlatformHypervisor, p.hypervisor, p.hypervisor_from);
    }
    if (!p.cloud.empty()) out.Set(kPlatformCloud, p.cloud, p.cloud_from);
    if (!e.dmi.sys_vendor.empty()) {
      out.Set(kPlatformSysVendor, e.dmi.sys_vendor,
              std::string(kDmiDir) + "sys_vendor");
    }
    if (!e.dmi.product_name.empty()) {
      out.Set(kPlatformProductName, e.dmi.product_name,
              std::string(kDmiDir) + "product_name");
    }

    constexpr std::string_view kOnline = "/sys/devices/system/cpu/online";
    bool online = SetFromFile(ctx.root, kOnline, kSmallCap, kNodeCpus, ParseCpuList, out);
    if (!online && cpu && cpu->processors > 0) {
      out.Set(kNodeCpus, cpu->processors, kCpuinfo);
    } else if (!online) {
      out.AddError(MakeError(std::string(kOnline),
                             "neither " + std::string(kOnline) +
                                 " nor /proc/cpuinfo gives the CPU count",
                             ENOENT));
    }

    constexpr std::string_view kMeminfo = "/proc/meminfo";
    if (auto text = ctx.root.ReadFile(kMeminfo, 64 << 10)) {
      if (auto bytes = ParseMemTotal(*text)) {
        out.Set(kNodeMemoryBytes, *bytes, kMeminfo);
      } else {
        out.AddError(MakeError(std::string(kMeminfo), bytes.error().message));
      }
    } else {
      out.AddError(text.error());
    }
  });
}

}  // namespace cvm::probe
