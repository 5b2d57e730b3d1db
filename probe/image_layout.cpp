#include "probe/image_layout.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

namespace cvm::probe {
namespace {

using nlohmann::json;

Result<json> ParseJson(std::string_view text, std::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError(std::string(what), "not valid JSON");
  if (!j.is_object()) return MakeError(std::string(what), "not a JSON object");
  return j;
}

// A string member: "" when absent, an error when of another type.
Result<std::string> StringField(const json& obj, const char* key, std::string_view what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return MakeError(std::string(what), std::string("\"") + key + "\" is not a string");
  }
  return it->get<std::string>();
}

Error FieldError(std::string_view what, std::string message) {
  return MakeError(std::string(what), std::move(message));
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<Descriptor> ParseDescriptor(const json& j, std::string_view what, std::string_view field) {
  std::string where = std::string(what);
  if (!j.is_object()) return FieldError(where, std::string(field) + " is not an object");
  Descriptor d;
  auto media = StringField(j, "mediaType", where);
  if (!media) return media.error();
  d.media_type = *media;
  auto digest = StringField(j, "digest", where);
  if (!digest) return digest.error();
  if (!ValidDigest(*digest)) {
    return FieldError(where, std::string(field) + ": bad or unsupported digest \"" +
                                 digest->substr(0, 80) + "\" (sha256:<64 hex> or sha512:<128 hex>)");
  }
  d.digest = *digest;
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0) {
    return FieldError(where, std::string(field) + " " + d.digest + ": \"size\" is missing or not a non-negative integer");
  }
  d.size = size->get<std::int64_t>();
  auto plat = j.find("platform");
  if (plat != j.end() && !plat->is_null()) {
    if (!plat->is_object()) return FieldError(where, std::string(field) + ": \"platform\" is not an object");
    ImagePlatform p;
    auto os = StringField(*plat, "os", where);
    auto arch = StringField(*plat, "architecture", where);
    auto variant = StringField(*plat, "variant", where);
    if (!os) return os.error();
    if (!arch) return arch.error();
    if (!variant) return variant.error();
    p.os = *os;
    p.architecture = *arch;
    p.variant = *variant;
    d.platform = p;
  }
  auto ann = j.find("annotations");
  if (ann != j.end() && ann->is_object()) {
    auto ref = StringField(*ann, "org.opencontainers.image.ref.name", where);
    if (!ref) return ref.error();
    d.ref_name = *ref;
  }
  return d;
}

Result<std::vector<std::string>> StringArray(const json& obj, const char* key, std::string_view what,
                                             bool required) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return FieldError(what, std::string("\"") + key + "\" is missing");
    return out;
  }
  if (!it->is_array()) return FieldError(what, std::string("\"") + key + "\" is not an array");
  for (const auto& v : *it) {
    if (!v.is_string()) return FieldError(what, std::string("\"") + key + "\" holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::string PlatformString(const ImagePlatform& p) {
  std::string s = p.os + "/" + p.architecture;
  if (!p.variant.empty()) s += "/" + p.variant;
  return s;
}

Result<ImagePlatform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (const auto& part : parts) {
    if (part.empty()) break;
    for (char c : part) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) {
        return MakeError("", "platform \"" + std::string(text) +
                                 "\": want os/arch[/variant] in lower case, e.g. linux/arm64/v8");
      }
    }
  }
  bool empty_part = false;
  for (const auto& part : parts) empty_part = empty_part || part.empty();
  if (parts.size() > 3 || empty_part) {
    return MakeError("", "platform \"" + std::string(text) + "\": want os/arch[/variant], e.g. linux/arm64/v8");
  }
  ImagePlatform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  }
  return p;
}

ImagePlatform HostPlatform() {
  ImagePlatform p{"linux", "", ""};
  struct utsname u {};
  std::string m = ::uname(&u) == 0 ? u.machine : "";
  // Go's GOARCH names, as image indexes use them (image-spec config.md
  // points at Go's $GOOS/$GOARCH list).
  if (m == "x86_64") {
    p.architecture = "amd64";
  } else if (m == "aarch64" || m == "arm64") {
    p.architecture = "arm64";
    p.variant = "v8";
  } else if (m.rfind("armv7", 0) == 0) {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (m.rfind("armv6", 0) == 0) {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (m == "i386" || m == "i486" || m == "i586" || m == "i686") {
    p.architecture = "386";
  } else if (m == "ppc64le" || m == "s390x" || m == "riscv64") {
    p.architecture = m;
  } else {
    p.architecture = m;
  }
  return p;
}

bool PlatformMatches(const ImagePlatform& want, const ImagePlatform& have) {
  if (want.os != have.os || want.architecture != have.architecture) return false;
  if (want.variant.empty()) return true;
  auto normal = [](const ImagePlatform& p) {
    if (!p.variant.empty()) return p.variant;
    if (p.architecture == "arm64") return std::string("v8");
    if (p.architecture == "arm") return std::string("v7");
    return std::string();
  };
  return normal(want) == normal(have);
}

bool ValidDigest(std::string_view digest) {
  if (digest.rfind("sha256:", 0) == 0) {
    return digest.size() == 7 + 64 && IsHex(digest.substr(7));
  }
  if (digest.rfind("sha512:", 0) == 0) {
    return digest.size() == 7 + 128 && IsHex(digest.substr(7));
  }
  return false;
}

std::string BlobPath(std::string_view digest) {
  std::size_t colon = digest.find(':');
  return "blobs/" + std::string(digest.substr(0, colon)) + "/" + std::string(digest.substr(colon + 1));
}

bool IsIndexType(std::string_view t) { return t == kOciIndexType || t == kDockerListType; }
bool IsManifestType(std::string_view t) { return t == kOciManifestType || t == kDockerManifestType; }

bool IsLayerType(std::string_view t) {
  constexpr std::string_view kTypes[] = {
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (auto k : kTypes) {
    if (t == k) return true;
  }
  return false;
}

Result<std::vector<Descriptor>> ParseOciIndex(std::string_view text, std::string_view what) {
  auto j = ParseJson(text, what);
  if (!j) return j.error();
  auto version = j->find("schemaVersion");
  if (version == j->end() || !version->is_number_integer() || version->get<std::int64_t>() != 2) {
    return FieldError(what, "\"schemaVersion\" is not 2");
  }
  auto media = StringField(*j, "mediaType", what);
  if (!media) return media.error();
  if (!media->empty() && !IsIndexType(*media)) {
    return FieldError(what, "\"mediaType\" is " + media->substr(0, 100) + ", not an image index");
  }
  auto manifests = j->find("manifests");
  if (manifests == j->end() || !manifests->is_array()) {
    return FieldError(what, "\"manifests\" is missing or not an array");
  }
  std::vector<Descriptor> out;
  std::size_t i = 0;
  for (const auto& m : *manifests) {
    auto d = ParseDescriptor(m, what, "manifests[" + std::to_string(i++) + "]");
    if (!d) return d.error();
    out.push_back(std::move(*d));
  }
  return out;
}

Result<OciManifest> ParseOciManifest(std::string_view text, std::string_view what) {
  auto j = ParseJson(text, what);
  if (!j) return j.error();
  auto version = j->find("schemaVersion");
  if (version == j->end() || !version->is_number_integer() || version->get<std::int64_t>() != 2) {
    return FieldError(what, "\"schemaVersion\" is not 2");
  }
  OciManifest m;
  auto media = StringField(*j, "mediaType", what);
  if (!media) return media.error();
  if (!media->empty() && !IsManifestType(*media)) {
    return FieldError(what, "\"mediaType\" is " + media->substr(0, 100) + ", not an image manifest");
  }
  m.media_type = *media;
  auto config = j->find("config");
  if (config == j->end()) return FieldError(what, "\"config\" is missing");
  auto c = ParseDescriptor(*config, what, "config");
  if (!c) return c.error();
  m.config = std::move(*c);
  auto layers = j->find("layers");
  if (layers == j->end() || !layers->is_array()) {
    return FieldError(what, "\"layers\" is missing or not an array");
  }
  std::size_t i = 0;
  for (const auto& l : *layers) {
    auto d = ParseDescriptor(l, what, "layers[" + std::to_string(i++) + "]");
    if (!d) return d.error();
    m.layers.push_back(std::move(*d));
  }
  return m;
}

Result<ImageConfig> ParseImageConfig(std::string_view text, std::string_view what) {
  auto j = ParseJson(text, what);
  if (!j) return j.error();
  ImageConfig c;
  auto os = StringField(*j, "os", what);
  auto arch = StringField(*j, "architecture", what);
  auto variant = StringField(*j, "variant", what);
  if (!os) return os.error();
  if (!arch) return arch.error();
  if (!variant) return variant.error();
  c.platform = {*os, *arch, *variant};
  auto rootfs = j->find("rootfs");
  if (rootfs != j->end() && rootfs->is_object()) {
    auto ids = StringArray(*rootfs, "diff_ids", what, /*required=*/false);
    if (!ids) return ids.error();
    c.diff_ids = std::move(*ids);
  }
  return c;
}

Result<std::vector<DockerImage>> ParseDockerManifest(std::string_view text) {
  constexpr std::string_view what = "manifest.json";
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return FieldError(what, "not valid JSON");
  if (!j.is_array()) return FieldError(what, "not a JSON array of images");
  std::vector<DockerImage> out;
  std::size_t i = 0;
  for (const auto& e : j) {
    std::string where = std::string(what) + "[" + std::to_string(i++) + "]";
    if (!e.is_object()) return FieldError(where, "not an object");
    DockerImage img;
    auto config = StringField(e, "Config", where);
    if (!config) return config.error();
    if (config->empty()) return FieldError(where, "\"Config\" is missing");
    img.config = *config;
    auto tags = StringArray(e, "RepoTags", where, /*required=*/false);
    if (!tags) return tags.error();
    img.repo_tags = std::move(*tags);
    auto layers = StringArray(e, "Layers", where, /*required=*/true);
    if (!layers) return layers.error();
    img.layers = std::move(*layers);
    out.push_back(std::move(img));
  }
  if (out.empty()) return FieldError(what, "lists no image");
  return out;
}

std::optional<std::string> NormalizeMemberPath(std::string_view path) {
  std::string out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(i, slash - i);
    i = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return std::nullopt;
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

}  // namespace cvm::probe
