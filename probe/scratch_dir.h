#pragma once
// ScratchDir: a private temporary directory of this process, for the one
// library that must open a file by name and writes beside it (librpm's
// sqlite backend creates -shm/-wal files next to rpmdb.sqlite). Data read
// from the scanned root through HostRoot is written here, never into the
// root. Made with mkdtemp(3) (mode 0700) under $TMPDIR or /tmp; every file
// in it is removed with the directory when the object dies.
//
// Together with host_root.cpp and image_unpack.cpp this is the only file
// of probe/ that opens files itself: it writes only inside the directory
// it created. (image_unpack.cpp reads the image the user named, not a
// scanned root, and writes only inside its own mkdtemp folder; the
// unpacked root is then read through HostRoot like any other.)

#include <string>
#include <string_view>

#include "probe/result.h"

namespace cvm::probe {

class ScratchDir {
 public:
  // Creates "<tmp>/<prefix>XXXXXX".
  static Result<ScratchDir> Create(std::string_view prefix);
  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  // The directory's absolute host path.
  const std::string& path() const noexcept { return path_; }
  // Creates `name` (one component, no '/') with O_EXCL and writes `data`.
  Result<bool> Write(std::string_view name, std::string_view data) const;
  // Appends to a file made by Write.
  Result<bool> Append(std::string_view name, std::string_view data) const;

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace cvm::probe
