#include "probe/firmware.h"

#include <cerrno>

#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

// EFI_GLOBAL_VARIABLE GUID (UEFI spec, section 3.3 "Globally Defined
// Variables").
constexpr std::string_view kEfivars = "/sys/firmware/efi/efivars";
constexpr std::string_view kSecureBootVar =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

void ProbeSecureBoot(const ProbeContext& ctx, ProbeOutput& out) {
  if (SetFromFile(ctx.root, kSecureBootVar, 64, kSecurebootEnabled, ParseEfiBoolVariable, out)) {
    return;
  }
  auto entries = ctx.root.ListDir(kEfivars);
  if (entries && !entries->empty()) {
    out.Set(kSecurebootEnabled, false,
            std::string(kSecureBootVar) +
                " (absent from a populated efivars: firmware without Secure "
                "Boot)");
    return;
  }
  out.AddError(MakeError(std::string(kEfivars),
                         entries ? "empty (efivarfs not mounted), so Secure "
                                   "Boot is unknown"
                                 : entries.error().message +
                                       "; Secure Boot is unknown",
                         entries ? ENOENT : entries.error().code));
}

}  // namespace

Result<bool> ParseEfiBoolVariable(std::string_view bytes) {
  if (bytes.size() != 5) {
    return MakeError("", "expected 4 attribute bytes and 1 value byte, found " +
                             std::to_string(bytes.size()) + " bytes");
  }
  unsigned char v = static_cast<unsigned char>(bytes[4]);
  if (v > 1) {
    return MakeError("", "value byte is " + std::to_string(v) + ", not 0 or 1");
  }
  return v == 1;
}

ProbeOutput ProbeFirmware(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    auto firmware = ctx.root.Stat("/sys/firmware");
    if (!firmware || firmware->type != FileType::kDirectory) {
      out.AddError(MakeError(
          "/sys/firmware",
          "no /sys/firmware in the root, so EFI and Secure Boot are unknown",
          firmware ? ENOTDIR : firmware.error().code));
      return;
    }
    auto efi = ctx.root.Stat("/sys/firmware/efi");
    if (!efi && efi.error().code != ENOENT) {
      out.AddError(efi.error());
      return;
    }
    if (!efi) {
      out.Set(kFirmwareEfi, false, "/sys/firmware/efi (absent)");
      out.Set(kSecurebootEnabled, false,
              "/sys/firmware/efi (absent: not booted by EFI, no Secure Boot)");
      return;
    }
    out.Set(kFirmwareEfi, efi->type == FileType::kDirectory, "/sys/firmware/efi");
    if (efi->type == FileType::kDirectory) ProbeSecureBoot(ctx, out);
  });
}

}  // namespace cvm::probe
