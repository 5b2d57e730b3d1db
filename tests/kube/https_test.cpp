// The client's own HTTPS/1.1 transport (exporter/kube/https.h) and its
// response parser (http_response.h): parser cases a hostile server can
// send, proxy environment rules as curl applies them, and, against the API
// test server and tests/kube/connect_proxy.py, chunked answers, keep-alive,
// hostile answers, stalls, certificate checks, CONNECT proxies and
// cancellation.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "exporter/kube/client.h"
#include "exporter/kube/http_response.h"
#include "exporter/kube/https.h"
#include "tests/kube/test_server.h"
#include "tests/support/data.h"

extern char** environ;

namespace cvm::exporter::kube {
namespace {

using namespace std::chrono_literals;
using cvm::testing::TestApiServer;
using http::ResponseParser;
using nlohmann::json;
using State = ResponseParser::State;

std::string Chunked() {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\n"
         "4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: t\r\n\r\n";
}

TEST(HttpResponseParser, ChunkedWithExtensionsAndTrailer) {
  ResponseParser p;
  ASSERT_EQ(http::ParseWholeResponse(Chunked(), p), State::kDone) << p.error();
  EXPECT_EQ(p.response().status, 200);
  EXPECT_EQ(p.response().body, "{\"a\":1}");
  EXPECT_EQ(p.response().content_type, "application/json");
  EXPECT_TRUE(p.response().keep_alive);
}

TEST(HttpResponseParser, ByteByByteEqualsWhole) {
  for (const std::string& in :
       {Chunked(), std::string("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\n"
                               "Retry-After: 7\r\nContent-Length: 2\r\n\r\nno")}) {
    ResponseParser whole;
    State w = http::ParseWholeResponse(in, whole);
    ResponseParser bytes;
    State b = State::kMore;
    for (char c : in) b = bytes.Feed(std::string_view(&c, 1));
    EXPECT_EQ(w, State::kDone);
    EXPECT_EQ(b, w);
    EXPECT_EQ(bytes.response().body, whole.response().body);
    EXPECT_EQ(bytes.response().status, whole.response().status);
    EXPECT_EQ(bytes.response().retry_after, whole.response().retry_after);
  }
}

TEST(HttpResponseParser, HostileAnswersAreNamedErrors) {
  struct Row {
    std::string in;
    std::string error;
  };
  const std::vector<Row> rows = {
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
       "the connection closed inside the chunked body"},
      {"HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'a') + "\r\n\r\n", "a line longer than 16384 bytes"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
       "the connection closed 7 bytes before the end of the body"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       "two different Content-Length fields"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "is not hexadecimal"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
       "a chunk is longer than its size line says"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "is not supported (only chunked)"},
      {"SSH-2.0-OpenSSH_9.2\r\n", "is not HTTP/1.x"},
      {"HTTP/1.1 200 OK\r\n continued\r\n\r\n", "folded header line"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "is not a number"},
      {"", "the connection closed before an answer"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.in.substr(0, 80));
    ResponseParser p;
    EXPECT_EQ(http::ParseWholeResponse(row.in, p), State::kError);
    EXPECT_NE(p.error().find(row.error), std::string::npos) << p.error();
    EXPECT_EQ(p.error().rfind("response parse: ", 0), 0u) << p.error();
  }
}

TEST(HttpResponseParser, BodyCapHoldsForEveryFraming) {
  http::ResponseLimits limits;
  limits.max_body = 5;
  for (const std::string& in :
       {std::string("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef"),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\n\r\nabcdef")}) {
    ResponseParser p(limits);
    EXPECT_EQ(http::ParseWholeResponse(in, p), State::kTooBig) << in;
    EXPECT_EQ(p.error(), "the answer is larger than 5 bytes");
  }
}

TEST(HttpResponseParser, ConnectionReuseRules) {
  auto keep = [](const std::string& in) {
    ResponseParser p;
    EXPECT_EQ(http::ParseWholeResponse(in, p), State::kDone) << p.error();
    return p.response().keep_alive;
  };
  EXPECT_TRUE(keep("HTTP/1.1 204 No Content\r\n\r\n"));
  EXPECT_FALSE(keep("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(keep("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(keep("HTTP/1.1 200 OK\r\n\r\nto the end"));  // read to close
  EXPECT_FALSE(keep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"));  // extra bytes
}

TEST(NoProxy, MatchesAsCurlDoes) {
  EXPECT_TRUE(https::NoProxyMatches("*", "api.example.com"));
  EXPECT_TRUE(https::NoProxyMatches("example.com", "api.example.com"));
  EXPECT_TRUE(https::NoProxyMatches(".example.com", "api.example.com"));
  EXPECT_TRUE(https::NoProxyMatches("foo, EXAMPLE.com", "Example.COM"));
  EXPECT_FALSE(https::NoProxyMatches("example.com", "badexample.com"));
  EXPECT_FALSE(https::NoProxyMatches("api.example.com", "example.com"));
  EXPECT_TRUE(https::NoProxyMatches("10.0.0.0/8", "10.96.0.1"));
  EXPECT_FALSE(https::NoProxyMatches("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(https::NoProxyMatches("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(https::NoProxyMatches("127.0.0.1", "127.0.0.10"));
  EXPECT_TRUE(https::NoProxyMatches("[fd00::]/8", "fd12::1"));
  EXPECT_TRUE(https::NoProxyMatches("::1", "::1"));
  EXPECT_FALSE(https::NoProxyMatches("0.0.0.1", "localhost"));
  EXPECT_FALSE(https::NoProxyMatches("", "localhost"));
}

TEST(ProxyEnvironment, OrderSchemesAndCredentials) {
  auto server = https::ParseServerUrl("https://10.96.0.1:6443");
  ASSERT_TRUE(server.has_value());
  std::map<std::string, std::string> env;
  auto get = [&env](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto none = https::ProxyFromEnvironment(*server, get);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
  env["HTTPS_PROXY"] = "proxy.corp:3128";
  env["https_proxy"] = "http://u%40x:p%3Ass@lower.corp";
  auto p = https::ProxyFromEnvironment(*server, get);
  ASSERT_TRUE(p.has_value() && p->has_value());
  EXPECT_EQ((*p)->host, "lower.corp");
  EXPECT_EQ((*p)->port, 1080);
  EXPECT_EQ((*p)->authorization, "Basic dUB4OnA6c3M=");  // base64("u@x:p:ss")
  EXPECT_EQ((*p)->url.find("p:ss"), std::string::npos) << (*p)->url;
  env.erase("https_proxy");
  p = https::ProxyFromEnvironment(*server, get);
  ASSERT_TRUE(p.has_value() && p->has_value());
  EXPECT_EQ((*p)->host, "proxy.corp");
  EXPECT_EQ((*p)->port, 3128);
  env["NO_PROXY"] = "10.96.0.0/12";
  p = https::ProxyFromEnvironment(*server, get);
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->has_value());
  env.erase("NO_PROXY");
  env["HTTPS_PROXY"] = "socks5://proxy.corp";
  p = https::ProxyFromEnvironment(*server, get);
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("socks5"), std::string::npos) << p.error().message;
  EXPECT_EQ(p.error().path, "HTTPS_PROXY");
}

TEST(ServerUrl, Forms) {
  auto a = https::ParseServerUrl("https://[fd00::1]:6443/prefix/");
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_EQ(a->host, "fd00::1");
  EXPECT_TRUE(a->host_is_ip);
  EXPECT_EQ(a->prefix, "/prefix");
  EXPECT_EQ(a->HostHeader(), "[fd00::1]:6443");
  auto b = https::ParseServerUrl("https://kubernetes.default.svc");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(b->HostHeader(), "kubernetes.default.svc");
  EXPECT_FALSE(https::ParseServerUrl("https://h:99999").has_value());
  EXPECT_FALSE(https::ParseServerUrl("https://user@h").has_value());
  EXPECT_FALSE(https::ParseServerUrl("http://h").has_value());
}

// tests/kube/connect_proxy.py, stopped when the object goes.
class ConnectProxy {
 public:
  explicit ConnectProxy(cvm::testing::TempTree& tmp, const std::string& require_auth = "") {
    std::string ports = tmp.Abs("proxy-ports" + require_auth.substr(0, 1));
    log_ = tmp.Abs("proxy-log" + require_auth.substr(0, 1));
    std::vector<std::string> argv = {CVM_PYTHON3, CVM_SOURCE_DIR "/tests/kube/connect_proxy.py",
                                     "--ports-file", ports, "--log", log_};
    if (!require_auth.empty()) {
      argv.push_back("--require-auth");
      argv.push_back(require_auth);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (::posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0)
      throw std::runtime_error("cannot start connect_proxy.py");
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::ifstream in(ports);
      if (!(in >> port_)) std::this_thread::sleep_for(25ms);
    }
  }
  ~ConnectProxy() {
    ::kill(pid_, SIGTERM);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  int port() const { return port_; }
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    std::ifstream in(log_);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class HttpsClient : public ::testing::Test {
 protected:
  void SetUp() override { server_.SetStandardState(); }
  RestConfig Config(const std::string& server = "") {
    RestConfig rc;
    rc.server = server.empty() ? server_.Url() : server;
    rc.ca_pem = cvm::testing::ReadText(server_.Cert("ca.crt"));
    rc.token = "admin-token";
    rc.source = "test";
    return rc;
  }
  static ClientOptions Fast() {
    ClientOptions o;
    o.timeout = 1500ms;
    o.connect_timeout = 1000ms;
    o.max_attempts = 3;
    o.backoff_initial = 10ms;
    o.backoff_max = 40ms;
    return o;
  }
  std::unique_ptr<Client> Make(RestConfig rc, ClientOptions o = Fast()) {
    auto c = Client::Create(std::move(rc), o);
    EXPECT_TRUE(c.has_value()) << c.error().message;
    return c.has_value() ? std::move(*c) : nullptr;
  }
  TestApiServer server_;
};

TEST_F(HttpsClient, ChunkedAnswerIsDecoded) {
  server_.AddFaults({{{"method", "GET"}, {"action", "chunked"}, {"chunk", 5}}});
  auto c = Make(Config());
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ((*node)["metadata"]["name"], "node-a");
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 1);
  // The connection stays usable after a chunked answer.
  auto again = c->Get("/api/v1/nodes/node-b");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  auto log = server_.Requests();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0]["peer_port"], log[1]["peer_port"]);
}

TEST_F(HttpsClient, OneConnectionIsKeptButNeverForPostOrJsonPatch) {
  auto c = Make(Config());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->Get("/api/v1/nodes/node-a").has_value());
  auto ev = c->Post("/api/v1/namespaces/default/events",
                    {{"metadata", {{"name", "e1"}}},
                     {"involvedObject", {{"kind", "Node"}, {"name", "node-a"}}},
                     {"reason", "Verdict"},
                     {"message", "m"},
                     {"type", "Normal"}});
  ASSERT_TRUE(ev.has_value()) << ev.error().message;
  ASSERT_TRUE(c->Get("/api/v1/nodes/node-a").has_value());
  auto log = server_.Requests();
  ASSERT_EQ(log.size(), 5u);
  std::set<int> first3;
  for (int i = 0; i < 3; ++i) first3.insert(log[i]["peer_port"].get<int>());
  EXPECT_EQ(first3.size(), 1u) << log.dump();
  EXPECT_NE(log[3]["peer_port"], log[0]["peer_port"]) << "the POST rode a kept connection";
  EXPECT_EQ(log[3]["method"], "POST");
  for (const auto& e : log) EXPECT_EQ(e["user_agent"], "cvm-preflight");
}

TEST_F(HttpsClient, TruncatedChunkIsAParseErrorAndGetIsRetried) {
  server_.AddFaults({{{"method", "GET"},
                      {"action", "raw"},
                      {"data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"}}});
  auto c = Make(Config());
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 2);
  server_.AddFaults({{{"method", "POST"},
                      {"action", "raw"},
                      {"data", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"}}});
  auto r = c->Post("/api/v1/namespaces/default/events", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("connection failed (response parse: the connection closed "
                                   "inside the chunked body"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(server_.port())),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(server_.Count("POST", "/api/v1/namespaces/default/events"), 1);
}

TEST_F(HttpsClient, OverlongHeaderLineIsAnErrorNotACrash) {
  server_.AddFaults({{{"method", "GET"},
                      {"times", 3},
                      {"action", "raw"},
                      {"data", "HTTP/1.1 200 OK\r\nX-Junk: " + std::string(100000, 'x') + "\r\n\r\n"}}});
  auto c = Make(Config());
  auto r = c->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("gave up after 3 attempts: connection failed (response "
                                   "parse: a line longer than 16384 bytes"),
            std::string::npos)
      << r.error().message.substr(0, 300);
  EXPECT_LT(r.error().message.size(), 600u);
}

TEST_F(HttpsClient, ServerThatStallsMidAnswerTimesOut) {
  server_.AddFaults({{{"method", "POST"},
                      {"action", "raw"},
                      {"data", "HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{\"kind\""},
                      {"seconds", 3}}});
  ClientOptions o = Fast();
  o.timeout = 300ms;
  auto c = Make(Config(), o);
  auto start = std::chrono::steady_clock::now();
  auto r = c->Post("/api/v1/namespaces/default/events", {{"metadata", {{"name", "x"}}}});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("POST /api/v1/namespaces/default/events: no answer within "
                                   "300 ms (timed out after 300 ms reading the answer of"),
            std::string::npos)
      << r.error().message;
  EXPECT_LT(took, 1500ms);
}

TEST_F(HttpsClient, CancellationEndsAWaitWithinASlice) {
  server_.AddFaults({{{"method", "GET"}, {"action", "delay"}, {"seconds", 3}}});
  ClientOptions o = Fast();
  o.timeout = 10s;
  auto start = std::chrono::steady_clock::now();
  o.cancelled = [start] { return std::chrono::steady_clock::now() - start > 200ms; };
  auto c = Make(Config(), o);
  auto r = c->Get("/api/v1/nodes/node-a");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "GET /api/v1/nodes/node-a: cancelled");
  EXPECT_LT(took, 800ms);
}

TEST_F(HttpsClient, NameAndSniAndAWrongHostCertificate) {
  // By name: SNI goes out and the DNS SAN is checked.
  auto c = Make(Config("https://localhost:" + std::to_string(server_.port())));
  auto ok = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  server_.ServeCert("wrong-host");
  auto c2 = Make(Config("https://localhost:" + std::to_string(server_.port())));
  auto bad = c2->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find(
                "TLS: the server's certificate is not trusted by the cluster's CA: certificate "
                "verify failed for localhost:" +
                std::to_string(server_.port()) + ": hostname mismatch"),
            std::string::npos)
      << bad.error().message;
  EXPECT_EQ(bad.error().message.find("attempts"), std::string::npos) << bad.error().message;
  // insecure-skip-tls-verify accepts it.
  RestConfig rc = Config("https://localhost:" + std::to_string(server_.port()));
  rc.insecure_skip_tls_verify = true;
  rc.ca_pem.clear();
  auto c3 = Make(rc);
  auto skip = c3->Get("/api/v1/nodes/node-a");
  EXPECT_TRUE(skip.has_value()) << skip.error().message;
}

TEST_F(HttpsClient, UntrustedCaNamesX509sReason) {
  RestConfig rc = Config();
  rc.ca_pem = cvm::testing::ReadText(server_.Cert("other-ca.crt"));
  auto c = Make(rc);
  auto r = c->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(r.has_value());
  // X509_verify_cert_error_string's reason follows the server's address.
  const std::string at = "certificate verify failed for 127.0.0.1:" +
                         std::to_string(server_.port()) + ": ";
  std::size_t pos = r.error().message.find(at);
  ASSERT_NE(pos, std::string::npos) << r.error().message;
  EXPECT_GT(r.error().message.size(), pos + at.size() + 5) << r.error().message;
  EXPECT_EQ(r.error().message.find("attempts"), std::string::npos) << r.error().message;
}

TEST_F(HttpsClient, BadCaPemIsAnErrorAtCreate) {
  RestConfig rc = Config();
  rc.ca_pem = "not a certificate";
  auto c = Client::Create(rc, Fast());
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("holds no PEM certificate"), std::string::npos)
      << c.error().message;
}

TEST_F(HttpsClient, ThroughAConnectProxyAndNoProxy) {
  ConnectProxy proxy(server_.tmp());
  ASSERT_GT(proxy.port(), 0);
  ScopedEnv https_proxy("https_proxy", "http://127.0.0.1:" + std::to_string(proxy.port()));
  ScopedEnv no_proxy("no_proxy", "");
  auto c = Make(Config());
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  auto lines = proxy.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "127.0.0.1:" + std::to_string(server_.port()) + " -");
  {
    ScopedEnv np("no_proxy", "example.com, 127.0.0.0/8");
    auto direct = Make(Config());
    ASSERT_TRUE(direct->Get("/api/v1/nodes/node-a").has_value());
    EXPECT_EQ(proxy.Lines().size(), 1u);
  }
}

TEST_F(HttpsClient, ProxyCredentialsAndAProxyThatRefuses) {
  ConnectProxy proxy(server_.tmp(), "agent:s3cret");
  ASSERT_GT(proxy.port(), 0);
  ScopedEnv no_proxy("no_proxy", "");
  {
    ScopedEnv p("https_proxy", "http://agent:s3cret@127.0.0.1:" + std::to_string(proxy.port()));
    auto c = Make(Config());
    auto node = c->Get("/api/v1/nodes/node-a");
    ASSERT_TRUE(node.has_value()) << node.error().message;
  }
  {
    ScopedEnv p("https_proxy", "http://agent:wrong@127.0.0.1:" + std::to_string(proxy.port()));
    auto c = Make(Config());
    auto r = c->Get("/api/v1/nodes/node-a");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("the proxy http://agent:***@127.0.0.1:" +
                                     std::to_string(proxy.port()) +
                                     " answered 407 Proxy Authentication Required"),
              std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find("wrong"), std::string::npos) << r.error().message;
  }
  {
    ScopedEnv p("https_proxy", "http://127.0.0.1:1");
    auto c = Make(Config());
    auto r = c->Get("/api/v1/nodes/node-a");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("connection failed (connect to 127.0.0.1:1: Connection refused"),
              std::string::npos)
        << r.error().message;
  }
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 1);
}

}  // namespace
}  // namespace cvm::exporter::kube
