#pragma once
// A small Kubernetes API client over its own HTTPS/1.1 transport
// (exporter/kube/https.h, OpenSSL 3): GET, LIST with pagination,
// PATCH with the content type of each patch kind, POST; a timeout on every
// request, retries with exponential backoff and jitter where a retry is
// safe (docs/kube-client.md). TLS verification is always on (only a
// RestConfig that was allowed insecure-skip-tls-verify turns it off).
//
// Errors carry the HTTP status in Error::code (0 when no answer came), the
// request ("PATCH /api/v1/nodes/a") in Error::path, and the API's Status
// message in Error::message:
//   PATCH /api/v1/nodes/b: HTTP 403 Forbidden: nodes "b" is forbidden: ...

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exporter/kube/config.h"
#include "probe/result.h"

namespace cvm::exporter::kube {

enum class PatchType {
  kStrategicMerge,  // application/strategic-merge-patch+json: lists merge by
                    // key
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
};
std::string_view PatchContentType(PatchType type);

// When a failed attempt may be sent again.
enum class RetryPolicy {
  // Sending twice ends as sending once (GET, LIST, merge and strategic
  // merge patches): retried on connection errors, timeouts, 429 and 5xx.
  kIdempotent,
  // Sending twice may do the work twice (POST, JSON patch): retried only
  // when the server certainly did not act: the connection never carried
  // the request, or a 429 (the API server's flow control rejects before
  // the handler runs).
  kUnsentOnly,
};

struct ClientOptions {
  std::chrono::milliseconds timeout{
      30000};  // one attempt, connect to last byte
  std::chrono::milliseconds connect_timeout{10000};
  int max_attempts = 5;
  std::chrono::milliseconds backoff_initial{
      250};  // doubled per retry, with jitter
  std::chrono::milliseconds backoff_max{8000};
  std::chrono::milliseconds retry_after_max{
      60000};  // a longer Retry-After is cut to this
  std::chrono::milliseconds exec_timeout{60000};  // a credential plugin's run
  std::size_t max_response_bytes = 64u << 20;
  std::string user_agent = "cvm-preflight";
  // Polled during transfers and backoff waits (every ~50 ms): true ends the
  // request at once with an error ("cancelled"), so a process can stop
  // without waiting out a timeout. Empty: never cancelled.
  std::function<bool()> cancelled;
};

struct Request {
  std::string method = "GET";
  std::string path;  // "/api/v1/nodes/a": no query, segments already escaped
  std::vector<std::pair<std::string, std::string>> query;  // escaped here
  std::string body;
  std::string content_type;
  RetryPolicy retry = RetryPolicy::kIdempotent;
};

struct Response {
  long status = 0;
  std::string body;
  std::string content_type;
  int attempts = 0;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;  // limit=; 0 asks for everything at once
};

struct ListResult {
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list (its first page)
  int pages = 0;
};

struct PatchOptions {
  std::string field_manager;  // fieldManager=
  bool dry_run = false;       // dryRun=All
};

// A v1 Status, as the API answers an error.
struct ApiStatus {
  std::string status;  // "Failure"
  std::string message;
  std::string reason;  // "NotFound", "Conflict", ...
  int code = 0;
  std::optional<int> retry_after_seconds;  // details.retryAfterSeconds
};
// Reads a Status object from an answer body; nothing when it is not one.
std::optional<ApiStatus> ParseStatus(std::string_view body);

// One page of a LIST answer: items, metadata.continue,
// metadata.resourceVersion.
struct ListPage {
  std::vector<nlohmann::json> items;
  std::string continue_token;
  std::string resource_version;
};
Result<ListPage> ParseListPage(std::string_view body);

// Percent-encodes one path segment or query value (RFC 3986 unreserved
// characters stay).
std::string EscapeComponent(std::string_view s);

class Client {
 public:
  // Parses the server URL, builds the TLS context (the cluster's CA or the
  // system store) and reads HTTPS_PROXY/NO_PROXY; no connection yet.
  static Result<std::unique_ptr<Client>> Create(RestConfig config,
                                                ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<nlohmann::json> Get(std::string_view path);
  // Follows metadata.continue to the end. A continue token that expired
  // (410) restarts the list once, unpaginated, as client-go's pager does.
  Result<ListResult> List(std::string_view path,
                          const ListOptions& options = {});
  // kStrategicMerge and kMerge are retried as idempotent (applying such a
  // patch twice gives the state of applying it once); kJson only when
  // unsent. A patch with metadata.resourceVersion may answer 409 after a
  // retry of an attempt that had in fact succeeded: re-read and compare.
  Result<nlohmann::json> Patch(std::string_view path, PatchType type,
                               const nlohmann::json& patch,
                               const PatchOptions& options = {});
  // Never retried once sent: an Event sent twice is two Events (or a 409).
  Result<nlohmann::json> Post(std::string_view path,
                              const nlohmann::json& body);
  // The request as given; an answer of 400 and above is an error.
  Result<Response> Send(const Request& request);

  const RestConfig& config() const;

 private:
  struct Impl;  // the transport (https.h), credentials, jitter source
  explicit Client(std::unique_ptr<Impl> impl);

  std::mutex mu_;               // one request at a time on the one handle
  std::unique_ptr<Impl> impl_;  // guarded by mu_
};

}  // namespace cvm::exporter::kube
