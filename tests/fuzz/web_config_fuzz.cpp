// libFuzzer target for the agent's web config file (user input:
// --web-config): the exporter-toolkit YAML parser, the bcrypt hash check,
// the base64 of an Authorization header, and basic auth against what the
// input configured.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporter/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto config = cvm::exporter::ParseWebConfig(text, "fuzz/web.yml");
  (void)cvm::exporter::IsBcryptHash(text);
  (void)cvm::exporter::DecodeBase64(text);
  if (config.has_value() && !config->users.empty()) {
    // Cheap hashes only: a fuzzer-written cost of 31 would take hours.
    bool cheap = true;
    for (const auto& [user, hash] : config->users) cheap = cheap && hash.compare(4, 2, "04") == 0;
    if (cheap) {
      cvm::exporter::BasicAuth auth(config->users);
      std::string header = "Basic " + text.substr(0, 64);
      (void)auth.Allows(header.c_str());
    }
  }
  return 0;
}
