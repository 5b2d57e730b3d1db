// libFuzzer target for the shell-style KEY=VALUE parser behind os-release,
// lsb-release and /etc/selinux/config, and the legacy release parsers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/env_file.h"
#include "probe/os_release.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvm::probe::ParseEnvFile(text);
  (void)cvm::probe::OsInfoFromOsRelease(text);
  (void)cvm::probe::OsInfoFromRedhatRelease(text);
  (void)cvm::probe::OsInfoFromLsbRelease(text);
  (void)cvm::probe::OsInfoFromDebianVersion(text);
  return 0;
}
