#include "exporter/kube/https.h"

#include "exporter/openssl_errors.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "probe/detail/unique_fd.h"

namespace cvm::exporter::kube::https {
namespace {

using Clock = std::chrono::steady_clock;
using probe::detail::UniqueFd;

// One RAII alias per OpenSSL handle (STYLE.md section 7).
struct SslCtxFree {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const noexcept { SSL_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct StoreFree {
  void operator()(X509_STORE* p) const noexcept { X509_STORE_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;

// Debian's CA bundle (ca-certificates), which the image carries alone
// (image/make_rootfs.sh): libcurl's default before, loaded by name because
// the image has no /usr/lib/ssl/cert.pem link to it.
constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";
constexpr std::chrono::milliseconds kSlice{50};


BioPtr MemBio(std::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate of a PEM text.
std::vector<X509Ptr> ReadCerts(std::string_view pem) {
  std::vector<X509Ptr> out;
  if (pem.size() > (64u << 20)) return out;
  BioPtr bio = MemBio(pem);
  if (!bio) return out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(x);
  ERR_clear_error();  // the end of the text reads as an error
  return out;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Base64(std::string_view in) {
  static constexpr char k[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    int v = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr == s.data() + i + 3) {
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "host[:port]" with IPv6 in brackets; port 0 when none.
Result<std::pair<std::string, int>> SplitHostPort(std::string_view hp, std::string_view what) {
  std::string host;
  std::string_view rest;
  if (!hp.empty() && hp.front() == '[') {
    std::size_t close = hp.find(']');
    if (close == std::string_view::npos)
      return MakeError(std::string(what), "an IPv6 address without its closing ]");
    host = std::string(hp.substr(1, close - 1));
    rest = hp.substr(close + 1);
  } else {
    std::size_t colon = hp.find(':');
    host = std::string(hp.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : hp.substr(colon);
  }
  if (host.empty()) return MakeError(std::string(what), "no host");
  int port = 0;
  if (!rest.empty()) {
    if (rest.front() != ':' || rest.size() < 2)
      return MakeError(std::string(what), "junk after the host");
    std::string_view p = rest.substr(1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535)
      return MakeError(std::string(what), "the port \"" + std::string(p) + "\" is not 1-65535");
  }
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == '@' || c == '?' || c == '#')
      return MakeError(std::string(what), "the host holds a character a host name cannot");
  }
  return std::make_pair(host, port);
}

// Where a host:port goes in messages.
std::string Endpoint(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// What a wait ended with.
enum class Wait { kReady, kTimeout, kCancelled, kError };

Wait WaitFor(int fd, short events, Clock::time_point deadline,
             const std::function<bool()>& cancelled) {
  while (true) {
    if (cancelled && cancelled()) return Wait::kCancelled;
    auto now = Clock::now();
    if (now >= deadline) return Wait::kTimeout;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    int ms = static_cast<int>(std::min(left, kSlice).count());
    if (ms <= 0) ms = 1;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return Wait::kReady;
    if (r < 0 && errno != EINTR) return Wait::kError;
  }
}

// One TCP connection with TLS over memory BIOs: the socket's reads and
// writes are ours (send with MSG_NOSIGNAL, so a peer that went away is an
// error and not a SIGPIPE; every wait a poll slice that asks `cancelled`).
struct Connection {
  UniqueFd fd;
  SslPtr ssl;
  BIO* rbio = nullptr;  // owned by ssl
  BIO* wbio = nullptr;  // owned by ssl
  std::string identity;  // the client certificate it was opened with
  bool peer_eof = false;
  std::size_t app_bytes_sent = 0;  // after the handshake
  bool counting = false;
};

struct Step {
  Failure failure = Failure::kNone;
  std::string error;
};

}  // namespace

std::string ServerUrl::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != 443) h += ":" + std::to_string(port);
  return h;
}

Result<ServerUrl> ParseServerUrl(std::string_view url) {
  std::string what = "server \"" + std::string(url) + "\"";
  if (url.substr(0, 8) != "https://") return MakeError(what, "not an https:// URL");
  std::string_view rest = url.substr(8);
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view hp = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (hp.find('@') != std::string_view::npos)
    return MakeError(what, "credentials in the URL are not supported");
  if (path.find_first_of("?#") != std::string_view::npos)
    return MakeError(what, "a query or fragment in the server URL");
  auto split = SplitHostPort(hp, what);
  if (!split) return split.error();
  ServerUrl s;
  s.host = split->first;
  if (split->second != 0) s.port = split->second;
  s.host_is_ip = IsIpLiteral(s.host);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  s.prefix = std::string(path);
  return s;
}

bool NoProxyMatches(std::string_view no_proxy, std::string_view host_in) {
  std::string host = Lower(host_in);
  while (!host.empty() && host.back() == '.') host.pop_back();
  in6_addr h6{};
  in_addr h4{};
  bool host_v4 = inet_pton(AF_INET, host.c_str(), &h4) == 1;
  bool host_v6 = !host_v4 && inet_pton(AF_INET6, host.c_str(), &h6) == 1;
  std::string_view list = no_proxy;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view e = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) e.remove_prefix(1);
    while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) e.remove_suffix(1);
    if (e.empty()) continue;
    if (e == "*") return true;
    std::string entry = Lower(e);
    if (!entry.empty() && entry.front() == '[') {
      std::size_t close = entry.find(']');
      if (close == std::string::npos) continue;
      entry = entry.substr(1, close - 1) + entry.substr(close + 1);
    }
    // A CIDR or a plain address.
    std::string addr = entry;
    int bits = -1;
    if (std::size_t slash = entry.find('/'); slash != std::string::npos) {
      addr = entry.substr(0, slash);
      std::string_view b = std::string_view(entry).substr(slash + 1);
      auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
      if (ec != std::errc() || p != b.data() + b.size() || bits < 0) continue;
    }
    in_addr e4{};
    in6_addr e6{};
    if (inet_pton(AF_INET, addr.c_str(), &e4) == 1) {
      if (!host_v4) continue;
      if (bits < 0 || bits > 32) bits = 32;
      uint32_t mask = bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - bits));
      if ((e4.s_addr & mask) == (h4.s_addr & mask)) return true;
      continue;
    }
    if (inet_pton(AF_INET6, addr.c_str(), &e6) == 1) {
      if (!host_v6) continue;
      if (bits < 0 || bits > 128) bits = 128;
      bool same = true;
      for (int i = 0; i < 16 && same; ++i) {
        int keep = std::clamp(bits - i * 8, 0, 8);
        unsigned char m = static_cast<unsigned char>(keep == 0 ? 0 : 0xff << (8 - keep));
        same = (e6.s6_addr[i] & m) == (h6.s6_addr[i] & m);
      }
      if (same) return true;
      continue;
    }
    if (host_v4 || host_v6) continue;  // a name never matches an address
    // A name: itself or a subdomain; a leading dot is optional; a port is
    // ignored.
    if (std::size_t colon = entry.find(':'); colon != std::string::npos) entry.resize(colon);
    while (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    while (!entry.empty() && entry.back() == '.') entry.pop_back();
    if (entry.empty()) continue;
    if (host == entry) return true;
    if (host.size() > entry.size() &&
        host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
        host[host.size() - entry.size() - 1] == '.')
      return true;
  }
  return false;
}

Result<std::optional<Proxy>> ProxyFromEnvironment(
    const ServerUrl& server,
    const std::function<const char*(const char*)>& getenv) {
  const char* var = nullptr;
  const char* value = nullptr;
  for (const char* name : {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* v = getenv(name);
    if (v != nullptr && *v != '\0') {
      var = name;
      value = v;
      break;
    }
  }
  if (value == nullptr) return std::optional<Proxy>();
  for (const char* name : {"no_proxy", "NO_PROXY"}) {
    const char* v = getenv(name);
    if (v != nullptr && *v != '\0') {
      if (NoProxyMatches(v, server.host)) return std::optional<Proxy>();
      break;
    }
  }
  std::string what = std::string(var);
  std::string_view u = value;
  std::size_t scheme_end = u.find("://");
  if (scheme_end != std::string_view::npos) {
    std::string scheme = Lower(u.substr(0, scheme_end));
    if (scheme != "http")
      return MakeError(what, "the proxy scheme \"" + scheme +
                                 "://\" is not supported (only http:// proxies, with CONNECT)");
    u.remove_prefix(scheme_end + 3);
  }
  u = u.substr(0, u.find_first_of("/?#"));
  Proxy p;
  std::string shown = "http://";
  if (std::size_t at = u.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = u.substr(0, at);
    std::size_t colon = cred.find(':');
    std::string user = PercentDecode(cred.substr(0, colon));
    std::string pass =
        colon == std::string_view::npos ? std::string() : PercentDecode(cred.substr(colon + 1));
    p.authorization = "Basic " + Base64(user + ":" + pass);
    shown += user + ":***@";
    u.remove_prefix(at + 1);
  }
  auto split = SplitHostPort(u, what);
  if (!split) return split.error();
  p.host = split->first;
  if (split->second != 0) p.port = split->second;
  p.url = shown + Endpoint(p.host, p.port);
  return std::optional<Proxy>(std::move(p));
}

struct Transport::Impl {
  ServerUrl server;
  std::optional<Proxy> proxy;
  TlsConfig tls;
  SslCtxPtr ctx;
  std::unique_ptr<Connection> kept;

  std::string ServerEndpoint() const { return Endpoint(server.host, server.port); }

  // Socket I/O under the deadline.
  Step SendRaw(Connection& c, std::string_view data, Clock::time_point deadline,
               const std::function<bool()>& cancelled, const char* doing);
  Step Flush(Connection& c, Clock::time_point deadline,
             const std::function<bool()>& cancelled, const char* doing);
  Step Fill(Connection& c, Clock::time_point deadline,
            const std::function<bool()>& cancelled, const char* doing);

  Step Open(Connection& c, const ClientCert& cert, const Limits& limits, Clock::time_point start,
            const std::function<bool()>& cancelled);
  Step Connect(Connection& c, const std::string& host, int port, Clock::time_point deadline,
               const std::function<bool()>& cancelled, const Limits& limits);
  Step Tunnel(Connection& c, Clock::time_point deadline, const std::function<bool()>& cancelled,
              const Limits& limits);
  Step Handshake(Connection& c, const ClientCert& cert, Clock::time_point deadline,
                 const std::function<bool()>& cancelled, const Limits& limits);
  bool StillOpen(Connection& c);
  Outcome Exchange(Connection& c, const std::string& wire, const Limits& limits,
                   Clock::time_point deadline, const std::function<bool()>& cancelled,
                   Clock::time_point start);
  Outcome ExchangeWith(http::ResponseParser& parser, Connection& c, const std::string& wire,
                       const Limits& limits, Clock::time_point deadline,
                       const std::function<bool()>& cancelled, Clock::time_point start);
};

Step Transport::Impl::SendRaw(Connection& c, std::string_view data, Clock::time_point deadline,
                              const std::function<bool()>& cancelled, const char* doing) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(c.fd.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      if (c.counting) c.app_bytes_sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Wait w = WaitFor(c.fd.get(), POLLOUT, deadline, cancelled);
      if (w == Wait::kReady) continue;
      if (w == Wait::kCancelled) return {Failure::kCancelled, "cancelled"};
      if (w == Wait::kTimeout) return {Failure::kTimeout, std::string(doing) + ": timed out"};
      return {Failure::kSend, std::string(doing) + ": poll: " + std::strerror(errno)};
    }
    return {Failure::kSend, std::string(doing) + " " + ServerEndpoint() + ": " +
                                std::strerror(n < 0 ? errno : EPIPE)};
  }
  return {};
}

Step Transport::Impl::Flush(Connection& c, Clock::time_point deadline,
                            const std::function<bool()>& cancelled, const char* doing) {
  char* p = nullptr;
  long n = BIO_get_mem_data(c.wbio, &p);
  if (n <= 0) return {};
  Step s = SendRaw(c, std::string_view(p, static_cast<std::size_t>(n)), deadline, cancelled, doing);
  (void)BIO_reset(c.wbio);
  return s;
}

Step Transport::Impl::Fill(Connection& c, Clock::time_point deadline,
                           const std::function<bool()>& cancelled, const char* doing) {
  char buf[16384];
  while (true) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      BIO_write(c.rbio, buf, static_cast<int>(n));
      return {};
    }
    if (n == 0) {
      c.peer_eof = true;
      BIO_set_mem_eof_return(c.rbio, 0);  // the next SSL read sees the end
      return {};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      Wait w = WaitFor(c.fd.get(), POLLIN, deadline, cancelled);
      if (w == Wait::kReady) continue;
      if (w == Wait::kCancelled) return {Failure::kCancelled, "cancelled"};
      if (w == Wait::kTimeout) return {Failure::kTimeout, std::string(doing) + ": timed out"};
      return {Failure::kReceive, std::string(doing) + ": poll: " + std::strerror(errno)};
    }
    return {Failure::kReceive,
            std::string(doing) + " " + ServerEndpoint() + ": " + std::strerror(errno)};
  }
}

Step Transport::Impl::Connect(Connection& c, const std::string& host, int port,
                              Clock::time_point deadline, const std::function<bool()>& cancelled,
                              const Limits& limits) {
  std::string where = Endpoint(host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  // getaddrinfo cannot be cancelled or timed: the resolver's own timeouts
  // (resolv.conf) apply; an IP-address server (the in-cluster case) needs
  // no lookup.
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    return {Failure::kResolve, "resolve " + host + ": " +
                                   (rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc))};
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(res, &::freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol));
    if (!fd.valid()) {
      last = std::strerror(errno);
      continue;
    }
    int one = 1;
    // As the API server's side does: no Nagle delay between header and body.
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = std::strerror(errno);
        continue;
      }
      Wait w = WaitFor(fd.get(), POLLOUT, deadline, cancelled);
      if (w == Wait::kCancelled) return {Failure::kCancelled, "cancelled"};
      if (w == Wait::kTimeout) {
        return {Failure::kConnect, "connect to " + where + ": no connection within " +
                                       std::to_string(limits.connect_timeout.count()) + " ms"};
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (w == Wait::kError) err = errno;
      else if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        last = std::strerror(err);
        continue;
      }
    }
    c.fd = std::move(fd);
    return {};
  }
  return {Failure::kConnect, "connect to " + where + ": " + last};
}

Step Transport::Impl::Tunnel(Connection& c, Clock::time_point deadline,
                             const std::function<bool()>& cancelled, const Limits& limits) {
  std::string target = Endpoint(server.host, server.port);
  std::string req = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!proxy->authorization.empty()) req += "Proxy-Authorization: " + proxy->authorization + "\r\n";
  req += "\r\n";
  std::string via = "the proxy " + proxy->url;
  Step s = SendRaw(c, req, deadline, cancelled, "CONNECT through the proxy to");
  if (s.failure != Failure::kNone) {
    if (s.failure == Failure::kSend) s.failure = Failure::kProxy;
    return s;
  }
  http::ResponseLimits rl;
  rl.max_body = 0;
  http::ResponseParser parser(rl, /*no_body=*/true);
  char buf[1];  // one byte at a time: nothing of the TLS stream may be read here
  while (parser.state() == http::ResponseParser::State::kMore) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      parser.Feed(std::string_view(buf, 1));
      continue;
    }
    if (n == 0) {
      parser.Finish();
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return {Failure::kProxy, via + ": " + std::strerror(errno)};
    Wait w = WaitFor(c.fd.get(), POLLIN, deadline, cancelled);
    if (w == Wait::kCancelled) return {Failure::kCancelled, "cancelled"};
    if (w == Wait::kTimeout)
      return {Failure::kConnect, via + ": no answer to CONNECT " + target + " within " +
                                     std::to_string(limits.connect_timeout.count()) + " ms"};
  }
  if (parser.state() != http::ResponseParser::State::kDone)
    return {Failure::kProxy, via + ": " + parser.error()};
  int st = parser.response().status;
  if (st < 200 || st > 299) {
    return {Failure::kProxy, via + " answered " + std::to_string(st) +
                                 (parser.response().reason.empty() ? "" : " " + parser.response().reason) +
                                 " to CONNECT " + target};
  }
  return {};
}

Step Transport::Impl::Handshake(Connection& c, const ClientCert& cert, Clock::time_point deadline,
                                const std::function<bool()>& cancelled, const Limits& limits) {
  std::string where = ServerEndpoint();
  c.ssl.reset(SSL_new(ctx.get()));
  if (!c.ssl) return {Failure::kHandshake, "TLS with " + where + ": SSL_new: " + cvm::exporter::OpenSslErrors()};
  c.rbio = BIO_new(BIO_s_mem());
  c.wbio = BIO_new(BIO_s_mem());
  if (c.rbio == nullptr || c.wbio == nullptr) {
    BIO_free(c.rbio);
    BIO_free(c.wbio);
    c.rbio = c.wbio = nullptr;
    return {Failure::kHandshake, "TLS with " + where + ": out of memory"};
  }
  SSL_set_bio(c.ssl.get(), c.rbio, c.wbio);
  SSL* ssl = c.ssl.get();
  if (tls.verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = server.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server.host.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, server.host.c_str(), 0);
    if (ok != 1)
      return {Failure::kCertProblem, "TLS with " + where + ": cannot check the name: " + cvm::exporter::OpenSslErrors()};
  }
  if (!server.host_is_ip) SSL_set_tlsext_host_name(ssl, server.host.c_str());
  if (!cert.cert_pem.empty() || !cert.key_pem.empty()) {
    auto certs = ReadCerts(cert.cert_pem);
    if (certs.empty())
      return {Failure::kCertProblem, "the client certificate holds no PEM certificate"};
    BioPtr kb = MemBio(cert.key_pem);
    PkeyPtr key(kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key)
      return {Failure::kCertProblem, "the client key is not a PEM private key: " + cvm::exporter::OpenSslErrors()};
    if (SSL_use_certificate(ssl, certs[0].get()) != 1 || SSL_use_PrivateKey(ssl, key.get()) != 1 ||
        SSL_check_private_key(ssl) != 1) {
      return {Failure::kCertProblem,
              "the client certificate and key do not go together: " + cvm::exporter::OpenSslErrors()};
    }
    for (std::size_t i = 1; i < certs.size(); ++i) SSL_add1_chain_cert(ssl, certs[i].get());
  }
  ERR_clear_error();
  while (true) {
    int r = SSL_connect(ssl);
    Step f = Flush(c, deadline, cancelled, "TLS handshake with");
    if (f.failure == Failure::kTimeout) break;
    if (f.failure != Failure::kNone) {
      if (f.failure == Failure::kSend) f.failure = Failure::kHandshake;
      return f;
    }
    if (r == 1) return {};
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ && !c.peer_eof) {
      Step s = Fill(c, deadline, cancelled, "TLS handshake with");
      if (s.failure == Failure::kTimeout) break;
      if (s.failure != Failure::kNone) {
        if (s.failure == Failure::kReceive) s.failure = Failure::kHandshake;
        return s;
      }
      continue;
    }
    long v = SSL_get_verify_result(ssl);
    if (tls.verify && v != X509_V_OK) {
      ERR_clear_error();
      return {Failure::kVerify, "certificate verify failed for " + where + ": " +
                                    X509_verify_cert_error_string(v)};
    }
    std::string why = cvm::exporter::OpenSslErrors();
    if (why.empty()) why = c.peer_eof ? "the server closed the connection" : "SSL error " + std::to_string(e);
    return {Failure::kHandshake, "TLS handshake with " + where + ": " + why};
  }
  return {Failure::kConnect, "TLS handshake with " + where + ": not done within " +
                                 std::to_string(limits.connect_timeout.count()) + " ms"};
}

Step Transport::Impl::Open(Connection& c, const ClientCert& cert, const Limits& limits,
                           Clock::time_point start, const std::function<bool()>& cancelled) {
  auto deadline = start + std::min(limits.connect_timeout, limits.timeout);
  const std::string& host = proxy ? proxy->host : server.host;
  int port = proxy ? proxy->port : server.port;
  Step s = Connect(c, host, port, deadline, cancelled, limits);
  if (s.failure == Failure::kNone && proxy) s = Tunnel(c, deadline, cancelled, limits);
  if (s.failure == Failure::kNone) s = Handshake(c, cert, deadline, cancelled, limits);
  if (proxy && s.failure != Failure::kNone && s.failure != Failure::kCancelled &&
      s.error.find("proxy") == std::string::npos)
    s.error += " (through the proxy " + proxy->url + ")";
  c.identity = cert.cert_pem + '\0' + cert.key_pem;
  return s;
}

bool Transport::Impl::StillOpen(Connection& c) {
  // A kept connection the server closed while idle reads as EOF (or
  // shows a close_notify); anything readable but a TLS 1.3 session ticket
  // means it is not fit to carry a request.
  pollfd p{c.fd.get(), POLLIN, 0};
  int r = ::poll(&p, 1, 0);
  if (r == 0) return true;
  if (r < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return false;
  if (Fill(c, Clock::now() + std::chrono::milliseconds(1), nullptr, "peek").failure !=
      Failure::kNone)
    return false;
  if (c.peer_eof) return false;
  char b;
  std::size_t got = 0;
  ERR_clear_error();
  int pr = SSL_peek_ex(c.ssl.get(), &b, 1, &got);
  bool alive = pr != 1 && SSL_get_error(c.ssl.get(), pr) == SSL_ERROR_WANT_READ;
  ERR_clear_error();
  return alive && Flush(c, Clock::now() + kSlice, nullptr, "peek").failure == Failure::kNone;
}

Outcome Transport::Impl::Exchange(Connection& c, const std::string& wire, const Limits& limits,
                                  Clock::time_point deadline,
                                  const std::function<bool()>& cancelled,
                                  Clock::time_point start) {
  http::ResponseLimits rl;
  rl.max_body = limits.max_body;
  http::ResponseParser parser(rl);
  Outcome out = ExchangeWith(parser, c, wire, limits, deadline, cancelled, start);
  out.answer_started = parser.started();
  return out;
}

Outcome Transport::Impl::ExchangeWith(http::ResponseParser& parser, Connection& c,
                                      const std::string& wire, const Limits& limits,
                                      Clock::time_point deadline,
                                      const std::function<bool()>& cancelled,
                                      Clock::time_point) {
  Outcome out;
  std::string where = ServerEndpoint();
  auto timed_out = [&](std::string doing) {
    out.failure = Failure::kTimeout;
    out.error = "timed out after " + std::to_string(limits.timeout.count()) + " ms " + doing +
                " " + where;
    return out;
  };
  SSL* ssl = c.ssl.get();
  ERR_clear_error();
  std::size_t written = 0;
  if (SSL_write_ex(ssl, wire.data(), wire.size(), &written) != 1 || written != wire.size()) {
    out.failure = Failure::kSend;
    out.error = "send to " + where + ": " + cvm::exporter::OpenSslErrors();
    return out;
  }
  c.counting = true;
  c.app_bytes_sent = 0;
  Step f = Flush(c, deadline, cancelled, "send to");
  out.sent = c.app_bytes_sent > 0;
  c.counting = false;
  if (f.failure != Failure::kNone) {
    if (f.failure == Failure::kTimeout) return timed_out("sending to");
    out.failure = f.failure;
    out.error = f.error;
    return out;
  }
  char buf[16384];
  while (parser.state() == http::ResponseParser::State::kMore) {
    std::size_t got = 0;
    ERR_clear_error();
    int r = SSL_read_ex(ssl, buf, sizeof buf, &got);
    if (r == 1) {
      parser.Feed(std::string_view(buf, got));
      continue;
    }
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ && !c.peer_eof) {
      Step s = Fill(c, deadline, cancelled, "receive from");
      if (s.failure == Failure::kTimeout)
        return timed_out(parser.started() ? "reading the answer of" : "waiting for an answer from");
      if (s.failure != Failure::kNone) {
        out.failure = s.failure;
        out.error = s.error;
        out.response.body.clear();
        parser.Finish();
        return out;
      }
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      parser.Finish();  // close_notify: a clean end
      break;
    }
    // The peer closed without close_notify: an answer framed by its length
    // or chunks says itself whether it is whole; one read to the end of
    // the connection might be cut.
    std::string why = cvm::exporter::OpenSslErrors();
    if (c.peer_eof && !parser.reads_to_close()) {
      parser.Finish();
      break;
    }
    out.failure = Failure::kReceive;
    out.error = "receive from " + where + ": " +
                (why.empty() ? std::string("the connection closed") : why);
    return out;
  }
  switch (parser.state()) {
    case http::ResponseParser::State::kDone:
      out.response = std::move(parser.response());
      return out;
    case http::ResponseParser::State::kTooBig:
      out.failure = Failure::kTooBig;
      out.error = parser.error();
      return out;
    default:
      // A connection that closed before any byte of an answer is a
      // receive failure (the request may be sent again); bytes that are
      // not HTTP are a parse failure.
      out.failure = parser.started() ? Failure::kParse : Failure::kReceive;
      out.error = (parser.started() ? "" : "receive from " + where + ": ") + parser.error() +
                  (parser.started() ? " (from " + where + ")" : "");
      return out;
  }
}

Result<std::unique_ptr<Transport>> Transport::Create(std::string_view server_url, TlsConfig tls,
                                                     std::string source) {
  auto server = ParseServerUrl(server_url);
  if (!server) return MakeError(source, server.error().path + ": " + server.error().message);
  auto proxy = ProxyFromEnvironment(*server, [](const char* n) { return std::getenv(n); });
  if (!proxy) return proxy.error();
  auto impl = std::make_unique<Impl>();
  impl->server = std::move(*server);
  impl->proxy = std::move(*proxy);
  impl->tls = std::move(tls);
  impl->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!impl->ctx) return MakeError("OpenSSL", "SSL_CTX_new: " + cvm::exporter::OpenSslErrors());
  SSL_CTX* ctx = impl->ctx.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  SSL_CTX_set_verify(ctx, impl->tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (impl->tls.verify) {
    if (!impl->tls.ca_pem.empty()) {
      // The cluster's CA alone, not the system's store beside it (as kubectl).
      auto certs = ReadCerts(impl->tls.ca_pem);
      if (certs.empty())
        return MakeError(source, "certificate-authority-data holds no PEM certificate");
      StorePtr store(X509_STORE_new());
      if (!store) return MakeError("OpenSSL", "X509_STORE_new failed");
      for (auto& x : certs) X509_STORE_add_cert(store.get(), x.get());
      SSL_CTX_set_cert_store(ctx, store.release());
    } else {
      SSL_CTX_set_default_verify_paths(ctx);  // SSL_CERT_FILE, SSL_CERT_DIR
      if (::access(kSystemBundle, R_OK) == 0) SSL_CTX_load_verify_file(ctx, kSystemBundle);
    }
  }
  ERR_clear_error();
  return std::unique_ptr<Transport>(new Transport(std::move(impl)));
}

Transport::Transport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Transport::~Transport() = default;

const ServerUrl& Transport::server() const { return impl_->server; }
const std::optional<Proxy>& Transport::proxy() const { return impl_->proxy; }

Outcome Transport::RoundTrip(const RequestSpec& req, const Limits& limits,
                             const std::function<bool()>& cancelled) {
  Impl& im = *impl_;
  Outcome out;
  const auto start = Clock::now();
  const auto deadline = start + limits.timeout;
  std::string wire = req.method + " " + im.server.prefix + req.target + " HTTP/1.1\r\nHost: " +
                     im.server.HostHeader() + "\r\n";
  for (const auto& [name, value] : req.headers) {
    if (name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      out.failure = Failure::kBadRequest;
      out.error = "the " + name + " header value holds a line break";
      return out;
    }
    wire += name + ": " + value + "\r\n";
  }
  if (req.method != "GET" || !req.body.empty())
    wire += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  wire += "\r\n";
  wire += req.body;
  const std::string identity = req.client_cert.cert_pem + '\0' + req.client_cert.key_pem;

  std::unique_ptr<Connection> conn;
  if (im.kept && (!req.reuse_ok || im.kept->identity != identity || !im.StillOpen(*im.kept)))
    im.kept.reset();
  if (im.kept) conn = std::move(im.kept);
  for (int round = 0; round < 2; ++round) {
    bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<Connection>();
      Step s = im.Open(*conn, req.client_cert, limits, start, cancelled);
      if (s.failure != Failure::kNone) {
        out.failure = s.failure;
        out.error = s.error;
        return out;
      }
    }
    out = im.Exchange(*conn, wire, limits, deadline, cancelled, start);
    out.reused = reused;
    // A kept connection that the server had closed before it read this
    // request gives no answer at all: once more on a fresh connection,
    // for a request that may go twice (as libcurl did).
    if (reused && req.reuse_ok && !out.answer_started &&
        (out.failure == Failure::kReceive || out.failure == Failure::kSend)) {
      conn.reset();
      continue;
    }
    break;
  }
  if (out.failure == Failure::kNone && out.response.keep_alive) im.kept = std::move(conn);
  return out;
}

}  // namespace cvm::exporter::kube::https
