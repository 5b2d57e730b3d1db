// Fuzzes the kernel config parser and the bounded gunzip behind it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/kernel_build.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseKernelConfig(text);
  auto inflated = cvm::probe::GunzipBounded(text, 1 << 20);
  if (inflated) (void)cvm::probe::ParseKernelConfig(*inflated);
  return 0;
}
