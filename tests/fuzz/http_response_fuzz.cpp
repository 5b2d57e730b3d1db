// libFuzzer target for the Kubernetes client's HTTP/1.1 response parser
// (exporter/kube/http_response.h: status line, header fields, chunked
// framing) and the transport's other parsers of outside text (the server
// URL, a proxy URL and NO_PROXY from the environment). The input is parsed
// whole and again fed in pieces whose sizes come from its own bytes: both
// must end alike (state, status, body), so a bug of the incremental state
// machine shows as a crash here. Seeds: answers captured from the API test
// server (tests/data/http-responses/, README there).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "exporter/kube/http_response.h"
#include "exporter/kube/https.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using cvm::exporter::kube::http::ResponseLimits;
  using cvm::exporter::kube::http::ResponseParser;
  ResponseLimits limits;
  limits.max_body = 1u << 16;
  limits.max_line = 1024;
  limits.max_header_bytes = 8192;
  limits.max_headers = 64;
  ResponseParser whole(limits);
  auto a = cvm::exporter::kube::http::ParseWholeResponse(in, whole);
  ResponseParser pieces(limits);
  std::size_t at = 0;
  std::size_t step = size > 0 ? static_cast<unsigned char>(in[0]) % 17 + 1 : 1;
  while (at < size && pieces.state() == ResponseParser::State::kMore) {
    std::size_t n = std::min(step, size - at);
    pieces.Feed(in.substr(at, n));
    at += n;
    step = step % 13 + 1;
  }
  auto b = pieces.state() == ResponseParser::State::kMore ? pieces.Finish() : pieces.state();
  if (a != b) std::abort();
  if (a == ResponseParser::State::kDone &&
      (whole.response().status != pieces.response().status ||
       whole.response().body != pieces.response().body))
    std::abort();
  if (whole.response().body.size() > limits.max_body) std::abort();

  // The same bytes as a server URL, a proxy variable and a NO_PROXY list.
  std::string text(in.substr(0, 512));
  auto url = cvm::exporter::kube::https::ParseServerUrl(text);
  (void)cvm::exporter::kube::https::NoProxyMatches(text, "10.96.0.1");
  (void)cvm::exporter::kube::https::NoProxyMatches(text, "api.example.com");
  if (url.has_value()) {
    (void)url->HostHeader();
    auto env = [&text](const char* name) -> const char* {
      return std::string_view(name) == "HTTPS_PROXY" ? text.c_str() : nullptr;
    };
    (void)cvm::exporter::kube::https::ProxyFromEnvironment(*url, env);
  }
  cvm::exporter::kube::https::ServerUrl fixed;
  fixed.host = "10.96.0.1";
  auto env = [&text](const char* name) -> const char* {
    return std::string_view(name) == "HTTPS_PROXY" ? text.c_str() : nullptr;
  };
  (void)cvm::exporter::kube::https::ProxyFromEnvironment(fixed, env);
  return 0;
}
