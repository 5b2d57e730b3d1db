#pragma once
// EFI boot and UEFI Secure Boot (Coder's shiftfs auto-install needs Secure
// Boot off).
// Reads: /sys/firmware, /sys/firmware/efi,
//        /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c.
// Facts: firmware.efi, secureboot.enabled.
// No /sys/firmware in the root: both unknown (error). No /sys/firmware/efi:
// not EFI, so Secure Boot is off. An EFI host whose efivars directory is
// empty (efivarfs not mounted) leaves secureboot.enabled out with an error;
// a populated efivars without the SecureBoot variable means a firmware
// without Secure Boot (false).

#include <string_view>

#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::probe {

// An efivarfs file: 4 bytes of attributes (little endian), then the value;
// SecureBoot's value is one byte, 1 on and 0 off.
Result<bool> ParseEfiBoolVariable(std::string_view bytes);

ProbeOutput ProbeFirmware(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
