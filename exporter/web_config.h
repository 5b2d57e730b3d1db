#pragma once
// The agent's --web-config file: TLS and basic auth in the format of the
// Prometheus exporter toolkit, the file node_exporter's --web.config.file
// reads (prometheus/exporter-toolkit docs/web-configuration.md; keys as in
// its web/tls_config.go Config struct):
//
//   tls_server_config:   cert_file, key_file, client_auth_type,
//                        client_ca_file, min_version, max_version,
//                        prefer_server_cipher_suites (honoured);
//                        cert, key, client_ca (inline PEM), cipher_suites,
//                        curve_preferences, client_allowed_sans (refused)
//   http_server_config:  http2 (accepted; we serve HTTP/1.1 only), headers
//                        (the toolkit's five security headers)
//   basic_auth_users:    user: bcrypt hash ($2a$, $2b$, $2y$)
//   rate_limit:          refused
//
// Like the toolkit's yaml.UnmarshalStrict, an unknown key is an error. A
// setting we cannot honour is refused with its field named, never ignored:
// docs/agent.md, "TLS and basic auth", lists them. Relative file names are
// relative to the config file's folder, as in the toolkit (SetDirectory).

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "probe/result.h"

namespace cvm::exporter {

enum class ClientAuth {
  kNone,              // NoClientCert (the default)
  kVerifyIfGiven,     // VerifyClientCertIfGiven
  kRequireAndVerify,  // RequireAndVerifyClientCert
};

enum class TlsVersion { kTls12, kTls13 };

struct TlsServerConfig {
  std::string cert_file;  // absolute, or relative to where the agent runs
  std::string key_file;
  std::string client_ca_file;  // set when client_auth is not kNone
  ClientAuth client_auth = ClientAuth::kNone;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  bool prefer_server_cipher_suites = true;

  bool operator==(const TlsServerConfig&) const = default;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;
  // Response headers, in the file's order.
  std::vector<std::pair<std::string, std::string>> headers;
  // user -> bcrypt hash; empty means no basic auth.
  std::map<std::string, std::string> users;

  bool operator==(const WebConfig&) const = default;
};

// Parses the text of a web config file named `path` (used in messages and
// to resolve relative file names). Pure: reads no file. Errors name the
// file and the field: "web.yml: tls_server_config.key_file: missing".
Result<WebConfig> ParseWebConfig(std::string_view text, const std::string& path);

// Reads `path` (at most 1 MiB), parses it, and checks that the files it
// names can be used: the certificate and key load and match, the client CA
// file holds a certificate.
Result<WebConfig> LoadWebConfig(const std::string& path);

// True when `hash` is a bcrypt hash crypt(3) can check: $2a$, $2b$ or $2y$,
// a two-digit cost 04..31, 53 characters of bcrypt base64.
bool IsBcryptHash(std::string_view hash);

// Checks `password` against a bcrypt `hash` with libxcrypt's crypt_rn,
// comparing the result in constant time. False for a malformed hash.
bool BcryptMatches(std::string_view password, const std::string& hash);

// Basic auth against a WebConfig's users (RFC 7617). A bcrypt costs tens of
// milliseconds, so successes are remembered, keyed on a SHA-256 of user,
// password and hash (never the password itself); bcrypt runs one at a time,
// as in the toolkit's web/handler.go, so a burst of logins costs one core.
// An unknown user costs a bcrypt too, so timing does not tell users apart.
class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users);
  bool enabled() const { return !users_.empty(); }
  // `authorization` is the Authorization header's value, or nullptr.
  bool Allows(const char* authorization);
  // How many bcrypt checks ran (the cache's effect, for tests).
  unsigned bcrypt_runs() const { return bcrypt_runs_.load(); }

 private:
  std::map<std::string, std::string> users_;
  std::mutex bcrypt_mu_;  // one bcrypt at a time
  std::mutex cache_mu_;
  std::unordered_set<std::string> verified_;  // SHA-256 digests, under cache_mu_
  std::atomic<unsigned> bcrypt_runs_{0};
};

// Base64 of RFC 4648 section 4 (padding required); nullopt when not.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace cvm::exporter
