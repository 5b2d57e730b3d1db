#include "probe/gpu.h"

#include <cerrno>
#include <cstdio>

#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

std::string Hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, v);
  return buf;
}

}  // namespace

Record GpuRecord(const PciDevice& d) {
  Record r;
  r["address"] = d.address;
  r["vendor_id"] = Hex(d.vendor_id, 4);
  r["device_id"] = Hex(d.device_id, 4);
  r["class"] = Hex(d.class_code, 6);
  if (!d.model.empty()) r["model"] = d.model;
  r["driver"] = d.driver.empty() ? std::string("none") : d.driver;
  return r;
}

GpuInventory ClassifyGpus(std::span<const PciDevice> devices) {
  GpuInventory inv;
  for (const auto& d : devices) {
    if (!IsDisplayClass(d.class_code)) continue;
    switch (d.vendor_id) {
      case kPciVendorNvidia:
        ++inv.nvidia;
        if (d.driver == "nvidia") ++inv.nvidia_bound;
        inv.nvidia_devices.push_back(GpuRecord(d));
        break;
      case kPciVendorAmd:
        ++inv.amd;
        inv.amd_devices.push_back(GpuRecord(d));
        break;
      case kPciVendorIntel:
        ++inv.intel;
        break;
      default:
        ++inv.other;
        break;
    }
  }
  return inv;
}

ProbeOutput ProbeGpu(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    PciScan scan;
    if (ctx.root.IsHostSlash()) {
      scan = ReadPciDevicesFromUdev();
    } else {
      // No /sys/bus/pci under an existing /sys/bus: no PCI bus at all.
      auto bus = ctx.root.Stat("/sys/bus");
      if (!bus) {
        out.AddError(bus.error().code == ENOENT
                         ? MakeError("/sys/bus/pci/devices",
                                     "no /sys/bus in the root: the PCI "
                                     "devices are unknown",
                                     ENOENT)
                         : bus.error());
        return;
      }
      scan = ReadPciDevicesFromRoot(ctx.root);
    }
    // A device that could not be read may be a GPU: no counts then.
    if (!scan.errors.empty()) {
      for (auto& e : scan.errors) out.AddError(std::move(e));
      return;
    }
    GpuInventory inv = ClassifyGpus(scan.devices);
    out.Set(kGpuNvidiaCount, inv.nvidia, scan.source);
    out.Set(kGpuNvidiaBoundCount, inv.nvidia_bound, scan.source);
    out.Set(kGpuAmdCount, inv.amd, scan.source);
    out.Set(kGpuIntelCount, inv.intel, scan.source);
    out.Set(kGpuOtherCount, inv.other, scan.source);
    out.Set(kGpuNvidiaDevices, std::move(inv.nvidia_devices), scan.source);
    out.Set(kGpuAmdDevices, std::move(inv.amd_devices), scan.source);
  });
}

}  // namespace cvm::probe
