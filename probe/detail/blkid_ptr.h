#pragma once
// RAII for libblkid handles (STYLE.md section 7). Only probe/blockdev.cpp
// includes this: blkid.h stays out of public headers.

#include <blkid/blkid.h>

#include <memory>

namespace cvm::probe::detail {

template <auto Fn>
struct CFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    (void)Fn(p);
  }
};

// blkid_probe is itself a pointer type (struct blkid_struct_probe*).
using BlkidProbePtr =
    std::unique_ptr<blkid_struct_probe, CFree<&blkid_free_probe>>;

}  // namespace cvm::probe::detail
