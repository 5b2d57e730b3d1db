#pragma once
// One way to load a C library at run time (dlopen) for the loaders of
// probe/detail/ (librpm.h, libkmod.h): open it once, never close it, look
// up each function by name, and say in the error which library and which
// function was missing and what goes without it.

#include <dlfcn.h>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "probe/result.h"

namespace cvm::probe::detail {

// dlopen(name, RTLD_NOW | RTLD_LOCAL); the error reads "cannot load NAME
// (what dlerror said): WITHOUT_IT".
Result<void*> OpenLibrary(const char* name, std::string_view without_it);

// Fills function pointers from one opened library; the first name it
// cannot find becomes error ("NAME has no FUNCTION").
class SymbolLoader {
 public:
  SymbolLoader(void* handle, const char* library) : handle_(handle), library_(library) {}

  template <typename Fn>
  void Get(Fn& fn, const char* name) {
    // dlsym searches the library and its dependencies.
    fn = reinterpret_cast<Fn>(::dlsym(handle_, name));
    if (fn == nullptr && !error) {
      error = MakeError("", std::string(library_) + " has no " + name);
    }
  }

  std::optional<Error> error;

 private:
  void* handle_;
  const char* library_;
};

}  // namespace cvm::probe::detail
