#include "exporter/kube/client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <random>
#include <thread>

#include "exporter/kube/libcurl.h"
#include "exporter/kube/exec_credential.h"

namespace cvm::exporter::kube {
namespace {


std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
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
  detail::CurlEasyPtr curl;
  std::unique_ptr<Credentials> creds;
  std::mt19937_64 rng{std::random_device{}()};

  // One attempt's outcome.
  struct Attempt {
    CURLcode rc = CURLE_OK;
    std::string curl_error;
    bool sent = false;  // request bytes went out
    bool too_big = false;
    long status = 0;
    std::string body;
    std::string content_type;
    std::optional<long> retry_after;  // seconds
  };

  Attempt Perform(const Request& req, const std::string& url, const Auth& auth);
  std::chrono::milliseconds Backoff(int retry);
};

namespace {

// libcurl's progress callback (about once a second, and on every
// transfer's data): nonzero aborts the transfer.
int Progress(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return (*static_cast<const std::function<bool()>*>(cancelled))() ? 1 : 0;
}

struct Sink {
  std::string* body;
  std::size_t cap;
  bool* too_big;
};

std::size_t WriteBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::size_t len = size * n;
  if (sink->body->size() + len > sink->cap) {
    *sink->too_big = true;
    return 0;  // libcurl stops with CURLE_WRITE_ERROR
  }
  sink->body->append(data, len);
  return len;
}

struct Headers {
  std::string content_type;
  std::optional<long> retry_after;
};

std::size_t WriteHeader(char* data, std::size_t size, std::size_t n,
                        void* user) {
  auto* h = static_cast<Headers*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new answer (after a 100 Continue)
    *h = Headers{};
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string_view name = line.substr(0, colon);
  std::string value = Trim(std::string(line.substr(colon + 1)));
  if (IEquals(name, "Content-Type")) {
    h->content_type = value;
  } else if (IEquals(name, "Retry-After")) {
    long secs = 0;
    auto [p, ec] =
        std::from_chars(value.data(), value.data() + value.size(), secs);
    // Only delta-seconds: the API server never sends an HTTP date.
    if (ec == std::errc() && p == value.data() + value.size() && secs >= 0)
      h->retry_after = secs;
  }
  return size * n;
}

}  // namespace

Client::Impl::Attempt Client::Impl::Perform(const Request& req,
                                            const std::string& url,
                                            const Auth& auth) {
  Attempt a;
  CURL* c = curl.get();
  detail::Curl().easy_reset(c);  // keeps the connection cache
  char errbuf[CURL_ERROR_SIZE] = {0};
  Headers headers;
  Sink sink{&a.body, options.max_response_bytes, &a.too_big};
  detail::Curl().easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  detail::Curl().easy_setopt(c, CURLOPT_URL, url.c_str());
  detail::Curl().easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  detail::Curl().easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  detail::Curl().easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  if (req.retry == RetryPolicy::kUnsentOnly) {
    // libcurl itself sends a request again when a reused connection closes
    // without an answer (the keep-alive race). For a request that must not
    // go twice, a fresh connection leaves it nothing to resend.
    detail::Curl().easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  }
  detail::Curl().easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(options.timeout.count()));
  detail::Curl().easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  detail::Curl().easy_setopt(c, CURLOPT_USERAGENT, options.user_agent.c_str());
  if (options.cancelled) {
    detail::Curl().easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    detail::Curl().easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Progress);
    detail::Curl().easy_setopt(c, CURLOPT_XFERINFODATA, &options.cancelled);
  }
  detail::Curl().easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  detail::Curl().easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  detail::Curl().easy_setopt(c, CURLOPT_HEADERFUNCTION, &WriteHeader);
  detail::Curl().easy_setopt(c, CURLOPT_HEADERDATA, &headers);
  // TLS: verification on unless this config was allowed to turn it off.
  const bool verify = !config.insecure_skip_tls_verify;
  detail::Curl().easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
  detail::Curl().easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
  if (!config.ca_pem.empty()) {
    curl_blob ca{const_cast<char*>(config.ca_pem.data()), config.ca_pem.size(),
                 CURL_BLOB_COPY};
    detail::Curl().easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    // The cluster's CA alone, not the system's store beside it (as kubectl).
    detail::Curl().easy_setopt(c, CURLOPT_CAPATH, nullptr);
  }
  if (!auth.cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(auth.cert_pem.data()),
                   auth.cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(auth.key_pem.data()), auth.key_pem.size(),
                  CURL_BLOB_COPY};
    detail::Curl().easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    detail::Curl().easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    detail::Curl().easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    detail::Curl().easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_slist* raw = nullptr;
  auto add = [&raw](const std::string& h) {
    if (curl_slist* n = detail::Curl().slist_append(raw, h.c_str())) raw = n;
  };
  add("Accept: application/json");
  add("Expect:");  // no 100-continue round trip for bodies over 1 KiB
  if (!auth.token.empty()) add("Authorization: Bearer " + auth.token);
  if (!req.content_type.empty()) add("Content-Type: " + req.content_type);
  detail::CurlSlistPtr header_list(raw);
  detail::Curl().easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  if (req.method == "GET") {
    detail::Curl().easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    detail::Curl().easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    detail::Curl().easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    detail::Curl().easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(req.body.size()));
  }
  a.rc = detail::Curl().easy_perform(c);
  long request_size = 0;
  detail::Curl().easy_getinfo(c, CURLINFO_REQUEST_SIZE, &request_size);
  a.sent = request_size > 0;
  if (a.rc == CURLE_OK) {
    detail::Curl().easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  } else {
    a.curl_error = errbuf[0] != 0 ? std::string(errbuf)
                                  : std::string(detail::Curl().easy_strerror(a.rc));
  }
  a.content_type = headers.content_type;
  a.retry_after = headers.retry_after;
  // The handle must not keep pointers into this frame.
  detail::Curl().easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  detail::Curl().easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  return a;
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
  // libcurl is loaded and initialised here, by the first client: a
  // command that never talks to the API pays nothing for it.
  if (auto lib = detail::LoadLibCurl(); !lib) return lib.error();
  if (config.server.rfind("https://", 0) != 0) {
    return MakeError(config.source, "the server \"" + config.server +
                                        "\" is not an https:// URL");
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  auto impl = std::make_unique<Impl>();
  impl->curl.reset(detail::Curl().easy_init());
  if (!impl->curl) return MakeError("libcurl", "curl_easy_init failed");
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
  std::string url = im.config.server + req.path;
  for (std::size_t i = 0; i < req.query.size(); ++i) {
    url += i == 0 ? '?' : '&';
    url += EscapeComponent(req.query[i].first);
    url += '=';
    url += EscapeComponent(req.query[i].second);
  }
  std::string last;  // why the last attempt failed
  long last_status = 0;
  for (int attempt = 1;; ++attempt) {
    if (im.options.cancelled && im.options.cancelled()) return MakeError(what, "cancelled");
    auto auth = im.creds->Get();
    if (!auth)
      return MakeError(what, "no credentials: " + auth.error().message);
    Impl::Attempt a = im.Perform(req, url, *auth);
    bool retry = false;
    std::optional<long> wait_seconds;
    if (a.rc == CURLE_OK && a.status < 400) {
      Response r;
      r.status = a.status;
      r.body = std::move(a.body);
      r.content_type = std::move(a.content_type);
      r.attempts = attempt;
      return r;
    }
    if (a.rc == CURLE_OK) {
      last_status = a.status;
      auto st = ParseStatus(a.body);
      last = "HTTP " + std::to_string(a.status) + " ";
      last += (st && !st->reason.empty()) ? st->reason
                                          : std::string(HttpPhrase(a.status));
      last += ": ";
      last += (st && !st->message.empty()) ? st->message : Snippet(a.body);
      if (a.status == 401) im.creds->Invalidate();
      if (a.status == 429) {
        retry =
            true;  // rejected before any handler ran: safe for every request
      } else if (a.status >= 500) {
        retry = req.retry == RetryPolicy::kIdempotent;
      }
      wait_seconds = a.retry_after;
      if (!wait_seconds && st && st->retry_after_seconds)
        wait_seconds = *st->retry_after_seconds;
    } else {
      last_status = 0;
      switch (a.rc) {
        case CURLE_PEER_FAILED_VERIFICATION:
          last = "TLS: the server's certificate is not trusted by ";
          last += im.config.ca_pem.empty() ? "the system's CA store"
                                           : "the cluster's CA";
          last += ": " + a.curl_error;
          break;  // never retried: it will not become trusted
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CIPHER:
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
          last = "cannot send: " + a.curl_error;
          break;
        case CURLE_ABORTED_BY_CALLBACK:
          return MakeError(what, "cancelled");
        case CURLE_WRITE_ERROR:
          last = a.too_big ? "the answer is larger than " +
                                 std::to_string(im.options.max_response_bytes) +
                                 " bytes"
                           : a.curl_error;
          break;
        default:
          last = a.rc == CURLE_OPERATION_TIMEDOUT
                     ? "no answer within " +
                           std::to_string(im.options.timeout.count()) + " ms"
                     : std::string("connection failed");
          last += " (" + a.curl_error + ")";
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
