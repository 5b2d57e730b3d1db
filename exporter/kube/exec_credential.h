#pragma once
// Credential plugins (users[].user.exec of a kubeconfig): run the command
// as client-go runs it and read its ExecCredential
// (client.authentication.k8s.io/v1 or v1beta1) from its standard output.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "exporter/kube/config.h"
#include "probe/result.h"

namespace cvm::exporter::kube {

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  // Unset: valid until the API answers 401.
  std::optional<std::chrono::system_clock::time_point> expiry;

  bool operator==(const ExecCredential&) const = default;
};

// Parses a plugin's output. `api_version` is the one the kubeconfig asked
// for; the plugin must answer with the same. Errors name the field
// ("status.expirationTimestamp: ...").
Result<ExecCredential> ParseExecCredential(std::string_view json,
                                           std::string_view api_version);

// "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+02:00" (RFC 3339).
Result<std::chrono::system_clock::time_point> ParseRfc3339(
    std::string_view text);

// What the plugin gets in KUBERNETES_EXEC_INFO when provideClusterInfo is set.
struct ExecClusterInfo {
  std::string server;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
};

// Runs the plugin: argv = command + args, the process's environment plus
// the configured env and KUBERNETES_EXEC_INFO, standard input /dev/null
// (never interactive), standard error kept for the message when it fails.
// A plugin still running at `timeout` is killed.
Result<ExecCredential> RunExecPlugin(const ExecConfig& config,
                                     const ExecClusterInfo& cluster,
                                     std::chrono::milliseconds timeout);

std::string EncodeBase64(std::string_view data);

}  // namespace cvm::exporter::kube
