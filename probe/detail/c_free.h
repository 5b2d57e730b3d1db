#pragma once
// CFree: a unique_ptr deleter calling a C library's release function
// (STYLE.md section 7). The return value (kmod_unref returns a pointer,
// blkid_free_probe nothing) is ignored.

namespace cvm::probe::detail {

template <auto Fn>
struct CFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    (void)Fn(p);
  }
};

}  // namespace cvm::probe::detail
