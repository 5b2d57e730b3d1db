// libFuzzer target for the parser of probe/nvidia_driver.h.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/nvidia_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseNvidiaVersion(text);
  return 0;
}
