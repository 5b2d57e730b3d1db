#include "exporter/kube/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "probe/detail/unique_fd.h"

namespace cvm::exporter::kube {
namespace {

constexpr std::string_view kExecV1 = "client.authentication.k8s.io/v1";
constexpr std::string_view kExecV1beta1 =
    "client.authentication.k8s.io/v1beta1";

// A field error: "<file>: <field>: <what>".
Error FieldError(std::string_view file, const std::string& field,
                 std::string_view what) {
  std::string msg = field;
  msg += ": ";
  msg += what;
  return MakeError(std::string(file), std::move(msg));
}

std::string Dir(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string Resolve(std::string_view file, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  std::string out = Dir(file);
  out += '/';
  out += p;
  return out;
}

// Reads one YAML scalar as a string; maps and lists are an error.
Result<std::string> Str(const YAML::Node& n, std::string_view file,
                        const std::string& field) {
  if (!n.IsDefined() || n.IsNull()) return std::string();
  if (!n.IsScalar()) return FieldError(file, field, "must be a string");
  return n.Scalar();
}

Result<bool> Bool(const YAML::Node& n, std::string_view file,
                  const std::string& field) {
  if (!n.IsDefined() || n.IsNull()) return false;
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  return FieldError(file, field, "must be true or false");
}

// certificate-authority-data and the like: base64 of PEM.
Result<std::string> Data(const YAML::Node& n, std::string_view file,
                         const std::string& field) {
  auto s = Str(n, file, field);
  if (!s) return s.error();
  if (s->empty()) return std::string();
  auto decoded = DecodeBase64(*s);
  if (!decoded) return FieldError(file, field, decoded.error().message);
  return *decoded;
}

// The string fields of one map, with the field's full name for errors.
struct Fields {
  const YAML::Node& node;
  std::string_view file;
  std::string prefix;
  Error* error;

  std::string Name(const char* key) const { return prefix + "." + key; }
  std::string S(const char* key) {
    auto r = Str(node[key], file, Name(key));
    if (!r) {
      if (!error->message.size()) *error = r.error();
      return {};
    }
    return *r;
  }
  std::string D(const char* key) {
    auto r = Data(node[key], file, Name(key));
    if (!r) {
      if (!error->message.size()) *error = r.error();
      return {};
    }
    return *r;
  }
  bool B(const char* key) {
    auto r = Bool(node[key], file, Name(key));
    if (!r) {
      if (!error->message.size()) *error = r.error();
      return false;
    }
    return *r;
  }
};

Result<ExecConfig> ParseExec(const YAML::Node& n, std::string_view file,
                             const std::string& field) {
  if (!n.IsMap()) return FieldError(file, field, "must be a map");
  Error err;
  Fields f{n, file, field, &err};
  ExecConfig e;
  e.command = f.S("command");
  e.api_version = f.S("apiVersion");
  e.interactive_mode = f.S("interactiveMode");
  e.install_hint = f.S("installHint");
  e.provide_cluster_info = f.B("provideClusterInfo");
  if (!err.message.empty()) return err;
  if (const YAML::Node& args = n["args"]; args && !args.IsNull()) {
    if (!args.IsSequence())
      return FieldError(file, field + ".args", "must be a list of strings");
    for (std::size_t i = 0; i < args.size(); ++i) {
      auto a = Str(args[i], file, field + ".args[" + std::to_string(i) + "]");
      if (!a) return a.error();
      e.args.push_back(*a);
    }
  }
  if (const YAML::Node& env = n["env"]; env && !env.IsNull()) {
    if (!env.IsSequence())
      return FieldError(file, field + ".env",
                        "must be a list of {name, value}");
    for (std::size_t i = 0; i < env.size(); ++i) {
      std::string ef = field + ".env[" + std::to_string(i) + "]";
      if (!env[i].IsMap())
        return FieldError(file, ef, "must be a map with name and value");
      auto name = Str(env[i]["name"], file, ef + ".name");
      if (!name) return name.error();
      auto value = Str(env[i]["value"], file, ef + ".value");
      if (!value) return value.error();
      if (name->empty()) return FieldError(file, ef + ".name", "is empty");
      e.env.emplace_back(*name, *value);
    }
  }
  // kubectl resolves the command against the file only when it is a path,
  // not a name looked up on PATH.
  if (e.command.find('/') != std::string::npos)
    e.command = Resolve(file, e.command);
  return e;
}

template <typename T>
using Parser = Result<T> (*)(const YAML::Node&, std::string_view,
                             const std::string&);

Result<KubeconfigCluster> ParseCluster(const YAML::Node& n,
                                       std::string_view file,
                                       const std::string& field) {
  if (!n.IsMap()) return FieldError(file, field, "must be a map");
  Error err;
  Fields f{n, file, field, &err};
  KubeconfigCluster c;
  c.server = f.S("server");
  c.certificate_authority = Resolve(file, f.S("certificate-authority"));
  c.certificate_authority_data = f.D("certificate-authority-data");
  c.insecure_skip_tls_verify = f.B("insecure-skip-tls-verify");
  c.tls_server_name = f.S("tls-server-name");
  c.proxy_url = f.S("proxy-url");
  c.origin = std::string(file);
  if (!err.message.empty()) return err;
  return c;
}

Result<KubeconfigUser> ParseUser(const YAML::Node& n, std::string_view file,
                                 const std::string& field) {
  if (!n.IsMap()) return FieldError(file, field, "must be a map");
  Error err;
  Fields f{n, file, field, &err};
  KubeconfigUser u;
  u.token = f.S("token");
  u.token_file = Resolve(file, f.S("tokenFile"));
  u.client_certificate = Resolve(file, f.S("client-certificate"));
  u.client_certificate_data = f.D("client-certificate-data");
  u.client_key = Resolve(file, f.S("client-key"));
  u.client_key_data = f.D("client-key-data");
  u.origin = std::string(file);
  if (!err.message.empty()) return err;
  auto present = [&](const char* key) {
    const YAML::Node& v = n[key];
    return v && !v.IsNull();
  };
  u.auth_provider = present("auth-provider");
  u.basic_auth = present("username") || present("password");
  u.impersonate = present("as") || present("as-groups") || present("as-uid") ||
                  present("as-user-extra");
  if (present("exec")) {
    auto e = ParseExec(n["exec"], file, field + ".exec");
    if (!e) return e.error();
    u.exec = std::move(*e);
  }
  return u;
}

Result<KubeconfigContext> ParseContext(const YAML::Node& n,
                                       std::string_view file,
                                       const std::string& field) {
  if (!n.IsMap()) return FieldError(file, field, "must be a map");
  Error err;
  Fields f{n, file, field, &err};
  KubeconfigContext c;
  c.cluster = f.S("cluster");
  c.user = f.S("user");
  c.namespace_ = f.S("namespace");
  c.origin = std::string(file);
  if (!err.message.empty()) return err;
  return c;
}

// clusters:, users:, contexts: are lists of {name, <inner>: {...}}.
template <typename T>
Result<std::map<std::string, T>> ParseNamedList(const YAML::Node& list,
                                                std::string_view file,
                                                const char* key,
                                                const char* inner,
                                                Parser<T> parse) {
  std::map<std::string, T> out;
  if (!list || list.IsNull()) return out;
  if (!list.IsSequence()) return FieldError(file, key, "must be a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string at = std::string(key) + "[" + std::to_string(i) + "]";
    const YAML::Node& item = list[i];
    if (!item.IsMap())
      return FieldError(file, at,
                        "must be a map with name and " + std::string(inner));
    auto name = Str(item["name"], file, at + ".name");
    if (!name) return name.error();
    if (name->empty()) return FieldError(file, at + ".name", "is missing");
    std::string field = std::string(key) + "[" + *name + "]." + inner;
    YAML::Node body = item[inner];
    if (!body || body.IsNull()) body = YAML::Node(YAML::NodeType::Map);
    auto parsed = parse(body, file, field);
    if (!parsed) return parsed.error();
    if (!out.emplace(*name, std::move(*parsed)).second) {
      return FieldError(file, at + ".name",
                        "duplicate name \"" + *name + "\" in " + key);
    }
  }
  return out;
}

std::string JoinFiles(const std::vector<std::string>& files) {
  std::string out;
  for (const auto& f : files) {
    if (!out.empty()) out += ':';
    out += f;
  }
  return out.empty() ? std::string("(no file)") : out;
}

bool LooksLikePem(std::string_view data, std::string_view what) {
  std::string begin = "-----BEGIN ";
  begin += what;
  return data.find(begin) != std::string_view::npos;
}

// A PEM private key: "-----BEGIN PRIVATE KEY-----", "... EC PRIVATE KEY",
// "... RSA PRIVATE KEY".
bool LooksLikeKey(std::string_view data) {
  auto b = data.find("-----BEGIN ");
  if (b == std::string_view::npos) return false;
  auto e = data.find("-----", b + 11);
  return e != std::string_view::npos &&
         data.substr(b, e - b).find("PRIVATE KEY") != std::string_view::npos;
}

// Data wins over the file, as in client-go.
Result<std::string> DataOrFile(const std::string& data, const std::string& file,
                               const std::string& origin,
                               const std::string& field) {
  if (!data.empty()) return data;
  if (file.empty()) return std::string();
  auto text = ReadSmallFile(file);
  if (!text) return FieldError(origin, field, text.error().message);
  return *text;
}

Result<std::string> NormaliseServer(const std::string& server,
                                    const std::string& origin,
                                    const std::string& field) {
  if (server.empty()) return FieldError(origin, field, "is empty");
  std::string s = server;
  if (s.rfind("http://", 0) == 0) {
    return FieldError(
        origin, field,
        "\"" + server +
            "\" is plain http; only https is used (the token would "
            "travel in the clear)");
  }
  if (s.find("://") == std::string::npos) {
    s.insert(0, "https://");  // "host:6443", as client-go defaults it
  } else if (s.rfind("https://", 0) != 0) {
    return FieldError(origin, field,
                      "\"" + server + "\" is not an https:// URL");
  }
  if (s.size() <= 8 || s[8] == '/')
    return FieldError(origin, field, "\"" + server + "\" has no host");
  while (s.size() > 8 && s.back() == '/') s.pop_back();
  return s;
}

Error ExecConfigError(const std::string& origin, const std::string& field,
                      std::string_view what) {
  return FieldError(origin, field, what);
}

Result<bool> CheckExec(const ExecConfig& e, const std::string& origin,
                       const std::string& field) {
  if (e.command.empty())
    return ExecConfigError(origin, field + ".command", "is empty");
  if (e.api_version.empty())
    return ExecConfigError(origin, field + ".apiVersion", "is empty");
  if (e.api_version == "client.authentication.k8s.io/v1alpha1") {
    return ExecConfigError(
        origin, field + ".apiVersion",
        "client.authentication.k8s.io/v1alpha1 was removed in Kubernetes "
        "1.24; use client.authentication.k8s.io/v1");
  }
  if (e.api_version != kExecV1 && e.api_version != kExecV1beta1) {
    return ExecConfigError(origin, field + ".apiVersion",
                           "\"" + e.api_version +
                               "\" is not client.authentication.k8s.io/v1 "
                               "or client.authentication.k8s.io/v1beta1");
  }
  if (e.interactive_mode.empty() && e.api_version == kExecV1) {
    // client-go defaults it for v1beta1 only, and refuses v1 without it.
    return ExecConfigError(origin, field + ".interactiveMode",
                           "must be set (Never, IfAvailable or Always) for "
                           "client.authentication.k8s.io/v1");
  }
  if (!e.interactive_mode.empty() && e.interactive_mode != "Never" &&
      e.interactive_mode != "IfAvailable" && e.interactive_mode != "Always") {
    return ExecConfigError(
        origin, field + ".interactiveMode",
        "\"" + e.interactive_mode + "\" is not Never, IfAvailable or Always");
  }
  if (e.interactive_mode == "Always") {
    return ExecConfigError(
        origin, field + ".interactiveMode",
        "Always needs a terminal for the plugin's questions, and this "
        "program runs plugins without one");
  }
  return true;
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<std::string> DecodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;  // as Go's decoder skips them
    clean += c;
  }
  if (clean.size() % 4 != 0)
    return MakeError("", "not valid base64 (length not a multiple of 4)");
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (std::size_t i = 0; i < clean.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = clean[i + j];
      if (c == '=') {
        if (i + 4 != clean.size() || j < 2)
          return MakeError("", "not valid base64 (misplaced '=')");
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return MakeError("", "not valid base64 (misplaced '=')");
      v[j] = value(c);
      if (v[j] < 0) {
        return MakeError(
            "", "not valid base64 (byte " + std::to_string(i + j) + ")");
      }
    }
    unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) |
                 (unsigned(v[2]) << 6) | unsigned(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

Result<std::string> ReadSmallFile(const std::string& path, std::size_t cap) {
  probe::detail::UniqueFd fd(
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return ErrnoError(errno, path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, path);
  if (!S_ISREG(st.st_mode)) return MakeError(path, "not a regular file");
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > cap)
      return MakeError(path, "larger than " + std::to_string(cap) + " bytes");
  }
  return out;
}

Result<Kubeconfig> ParseKubeconfig(std::string_view text,
                                   std::string_view path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string msg = "not valid YAML: ";
    msg += e.what();
    return MakeError(std::string(path), std::move(msg));
  }
  Kubeconfig out;
  out.files.emplace_back(path);
  if (!root || root.IsNull()) return out;  // an empty file is an empty config
  if (!root.IsMap())
    return MakeError(std::string(path),
                     "not a kubeconfig (the top is not a map)");
  try {
    auto kind = Str(root["kind"], path, "kind");
    if (!kind) return kind.error();
    if (!kind->empty() && *kind != "Config") {
      return FieldError(path, "kind", "\"" + *kind + "\" is not Config");
    }
    auto api = Str(root["apiVersion"], path, "apiVersion");
    if (!api) return api.error();
    if (!api->empty() && *api != "v1")
      return FieldError(path, "apiVersion", "\"" + *api + "\" is not v1");
    auto current = Str(root["current-context"], path, "current-context");
    if (!current) return current.error();
    out.current_context = *current;
    auto clusters = ParseNamedList<KubeconfigCluster>(
        root["clusters"], path, "clusters", "cluster", &ParseCluster);
    if (!clusters) return clusters.error();
    out.clusters = std::move(*clusters);
    auto users = ParseNamedList<KubeconfigUser>(root["users"], path, "users",
                                                "user", &ParseUser);
    if (!users) return users.error();
    out.users = std::move(*users);
    auto contexts = ParseNamedList<KubeconfigContext>(
        root["contexts"], path, "contexts", "context", &ParseContext);
    if (!contexts) return contexts.error();
    out.contexts = std::move(*contexts);
  } catch (const YAML::Exception& e) {
    std::string msg = "unreadable kubeconfig: ";
    msg += e.what();
    return MakeError(std::string(path), std::move(msg));
  }
  return out;
}

Kubeconfig MergeKubeconfigs(std::vector<Kubeconfig> files) {
  Kubeconfig out;
  for (auto& f : files) {
    for (auto& [k, v] : f.clusters)
      out.clusters.emplace(k, std::move(v));  // first wins
    for (auto& [k, v] : f.users) out.users.emplace(k, std::move(v));
    for (auto& [k, v] : f.contexts) out.contexts.emplace(k, std::move(v));
    if (out.current_context.empty()) out.current_context = f.current_context;
    for (auto& name : f.files) out.files.push_back(std::move(name));
  }
  return out;
}

Result<RestConfig> ResolveKubeconfig(const Kubeconfig& config,
                                     const LoadOptions& options) {
  const std::string files = JoinFiles(config.files);
  std::string name =
      options.context.empty() ? config.current_context : options.context;
  if (name.empty()) {
    return MakeError(
        files, "current-context is not set (and no context was asked for)");
  }
  auto ctx_it = config.contexts.find(name);
  if (ctx_it == config.contexts.end())
    return MakeError(files, "context \"" + name + "\" not found");
  const KubeconfigContext& ctx = ctx_it->second;
  const std::string ctx_field = "contexts[" + name + "].context";
  if (ctx.cluster.empty())
    return FieldError(ctx.origin, ctx_field + ".cluster", "is empty");
  auto cl_it = config.clusters.find(ctx.cluster);
  if (cl_it == config.clusters.end()) {
    return FieldError(ctx.origin, ctx_field + ".cluster",
                      "cluster \"" + ctx.cluster + "\" not found");
  }
  const KubeconfigCluster& cl = cl_it->second;
  const std::string cl_field = "clusters[" + ctx.cluster + "].cluster";

  RestConfig rc;
  rc.source = "kubeconfig " + files + " (context " + name + ")";
  rc.namespace_ = ctx.namespace_.empty() ? "default" : ctx.namespace_;
  auto server = NormaliseServer(cl.server, cl.origin, cl_field + ".server");
  if (!server) return server.error();
  rc.server = *server;
  if (!cl.tls_server_name.empty()) {
    return FieldError(cl.origin, cl_field + ".tls-server-name",
                      "is not supported by this client");
  }
  if (!cl.proxy_url.empty()) {
    return FieldError(
        cl.origin, cl_field + ".proxy-url",
        "is not supported by this client (HTTPS_PROXY and NO_PROXY are)");
  }
  if (cl.insecure_skip_tls_verify) {
    if (!options.allow_insecure) {
      return FieldError(
          cl.origin, cl_field + ".insecure-skip-tls-verify",
          "true is refused: it turns off the check of the server's "
          "certificate, "
          "so anyone on the path can read the credentials; allow it explicitly "
          "if you mean it");
    }
    if (!cl.certificate_authority.empty() ||
        !cl.certificate_authority_data.empty()) {
      return FieldError(
          cl.origin, cl_field + ".insecure-skip-tls-verify",
          "true together with a certificate authority is contradictory "
          "(kubectl refuses it too)");
    }
    rc.insecure_skip_tls_verify = true;
  }
  std::string ca_field = cl_field + (cl.certificate_authority_data.empty()
                                         ? ".certificate-authority"
                                         : ".certificate-authority-data");
  auto ca = DataOrFile(cl.certificate_authority_data, cl.certificate_authority,
                       cl.origin, ca_field);
  if (!ca) return ca.error();
  if (!ca->empty() && !LooksLikePem(*ca, "CERTIFICATE-----")) {
    return FieldError(
        cl.origin, ca_field,
        "is not a PEM certificate (no -----BEGIN CERTIFICATE-----)");
  }
  rc.ca_pem = std::move(*ca);

  if (ctx.user.empty()) return rc;  // no credentials: anonymous
  auto u_it = config.users.find(ctx.user);
  if (u_it == config.users.end()) {
    return FieldError(ctx.origin, ctx_field + ".user",
                      "user \"" + ctx.user + "\" not found");
  }
  const KubeconfigUser& u = u_it->second;
  const std::string u_field = "users[" + ctx.user + "].user";
  if (u.auth_provider) {
    return FieldError(
        u.origin, u_field + ".auth-provider",
        "the in-tree auth providers (gcp, azure, oidc) were removed in kubectl "
        "1.26; use an exec plugin (gke-gcloud-auth-plugin, kubelogin)");
  }
  if (u.basic_auth) {
    return FieldError(u.origin, u_field + ".username",
                      "basic authentication is not supported (the API server "
                      "removed it in 1.19)");
  }
  if (u.impersonate)
    return FieldError(u.origin, u_field + ".as",
                      "impersonation is not supported");
  int methods =
      (!u.token.empty() || !u.token_file.empty()) + u.exec.has_value();
  if (methods > 1) {
    return FieldError(u.origin, u_field,
                      "more than one authentication method (token and exec); "
                      "only one is allowed");
  }
  bool has_cert =
      !u.client_certificate.empty() || !u.client_certificate_data.empty();
  bool has_key = !u.client_key.empty() || !u.client_key_data.empty();
  if (has_cert != has_key) {
    return FieldError(
        u.origin, u_field + (has_cert ? ".client-key" : ".client-certificate"),
        has_cert ? "is missing: client-certificate needs its key"
                 : "is missing: client-key needs its certificate");
  }
  if (has_cert) {
    std::string cf = u_field + (u.client_certificate_data.empty()
                                    ? ".client-certificate"
                                    : ".client-certificate-data");
    auto cert = DataOrFile(u.client_certificate_data, u.client_certificate,
                           u.origin, cf);
    if (!cert) return cert.error();
    if (!LooksLikePem(*cert, "CERTIFICATE-----")) {
      return FieldError(
          u.origin, cf,
          "is not a PEM certificate (no -----BEGIN CERTIFICATE-----)");
    }
    std::string kf = u_field + (u.client_key_data.empty() ? ".client-key"
                                                          : ".client-key-data");
    auto key = DataOrFile(u.client_key_data, u.client_key, u.origin, kf);
    if (!key) return key.error();
    if (!LooksLikeKey(*key))
      return FieldError(u.origin, kf, "is not a PEM private key");
    rc.client_cert_pem = std::move(*cert);
    rc.client_key_pem = std::move(*key);
  }
  if (!u.token.empty()) {
    rc.token = u.token;
  } else if (!u.token_file.empty()) {
    auto t = ReadSmallFile(u.token_file);
    if (!t)
      return FieldError(u.origin, u_field + ".tokenFile", t.error().message);
    rc.token_file = u.token_file;
  }
  if (u.exec) {
    auto ok = CheckExec(*u.exec, u.origin, u_field + ".exec");
    if (!ok) return ok.error();
    rc.exec = u.exec;
  }
  return rc;
}

Result<RestConfig> LoadInCluster(const LoadOptions& options) {
  GetEnv env = options.getenv ? options.getenv : GetEnv(&ProcessEnv);
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return MakeError(
        "in-cluster",
        "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set");
  }
  const std::string& dir = options.service_account_dir;
  RestConfig rc;
  rc.source = "in-cluster (" + dir + ")";
  rc.server = "https://";
  if (host->find(':') != std::string::npos) {
    rc.server += "[" + *host + "]";  // an IPv6 service address
  } else {
    rc.server += *host;
  }
  rc.server += ":";
  rc.server += *port;
  rc.token_file = dir + "/token";
  if (auto t = ReadSmallFile(rc.token_file); !t) return t.error();
  auto ca = ReadSmallFile(dir + "/ca.crt");
  if (!ca) return ca.error();
  if (!LooksLikePem(*ca, "CERTIFICATE-----")) {
    return MakeError(dir + "/ca.crt", "is not a PEM certificate");
  }
  rc.ca_pem = std::move(*ca);
  auto ns = ReadSmallFile(dir + "/namespace");
  if (ns) {
    rc.namespace_ = *ns;
    while (!rc.namespace_.empty() &&
           std::isspace(static_cast<unsigned char>(rc.namespace_.back()))) {
      rc.namespace_.pop_back();
    }
  } else if (ns.error().code != ENOENT) {
    return ns.error();
  }
  if (rc.namespace_.empty()) rc.namespace_ = "default";
  return rc;
}

Result<RestConfig> LoadConfig(const LoadOptions& options) {
  GetEnv env = options.getenv ? options.getenv : GetEnv(&ProcessEnv);
  std::vector<std::string> candidates;
  bool explicit_file = !options.kubeconfig.empty();
  if (explicit_file) {
    candidates.push_back(options.kubeconfig);
  } else if (auto list = env("KUBECONFIG"); list && !list->empty()) {
    std::set<std::string> seen;
    std::size_t start = 0;
    while (start <= list->size()) {
      std::size_t colon = list->find(':', start);
      if (colon == std::string::npos) colon = list->size();
      std::string p = list->substr(start, colon - start);
      if (!p.empty() && seen.insert(p).second) candidates.push_back(p);
      start = colon + 1;
    }
  } else if (auto home = env("HOME"); home && !home->empty()) {
    candidates.push_back(*home + "/.kube/config");
  }
  std::vector<Kubeconfig> parsed;
  for (const auto& path : candidates) {
    auto text = ReadSmallFile(path, 16 << 20);
    if (!text) {
      // Files of a KUBECONFIG list that do not exist are skipped, as
      // kubectl skips them; the file named by --kubeconfig must exist.
      if (text.error().code == ENOENT && !explicit_file) continue;
      return MakeError("kubeconfig", text.error().message, text.error().code);
    }
    auto one = ParseKubeconfig(*text, path);
    if (!one) return one.error();
    parsed.push_back(std::move(*one));
  }
  if (parsed.empty()) {
    auto host = env("KUBERNETES_SERVICE_HOST");
    if (host && !host->empty()) return LoadInCluster(options);
    std::string looked = candidates.empty()
                             ? std::string("no KUBECONFIG and no HOME")
                             : JoinFiles(candidates);
    return MakeError(
        "kubeconfig",
        "no kubeconfig found (looked at " + looked +
            ") and not in a cluster (KUBERNETES_SERVICE_HOST is not set)");
  }
  return ResolveKubeconfig(MergeKubeconfigs(std::move(parsed)), options);
}

}  // namespace cvm::exporter::kube
