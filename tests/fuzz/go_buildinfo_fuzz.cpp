// Fuzz target: the bounded ELF reader over an in-memory "file".
#include <cstddef>
#include <cstdint>
#include <string>

#include "probe/go_buildinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file(reinterpret_cast<const char*>(data), size);
  auto read = [&](std::uint64_t off, std::size_t len) -> cvm::Result<std::string> {
    if (off >= file.size()) return std::string();
    return file.substr(static_cast<std::size_t>(off), len);
  };
  (void)cvm::probe::ReadGoBuildInfo(read);
  return 0;
}
