#include "exporter/kube/client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <random>
#include <thread>

#include "exporter/kube/exec_credential.h"
#include "exporter/kube/https.h"

namespace cvm::exporter::kube {
namespace {


std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string_view HttpPhrase(long code) {
  switch (code) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

// The body of an answer that is not a Status, cut and made printable.
std::string Snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) {
    out += (static_cast<unsigned char>(c) < 0x20 ||
            static_cast<unsigned char>(c) >= 0x7f)
               ? ' '
               : c;
  }
  if (body.size() > 200) out += "...";
  return Trim(out);
}

// What one credential source gives a request.
struct Auth {
  std::string token;
  std::string cert_pem;
  std::string key_pem;
};

}  // namespace

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

std::string EscapeComponent(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::optional<ApiStatus> ParseStatus(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto kind = j.find("kind");
  if (kind == j.end() || !kind->is_string() || *kind != "Status")
    return std::nullopt;
  ApiStatus s;
  auto str = [&](const char* key, std::string& out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) out = it->get<std::string>();
  };
  str("status", s.status);
  str("message", s.message);
  str("reason", s.reason);
  if (auto c = j.find("code"); c != j.end() && c->is_number_integer()) {
    auto v = c->get<long long>();
    if (v >= 0 && v < 1000) s.code = static_cast<int>(v);
  }
  if (auto d = j.find("details"); d != j.end() && d->is_object()) {
    if (auto r = d->find("retryAfterSeconds");
        r != d->end() && r->is_number_integer()) {
      auto v = r->get<long long>();
      if (v >= 0 && v < 1000000) s.retry_after_seconds = static_cast<int>(v);
    }
  }
  return s;
}

Result<ListPage> ParseListPage(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return MakeError("", "the answer is not a JSON object");
  ListPage page;
  auto items = j.find("items");
  if (items != j.end() && !items->is_null()) {
    if (!items->is_array()) return MakeError("", "items is not a list");
    for (auto& item : *items) {
      if (!item.is_object())
        return MakeError("", "an item of the list is not an object");
      page.items.push_back(std::move(item));
    }
  }
  auto meta = j.find("metadata");
  if (meta != j.end() && meta->is_object()) {
    if (auto c = meta->find("continue"); c != meta->end()) {
      if (!c->is_string())
        return MakeError("", "metadata.continue is not a string");
      page.continue_token = c->get<std::string>();
    }
    if (auto rv = meta->find("resourceVersion"); rv != meta->end()) {
      if (!rv->is_string())
        return MakeError("", "metadata.resourceVersion is not a string");
      page.resource_version = rv->get<std::string>();
    }
  }
  return page;
}

namespace {

// The bearer token or client certificate for the next request: fixed, read
// from a file that may rotate (the projected service account token), or
// from an exec plugin (cached until its expirationTimestamp or a 401).
class Credentials {
 public:
  Credentials(const RestConfig& config, std::chrono::milliseconds exec_timeout)
      : config_(config), exec_timeout_(exec_timeout) {}

  Result<Auth> Get() {
    Auth a;
    a.cert_pem = config_.client_cert_pem;
    a.key_pem = config_.client_key_pem;
    if (!config_.token.empty()) {
      a.token = config_.token;
    } else if (!config_.token_file.empty()) {
      auto t = TokenFromFile();
      if (!t) return t.error();
      a.token = *t;
    } else if (config_.exec) {
      auto now = std::chrono::system_clock::now();
      if (!cached_ || (cached_->expiry && now >= *cached_->expiry)) {
        ExecClusterInfo info{config_.server, config_.ca_pem,
                             config_.insecure_skip_tls_verify};
        auto c = RunExecPlugin(*config_.exec, info, exec_timeout_);
        if (!c) return c.error();
        cached_ = std::move(*c);
      }
      a.token = cached_->token;
      if (!cached_->client_cert_pem.empty()) {
        a.cert_pem = cached_->client_cert_pem;
        a.key_pem = cached_->client_key_pem;
      }
    }
    return a;
  }

  // After a 401: the next request runs the plugin again (client-go does the
  // same); a token file is re-read anyway whenever it changes.
  void Invalidate() { cached_.reset(); }

 private:
  // kubelet rotates the projected token by swapping a symlink, so the file
  // is re-read whenever what the path names changed (inode, size, mtime).
  Result<std::string> TokenFromFile() {
    struct stat st;
    if (::stat(config_.token_file.c_str(), &st) != 0) {
      if (!token_.empty()) return token_;  // keep the last good token
      return ErrnoError(errno, config_.token_file);
    }
    bool changed = token_.empty() || st.st_ino != ino_ || st.st_size != size_ ||
                   st.st_mtim.tv_sec != mtime_.tv_sec ||
                   st.st_mtim.tv_nsec != mtime_.tv_nsec;
    if (changed) {
      auto text = ReadSmallFile(config_.token_file);
      if (!text) {
        if (!token_.empty()) return token_;
        return text.error();
      }
      std::string t = Trim(*text);
      if (t.empty()) {
        if (!token_.empty()) return token_;
        return MakeError(config_.token_file, "the token file is empty");
      }
      token_ = std::move(t);
      ino_ = st.st_ino;
      size_ = st.st_size;
      mtime_ = st.st_mtim;
    }
    return token_;
  }

  const RestConfig& config_;
  std::chrono::milliseconds exec_timeout_;
  std::optional<ExecCredential> cached_;
  std::string token_;
  ino_t ino_ = 0;
  off_t size_ = 0;
  timespec mtime_{};
};

}  // namespace

struct Client::Impl {
  RestConfig config;
  ClientOptions options;
  std::unique_ptr<https::Transport> transport;  // one kept-alive connection
  std::unique_ptr<Credentials> creds;
  std::mt19937_64 rng{std::random_device{}()};

  https::Outcome Perform(const Request& req, const std::string& target,
                         const Auth& auth);
  std::chrono::milliseconds Backoff(int retry);
};

https::Outcome Client::Impl::Perform(const Request& req,
                                     const std::string& target,
                                     const Auth& auth) {
  https::RequestSpec spec;
  spec.method = req.method;
  spec.target = target;
  spec.headers.emplace_back("User-Agent", options.user_agent);
  spec.headers.emplace_back("Accept", "application/json");
  if (!auth.token.empty())
    spec.headers.emplace_back("Authorization", "Bearer " + auth.token);
  if (!req.content_type.empty())
    spec.headers.emplace_back("Content-Type", req.content_type);
  spec.body = req.body;
  // A request that must not go twice never rides a kept-alive connection:
  // one the server closed while idle would leave it unclear whether the
  // request arrived. A fresh connection leaves nothing to resend on.
  spec.reuse_ok = req.retry == RetryPolicy::kIdempotent;
  spec.client_cert.cert_pem = auth.cert_pem;
  spec.client_cert.key_pem = auth.key_pem;
  https::Limits limits;
  limits.timeout = options.timeout;
  limits.connect_timeout = options.connect_timeout;
  limits.max_body = options.max_response_bytes;
  return transport->RoundTrip(spec, limits, options.cancelled);
}

std::chrono::milliseconds Client::Impl::Backoff(int retry) {
  // Exponential, capped, with "equal jitter": half fixed, half random, so
  // agents that failed together do not come back together.
  long long base = options.backoff_initial.count();
  long long d = base;
  for (int i = 1; i < retry && d < options.backoff_max.count(); ++i) d *= 2;
  d = std::min<long long>(d, options.backoff_max.count());
  if (d <= 1) return std::chrono::milliseconds(d);
  std::uniform_int_distribution<long long> jitter(0, d / 2);
  return std::chrono::milliseconds(d - d / 2 + jitter(rng));
}

Result<std::unique_ptr<Client>> Client::Create(RestConfig config,
                                               ClientOptions options) {
  if (config.server.rfind("https://", 0) != 0) {
    return MakeError(config.source, "the server \"" + config.server +
                                        "\" is not an https:// URL");
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  auto impl = std::make_unique<Impl>();
  https::TlsConfig tls;
  tls.verify = !config.insecure_skip_tls_verify;
  tls.ca_pem = config.ca_pem;
  auto transport = https::Transport::Create(config.server, std::move(tls), config.source);
  if (!transport) return transport.error();
  impl->transport = std::move(*transport);
  impl->config = std::move(config);
  impl->options = std::move(options);
  impl->creds =
      std::make_unique<Credentials>(impl->config, impl->options.exec_timeout);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const RestConfig& Client::config() const { return impl_->config; }

Result<Response> Client::Send(const Request& req) {
  std::lock_guard<std::mutex> lock(mu_);
  Impl& im = *impl_;
  std::string what = req.method;
  what += ' ';
  what += req.path;
  if (req.path.empty() || req.path[0] != '/' ||
      req.path.find_first_of("?#") != std::string::npos) {
    return MakeError(what, "the path must start with / and carry no query");
  }
  std::string target = req.path;
  for (std::size_t i = 0; i < req.query.size(); ++i) {
    target += i == 0 ? '?' : '&';
    target += EscapeComponent(req.query[i].first);
    target += '=';
    target += EscapeComponent(req.query[i].second);
  }
  std::string last;  // why the last attempt failed
  long last_status = 0;
  for (int attempt = 1;; ++attempt) {
    if (im.options.cancelled && im.options.cancelled()) return MakeError(what, "cancelled");
    auto auth = im.creds->Get();
    if (!auth)
      return MakeError(what, "no credentials: " + auth.error().message);
    https::Outcome a = im.Perform(req, target, *auth);
    bool retry = false;
    std::optional<long> wait_seconds;
    const bool answered = a.failure == https::Failure::kNone;
    if (answered && a.response.status < 400) {
      Response r;
      r.status = a.response.status;
      r.body = std::move(a.response.body);
      r.content_type = std::move(a.response.content_type);
      r.attempts = attempt;
      return r;
    }
    if (answered) {
      const long status = a.response.status;
      const std::string& body = a.response.body;
      last_status = status;
      auto st = ParseStatus(body);
      last = "HTTP " + std::to_string(status) + " ";
      last += (st && !st->reason.empty()) ? st->reason
                                          : std::string(HttpPhrase(status));
      last += ": ";
      last += (st && !st->message.empty()) ? st->message : Snippet(body);
      if (status == 401) im.creds->Invalidate();
      if (status == 429) {
        retry =
            true;  // rejected before any handler ran: safe for every request
      } else if (status >= 500) {
        retry = req.retry == RetryPolicy::kIdempotent;
      }
      wait_seconds = a.response.retry_after;
      if (!wait_seconds && st && st->retry_after_seconds)
        wait_seconds = *st->retry_after_seconds;
    } else {
      last_status = 0;
      switch (a.failure) {
        case https::Failure::kVerify:
          last = "TLS: the server's certificate is not trusted by ";
          last += im.config.ca_pem.empty() ? "the system's CA store"
                                           : "the cluster's CA";
          last += ": " + a.error;
          break;  // never retried: it will not become trusted
        case https::Failure::kCertProblem:
        case https::Failure::kBadRequest:
          last = "cannot send: " + a.error;
          break;
        case https::Failure::kCancelled:
          return MakeError(what, "cancelled");
        case https::Failure::kTooBig:
          last = "the answer is larger than " +
                 std::to_string(im.options.max_response_bytes) + " bytes";
          break;
        default:
          last = a.failure == https::Failure::kTimeout
                     ? "no answer within " +
                           std::to_string(im.options.timeout.count()) + " ms"
                     : std::string("connection failed");
          last += " (" + a.error + ")";
          // Never sent (refused, unresolved, TLS handshake failed): safe to
          // retry anything. Sent (a dropped connection, a timeout while
          // waiting): the server may have acted, so idempotent ones only.
          retry = !a.sent || req.retry == RetryPolicy::kIdempotent;
          break;
      }
    }
    if (!retry) {
      std::string msg = attempt > 1
                            ? "after " + std::to_string(attempt) + " attempts: "
                            : std::string();
      msg += last;
      return MakeError(what, std::move(msg), static_cast<int>(last_status));
    }
    if (attempt >= im.options.max_attempts) {
      return MakeError(
          what,
          "gave up after " + std::to_string(attempt) + " attempts: " + last,
          static_cast<int>(last_status));
    }
    std::chrono::milliseconds wait = im.Backoff(attempt);
    if (wait_seconds) {
      wait = std::min<std::chrono::milliseconds>(
          std::chrono::seconds(*wait_seconds), im.options.retry_after_max);
    }
    // In slices, so that a cancellation ends the wait too.
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      if (im.options.cancelled && im.options.cancelled()) return MakeError(what, "cancelled");
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
    }
  }
}

namespace {

Result<nlohmann::json> JsonBody(const std::string& what, Result<Response> r) {
  if (!r) return r.error();
  auto j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(what,
                     "the answer is not a JSON object: " + Snippet(r->body));
  }
  return j;
}

}  // namespace

Result<nlohmann::json> Client::Get(std::string_view path) {
  Request req;
  req.path = std::string(path);
  return JsonBody("GET " + req.path, Send(req));
}

Result<ListResult> Client::List(std::string_view path,
                                const ListOptions& options) {
  ListResult out;
  bool restarted = false;
  std::string cont;
  int page_size = options.page_size;
  while (true) {
    Request req;
    req.path = std::string(path);
    if (!options.label_selector.empty())
      req.query.emplace_back("labelSelector", options.label_selector);
    if (!options.field_selector.empty())
      req.query.emplace_back("fieldSelector", options.field_selector);
    if (page_size > 0)
      req.query.emplace_back("limit", std::to_string(page_size));
    if (!cont.empty()) req.query.emplace_back("continue", cont);
    auto r = Send(req);
    if (!r) {
      if (r.error().code == 410 && !cont.empty() && !restarted) {
        // The snapshot behind the token is gone (compacted): start again,
        // in one page, as client-go's pager does.
        restarted = true;
        out = ListResult{};
        cont.clear();
        page_size = 0;
        continue;
      }
      return r.error();
    }
    auto page = ParseListPage(r->body);
    if (!page) return MakeError("GET " + req.path, page.error().message);
    if (out.pages == 0) out.resource_version = page->resource_version;
    ++out.pages;
    for (auto& item : page->items) out.items.push_back(std::move(item));
    if (page->continue_token.empty()) return out;
    if (page->continue_token == cont) {
      return MakeError("GET " + req.path,
                       "the server gave back the same continue token");
    }
    cont = std::move(page->continue_token);
  }
}

Result<nlohmann::json> Client::Patch(std::string_view path, PatchType type,
                                     const nlohmann::json& patch,
                                     const PatchOptions& options) {
  Request req;
  req.method = "PATCH";
  req.path = std::string(path);
  req.body =
      patch.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.content_type = std::string(PatchContentType(type));
  req.retry = type == PatchType::kJson ? RetryPolicy::kUnsentOnly
                                       : RetryPolicy::kIdempotent;
  if (!options.field_manager.empty())
    req.query.emplace_back("fieldManager", options.field_manager);
  if (options.dry_run) req.query.emplace_back("dryRun", "All");
  return JsonBody("PATCH " + req.path, Send(req));
}

Result<nlohmann::json> Client::Post(std::string_view path,
                                    const nlohmann::json& body) {
  Request req;
  req.method = "POST";
  req.path = std::string(path);
  req.body =
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.content_type = "application/json";
  req.retry = RetryPolicy::kUnsentOnly;
  return JsonBody("POST " + req.path, Send(req));
}

}  // namespace cvm::exporter::kube
