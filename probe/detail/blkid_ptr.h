#pragma once
// RAII for libblkid handles (STYLE.md section 7). Only probe/blockdev.cpp
// includes this: blkid.h stays out of public headers.

#include <blkid/blkid.h>

#include <memory>

#include "probe/detail/c_free.h"

namespace cvm::probe::detail {

// blkid_probe is itself a pointer type (struct blkid_struct_probe*).
using BlkidProbePtr =
    std::unique_ptr<blkid_struct_probe, CFree<&blkid_free_probe>>;

}  // namespace cvm::probe::detail
