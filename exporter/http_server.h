#pragma once
// The agent's one HTTP port, served by civetweb 1.15 (Debian's
// libcivetweb, the server prometheus-cpp's pull library is built on).
// Handlers run on civetweb's worker threads; each returns a whole response.

#include <functional>
#include <map>
#include <memory>
#include <string>

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
  int threads = 4;
  // A request (headers and body) must arrive within this; a slow or
  // half-open client then loses its connection, never a thread for good.
  int request_timeout_ms = 10000;
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

  ::mg_context* ctx_ = nullptr;
  std::map<std::string, Handler> routes_;
  int port_ = 0;
};

}  // namespace cvm::exporter
