// Fuzzes the kernel-modules parsers: /proc/modules, /proc/filesystems,
// modules.builtin.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/kmod.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseProcModules(text);
  (void)cvm::probe::ParseProcFilesystems(text);
  (void)cvm::probe::ParseModulesBuiltin(text);
  (void)cvm::probe::ModuleOrigin(text);
  return 0;
}
