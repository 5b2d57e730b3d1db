#pragma once
// The JSON documents of an image archive, parsed pure (STYLE.md section 4):
// the OCI image index and manifest (image-spec v1.1: image-index.md,
// manifest.md, descriptor.md), the image config's platform and diff_ids
// (config.md), and `docker save`'s manifest.json. No file access here;
// probe/image_unpack.cpp reads the files and calls these.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

// An OCI platform: "linux/amd64", "linux/arm64/v8".
struct ImagePlatform {
  std::string os;
  std::string architecture;
  std::string variant;
  bool operator==(const ImagePlatform&) const = default;
};
// "os/arch[/variant]".
std::string PlatformString(const ImagePlatform& p);
// Parses "linux/arm64/v8", "linux/amd64" or "arm64" (os linux); an error
// names the text.
Result<ImagePlatform> ParsePlatform(std::string_view text);
// The running machine's platform: uname(2)'s machine as Go names it
// (x86_64 -> amd64, aarch64 -> arm64 v8, armv7l -> arm v7, ...).
ImagePlatform HostPlatform();
// Whether an image of platform `have` runs where `want` is asked for, as
// containerd's platforms matcher normalises them: equal os and
// architecture; arm64's empty variant is v8, arm's is v7; an empty wanted
// variant takes any.
bool PlatformMatches(const ImagePlatform& want, const ImagePlatform& have);

// A content descriptor (descriptor.md). `digest` is checked to be
// "sha256:<64 hex>" or "sha512:<128 hex>", so BlobPath cannot leave blobs/.
struct Descriptor {
  std::string media_type;
  std::string digest;
  std::int64_t size = 0;
  std::optional<ImagePlatform> platform;
  std::string ref_name;  // annotation org.opencontainers.image.ref.name
};
// "blobs/sha256/<hex>".
std::string BlobPath(std::string_view digest);
// True for a well-formed "sha256:..." or "sha512:..." digest.
bool ValidDigest(std::string_view digest);

inline constexpr std::string_view kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifestType =
    "application/vnd.docker.distribution.manifest.v2+json";
bool IsIndexType(std::string_view media_type);
bool IsManifestType(std::string_view media_type);
// Layer media types applied as tar streams (plain, gzip, zstd, and the
// non-distributable and Docker variants); others (encrypted, foreign
// types) are refused by name.
bool IsLayerType(std::string_view media_type);

// index.json or a nested index: its manifests. `what` names the document
// in errors ("index.json", "blobs/sha256/<hex>").
Result<std::vector<Descriptor>> ParseOciIndex(std::string_view text, std::string_view what);

struct OciManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};
Result<OciManifest> ParseOciManifest(std::string_view text, std::string_view what);

// The parts of an image config (config.md) the unpacker needs.
struct ImageConfig {
  ImagePlatform platform;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids, one per layer
};
Result<ImageConfig> ParseImageConfig(std::string_view text, std::string_view what);

// One image of `docker save`'s manifest.json.
struct DockerImage {
  std::string config;                  // "<hex>.json" or "blobs/sha256/<hex>"
  std::vector<std::string> repo_tags;  // "debian:12"
  std::vector<std::string> layers;     // "<id>/layer.tar", "blobs/sha256/<hex>"
};
Result<std::vector<DockerImage>> ParseDockerManifest(std::string_view text);

// Normalises a path inside an archive for comparison: no leading "./" or
// "/", no doubled slashes, no "." components ("./blobs//sha256/x" ->
// "blobs/sha256/x"); std::nullopt when a ".." component is in it.
std::optional<std::string> NormalizeMemberPath(std::string_view path);

}  // namespace cvm::probe
