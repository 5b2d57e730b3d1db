#pragma once
// What every probe sees (ProbeContext) and returns (ProbeOutput), and the
// guard that keeps an exception inside a probe from ending the scan.

#include <cerrno>
#include <exception>
#include <string>

#include "probe/facts.h"
#include "probe/host_root.h"

namespace cvm::probe {

class MountTableOnce;  // probe/mountinfo.h

// Values from the Kubernetes node object, handed in by the agent as plain
// data so probes know nothing of Kubernetes. Empty fields are unknown.
struct NodeInfo {
  std::string name;
  std::string kubelet_version;             // status.nodeInfo.kubeletVersion
  std::string container_runtime_version;   // status.nodeInfo.containerRuntimeVersion
  std::string kernel_version;              // status.nodeInfo.kernelVersion
  std::string os_image;                    // status.nodeInfo.osImage
  std::string provider_id;                 // spec.providerID
};

struct ProbeOptions {
  // Run `<binary> --version` for runtime versions (off: nothing executed).
  bool exec_versions = false;
  // Coder's "Auto loading of the shiftfs kernel module" setting: cached CVMs
  // then need /usr/src and /lib/modules writable.
  bool coder_shiftfs_autoload = false;
  // The scan runs as the agent, which reads the node object: node.* facts
  // are expected, and their absence (the read failed) makes the rules that
  // need them unknown instead of skipped.
  bool agent = false;
};

struct ProbeContext {
  const HostRoot& root;
  const Facts& earlier;  // facts of the probes run before this one
  const ProbeOptions& options;
  MountTableOnce& mounts;  // the root's mount table, read once per scan
  const NodeInfo* node = nullptr;  // agent mode only
};

using ProbeFn = ProbeOutput (*)(const ProbeContext&) noexcept;

// Reads `path` (at most `cap` bytes) and sets `fact` to parse(text), the
// path as its source. A parse error, or a read error other than ENOENT, is
// recorded naming the path. Returns false only when the file does not
// exist, so the caller can try its fallback.
template <typename Parse>
bool SetFromFile(const HostRoot& root, std::string_view path, std::size_t cap,
                 std::string_view fact, Parse&& parse, ProbeOutput& out) {
  auto text = root.ReadFile(path, cap);
  if (!text) {
    if (text.error().code == ENOENT) return false;
    out.AddError(text.error());
    return true;
  }
  if (auto v = parse(*text)) {
    out.Set(fact, *v, path);
  } else {
    out.AddError(MakeError(std::string(path), v.error().message));
  }
  return true;
}

// Runs `body(out)`; an exception becomes an error of the probe.
template <typename Body>
ProbeOutput Guarded(Body&& body) noexcept {
  ProbeOutput out;
  try {
    body(out);
  } catch (const std::exception& e) {
    out.AddError(MakeError("", std::string("internal error: ") + e.what()));
  } catch (...) {
    out.AddError(MakeError("", "internal error"));
  }
  return out;
}

}  // namespace cvm::probe
