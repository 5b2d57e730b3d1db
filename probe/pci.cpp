// The HostRoot path of probe/pci.h: <root>/sys/bus/pci/devices.
#include "probe/pci.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace cvm::probe {
namespace {

constexpr std::string_view kPciDevices = "/sys/bus/pci/devices";
constexpr std::size_t kAttrCap = 64;

}  // namespace

Result<std::uint32_t> ParseSysfsHex(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.size() < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return MakeError("", "not a 0x hex value: \"" + std::string(text) + "\"");
  }
  text.remove_prefix(2);
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc() || p != text.data() + text.size() || text.size() > 8) {
    return MakeError("", "not a 0x hex value: \"0x" + std::string(text) + "\"");
  }
  return v;
}

bool IsDisplayClass(std::uint32_t class_code) {
  std::uint32_t cls = class_code >> 8;
  return cls == 0x0300 || cls == 0x0302 || cls == 0x0380;
}

void SortByAddress(std::vector<PciDevice>& devices) {
  std::sort(devices.begin(), devices.end(),
            [](const PciDevice& a, const PciDevice& b) { return a.address < b.address; });
}

PciScan ReadPciDevicesFromRoot(const HostRoot& root) {
  PciScan scan;
  scan.source = std::string(kPciDevices);
  auto entries = root.ListDir(kPciDevices);
  if (!entries) {
    if (entries.error().code != ENOENT) scan.errors.push_back(entries.error());
    return scan;
  }
  for (const auto& entry : *entries) {
    std::string dir = std::string(kPciDevices) + "/" + entry.name;
    auto read_hex = [&](std::string_view attr) -> Result<std::uint32_t> {
      std::string path = dir + "/" + std::string(attr);
      auto text = root.ReadFile(path, kAttrCap);
      if (!text) return text.error();
      auto v = ParseSysfsHex(*text);
      if (!v) return MakeError(path, v.error().message);
      return *v;
    };
    auto cls = read_hex("class");
    if (!cls) {
      scan.errors.push_back(cls.error());
      continue;
    }
    if (!IsDisplayClass(*cls)) continue;
    auto vendor = read_hex("vendor");
    auto device = read_hex("device");
    if (!vendor || !device) {
      scan.errors.push_back(!vendor ? vendor.error() : device.error());
      continue;
    }
    PciDevice d;
    d.address = entry.name;
    d.class_code = *cls;
    d.vendor_id = *vendor;
    d.device_id = *device;
    // An unbound device has no `driver` link.
    auto link = root.ReadLink(dir + "/driver");
    if (link) {
      auto slash = link->rfind('/');
      d.driver = slash == std::string::npos ? *link : link->substr(slash + 1);
    } else if (link.error().code != ENOENT) {
      scan.errors.push_back(link.error());
      continue;
    }
    scan.devices.push_back(std::move(d));
  }
  SortByAddress(scan.devices);
  return scan;
}

}  // namespace cvm::probe
