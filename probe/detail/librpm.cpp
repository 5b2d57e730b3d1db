#include "probe/detail/librpm.h"

#include <mutex>
#include <optional>

#include "probe/detail/dl_library.h"

namespace cvm::probe::detail {

const char* LibRpmName() { return CVM_LIBRPM_SONAME; }

Result<const LibRpm*> LoadLibRpm() {
  static std::once_flag once;
  static LibRpm lib;
  static std::optional<Error> failed;
  std::call_once(once, [] {
    // Never closed: librpm keeps global state (macros, its log callback).
    auto handle =
        OpenLibrary(LibRpmName(), "the rpm database cannot be read without librpm");
    if (!handle) {
      failed = handle.error();
      return;
    }
    SymbolLoader get(*handle, LibRpmName());
#define CVM_RPM_GET(name) get.Get(lib.name, #name)
    CVM_RPM_GET(rpmReadConfigFiles);
    CVM_RPM_GET(rpmlogSetCallback);
    CVM_RPM_GET(rpmlogRecPriority);
    CVM_RPM_GET(rpmlogRecMessage);
    CVM_RPM_GET(rpmPushMacro);
    CVM_RPM_GET(rpmPopMacro);
    CVM_RPM_GET(rpmtsCreate);
    CVM_RPM_GET(rpmtsFree);
    CVM_RPM_GET(rpmtsSetRootDir);
    CVM_RPM_GET(rpmtsSetVSFlags);
    CVM_RPM_GET(rpmtsOpenDB);
    CVM_RPM_GET(rpmtsInitIterator);
    CVM_RPM_GET(rpmdbNextIterator);
    CVM_RPM_GET(rpmdbFreeIterator);
    CVM_RPM_GET(headerGetString);
    CVM_RPM_GET(headerGetAsString);
    CVM_RPM_GET(headerGet);
    CVM_RPM_GET(headerFree);
    CVM_RPM_GET(rpmtdNew);
    CVM_RPM_GET(rpmtdNextString);
    CVM_RPM_GET(rpmtdFree);
#undef CVM_RPM_GET
    failed = get.error;
  });
  if (failed) return *failed;
  return &lib;
}

}  // namespace cvm::probe::detail
