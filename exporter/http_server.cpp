#include "exporter/http_server.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "exporter/tls_shim.h"

namespace cvm::exporter {
namespace {

std::once_flag g_init;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string OpenSslError(const CivetwebOpenSsl& ssl) {
  std::string out;
  while (unsigned long e = ssl.ERR_get_error()) {
    char buf[256];
    ssl.ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace

void HttpServer::Send(mg_connection* conn, const HttpResponse& r, bool head) const {
  std::string extra;
  for (const auto& [name, value] : options_.headers) {
    extra += name;
    extra += ": ";
    extra += value;
    extra += "\r\n";
  }
  if (r.status == 405) extra += "Allow: GET, HEAD\r\n";
  if (r.status == 401) extra += "WWW-Authenticate: Basic realm=\"cvm-preflight\", charset=\"UTF-8\"\r\n";
  // One write for head and body: two small writes on a keep-alive
  // connection meet Nagle's algorithm and the client's delayed ACK, and
  // each response then waits 40 ms (wrk saw 16 connections at 25 requests
  // a second each).
  std::string out = "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += Reason(r.status);
  out += "\r\nContent-Type: ";
  out += r.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  out += "\r\nCache-Control: no-store\r\n";
  out += extra;
  out += "\r\n";
  if (!head) out += r.body;
  mg_write(conn, out.data(), out.size());
}

int HttpServer::Dispatch(mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  bool head = std::strcmp(info->request_method, "HEAD") == 0;
  const std::string path = info->local_uri ? info->local_uri : "";
  const auto& auth = server->options_.auth;
  if (auth && auth->enabled() && !server->options_.open_routes.count(path) &&
      !auth->Allows(mg_get_header(conn, "Authorization"))) {
    server->Send(conn, {401, "text/plain; charset=utf-8", "unauthorized\n"}, head);
    return 401;
  }
  if (!head && std::strcmp(info->request_method, "GET") != 0) {
    server->Send(conn, {405, "text/plain; charset=utf-8", "only GET and HEAD\n"}, false);
    return 405;
  }
  auto it = server->routes_.find(path);
  if (it == server->routes_.end()) {
    server->Send(conn, {404, "text/plain; charset=utf-8",
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
  server->Send(conn, r, head);
  return r.status;
}

// civetweb's init_ssl callback: the whole TLS setup is ours, with OpenSSL 3
// directly (civetweb 1.15 wants the key inside the certificate's file and
// knows no maximum version). Returning 1 tells civetweb the certificate is
// set up.
int HttpServer::InitSsl(void* ssl_ctx, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  const TlsServerConfig& t = *server->options_.tls;
  // civetweb's copy of OpenSSL, never the binary's own (tls_shim.h).
  const CivetwebOpenSsl* ssl = CivetwebOpenSslFunctions();
  if (ssl == nullptr) {
    server->init_ssl_error_ = "civetweb's OpenSSL is not loaded";
    return -1;
  }
  auto fail = [&](const std::string& what) {
    server->init_ssl_error_ = what;
    std::string detail = OpenSslError(*ssl);
    if (!detail.empty()) {
      server->init_ssl_error_ += " (";
      server->init_ssl_error_ += detail;
      server->init_ssl_error_ += ")";
    }
    return -1;
  };
  ssl->ERR_clear_error();
  if (ssl->SSL_CTX_use_certificate_chain_file(ctx, t.cert_file.c_str()) != 1) {
    return fail("cannot load cert_file " + t.cert_file);
  }
  if (ssl->SSL_CTX_use_PrivateKey_file(ctx, t.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      ssl->SSL_CTX_check_private_key(ctx) != 1) {
    return fail("cannot load key_file " + t.key_file + " for " + t.cert_file);
  }
  auto version = [](TlsVersion v) { return v == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION; };
  // SSL_CTX_set_{min,max}_proto_version are macros over SSL_CTX_ctrl.
  if (ssl->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, version(t.min_version), nullptr) != 1 ||
      ssl->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, version(t.max_version), nullptr) != 1) {
    return fail("cannot set the TLS versions");
  }
  if (t.prefer_server_cipher_suites) {
    ssl->SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  } else {
    ssl->SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
  if (t.client_auth != ClientAuth::kNone) {
    // The client CA file alone: never the system's trust store.
    if (ssl->SSL_CTX_load_verify_locations(ctx, t.client_ca_file.c_str(), nullptr) != 1) {
      return fail("cannot load client_ca_file " + t.client_ca_file);
    }
    STACK_OF(X509_NAME)* names = ssl->SSL_load_client_CA_file(t.client_ca_file.c_str());
    if (names == nullptr) return fail("no certificate in client_ca_file " + t.client_ca_file);
    ssl->SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    int mode = SSL_VERIFY_PEER;
    if (t.client_auth == ClientAuth::kRequireAndVerify) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    ssl->SSL_CTX_set_verify(ctx, mode, nullptr);
  } else {
    ssl->SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return 1;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpOptions& options,
                                                      std::map<std::string, Handler> routes) {
  std::call_once(g_init, [] { mg_init_library(0); });
  if (options.tls) {
    auto tls = LoadCivetwebTlsShim();
    if (!tls) return MakeError(options.listen, "cannot serve TLS: " + tls.error().message);
  }
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->routes_ = std::move(routes);
  server->options_ = options;
  std::string threads = std::to_string(options.threads);
  std::string timeout = std::to_string(options.request_timeout_ms);
  std::string keep_alive = std::to_string(options.keep_alive_timeout_ms);
  std::string ports = options.listen;
  if (options.tls) ports += 's';
  std::vector<const char*> opts = {
      "listening_ports", ports.c_str(),
      "num_threads", threads.c_str(),
      "request_timeout_ms", timeout.c_str(),
      "enable_keep_alive", "yes",
      "tcp_nodelay", "1",
      "keep_alive_timeout_ms", keep_alive.c_str(),
  };
  if (options.tls) {
    // Verification is set up in InitSsl; civetweb must not add the
    // system's trust store to it.
    for (const char* o : {"ssl_verify_peer", "no", "ssl_default_verify_paths", "no",
                          "ssl_protocol_version", "4"}) {
      opts.push_back(o);
    }
  }
  opts.push_back(nullptr);
  mg_callbacks callbacks{};
  // civetweb logs to stderr by default; its text is returned in the error.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  if (options.tls) callbacks.init_ssl = &HttpServer::InitSsl;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = opts.data();
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data error{&code, text, sizeof text};
  server->ctx_ = mg_start2(&init, &error);
  if (server->ctx_ == nullptr) {
    if (!server->init_ssl_error_.empty()) {
      return MakeError(options.listen, "cannot serve TLS: " + server->init_ssl_error_);
    }
    return MakeError(options.listen, std::string("cannot listen: ") +
                                         (text[0] ? text : "civetweb failed to start") +
                                         " (a port in use, or a bad address)");
  }
  mg_set_request_handler(server->ctx_, "/", &HttpServer::Dispatch, server.get());
  mg_server_port ports_out[4]{};
  int n = mg_get_server_ports(server->ctx_, 4, ports_out);
  if (n > 0) server->port_ = ports_out[0].port;
  return server;
}

HttpServer::~HttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

}  // namespace cvm::exporter
