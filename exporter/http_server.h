#pragma once
// The agent's one HTTP port, served by civetweb 1.15 (Debian's
// libcivetweb, the server prometheus-cpp's pull library is built on).
// Handlers run on civetweb's worker threads; each returns a whole response.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "exporter/web_config.h"
#include "probe/result.h"

struct mg_context;
struct mg_connection;

namespace cvm::exporter {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpOptions {
  std::string listen = "0.0.0.0:9861";  // ADDR:PORT; port 0 picks a free one
  // civetweb gives each connection a worker thread for as long as it reads
  // a request or waits on a keep-alive connection. So many connections can
  // stall (half a request, nothing at all) before a new one waits for a
  // thread; past that, a new one waits at most request_timeout_ms.
  int threads = 64;
  // A request (headers and body) must arrive, and a response be taken,
  // within this; a slow or half-open client then loses its connection.
  int request_timeout_ms = 5000;
  // An idle keep-alive connection is closed after this (Prometheus keeps
  // its connection between scrapes; it reconnects).
  int keep_alive_timeout_ms = 5000;
  // HTTPS only on the port when set (the web config's tls_server_config).
  std::optional<TlsServerConfig> tls;
  // Added to every response (http_server_config.headers).
  std::vector<std::pair<std::string, std::string>> headers;
  // Basic auth for every route but `open_routes`, when it has users.
  std::shared_ptr<BasicAuth> auth;
  std::set<std::string> open_routes;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;
  // Starts serving `routes` (exact paths, GET and HEAD); anything else is
  // 404, other methods 405. Errors name the address (a port in use).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpOptions& options,
                                                   std::map<std::string, Handler> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  int port() const { return port_; }

 private:
  HttpServer() = default;
  static int Dispatch(::mg_connection* conn, void* self);
  static int InitSsl(void* ssl_ctx, void* self);
  void Send(::mg_connection* conn, const HttpResponse& r, bool head) const;

  ::mg_context* ctx_ = nullptr;
  std::map<std::string, Handler> routes_;
  HttpOptions options_;
  std::string init_ssl_error_;  // what InitSsl could not do
  int port_ = 0;
};

}  // namespace cvm::exporter
