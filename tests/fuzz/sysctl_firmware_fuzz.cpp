// Fuzzes the one-value parsers of the sysctl and firmware probes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/firmware.h"
#include "probe/sysctl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseSysctlInt(text);
  (void)cvm::probe::ParseKernelBool(text);
  (void)cvm::probe::ParseEfiBoolVariable(text);
  return 0;
}
