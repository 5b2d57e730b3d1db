// Fuzz target: one layer tar (any compression) applied by
// UnpackedImage::ApplyLayer (probe/image_unpack.h) onto an empty private
// folder, then applied again on top of itself (so its whiteouts, opaque
// markers and replacements meet a lower layer). Small limits keep each run
// bounded. Checked on every input: nothing lands beside the folder (its
// parent, a private folder of this process, holds it alone) and the
// folder is removed whole afterwards. A violation aborts (a crash for the
// replay test and for libFuzzer).
// Seeds (tests/fuzz/CMakeLists.txt): the attack and merged-/usr layers of
// make_hostile_images.py and the layers buildah wrote
// (build/test-cache/image-archives, the image_archives fixture).
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "probe/image_unpack.h"

namespace {

const std::string& Base() {
  static const std::string base = [] {
    const char* env = std::getenv("TMPDIR");
    std::string t = std::string(env != nullptr && env[0] == '/' ? env : "/tmp") + "/cvm-layer-fuzz-XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) std::abort();
    std::atexit([] { ::rmdir(Base().c_str()); });
    return t;
  }();
  return base;
}

std::size_t Entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) std::abort();
  std::size_t n = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view layer(reinterpret_cast<const char*>(data), size);
  cvm::probe::UnpackLimits limits;
  limits.max_bytes = 4 << 20;
  limits.max_entries = 4096;
  {
    auto image = cvm::probe::UnpackedImage::CreateEmpty(Base());
    if (!image) std::abort();
    (void)image->ApplyLayer("fuzz-1", layer, limits);
    (void)image->ApplyLayer("fuzz-2", layer, limits);
    if (Entries(Base()) != 1) std::abort();  // something beside the folder
  }
  if (Entries(Base()) != 0) std::abort();  // the folder was not removed whole
  return 0;
}
