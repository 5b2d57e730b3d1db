// Fuzz target: ParseCrioRuntimes on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/runtime_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseCrioRuntimes(text);
  return 0;
}
