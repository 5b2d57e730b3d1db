#pragma once
// librpm, loaded at run time (dlopen) by the one process that reads an rpm
// database: the child QueryInChild forks (probe/rpm_db.cpp). Linking it
// instead made every cvm-preflight process map librpm and the ten
// libraries it pulls in (librpmio, libcrypto, lua, sqlite, libgcrypt,
// popt, ...): about 3 MiB of an idle agent's resident memory and a part of
// every start-up, for a database most hosts (Debian, Ubuntu, Flatcar) do
// not have. The headers still come from Debian's librpm-dev; the library
// from librpm9 at run time.

#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>

#include <cstdlib>
#include <memory>
#include <type_traits>

#include "probe/result.h"

namespace cvm::probe::detail {

// The librpm functions rpm_db.cpp calls, with their own names and types.
struct LibRpm {
#define CVM_RPM_FN(name) decltype(&::name) name = nullptr
  CVM_RPM_FN(rpmReadConfigFiles);
  CVM_RPM_FN(rpmlogSetCallback);
  CVM_RPM_FN(rpmlogRecPriority);
  CVM_RPM_FN(rpmlogRecMessage);
  CVM_RPM_FN(rpmPushMacro);
  CVM_RPM_FN(rpmPopMacro);
  CVM_RPM_FN(rpmtsCreate);
  CVM_RPM_FN(rpmtsFree);
  CVM_RPM_FN(rpmtsSetRootDir);
  CVM_RPM_FN(rpmtsSetVSFlags);
  CVM_RPM_FN(rpmtsOpenDB);
  CVM_RPM_FN(rpmtsInitIterator);
  CVM_RPM_FN(rpmdbNextIterator);
  CVM_RPM_FN(rpmdbFreeIterator);
  CVM_RPM_FN(headerGetString);
  CVM_RPM_FN(headerGetAsString);
  CVM_RPM_FN(headerGet);
  CVM_RPM_FN(headerFree);
  CVM_RPM_FN(rpmtdNew);
  CVM_RPM_FN(rpmtdNextString);
  CVM_RPM_FN(rpmtdFree);
#undef CVM_RPM_FN
};

// The library's file name (its soname, from the build's librpm).
const char* LibRpmName();

// Loads librpm once per process (dlopen of LibRpmName(), then every
// function by name); the error names the library and what dlerror said.
Result<const LibRpm*> LoadLibRpm();

// A unique_ptr deleter calling one of LibRpm's release functions; only
// handles made through a loaded LibRpm exist, so it is loaded here.
template <auto Member>
struct RpmFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    if (auto lib = LoadLibRpm()) (void)((*lib)->*Member)(p);
  }
};

// RAII for librpm handles (STYLE.md section 7): no rpmtsFree,
// rpmdbFreeIterator, headerFree or rpmtdFree call appears anywhere else.
// Headers returned by rpmdbNextIterator belong to the iterator; HeaderPtr
// is for headers we own (headerLink, headerRead).
using RpmtsPtr = std::unique_ptr<std::remove_pointer_t<rpmts>, RpmFree<&LibRpm::rpmtsFree>>;
using RpmdbIteratorPtr = std::unique_ptr<std::remove_pointer_t<rpmdbMatchIterator>,
                                         RpmFree<&LibRpm::rpmdbFreeIterator>>;
using HeaderPtr = std::unique_ptr<std::remove_pointer_t<Header>, RpmFree<&LibRpm::headerFree>>;
using RpmtdPtr = std::unique_ptr<std::remove_pointer_t<rpmtd>, RpmFree<&LibRpm::rpmtdFree>>;
// Strings librpm allocates for the caller (headerGetAsString).
struct FreeString {
  void operator()(char* p) const noexcept { std::free(p); }
};
using RpmStringPtr = std::unique_ptr<char, FreeString>;

}  // namespace cvm::probe::detail
