#include "exporter/http_server.h"

#include <civetweb.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <mutex>
#include <vector>

namespace cvm::exporter {
namespace {

std::once_flag g_init;

void Send(mg_connection* conn, const HttpResponse& r, bool head) {
  const char* reason = r.status == 200   ? "OK"
                       : r.status == 404 ? "Not Found"
                       : r.status == 405 ? "Method Not Allowed"
                       : r.status == 503 ? "Service Unavailable"
                                         : "Error";
  // Head and body in one write: two small writes meet Nagle's algorithm
  // and the client's delayed ACK (40 ms a response; 90 requests/s measured
  // by tests/bench/agent_vs_node_exporter.sh before this).
  char header[256];
  int n = std::snprintf(header, sizeof header,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Cache-Control: no-store\r\n%s\r\n",
                        r.status, reason, r.content_type.c_str(), r.body.size(),
                        r.status == 405 ? "Allow: GET, HEAD\r\n" : "");
  std::string out(header, n > 0 ? std::min<std::size_t>(n, sizeof header - 1) : 0);
  if (!head) out += r.body;
  mg_write(conn, out.data(), out.size());
}

}  // namespace

int HttpServer::Dispatch(mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  bool head = std::strcmp(info->request_method, "HEAD") == 0;
  if (!head && std::strcmp(info->request_method, "GET") != 0) {
    Send(conn, {405, "text/plain; charset=utf-8", "only GET and HEAD\n"}, false);
    return 405;
  }
  auto it = server->routes_.find(info->local_uri ? info->local_uri : "");
  if (it == server->routes_.end()) {
    Send(conn, {404, "text/plain; charset=utf-8",
                "not found: try /metrics, /healthz, /readyz or /report\n"},
         head);
    return 404;
  }
  HttpResponse r;
  try {
    r = it->second();
  } catch (const std::exception& e) {
    r = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
  }
  Send(conn, r, head);
  return r.status;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpOptions& options,
                                                      std::map<std::string, Handler> routes) {
  std::call_once(g_init, [] { mg_init_library(0); });
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->routes_ = std::move(routes);
  std::string threads = std::to_string(options.threads);
  std::string timeout = std::to_string(options.request_timeout_ms);
  std::vector<const char*> opts = {
      "listening_ports", options.listen.c_str(),
      "num_threads", threads.c_str(),
      "request_timeout_ms", timeout.c_str(),
      "enable_keep_alive", "yes",
      "keep_alive_timeout_ms", "5000",
      "tcp_nodelay", "1",
      nullptr};
  mg_callbacks callbacks{};
  // civetweb logs to stderr by default; its text is returned in the error.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = opts.data();
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data error{&code, text, sizeof text};
  server->ctx_ = mg_start2(&init, &error);
  if (server->ctx_ == nullptr) {
    return MakeError(options.listen, std::string("cannot listen: ") +
                                         (text[0] ? text : "civetweb failed to start") +
                                         " (a port in use, or a bad address)");
  }
  mg_set_request_handler(server->ctx_, "/", &HttpServer::Dispatch, server.get());
  mg_server_port ports[4]{};
  int n = mg_get_server_ports(server->ctx_, 4, ports);
  if (n > 0) server->port_ = ports[0].port;
  return server;
}

HttpServer::~HttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

}  // namespace cvm::exporter
