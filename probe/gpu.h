#pragma once
// GPUs: the node's PCI display controllers, counted and listed by vendor.
// Reads: on the live host (root is the real "/") libudev's pci subsystem
//        and hwdb; on any other root /sys/bus/pci/devices/*/{class,vendor,
//        device,driver} through HostRoot (probe/pci.h).
// Facts: gpu.nvidia.count, gpu.amd.count, gpu.intel.count, gpu.other.count,
//        gpu.nvidia.devices, gpu.amd.devices.
// A root with /sys/bus but no /sys/bus/pci has no PCI bus: counts are 0.
// A root without /sys/bus says nothing: every fact is left out, with an
// error. A device that cannot be read is an error; the rest still count.

#include <cstdint>
#include <span>

#include "probe/facts.h"
#include "probe/pci.h"
#include "probe/probe.h"

namespace cvm::probe {

inline constexpr std::uint32_t kPciVendorNvidia = 0x10de;
inline constexpr std::uint32_t kPciVendorAmd = 0x1002;
inline constexpr std::uint32_t kPciVendorIntel = 0x8086;

struct GpuInventory {
  std::int64_t nvidia = 0, amd = 0, intel = 0, other = 0;
  std::int64_t nvidia_bound = 0;  // NVIDIA GPUs bound to the nvidia driver
  RecordList nvidia_devices;  // address, vendor_id, device_id, class,
  RecordList amd_devices;     // model (when known), driver
  bool operator==(const GpuInventory&) const = default;
};

// The one classification both PCI paths feed. Devices that are not
// display controllers (IsDisplayClass) are ignored.
GpuInventory ClassifyGpus(std::span<const PciDevice> devices);

// One device as a gpu.*.devices record: ids as "0x10de", "0x20b0",
// "0x030200", driver "none" when unbound.
Record GpuRecord(const PciDevice& device);

ProbeOutput ProbeGpu(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
