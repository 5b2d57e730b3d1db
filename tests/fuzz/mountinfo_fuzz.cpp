// libFuzzer target for the mountinfo and /proc/mounts parsers and the lookups on its result.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probe/mountinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  cvm::probe::MountTable legacy = cvm::probe::ParseProcMounts(text);
  (void)cvm::probe::FindMountFor(legacy, "/var/lib");
  cvm::probe::MountTable table = cvm::probe::ParseMountInfo(text);
  for (const auto& m : table.mounts) {
    (void)m.ReadOnly();
    (void)m.Propagation();
    (void)cvm::probe::FindMountFor(table, m.mount_point);
  }
  (void)cvm::probe::FindMountFor(table, "/var/lib/kubelet");
  return 0;
}
