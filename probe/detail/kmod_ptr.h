#pragma once
// RAII aliases for libkmod handles (STYLE.md section 7): no kmod_*_unref
// call appears anywhere else.

#include <libkmod.h>

#include <memory>

namespace cvm::probe::detail {

// Calls a C library's free/unref function; its return value is ignored
// (kmod_unref returns a pointer, blkid_free_probe nothing).
template <auto Fn>
struct CFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    (void)Fn(p);
  }
};

using KmodCtxPtr = std::unique_ptr<kmod_ctx, CFree<&kmod_unref>>;
using KmodModulePtr = std::unique_ptr<kmod_module, CFree<&kmod_module_unref>>;
using KmodListPtr =
    std::unique_ptr<kmod_list, CFree<&kmod_module_unref_list>>;

}  // namespace cvm::probe::detail
