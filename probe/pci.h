#pragma once
// The PCI devices of a node, one model for two sources (STYLE.md section 8):
// libudev on the live host (root is the real "/"), and
// <root>/sys/bus/pci/devices/* through HostRoot for any other root (a
// fixture, an image, /host). libudev refuses syspaths outside the real /sys,
// so it cannot serve a folder root.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "probe/host_root.h"
#include "probe/result.h"

namespace cvm::probe {

struct PciDevice {
  std::string address;  // "0000:3b:00.0", the sysfs name
  std::uint32_t vendor_id = 0;
  std::uint32_t device_id = 0;
  std::uint32_t class_code = 0;  // 24 bits: class, subclass, prog-if
  std::string driver;            // bound driver ("nvidia"), "" when none
  std::string model;             // udev hwdb name, "" when unknown
  bool operator==(const PciDevice&) const = default;
};

struct PciScan {
  std::vector<PciDevice> devices;  // sorted by address
  std::vector<Error> errors;       // one per device or file not read
  std::string source;              // what the devices came from
};

// A sysfs hex attribute: "0x10de\n" -> 0x10de, "0x030200\n" -> 0x030200.
Result<std::uint32_t> ParseSysfsHex(std::string_view text);

// True for the classes of display controllers the scan counts: VGA
// (0x0300xx), 3D (0x0302xx) and other display (0x0380xx) controllers.
bool IsDisplayClass(std::uint32_t class_code);

// <root>/sys/bus/pci/devices/*/{class,vendor,device} and the basename of
// the `driver` link, for display controllers only. A missing
// /sys/bus/pci/devices gives no devices and no error (a root without sysfs
// says nothing about PCI: the caller decides); per-device errors are kept.
PciScan ReadPciDevicesFromRoot(const HostRoot& root);

// Puts devices in PCI address order, so both paths list them alike.
void SortByAddress(std::vector<PciDevice>& devices);

// The live host's display controllers through libudev (subsystem pci),
// with model names from the udev hardware database where it knows them.
PciScan ReadPciDevicesFromUdev();

// The udev hwdb model name of a PCI vendor/device pair, "" when unknown.
std::string PciModelFromHwdb(std::uint32_t vendor_id, std::uint32_t device_id);

}  // namespace cvm::probe
