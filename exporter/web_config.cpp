#include "exporter/web_config.h"

#include "exporter/openssl_errors.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace cvm::exporter {
namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxCached = 1024;

// Collects the first error, with the line of the node it is about.
class Parser {
 public:
  explicit Parser(const std::string& path) : path_(path) {}

  bool failed() const { return error_.has_value(); }
  Error error() const { return *error_; }

  void Fail(const YAML::Node& at, const std::string& field, const std::string& message) {
    if (error_) return;
    std::string where = path_;
    if (at.IsDefined() && at.Mark().line >= 0) {
      where += ":";
      where += std::to_string(at.Mark().line + 1);
    }
    std::string text = field;
    text += ": ";
    text += message;
    error_ = MakeError(where, text);
  }

  // Keys of a mapping, each once, each one of `known`.
  bool CheckKeys(const YAML::Node& map, const std::string& prefix,
                 std::initializer_list<std::string_view> known) {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        Fail(kv.first, prefix.empty() ? "(top level)" : prefix, "keys must be strings");
        return false;
      }
      const std::string& key = kv.first.Scalar();
      std::string field = Join(prefix, key);
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        Fail(kv.first, field, "unknown key (the exporter-toolkit web config format; docs/agent.md)");
        return false;
      }
      if (!seen.insert(key).second) {
        Fail(kv.first, field, "given twice");
        return false;
      }
    }
    return true;
  }

  std::optional<std::string> String(const YAML::Node& n, const std::string& field) {
    if (!n.IsScalar()) {
      Fail(n, field, "must be a string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<bool> Bool(const YAML::Node& n, const std::string& field) {
    bool b = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) {
      Fail(n, field, "must be true or false");
      return std::nullopt;
    }
    return b;
  }

  static std::string Join(const std::string& prefix, const std::string& key) {
    if (prefix.empty()) return key;
    std::string out = prefix;
    out += '.';
    out += key;
    return out;
  }

 private:
  const std::string& path_;
  std::optional<Error> error_;
};

bool IsNullOrEmpty(const YAML::Node& n) {
  return !n.IsDefined() || n.IsNull() || (n.IsMap() && n.size() == 0);
}

std::string ResolveAgainst(const std::string& config_path, const std::string& file) {
  if (file.empty() || file.front() == '/') return file;
  std::filesystem::path dir = std::filesystem::path(config_path).parent_path();
  if (dir.empty()) return file;
  return (dir / file).string();
}

std::optional<TlsVersion> ParseVersion(Parser& p, const YAML::Node& n, const std::string& field) {
  auto s = p.String(n, field);
  if (!s) return std::nullopt;
  if (*s == "TLS12") return TlsVersion::kTls12;
  if (*s == "TLS13") return TlsVersion::kTls13;
  if (*s == "TLS10" || *s == "TLS11") {
    p.Fail(n, field, "'" + *s + "' is refused: the agent serves TLS 1.2 and 1.3 only");
  } else {
    p.Fail(n, field, "unknown TLS version '" + *s + "' (TLS12 or TLS13)");
  }
  return std::nullopt;
}

void ParseTls(Parser& p, const YAML::Node& n, const std::string& path, WebConfig& out) {
  const std::string k = "tls_server_config";
  if (IsNullOrEmpty(n)) return;
  if (!n.IsMap()) return p.Fail(n, k, "must be a mapping");
  if (!p.CheckKeys(n, k,
                   {"cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type",
                    "client_ca_file", "client_allowed_sans", "min_version", "max_version",
                    "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"})) {
    return;
  }
  TlsServerConfig t;
  for (const char* inline_key : {"cert", "key", "client_ca"}) {
    if (YAML::Node v = n[inline_key]; v.IsDefined() && !v.IsNull()) {
      std::string file_key = std::string(inline_key) + "_file";
      return p.Fail(v, k + "." + inline_key,
                    "inline PEM is not supported: write it to a file and name it in " + k + "." +
                        file_key);
    }
  }
  // Lists we cannot apply through civetweb; an empty list is the default.
  for (const char* list_key : {"cipher_suites", "curve_preferences", "client_allowed_sans"}) {
    YAML::Node v = n[list_key];
    if (!v.IsDefined() || v.IsNull() || (v.IsSequence() && v.size() == 0)) continue;
    return p.Fail(v, k + "." + list_key,
                  "not supported by cvm-preflight's TLS (civetweb with OpenSSL); remove it "
                  "to use OpenSSL's defaults (docs/agent.md)");
  }
  for (auto [key, target] : {std::pair{"cert_file", &t.cert_file},
                             std::pair{"key_file", &t.key_file},
                             std::pair{"client_ca_file", &t.client_ca_file}}) {
    YAML::Node v = n[key];
    if (!v.IsDefined() || v.IsNull()) continue;
    auto s = p.String(v, k + "." + key);
    if (!s) return;
    *target = ResolveAgainst(path, *s);
  }
  if (t.cert_file.empty()) return p.Fail(n, k + ".cert_file", "missing (TLS needs a certificate)");
  if (t.key_file.empty()) return p.Fail(n, k + ".key_file", "missing (TLS needs the certificate's key)");
  if (YAML::Node v = n["client_auth_type"]; v.IsDefined() && !v.IsNull()) {
    auto s = p.String(v, k + ".client_auth_type");
    if (!s) return;
    if (*s == "" || *s == "NoClientCert") {
      t.client_auth = ClientAuth::kNone;
    } else if (*s == "RequireAndVerifyClientCert") {
      t.client_auth = ClientAuth::kRequireAndVerify;
    } else if (*s == "VerifyClientCertIfGiven") {
      t.client_auth = ClientAuth::kVerifyIfGiven;
    } else if (*s == "RequestClientCert" || *s == "RequireAnyClientCert" ||
               *s == "RequireClientCert") {
      return p.Fail(v, k + ".client_auth_type",
                    "'" + *s + "' takes a client certificate without verifying it, which "
                    "the agent does not do: use RequireAndVerifyClientCert");
    } else {
      return p.Fail(v, k + ".client_auth_type",
                    "unknown value '" + *s + "' (NoClientCert, VerifyClientCertIfGiven or "
                    "RequireAndVerifyClientCert)");
    }
  }
  if (t.client_auth == ClientAuth::kNone && !t.client_ca_file.empty()) {
    return p.Fail(n["client_ca_file"], k + ".client_ca_file",
                  "set without a client_auth_type that verifies client certificates "
                  "(RequireAndVerifyClientCert)");
  }
  if (t.client_auth != ClientAuth::kNone && t.client_ca_file.empty()) {
    return p.Fail(n["client_auth_type"], k + ".client_ca_file",
                  "missing: client certificates are verified against this CA only, never "
                  "against the system's trust store");
  }
  if (YAML::Node v = n["min_version"]; v.IsDefined() && !v.IsNull()) {
    auto ver = ParseVersion(p, v, k + ".min_version");
    if (!ver) return;
    t.min_version = *ver;
  }
  if (YAML::Node v = n["max_version"]; v.IsDefined() && !v.IsNull()) {
    auto ver = ParseVersion(p, v, k + ".max_version");
    if (!ver) return;
    t.max_version = *ver;
  }
  if (t.min_version > t.max_version) {
    return p.Fail(n["max_version"], k + ".max_version", "is below min_version");
  }
  if (YAML::Node v = n["prefer_server_cipher_suites"]; v.IsDefined() && !v.IsNull()) {
    auto b = p.Bool(v, k + ".prefer_server_cipher_suites");
    if (!b) return;
    t.prefer_server_cipher_suites = *b;
  }
  out.tls = std::move(t);
}

void ParseHttp(Parser& p, const YAML::Node& n, WebConfig& out) {
  const std::string k = "http_server_config";
  if (IsNullOrEmpty(n)) return;
  if (!n.IsMap()) return p.Fail(n, k, "must be a mapping");
  if (!p.CheckKeys(n, k, {"http2", "headers"})) return;
  // http2 is accepted either way: the agent serves HTTP/1.1, which every
  // HTTP/2 client falls back to; it is no security setting.
  if (YAML::Node v = n["http2"]; v.IsDefined() && !v.IsNull()) {
    if (!p.Bool(v, k + ".http2")) return;
  }
  YAML::Node h = n["headers"];
  if (IsNullOrEmpty(h)) return;
  if (!h.IsMap()) return p.Fail(h, k + ".headers", "must be a mapping");
  // The toolkit's own list (web/handler.go extraHTTPHeaders), with the
  // values it accepts where the header is an enumeration.
  struct Allowed {
    std::string_view name;
    std::vector<std::string_view> values;  // empty: any
  };
  static const Allowed kAllowed[] = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  std::set<std::string> seen;
  for (const auto& kv : h) {
    if (!kv.first.IsScalar()) return p.Fail(kv.first, k + ".headers", "keys must be strings");
    std::string name = kv.first.Scalar();
    std::string field = k + ".headers." + name;
    const Allowed* a = nullptr;
    for (const auto& x : kAllowed) {
      if (x.name == name) a = &x;
    }
    if (a == nullptr) {
      return p.Fail(kv.first, field,
                    "this header cannot be configured (Strict-Transport-Security, "
                    "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
                    "Content-Security-Policy)");
    }
    if (!seen.insert(name).second) return p.Fail(kv.first, field, "given twice");
    auto value = p.String(kv.second, field);
    if (!value) return;
    if (value->find_first_of("\r\n") != std::string::npos || value->find('\0') != std::string::npos) {
      return p.Fail(kv.second, field, "a header value cannot hold a line break");
    }
    if (value->empty()) continue;  // "Unset if blank"
    if (!a->values.empty() &&
        std::find(a->values.begin(), a->values.end(), *value) == a->values.end()) {
      std::string allowed;
      for (auto v : a->values) {
        if (!allowed.empty()) allowed += " or ";
        allowed += v;
      }
      return p.Fail(kv.second, field, "'" + *value + "' is not allowed (" + allowed + ")");
    }
    out.headers.emplace_back(name, *value);
  }
}

void ParseUsers(Parser& p, const YAML::Node& n, WebConfig& out) {
  const std::string k = "basic_auth_users";
  if (IsNullOrEmpty(n)) return;
  if (!n.IsMap()) return p.Fail(n, k, "must be a mapping of user names to bcrypt hashes");
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) return p.Fail(kv.first, k, "user names must be strings");
    std::string user = kv.first.Scalar();
    std::string field = k + "." + user;
    if (user.empty()) return p.Fail(kv.first, k, "a user name cannot be empty");
    if (user.find(':') != std::string::npos) {
      return p.Fail(kv.first, field, "a user name cannot hold ':' (RFC 7617)");
    }
    if (out.users.count(user)) return p.Fail(kv.first, field, "given twice");
    auto hash = p.String(kv.second, field);
    if (!hash) return;
    if (!IsBcryptHash(*hash)) {
      return p.Fail(kv.second, field,
                    "not a bcrypt hash ($2y$, $2b$ or $2a$, cost, 53 characters; make one "
                    "with 'htpasswd -nBC 10 \"\" | tr -d \":\\n\"')");
    }
    out.users[user] = *hash;
  }
}

std::string OpenSslErrorsOrNoDetail() {
  std::string out = OpenSslErrors();
  return out.empty() ? std::string("no detail from OpenSSL") : out;
}

Result<bool> CheckTlsFiles(const std::string& path, const TlsServerConfig& t) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                         &SSL_CTX_free);
  if (!ctx) return MakeError(path, "cannot create an OpenSSL context: " + OpenSslErrorsOrNoDetail());
  ERR_clear_error();
  std::string field = "tls_server_config.";
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), t.cert_file.c_str()) != 1) {
    return MakeError(path, field + "cert_file: " + t.cert_file +
                               ": not a PEM certificate that OpenSSL can load (" +
                               OpenSslErrorsOrNoDetail() + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return MakeError(path, field + "key_file: " + t.key_file + " is not the key of " +
                                 t.cert_file + " (" + OpenSslErrorsOrNoDetail() + ")");
    }
    return MakeError(path, field + "key_file: " + t.key_file +
                               ": not a PEM private key that OpenSSL can load (" +
                               OpenSslErrorsOrNoDetail() + ")");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return MakeError(path, field + "key_file: " + t.key_file + " is not the key of " +
                               t.cert_file + " (" + OpenSslErrorsOrNoDetail() + ")");
  }
  if (!t.client_ca_file.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(t.client_ca_file.c_str());
    int n = names ? sk_X509_NAME_num(names) : 0;
    if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
    if (n <= 0) {
      return MakeError(path, field + "client_ca_file: " + t.client_ca_file +
                                 ": holds no PEM certificate (" + OpenSslErrorsOrNoDetail() + ")");
    }
  }
  ERR_clear_error();
  return true;
}

std::array<unsigned char, 32> Sha256(std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

Result<WebConfig> ParseWebConfig(std::string_view text, const std::string& path) {
  WebConfig out;
  Parser p(path);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where = path;
    if (e.mark.line >= 0) {
      where += ":";
      where += std::to_string(e.mark.line + 1);
    }
    return MakeError(where, "not YAML: " + e.msg);
  }
  try {
    if (!root.IsDefined() || root.IsNull()) return out;  // an empty file: nothing on
    if (!root.IsMap()) {
      return MakeError(path, "must be a mapping (tls_server_config, http_server_config, "
                             "basic_auth_users)");
    }
    if (!p.CheckKeys(root, "",
                     {"tls_server_config", "http_server_config", "basic_auth_users",
                      "rate_limit"})) {
      return p.error();
    }
    if (YAML::Node v = root["rate_limit"]; v.IsDefined() && !v.IsNull()) {
      p.Fail(v, "rate_limit", "not supported by cvm-preflight (docs/agent.md)");
      return p.error();
    }
    ParseTls(p, root["tls_server_config"], path, out);
    if (!p.failed()) ParseHttp(p, root["http_server_config"], out);
    if (!p.failed()) ParseUsers(p, root["basic_auth_users"], out);
  } catch (const YAML::Exception& e) {
    return MakeError(path, std::string("cannot read: ") + e.what());
  }
  if (p.failed()) return p.error();
  return out;
}

Result<WebConfig> LoadWebConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(path, std::string("cannot open: ") + std::strerror(errno));
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) return MakeError(path, "larger than 1 MiB");
  auto config = ParseWebConfig(text, path);
  if (!config) return config;
  if (config->tls) {
    auto ok = CheckTlsFiles(path, *config->tls);
    if (!ok) return ok.error();
  }
  return config;
}

bool IsBcryptHash(std::string_view h) {
  // $2b$10$ + 22 characters of salt + 31 of hash.
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9') return false;
  int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char c : h.substr(7)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

bool BcryptMatches(std::string_view password, const std::string& hash) {
  if (!IsBcryptHash(hash)) return false;
  // crypt(3) reads a C string: a password with a NUL would be cut short.
  if (password.find('\0') != std::string_view::npos) return false;
  std::string pw(password);
  auto data = std::make_unique<crypt_data>();  // about 32 KiB: not on the stack
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* got = crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  OPENSSL_cleanse(pw.data(), pw.size());
  bool match = got != nullptr && got[0] != '*' && std::strlen(got) == hash.size() &&
               CRYPTO_memcmp(got, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return match;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = value(c);
      if (v[j] < 0) return std::nullopt;
    }
    unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) |
                 unsigned(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}

bool BasicAuth::Allows(const char* authorization) {
  if (users_.empty()) return true;
  if (authorization == nullptr) return false;
  std::string_view h(authorization);
  // "Basic" (any case), one or more spaces, the token68.
  if (h.size() < 6 || !std::equal(h.begin(), h.begin() + 5, "basic", [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == b;
      })) {
    return false;
  }
  h.remove_prefix(5);
  if (h.empty() || h.front() != ' ') return false;
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  auto decoded = DecodeBase64(h);
  if (!decoded) return false;
  std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  std::string user = decoded->substr(0, colon);
  std::string_view password = std::string_view(*decoded).substr(colon + 1);

  auto it = users_.find(user);
  const std::string& hash = it != users_.end() ? it->second : users_.begin()->second;
  std::string key = std::to_string(user.size());
  key += ':';
  key += user;
  key += std::to_string(password.size());
  key += ':';
  key += password;
  key += hash;
  auto digest = Sha256(key);
  OPENSSL_cleanse(key.data(), key.size());
  std::string cache_key(reinterpret_cast<const char*>(digest.data()), digest.size());
  if (it != users_.end()) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (verified_.count(cache_key)) return true;
  }
  bool ok;
  {
    std::lock_guard<std::mutex> lock(bcrypt_mu_);
    ok = BcryptMatches(password, hash);
    ++bcrypt_runs_;
  }
  OPENSSL_cleanse(decoded->data(), decoded->size());
  if (it == users_.end()) return false;  // the bcrypt ran only for its time
  if (ok) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (verified_.size() >= kMaxCached) verified_.clear();
    verified_.insert(std::move(cache_key));
  }
  return ok;
}

}  // namespace cvm::exporter
