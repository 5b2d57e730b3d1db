// libFuzzer target for the XFS superblock ftype reader and uevent parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/blockdev.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseXfsFtype(bytes);
  (void)cvm::probe::DevNameFromUevent(bytes);
  return 0;
}
