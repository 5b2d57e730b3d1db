#include "probe/detail/libarchive.h"

#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>
#include <type_traits>

namespace cvm::probe::detail {

namespace {
const char* name_for_test = nullptr;
}  // namespace

void SetLibArchiveNameForTest(const char* name) { name_for_test = name; }

const char* LibArchiveName() {
  return name_for_test != nullptr ? name_for_test : CVM_LIBARCHIVE_SONAME;
}

Result<const LibArchive*> LoadLibArchive() {
  static std::once_flag once;
  static LibArchive lib;
  static std::optional<Error> failed;
  std::call_once(once, [] {
    // Never closed: a process loads it for one command and then ends.
    void* handle = ::dlopen(LibArchiveName(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      std::string message = "cannot load ";
      message += LibArchiveName();
      message += " (";
      message += why != nullptr ? why : "dlopen failed";
      message +=
          "): image archives and OCI layouts cannot be unpacked without "
          "libarchive (Debian's libarchive13); an unpacked root folder works "
          "instead";
      failed = MakeError("", std::move(message));
      return;
    }
    bool ok = true;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
      if (fn == nullptr && ok) {
        ok = false;
        std::string message = LibArchiveName();
        message += " has no ";
        message += name;
        failed = MakeError("", std::move(message));
      }
    };
#define CVM_ARCHIVE_GET(name) get(lib.name, #name)
    CVM_ARCHIVE_GET(archive_read_new);
    CVM_ARCHIVE_GET(archive_read_free);
    CVM_ARCHIVE_GET(archive_read_support_format_tar);
    CVM_ARCHIVE_GET(archive_read_support_filter_gzip);
    CVM_ARCHIVE_GET(archive_read_support_filter_zstd);
    CVM_ARCHIVE_GET(archive_read_support_filter_xz);
    CVM_ARCHIVE_GET(archive_read_support_filter_bzip2);
    CVM_ARCHIVE_GET(archive_read_open2);
    CVM_ARCHIVE_GET(archive_read_next_header);
    CVM_ARCHIVE_GET(archive_read_data);
    CVM_ARCHIVE_GET(archive_read_data_block);
    CVM_ARCHIVE_GET(archive_read_data_skip);
    CVM_ARCHIVE_GET(archive_error_string);
    CVM_ARCHIVE_GET(archive_errno);
    CVM_ARCHIVE_GET(archive_entry_pathname);
    CVM_ARCHIVE_GET(archive_entry_pathname_utf8);
    CVM_ARCHIVE_GET(archive_entry_filetype);
    CVM_ARCHIVE_GET(archive_entry_size);
    CVM_ARCHIVE_GET(archive_entry_size_is_set);
    CVM_ARCHIVE_GET(archive_entry_symlink);
    CVM_ARCHIVE_GET(archive_entry_hardlink);
    CVM_ARCHIVE_GET(archive_entry_perm);
    CVM_ARCHIVE_GET(archive_entry_sparse_count);
#undef CVM_ARCHIVE_GET
  });
  if (failed) return *failed;
  return &lib;
}

}  // namespace cvm::probe::detail
