#include "probe/detail/dl_library.h"

namespace cvm::probe::detail {

Result<void*> OpenLibrary(const char* name, std::string_view without_it) {
  void* handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (handle != nullptr) return handle;
  const char* why = ::dlerror();
  std::string message = "cannot load ";
  message += name;
  message += " (";
  message += why != nullptr ? why : "dlopen failed";
  message += "): ";
  message += without_it;
  return MakeError("", std::move(message));
}

}  // namespace cvm::probe::detail
