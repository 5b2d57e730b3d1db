// The libudev path of probe/pci.h: the live host's pci subsystem and the
// udev hardware database. Only called when the root is the real "/".
#include <libudev.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "probe/detail/udev_ptr.h"
#include "probe/pci.h"

namespace cvm::probe {
namespace {

using detail::UdevDevicePtr;
using detail::UdevEnumeratePtr;
using detail::UdevHwdbPtr;
using detail::UdevPtr;

constexpr std::string_view kSource = "udev (subsystem pci)";

Result<std::uint32_t> HexAttr(udev_device* dev, const char* name,
                              const std::string& syspath) {
  const char* v = udev_device_get_sysattr_value(dev, name);
  std::string path = syspath + "/" + name;
  if (v == nullptr) return MakeError(path, "attribute not readable", ENOENT);
  auto parsed = ParseSysfsHex(v);
  if (!parsed) return MakeError(path, parsed.error().message);
  return *parsed;
}

std::string ModelFromHwdb(udev_hwdb* hwdb, std::uint32_t vendor,
                          std::uint32_t device) {
  if (hwdb == nullptr) return {};
  // The key shape of systemd's hwdb.d/20-pci-vendor-model.hwdb
  // ("pci:v000010DEd000020B0*"), as `systemd-hwdb query` takes it.
  char modalias[32];
  std::snprintf(modalias, sizeof modalias, "pci:v%08Xd%08X", vendor, device);
  udev_list_entry* entry =
      udev_hwdb_get_properties_list_entry(hwdb, modalias, /*flags=*/0);
  for (; entry != nullptr; entry = udev_list_entry_get_next(entry)) {
    if (std::string_view(udev_list_entry_get_name(entry)) ==
        "ID_MODEL_FROM_DATABASE") {
      const char* value = udev_list_entry_get_value(entry);
      return value != nullptr ? value : "";
    }
  }
  return {};
}

}  // namespace

std::string PciModelFromHwdb(std::uint32_t vendor_id, std::uint32_t device_id) {
  UdevPtr udev(udev_new());
  if (!udev) return {};
  UdevHwdbPtr hwdb(udev_hwdb_new(udev.get()));
  return ModelFromHwdb(hwdb.get(), vendor_id, device_id);
}

PciScan ReadPciDevicesFromUdev() {
  PciScan scan;
  scan.source = std::string(kSource);
  UdevPtr udev(udev_new());
  if (!udev) {
    scan.errors.push_back(ErrnoError(errno, "udev_new"));
    return scan;
  }
  UdevEnumeratePtr en(udev_enumerate_new(udev.get()));
  if (!en || udev_enumerate_add_match_subsystem(en.get(), "pci") < 0 ||
      udev_enumerate_scan_devices(en.get()) < 0) {
    scan.errors.push_back(ErrnoError(errno, "udev_enumerate (subsystem pci)"));
    return scan;
  }
  // Opened on the first display controller, not before: most nodes have
  // none, and udev_hwdb_new maps and checks the whole hwdb.bin (10 MB).
  // No hwdb.bin (a minimal image) only means no model names.
  UdevHwdbPtr hwdb;
  bool hwdb_tried = false;
  udev_list_entry* entry = udev_enumerate_get_list_entry(en.get());
  for (; entry != nullptr; entry = udev_list_entry_get_next(entry)) {
    const char* syspath = udev_list_entry_get_name(entry);
    UdevDevicePtr dev(udev_device_new_from_syspath(udev.get(), syspath));
    if (!dev) continue;  // gone since the scan
    std::string sp = syspath;
    auto cls = HexAttr(dev.get(), "class", sp);
    if (!cls) {
      scan.errors.push_back(cls.error());
      continue;
    }
    if (!IsDisplayClass(*cls)) continue;
    auto vendor = HexAttr(dev.get(), "vendor", sp);
    auto device = HexAttr(dev.get(), "device", sp);
    if (!vendor || !device) {
      scan.errors.push_back(!vendor ? vendor.error() : device.error());
      continue;
    }
    PciDevice d;
    const char* name = udev_device_get_sysname(dev.get());
    d.address = name != nullptr ? name : "";
    d.class_code = *cls;
    d.vendor_id = *vendor;
    d.device_id = *device;
    const char* driver = udev_device_get_driver(dev.get());
    d.driver = driver != nullptr ? driver : "";
    if (!hwdb_tried) {
      hwdb_tried = true;
      hwdb.reset(udev_hwdb_new(udev.get()));
    }
    d.model = ModelFromHwdb(hwdb.get(), d.vendor_id, d.device_id);
    scan.devices.push_back(std::move(d));
  }
  SortByAddress(scan.devices);
  return scan;
}

}  // namespace cvm::probe
