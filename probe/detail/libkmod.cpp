#include "probe/detail/libkmod.h"

#include <mutex>
#include <optional>

#include "probe/detail/dl_library.h"

namespace cvm::probe::detail {

const char* LibKmodName() { return CVM_LIBKMOD_SONAME; }

Result<const LibKmod*> LoadLibKmod() {
  static std::once_flag once;
  static LibKmod lib;
  static std::optional<Error> failed;
  std::call_once(once, [] {
    // Never closed: the agent reads the index at every scan.
    auto handle = OpenLibrary(
        LibKmodName(), "the module index cannot be read without libkmod (Debian's libkmod2)");
    if (!handle) {
      failed = handle.error();
      return;
    }
    SymbolLoader get(*handle, LibKmodName());
#define CVM_KMOD_GET(name) get.Get(lib.name, #name)
    CVM_KMOD_GET(kmod_new);
    CVM_KMOD_GET(kmod_unref);
    CVM_KMOD_GET(kmod_set_log_fn);
    CVM_KMOD_GET(kmod_module_new_from_lookup);
    CVM_KMOD_GET(kmod_list_next);
    CVM_KMOD_GET(kmod_module_get_module);
    CVM_KMOD_GET(kmod_module_get_path);
    CVM_KMOD_GET(kmod_module_unref);
    CVM_KMOD_GET(kmod_module_unref_list);
#undef CVM_KMOD_GET
    failed = get.error;
  });
  if (failed) return *failed;
  return &lib;
}

}  // namespace cvm::probe::detail
