// Fuzz target: the image layout JSON parsers (probe/image_layout.h) on one
// input: OCI index, manifest, config, docker-save manifest.json, platform.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/image_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseOciIndex(text, "index.json");
  (void)cvm::probe::ParseOciManifest(text, "manifest");
  (void)cvm::probe::ParseImageConfig(text, "config");
  (void)cvm::probe::ParseDockerManifest(text);
  (void)cvm::probe::ParsePlatform(text.substr(0, 64));
  (void)cvm::probe::NormalizeMemberPath(text);
  return 0;
}
