#pragma once
// libkmod, loaded at run time (dlopen) by the modules probe
// (probe/kmod.cpp), the way probe/detail/librpm.h loads librpm, and only
// when the scanned root has a module index (/lib/modules/<release>/
// modules.dep.bin). Linking it made every cvm-preflight process map
// libkmod and what Debian builds it with (libcrypto, libzstd, liblzma):
// some 140 page faults of each start-up (about 3 ms on a paravirtualised
// VM), for an index that containers, COS and minimal VMs do not have and
// that `--version`, `rules` or `explain` never read. The headers come from
// Debian's libkmod-dev, the library from libkmod2 at run time.
// Include only from .cpp files (it pulls in libkmod.h).

#include <libkmod.h>

#include <memory>

#include "probe/result.h"

namespace cvm::probe::detail {

// The libkmod functions probe/kmod.cpp calls, with their own names and
// types.
struct LibKmod {
#define CVM_KMOD_FN(name) decltype(&::name) name = nullptr
  CVM_KMOD_FN(kmod_new);
  CVM_KMOD_FN(kmod_unref);
  CVM_KMOD_FN(kmod_set_log_fn);
  CVM_KMOD_FN(kmod_module_new_from_lookup);
  CVM_KMOD_FN(kmod_list_next);
  CVM_KMOD_FN(kmod_module_get_module);
  CVM_KMOD_FN(kmod_module_get_path);
  CVM_KMOD_FN(kmod_module_unref);
  CVM_KMOD_FN(kmod_module_unref_list);
#undef CVM_KMOD_FN
};

// The library's file name (its soname, from the build's libkmod).
const char* LibKmodName();

// Loads libkmod once per process (dlopen of LibKmodName(), then every
// function by name); the error names the library and what dlerror said.
Result<const LibKmod*> LoadLibKmod();

// A unique_ptr deleter calling one of LibKmod's release functions; only
// handles made through a loaded LibKmod exist, so it is loaded here.
template <auto Member>
struct KmodFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    if (auto lib = LoadLibKmod()) (void)((*lib)->*Member)(p);
  }
};

// RAII for libkmod handles (STYLE.md section 7): no kmod_*_unref call
// appears anywhere else.
using KmodCtxPtr = std::unique_ptr<kmod_ctx, KmodFree<&LibKmod::kmod_unref>>;
using KmodModulePtr = std::unique_ptr<kmod_module, KmodFree<&LibKmod::kmod_module_unref>>;
using KmodListPtr = std::unique_ptr<kmod_list, KmodFree<&LibKmod::kmod_module_unref_list>>;

}  // namespace cvm::probe::detail
