// libFuzzer target for the kernel release and /proc/version parsers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/arch.h"
#include "probe/kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto k = cvm::probe::ParseKernelRelease(text); k.has_value()) {
    (void)cvm::probe::ArchFromRelease(k->release);
  }
  (void)cvm::probe::ReleaseFromProcVersion(text);
  return 0;
}
