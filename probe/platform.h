#pragma once
// What the node runs on: bare metal or a VM, which hypervisor, which cloud,
// and its size.
// Reads: /sys/class/dmi/id/{sys_vendor,product_name,product_version,
//        board_vendor,board_name,bios_vendor,bios_version,chassis_asset_tag},
//        /proc/cpuinfo (x86 `hypervisor` flag, processor count),
//        /sys/hypervisor/type, /proc/device-tree/model (else
//        /sys/firmware/devicetree/base/model), /sys/devices/system/cpu/online,
//        /proc/meminfo; in agent mode the node's spec.providerID.
// Facts: platform.kind, platform.hypervisor, platform.cloud,
//        platform.sys_vendor, platform.product_name, node.cpus,
//        node.memory_bytes.
// A missing source (ENOENT) is just not evidence; other read errors are
// recorded and that source is left out. platform.kind is left out when no
// source says anything; platform.hypervisor is left out when the guest
// names none (a Firecracker VM: no DMI, only the cpuinfo flag).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::probe {

// The DMI strings as sysfs gives them, trailing newline removed; empty when
// the file is absent.
struct DmiIds {
  std::string sys_vendor;
  std::string product_name;
  std::string product_version;
  std::string board_vendor;
  std::string board_name;
  std::string bios_vendor;
  std::string bios_version;
  std::string chassis_asset_tag;
  bool Empty() const;
};

// Everything ClassifyPlatform looks at; unknown sources stay empty/nullopt.
struct PlatformEvidence {
  DmiIds dmi;
  // nullopt: no x86 "flags" line was read (arm has none), so the flag's
  // absence says nothing.
  std::optional<bool> cpuinfo_hypervisor_flag;
  std::string sys_hypervisor_type;  // /sys/hypervisor/type ("xen")
  std::string device_tree_model;    // "Raspberry Pi 4 Model B Rev 1.4"
  std::string provider_id;          // spec.providerID ("aws:///us-east-1a/i-...")
};

struct Platform {
  std::string kind;        // "bare-metal", "vm", or "" when unknown
  std::string hypervisor;  // "" when nothing names it
  std::string cloud;       // "aws", ..., "none", or "" when unknown
  std::string kind_from;   // the evidence that decided kind
  std::string cloud_from;  // the evidence that decided cloud
  std::string hypervisor_from;
  bool operator==(const Platform&) const = default;
};

// The one classification of all sources (pure, table-tested).
Platform ClassifyPlatform(const PlatformEvidence& e);

// The cloud a Kubernetes providerID names ("aws://..." -> "aws"), or ""
// for a scheme that names no cloud we know (kind://, k3s://).
std::string CloudFromProviderId(std::string_view provider_id);

struct CpuInfo {
  std::int64_t processors = 0;          // "processor" lines
  std::optional<bool> hypervisor_flag;  // nullopt without an x86 flags line
  bool operator==(const CpuInfo&) const = default;
};
CpuInfo ParseCpuInfo(std::string_view text);

// Counts the CPUs of a cpulist such as "0-3,8-11\n" (sysfs cpu/online).
Result<std::int64_t> ParseCpuList(std::string_view text);

// MemTotal of /proc/meminfo in bytes (the kernel writes kB).
Result<std::int64_t> ParseMemTotal(std::string_view text);

ProbeOutput ProbePlatform(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
