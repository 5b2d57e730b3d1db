#pragma once
// Turns a workspace image into a root folder for HostRoot: an unpacked
// root as is, or a `docker save` tarball, an OCI image layout (a folder)
// or an OCI archive (a tar of one, any compression) unpacked layer by
// layer into a private temporary folder. docs/image-inputs.md gives the
// accepted inputs, the limits and the safety rules.
// Reads: the input only (the layout's JSON, then each layer blob, its
//        digest checked as it is read). Writes: only inside the folder it
//        made (mkdtemp, 0700), walking every parent from the folder's fd
//        with O_NOFOLLOW; never through a symbolic link.
// Needs libarchive at run time (dlopen, probe/detail/libarchive.h) for
// every input but an unpacked root.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

enum class ImageInputKind { kRootfs, kDockerArchive, kOciLayout, kOciArchive };
// "rootfs", "docker-archive", "oci-layout", "oci-archive".
std::string_view ImageInputKindName(ImageInputKind kind);

// A folder holding an "oci-layout" file is kOciLayout, another folder
// kRootfs; a tar (plain, gzip, zstd, xz, bzip2) with oci-layout or
// index.json at its top is kOciArchive (so is a Docker 25+ save, which
// has both), one with manifest.json kDockerArchive. Anything else is an
// error naming the path.
Result<ImageInputKind> DetectImageInput(const std::string& path);

// Defaults (docs/image-inputs.md says why): 32 GiB of file data (sparse
// files count at their full size) and 1,000,000 entries over all layers,
// whiteouts and skipped entries included. Big workspace images (CUDA
// toolkits, desktops, language toolchains) stay below both.
inline constexpr std::uint64_t kDefaultMaxUnpackBytes = std::uint64_t{32} << 30;
inline constexpr std::uint64_t kDefaultMaxUnpackEntries = 1'000'000;
struct UnpackLimits {
  std::uint64_t max_bytes = kDefaultMaxUnpackBytes;
  std::uint64_t max_entries = kDefaultMaxUnpackEntries;
};

struct UnpackOptions {
  std::string platform;   // "linux/amd64", "linux/arm64/v8"; empty = the host's
  UnpackLimits limits;
  std::string tmp_dir;    // empty = $TMPDIR or /tmp
  std::string reference;  // pick the image with this ref name / repo tag;
                          // empty = the first that matches the platform
};

struct ImageInfo {
  ImageInputKind kind = ImageInputKind::kRootfs;
  std::string platform;         // "linux/amd64"
  std::string manifest_digest;  // OCI; a docker-archive's config digest
  std::vector<std::string> layers;  // digests (OCI) or archive paths (docker-archive)
  std::string reference;        // org.opencontainers.image.ref.name or the first RepoTag
  std::uint64_t entries = 0;    // archive entries read, over all layers
  std::uint64_t bytes = 0;      // file data written (sizes as stored)
  std::uint64_t skipped_special = 0;  // device nodes, FIFOs, sockets not created
  std::vector<std::string> warnings;  // the first skipped entries, unverified layers, ...
};

class UnpackedImage {
 public:
  UnpackedImage(UnpackedImage&& other) noexcept;
  UnpackedImage& operator=(UnpackedImage&& other) noexcept;
  UnpackedImage(const UnpackedImage&) = delete;
  UnpackedImage& operator=(const UnpackedImage&) = delete;
  // Removes the folder and everything in it (never following a link), if
  // it made one.
  ~UnpackedImage();

  // The root folder: the temporary folder, or the input itself for an
  // unpacked root (kRootfs, not copied and never removed). Open it with
  // HostRoot::Open.
  const std::string& root() const { return root_; }
  const ImageInfo& info() const { return info_; }

  // An empty private folder under `tmp_dir` (empty = $TMPDIR or /tmp),
  // for ApplyLayer; UnpackImage starts from one.
  static Result<UnpackedImage> CreateEmpty(const std::string& tmp_dir);
  // Applies one layer (a tar stream, any compression) held in memory on
  // top of the folder, with the whiteout, limit and safety rules of
  // UnpackImage; `layer_name` names it in errors. For tests and the fuzz
  // target. Counts go to info(); limits count from what is there.
  Result<bool> ApplyLayer(std::string_view layer_name, std::string_view tar_bytes,
                          const UnpackLimits& limits);

 private:
  friend Result<UnpackedImage> UnpackImage(const std::string& path, const UnpackOptions& options);
  UnpackedImage(std::string root, bool owned) : root_(std::move(root)), owned_(owned) {}
  void Remove() noexcept;

  std::string root_;
  bool owned_ = false;
  ImageInfo info_;
};

// Unpacks `path` (DetectImageInput's kinds) for `options.platform`. Every
// error names the input part (layer digest or path, and the entry) and
// leaves nothing behind: the folder is removed before it returns.
Result<UnpackedImage> UnpackImage(const std::string& path, const UnpackOptions& options);

namespace detail {
// Tests only: the library name LoadLibArchive will dlopen, taken before
// the first load of the process (a test forks to see a failed load).
void SetLibArchiveNameForTest(const char* name);
}  // namespace detail

}  // namespace cvm::probe
