#pragma once
// RAII aliases for libkmod handles (STYLE.md section 7): no kmod_*_unref
// call appears anywhere else.

#include <libkmod.h>

#include <memory>

#include "probe/detail/c_free.h"

namespace cvm::probe::detail {

using KmodCtxPtr = std::unique_ptr<kmod_ctx, CFree<&kmod_unref>>;
using KmodModulePtr = std::unique_ptr<kmod_module, CFree<&kmod_module_unref>>;
using KmodListPtr =
    std::unique_ptr<kmod_list, CFree<&kmod_module_unref_list>>;

}  // namespace cvm::probe::detail
