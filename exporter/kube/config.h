#pragma once
// Where the Kubernetes client connects and how it authenticates: kubeconfig
// files read and merged as kubectl reads them, or the in-cluster service
// account. docs/kube-client.md describes the order and what is refused.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "probe/result.h"

namespace cvm::exporter::kube {

// users[].user.exec of a kubeconfig: a credential plugin.
struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
  std::string command;      // as written, or resolved against the file's folder
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string interactive_mode;  // Never, IfAvailable, Always ("" when unset)
  bool provide_cluster_info = false;
  std::string install_hint;

  bool operator==(const ExecConfig&) const = default;
};

// One kubeconfig file, parsed. Relative paths are already resolved against
// the folder of the file that named them, as kubectl does before merging.
struct KubeconfigCluster {
  std::string server;
  std::string certificate_authority;       // a path
  std::string certificate_authority_data;  // decoded PEM
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
  std::string origin;  // the file it came from

  bool operator==(const KubeconfigCluster&) const = default;
};

struct KubeconfigUser {
  std::string token;
  std::string token_file;
  std::string client_certificate;       // a path
  std::string client_certificate_data;  // decoded PEM
  std::string client_key;               // a path
  std::string client_key_data;          // decoded PEM
  std::optional<ExecConfig> exec;
  bool auth_provider = false;  // the removed in-tree plugins (gcp, azure, oidc)
  bool basic_auth = false;     // username/password
  bool impersonate = false;    // as, as-groups, as-uid, as-user-extra
  std::string origin;

  bool operator==(const KubeconfigUser&) const = default;
};

struct KubeconfigContext {
  std::string cluster;
  std::string user;
  std::string namespace_;
  std::string origin;

  bool operator==(const KubeconfigContext&) const = default;
};

struct Kubeconfig {
  std::map<std::string, KubeconfigCluster> clusters;
  std::map<std::string, KubeconfigUser> users;
  std::map<std::string, KubeconfigContext> contexts;
  std::string current_context;
  std::vector<std::string> files;  // the files merged, in order

  bool operator==(const Kubeconfig&) const = default;
};

// Parses one kubeconfig (YAML or JSON, as `kubectl config view --raw`
// writes it). `path` names the file in errors and is the base of relative
// paths. Errors name the field: "clusters[prod].cluster.certificate-
// authority-data: not valid base64". Unknown fields are ignored, as kubectl
// ignores them; a name given twice in one list is an error, as in kubectl.
Result<Kubeconfig> ParseKubeconfig(std::string_view text,
                                   std::string_view path);

// Merges parsed files as kubectl merges a KUBECONFIG list: the first file
// that names a cluster, user or context wins it, and the first file that
// sets current-context wins that.
Kubeconfig MergeKubeconfigs(std::vector<Kubeconfig> files);

// What the client needs, with every file already read.
struct RestConfig {
  std::string server;  // "https://host:port[/prefix]", no trailing slash
  std::string ca_pem;  // empty: the system's CA store
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // a fixed bearer token
  std::string token_file;  // read before each request when it changed
  std::optional<ExecConfig> exec;
  std::string namespace_;  // the context's or the service account's
  std::string
      source;  // for messages: "kubeconfig /x (context y)" or "in-cluster"

  bool operator==(const RestConfig&) const = default;
};

// Reads the environment; tests pass their own.
using GetEnv =
    std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> ProcessEnv(const std::string& name);

inline constexpr std::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

struct LoadOptions {
  std::string kubeconfig;  // --kubeconfig: this file only, and it must exist
  std::string context;     // --context: instead of current-context
  bool allow_insecure = false;  // accept insecure-skip-tls-verify: true
  std::string service_account_dir = std::string(kServiceAccountDir);
  GetEnv getenv;  // empty: ProcessEnv
};

// The one entry point: --kubeconfig, else the KUBECONFIG list, else
// $HOME/.kube/config; when none of those files exists (and no
// --kubeconfig was given), the in-cluster service account.
Result<RestConfig> LoadConfig(const LoadOptions& options);

// The steps of LoadConfig, for tests and for callers that know which one
// they want.
Result<RestConfig> ResolveKubeconfig(const Kubeconfig& config,
                                     const LoadOptions& options);
Result<RestConfig> LoadInCluster(const LoadOptions& options);

// Helpers shared with the client and the tests.
Result<std::string> DecodeBase64(std::string_view text);
Result<std::string> ReadSmallFile(const std::string& path,
                                  std::size_t cap = 1 << 20);

}  // namespace cvm::exporter::kube
