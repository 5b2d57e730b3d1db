// Fuzz target: what `cvm-preflight image` parses from its user: the
// --platform value (CheckPlatform) and a rule file's kind (DetectKind, then
// the image loader on the same text), on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporter/image_cli.h"
#include "rules/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)cvm::exporter::CheckPlatform(text);
  cvm::rules::RuleSetKind kind = cvm::rules::DetectKind(text);
  (void)cvm::rules::LoadRulesText(text, "fuzz.yaml", kind);
  return 0;
}
