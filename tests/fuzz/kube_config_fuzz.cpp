// libFuzzer target for the Kubernetes client's parsers: kubeconfig files
// (user input: --kubeconfig, KUBECONFIG), exec plugins' ExecCredential,
// and the API's answers (Status, list pages), with RFC 3339 and base64.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporter/kube/client.h"
#include "exporter/kube/config.h"
#include "exporter/kube/exec_credential.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cvm::exporter::kube;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto k = ParseKubeconfig(text, "/fuzz/config");
  if (k.has_value()) {
    Kubeconfig merged = MergeKubeconfigs({*k, *k});
    (void)merged;
  }
  (void)ParseExecCredential(text, "client.authentication.k8s.io/v1");
  (void)ParseStatus(text);
  (void)ParseListPage(text);
  (void)ParseRfc3339(text);
  // Decoding is lenient as Go's is (unused trailing bits are ignored), so
  // only decode-encode-decode must give the same bytes.
  auto decoded = DecodeBase64(text);
  if (decoded.has_value() &&
      DecodeBase64(EncodeBase64(*decoded)).value() != *decoded) {
    __builtin_trap();
  }
  (void)EscapeComponent(text);
  return 0;
}
