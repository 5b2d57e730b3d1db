#include "exporter/kube/exec_credential.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "probe/detail/unique_fd.h"

extern char** environ;

namespace cvm::exporter::kube {
namespace {

using probe::detail::UniqueFd;

constexpr std::size_t kStdoutCap = 1 << 20;
constexpr std::size_t kStderrCap = 4096;

Error CredError(const std::string& field, std::string_view what) {
  std::string msg = "ExecCredential ";
  msg += field;
  msg += ": ";
  msg += what;
  return MakeError("", std::move(msg));
}

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::string Tail(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

}  // namespace

std::string EncodeBase64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < data.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (i + 2 < data.size()) n |= static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    // Appended piece by piece: g++ 12 -O3 warns a false -Wrestrict on a
    // literal put in front of a string (see exporter/duration.cpp).
    std::string m(1, '"');
    m.append(s);
    m += "\" is not an RFC 3339 time";
    return MakeError("", std::move(m));
  };
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' ||
      !Digits(s, 5, 2, mo) || s[7] != '-' || !Digits(s, 8, 2, d) ||
      (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, h) || s[13] != ':' ||
      !Digits(s, 14, 2, mi) || s[16] != ':' || !Digits(s, 17, 2, sec)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return bad();
  std::size_t pos = 19;
  long long nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    long long scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
  }
  int offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() ||
        s[pos + 3] != ':' || !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = (oh * 60 + om) * 60 * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = ::timegm(&tm);
  auto tp = std::chrono::system_clock::from_time_t(t - offset);
  return tp + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::nanoseconds(nanos));
}

Result<ExecCredential> ParseExecCredential(std::string_view json,
                                           std::string_view api_version) {
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError("", "the output is not an ExecCredential JSON object");
  }
  auto str = [&](const nlohmann::json& obj, const char* key,
                 std::string& out) -> bool {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  std::string kind, api;
  if (!str(j, "kind", kind) || kind != "ExecCredential") {
    return CredError("kind", "must be ExecCredential");
  }
  if (!str(j, "apiVersion", api))
    return CredError("apiVersion", "must be a string");
  if (api != api_version) {
    return CredError("apiVersion", "the plugin answered \"" + api +
                                       "\", the kubeconfig asked for \"" +
                                       std::string(api_version) + "\"");
  }
  auto st = j.find("status");
  if (st == j.end() || !st->is_object())
    return CredError("status", "is missing");
  ExecCredential c;
  if (!str(*st, "token", c.token))
    return CredError("status.token", "must be a string");
  if (!str(*st, "clientCertificateData", c.client_cert_pem)) {
    return CredError("status.clientCertificateData", "must be a string");
  }
  if (!str(*st, "clientKeyData", c.client_key_pem)) {
    return CredError("status.clientKeyData", "must be a string");
  }
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    return CredError(
        c.client_cert_pem.empty() ? "status.clientCertificateData"
                                  : "status.clientKeyData",
        "is missing: a client certificate needs both clientCertificateData and "
        "clientKeyData");
  }
  if (c.token.empty() && c.client_cert_pem.empty()) {
    return CredError(
        "status",
        "has neither a token nor clientCertificateData and clientKeyData");
  }
  std::string exp;
  if (!str(*st, "expirationTimestamp", exp)) {
    return CredError("status.expirationTimestamp", "must be a string");
  }
  if (!exp.empty()) {
    auto t = ParseRfc3339(exp);
    if (!t) return CredError("status.expirationTimestamp", t.error().message);
    c.expiry = *t;
  }
  return c;
}

Result<ExecCredential> RunExecPlugin(const ExecConfig& config,
                                     const ExecClusterInfo& cluster,
                                     std::chrono::milliseconds timeout) {
  nlohmann::json info = {{"kind", "ExecCredential"},
                         {"apiVersion", config.api_version},
                         {"spec", {{"interactive", false}}}};
  if (config.provide_cluster_info) {
    nlohmann::json c = {{"server", cluster.server}};
    if (!cluster.ca_pem.empty())
      c["certificate-authority-data"] = EncodeBase64(cluster.ca_pem);
    if (cluster.insecure_skip_tls_verify) c["insecure-skip-tls-verify"] = true;
    info["spec"]["cluster"] = c;
  }
  // The environment: ours, then the kubeconfig's env (it wins), then
  // KUBERNETES_EXEC_INFO.
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  auto set = [&](const std::string& k, const std::string& v) {
    if (env.emplace(k, v).second) {
      order.push_back(k);
    } else {
      env[k] = v;
    }
  };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    set(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  for (const auto& [k, v] : config.env) set(k, v);
  set("KUBERNETES_EXEC_INFO",
      info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::vector<std::string> env_strings;
  for (const auto& k : order) env_strings.push_back(k + "=" + env[k]);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {config.command};
  args.insert(args.end(), config.args.begin(), config.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const std::string who = "exec plugin " + config.command;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe2");
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe2");
  UniqueFd err_r(err[0]), err_w(err[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The agent blocks SIGTERM and SIGINT for its signalfd: the plugin gets
  // the defaults back.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  bool path_lookup = config.command.find('/') == std::string::npos;
  int rc = path_lookup ? ::posix_spawnp(&pid, config.command.c_str(), &fa,
                                        &attr, argv.data(), envp.data())
                       : ::posix_spawn(&pid, config.command.c_str(), &fa, &attr,
                                       argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  out_w.Reset();
  err_w.Reset();
  if (rc != 0) {
    std::string msg = "cannot run it: ";
    msg += std::strerror(rc);
    if (!config.install_hint.empty()) {
      msg += "; ";
      msg += config.install_hint;
    }
    return MakeError(who, std::move(msg), rc);
  }
  std::string stdout_text, stderr_text;
  const auto end = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false, too_big = false;
  while (out_r.valid() || err_r.valid()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        (i == 0 ? out_r : err_r).Reset();
        continue;
      }
      std::string& dst = i == 0 ? stdout_text : stderr_text;
      if (i == 1) {
        if (dst.size() < kStderrCap)
          dst.append(buf, std::min<std::size_t>(r, kStderrCap - dst.size()));
      } else {
        dst.append(buf, static_cast<std::size_t>(r));
        if (dst.size() > kStdoutCap) {
          too_big = true;
          break;
        }
      }
    }
    if (too_big) break;
  }
  if (timed_out || too_big) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return MakeError(who, "still running after " +
                              std::to_string(timeout.count()) + " ms; killed");
  }
  if (too_big) return MakeError(who, "wrote more than 1 MiB; killed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string msg =
        WIFEXITED(status)
            ? "exited with status " + std::to_string(WEXITSTATUS(status))
            : "killed by signal " + std::to_string(WTERMSIG(status));
    std::string tail = Tail(stderr_text);
    if (!tail.empty()) {
      msg += ": ";
      msg += tail;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
        !config.install_hint.empty()) {
      msg += "; ";
      msg += config.install_hint;
    }
    return MakeError(who, std::move(msg));
  }
  auto cred = ParseExecCredential(stdout_text, config.api_version);
  if (!cred) return MakeError(who, cred.error().message);
  return cred;
}

}  // namespace cvm::exporter::kube
