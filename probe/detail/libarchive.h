#pragma once
// libarchive, loaded at run time (dlopen) by the workspace-image unpacker
// (probe/image_unpack.cpp), the way probe/detail/librpm.h loads librpm.
// Linking it would make every cvm-preflight process, the agent included,
// map libarchive and what Debian builds it with (libxml2, libicu's 30 MB
// of data, nettle, liblzma, libzstd, ...) for a command only a person at a
// shell runs. The container image leaves it out (image-libraries.txt): there
// `image` accepts an unpacked root folder and says so when asked for an
// archive. The headers come from Debian's libarchive-dev, the library from
// libarchive13 at run time.

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "probe/result.h"

namespace cvm::probe::detail {

// The libarchive functions the unpacker calls, with their own names and
// types.
struct LibArchive {
#define CVM_ARCHIVE_FN(name) decltype(&::name) name = nullptr
  CVM_ARCHIVE_FN(archive_read_new);
  CVM_ARCHIVE_FN(archive_read_free);
  CVM_ARCHIVE_FN(archive_read_support_format_tar);
  CVM_ARCHIVE_FN(archive_read_support_filter_gzip);
  CVM_ARCHIVE_FN(archive_read_support_filter_zstd);
  CVM_ARCHIVE_FN(archive_read_support_filter_xz);
  CVM_ARCHIVE_FN(archive_read_support_filter_bzip2);
  CVM_ARCHIVE_FN(archive_read_open2);
  CVM_ARCHIVE_FN(archive_read_next_header);
  CVM_ARCHIVE_FN(archive_read_data);
  CVM_ARCHIVE_FN(archive_read_data_block);
  CVM_ARCHIVE_FN(archive_read_data_skip);
  CVM_ARCHIVE_FN(archive_error_string);
  CVM_ARCHIVE_FN(archive_errno);
  CVM_ARCHIVE_FN(archive_entry_pathname);
  CVM_ARCHIVE_FN(archive_entry_pathname_utf8);
  CVM_ARCHIVE_FN(archive_entry_filetype);
  CVM_ARCHIVE_FN(archive_entry_size);
  CVM_ARCHIVE_FN(archive_entry_size_is_set);
  CVM_ARCHIVE_FN(archive_entry_symlink);
  CVM_ARCHIVE_FN(archive_entry_hardlink);
  CVM_ARCHIVE_FN(archive_entry_perm);
  CVM_ARCHIVE_FN(archive_entry_sparse_count);
#undef CVM_ARCHIVE_FN
};

// The library's file name (its soname, from the build's libarchive).
const char* LibArchiveName();
// Tests only (declared for them in probe/image_unpack.h): the name to load
// instead, taken if set before the process's first load.
void SetLibArchiveNameForTest(const char* name);

// Loads libarchive once per process (dlopen of LibArchiveName(), then every
// function by name). The error names the library, what dlerror said, and
// that an unpacked root folder needs no libarchive.
Result<const LibArchive*> LoadLibArchive();

// RAII for a reader (STYLE.md section 7): no archive_read_free call
// appears anywhere else. Only readers made through a loaded LibArchive
// exist, so it is loaded here.
struct ArchiveReadFree {
  void operator()(struct archive* a) const noexcept {
    if (auto lib = LoadLibArchive()) (void)(*lib)->archive_read_free(a);
  }
};
using ArchiveReadPtr = std::unique_ptr<struct archive, ArchiveReadFree>;

}  // namespace cvm::probe::detail
