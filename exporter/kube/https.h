#pragma once
// The Kubernetes client's HTTPS/1.1 transport over OpenSSL 3 (libssl3 and
// libcrypto3, which the agent links for its own TLS anyway): one TCP+TLS
// connection kept alive per Client, through an HTTP CONNECT proxy when
// HTTPS_PROXY says so and NO_PROXY does not exclude the server. It replaces
// libcurl, whose Debian build brought 10.5 MiB of libraries into the image
// (docs/image.md, "Size"; docs/kube-client.md, "Transport").
//
// What it does: https only; no redirect is followed (a 3xx is an answer);
// a connect timeout (TCP, proxy CONNECT and TLS handshake) and a total one
// (connect to last byte); every wait is a poll() of at most 50 ms that
// asks `cancelled` in between; a cap on the decoded body; Content-Length,
// chunked and read-to-close bodies (exporter/kube/http_response.h).
// TLS 1.2 or newer; the peer verified against the cluster's CA alone when
// the config has one (as kubectl does), else against the system store;
// the server name or IP address checked against the certificate's SAN
// (X509_VERIFY_PARAM_set1_host / set1_ip_asc); SNI for names; a client
// certificate and key from PEM in memory.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exporter/kube/http_response.h"
#include "probe/result.h"

namespace cvm::exporter::kube::https {

// https://HOST[:PORT][/PREFIX], IPv6 literals in brackets.
struct ServerUrl {
  std::string host;  // without brackets
  int port = 443;
  std::string prefix;  // "" or "/k8s/clusters/c-1" (no trailing slash)
  bool host_is_ip = false;
  std::string HostHeader() const;  // "host", "host:6443", "[::1]:6443"
};
Result<ServerUrl> ParseServerUrl(std::string_view url);

// An http:// proxy for CONNECT ("http://[user:pass@]host[:port]", scheme
// optional, port 1080 when none, as curl).
struct Proxy {
  std::string host;
  int port = 1080;
  std::string authorization;  // "Basic ..." from user:pass, or empty
  std::string url;            // as given, for errors (without the password)
};
// The proxy for `server` from the environment as curl reads it:
// https_proxy, then HTTPS_PROXY, then all_proxy, ALL_PROXY; none when
// no_proxy (or NO_PROXY) matches the host. `getenv` is injectable for tests.
Result<std::optional<Proxy>> ProxyFromEnvironment(
    const ServerUrl& server,
    const std::function<const char*(const char*)>& getenv);
// NO_PROXY as curl matches it: comma-separated entries; "*" matches every
// host; a name matches itself and its subdomains (a leading dot is
// optional); an IP address matches itself, and a CIDR (10.0.0.0/8,
// fd00::/8) every address inside it. Case-insensitive, ports ignored.
bool NoProxyMatches(std::string_view no_proxy, std::string_view host);

struct TlsConfig {
  bool verify = true;
  std::string ca_pem;  // the cluster's CA; empty: the system store
};

struct ClientCert {
  std::string cert_pem;  // may hold the chain after the leaf
  std::string key_pem;
};

struct RequestSpec {
  std::string method;
  std::string target;  // path and query, already escaped
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, Content-Length
  std::string body;
  // May go out on a kept-alive connection (and once more on a fresh one
  // when the kept one turns out to have closed before any answer).
  bool reuse_ok = true;
  ClientCert client_cert;
};

struct Limits {
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  std::size_t max_body = 64u << 20;
};

enum class Failure {
  kNone,
  kCertProblem,  // our side: a CA or client certificate that does not load
  kBadRequest,   // our side: a header value with a line break
  kResolve,
  kConnect,
  kProxy,        // the proxy refused CONNECT or answered nonsense
  kHandshake,    // TLS handshake (OpenSSL's reason)
  kVerify,       // the server's certificate (X509's reason)
  kSend,
  kReceive,      // the connection failed or closed while reading
  kParse,        // the answer is not HTTP/1.1 (http_response.h's reason)
  kTimeout,
  kTooBig,
  kCancelled,
};

struct Outcome {
  Failure failure = Failure::kNone;
  std::string error;   // "connect to 127.0.0.1:6443: Connection refused"
  bool sent = false;   // request bytes went out
  bool reused = false; // on a kept-alive connection
  bool answer_started = false;  // a byte of the answer came
  http::ParsedResponse response;
};

class Transport {
 public:
  // Builds the SSL_CTX (CA, verification, TLS 1.2+) and reads the proxy
  // environment once. Errors name the CA PEM or the proxy variable.
  static Result<std::unique_ptr<Transport>> Create(
      std::string_view server_url, TlsConfig tls, std::string source);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // One request and its answer. Never throws; `cancelled` (may be empty)
  // is asked at least every 50 ms while waiting.
  Outcome RoundTrip(const RequestSpec& request, const Limits& limits,
                    const std::function<bool()>& cancelled);

  const ServerUrl& server() const;
  const std::optional<Proxy>& proxy() const;

 private:
  struct Impl;
  explicit Transport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cvm::exporter::kube::https
