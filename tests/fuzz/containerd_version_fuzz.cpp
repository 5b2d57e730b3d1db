// Fuzz target: ParseContainerdVersion on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/runtime_version.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseContainerdVersion(text);
  return 0;
}
