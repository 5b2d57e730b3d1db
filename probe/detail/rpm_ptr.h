#pragma once
// RAII aliases for librpm handles (STYLE.md section 7): no rpmtsFree,
// rpmdbFreeIterator, headerFree or rpmtdFree call appears anywhere else.
// Headers returned by rpmdbNextIterator belong to the iterator; HeaderPtr
// is for headers we own (headerLink, headerRead).

#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>

#include <cstdlib>
#include <memory>
#include <type_traits>

#include "probe/detail/c_free.h"

namespace cvm::probe::detail {

using RpmtsPtr = std::unique_ptr<std::remove_pointer_t<rpmts>, CFree<&rpmtsFree>>;
using RpmdbIteratorPtr =
    std::unique_ptr<std::remove_pointer_t<rpmdbMatchIterator>, CFree<&rpmdbFreeIterator>>;
using HeaderPtr = std::unique_ptr<std::remove_pointer_t<Header>, CFree<&headerFree>>;
using RpmtdPtr = std::unique_ptr<std::remove_pointer_t<rpmtd>, CFree<&rpmtdFree>>;
// Strings librpm allocates for the caller (headerGetAsString).
using RpmStringPtr = std::unique_ptr<char, CFree<&std::free>>;

}  // namespace cvm::probe::detail
