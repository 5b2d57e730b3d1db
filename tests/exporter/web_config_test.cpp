// The web config parser (exporter-toolkit format) on the toolkit's own
// samples (tests/data/web-config/SOURCES.md) and on bad files; bcrypt on
// hashes made at run time by htpasswd and libxcrypt; basic auth headers.
#include "exporter/web_config.h"

#include <crypt.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter {
namespace {

using cvm::testing::ReadText;
using cvm::testing::SourcePath;

std::string Sample(const std::string& name) {
  return ReadText(SourcePath("tests/data/web-config/" + name));
}

// Runs a shell command, its stdout; fails the test when it exits non-zero.
std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen: " << cmd;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  EXPECT_EQ(status, 0) << cmd;
  return out;
}

// A bcrypt hash of `password` made by Apache's htpasswd (APR's bcrypt, not
// libxcrypt): "user:$2y$04$...".
std::string Htpasswd(const std::string& password, int cost = 4) {
  std::string line = Shell("htpasswd -nbBC " + std::to_string(cost) + " u '" + password + "'");
  std::size_t colon = line.find(':');
  std::size_t end = line.find_first_of("\r\n");
  if (colon == std::string::npos) return "";
  return line.substr(colon + 1, end == std::string::npos ? std::string::npos : end - colon - 1);
}

// A $2b$ hash made with libxcrypt itself, from a fresh random salt.
std::string XcryptHash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt) == nullptr) return "";
  crypt_data data{};
  const char* h = crypt_rn(password.c_str(), salt, &data, sizeof data);
  return h ? std::string(h) : std::string();
}

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += k[n >> 18 & 63];
    out += k[n >> 12 & 63];
    out += k[n >> 6 & 63];
    out += k[n & 63];
  }
  if (in.size() - i == 1) {
    unsigned n = (unsigned char)in[i] << 16;
    out += k[n >> 18 & 63];
    out += k[n >> 12 & 63];
    out += "==";
  } else if (in.size() - i == 2) {
    unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += k[n >> 18 & 63];
    out += k[n >> 12 & 63];
    out += k[n >> 6 & 63];
    out += '=';
  }
  return out;
}

std::string BasicHeader(const std::string& user, const std::string& password) {
  return "Basic " + Base64(user + ":" + password);
}

TEST(WebConfigParse, TheToolkitsSampleGivesTlsAndTwoUsers) {
  auto c = ParseWebConfig(Sample("toolkit-web-config.yml"), "/etc/cvm/web.yml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_TRUE(c->tls.has_value());
  TlsServerConfig want;
  want.cert_file = "/etc/cvm/server.crt";  // relative to the config's folder
  want.key_file = "/etc/cvm/server.key";
  EXPECT_EQ(*c->tls, want);
  ASSERT_EQ(c->users.size(), 2u);
  EXPECT_EQ(c->users.at("alice"), "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze");
  EXPECT_TRUE(c->users.count("bob"));
  EXPECT_TRUE(c->headers.empty());
}

TEST(WebConfigParse, TheToolkitsHeadersSampleKeepsAllFive) {
  auto c = ParseWebConfig(Sample("toolkit-headers.good.yml"), "web.yml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_FALSE(c->tls.has_value());
  std::vector<std::pair<std::string, std::string>> want = {
      {"Content-Security-Policy", "default-src 'self' *.test.example.net"},
      {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "deny"},
      {"X-XSS-Protection", "1"},
  };
  auto got = c->headers;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
}

TEST(WebConfigParse, TheToolkitsClientCertSampleVerifiesAgainstItsCa) {
  auto c = ParseWebConfig(Sample("toolkit-requireandverifyclientcert.good.yml"), "conf/web.yml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_TRUE(c->tls.has_value());
  EXPECT_EQ(c->tls->client_auth, ClientAuth::kRequireAndVerify);
  EXPECT_EQ(c->tls->client_ca_file, "conf/client_selfsigned.pem");
  EXPECT_EQ(c->tls->cert_file, "conf/server.crt");
}

TEST(WebConfigParse, AnEmptyFileOrEmptySectionsTurnNothingOn) {
  for (const char* text : {"", "# nothing\n", "tls_server_config:\nbasic_auth_users:\n",
                           "tls_server_config: {}\nhttp_server_config: {http2: false}\n"}) {
    SCOPED_TRACE(text);
    auto c = ParseWebConfig(text, "web.yml");
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(*c, WebConfig{});
  }
}

TEST(WebConfigParse, VersionsAndClientAuthAreRead) {
  auto c = ParseWebConfig(
      "tls_server_config:\n  cert_file: /a.crt\n  key_file: /a.key\n"
      "  min_version: TLS13\n  max_version: TLS13\n  client_auth_type: VerifyClientCertIfGiven\n"
      "  client_ca_file: /ca.pem\n  prefer_server_cipher_suites: false\n",
      "web.yml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->tls->min_version, TlsVersion::kTls13);
  EXPECT_EQ(c->tls->max_version, TlsVersion::kTls13);
  EXPECT_EQ(c->tls->client_auth, ClientAuth::kVerifyIfGiven);
  EXPECT_EQ(c->tls->client_ca_file, "/ca.pem");
  EXPECT_FALSE(c->tls->prefer_server_cipher_suites);
}

TEST(WebConfigParse, BadFilesNameTheFileLineAndField) {
  const std::string hash = "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze";
  struct Row {
    std::string text;
    std::string want;  // a part of the message
  };
  const Row rows[] = {
      {"tls_server_config:\n  cert_file: a\n  key_fil: b\n",
       "web.yml:3: tls_server_config.key_fil: unknown key"},
      {"tls_server_config:\n  cert_file: a\n", "tls_server_config.key_file: missing"},
      {"tls_server_config:\n  key_file: a\n", "tls_server_config.cert_file: missing"},
      {"basic_auth_users:\n  alice: notahash\n", "web.yml:2: basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  alice: $2y$10$short\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  alice: $1$abcdefgh$0123456789012345678901\n",
       "basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  al:ice: " + hash + "\n", "cannot hold ':'"},
      {"basic_auth_users:\n  alice: " + hash + "\n  alice: " + hash + "\n",
       "basic_auth_users.alice: given twice"},
      {"basic_auth_users: [alice]\n", "basic_auth_users: must be a mapping"},
      {"tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n  key_file: k\n",
       "tls_server_config.cert: inline PEM is not supported"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
       "web.yml:4: tls_server_config.cipher_suites: not supported"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [X25519]\n",
       "tls_server_config.curve_preferences: not supported"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n"
       "  client_ca_file: c\n  client_allowed_sans: [x]\n",
       "tls_server_config.client_allowed_sans: not supported"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n"
       "  client_ca_file: c\n",
       "tls_server_config.client_auth_type: 'RequireAnyClientCert' takes a client certificate"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n",
       "tls_server_config.client_auth_type: unknown value 'Sometimes'"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
       "tls_server_config.client_ca_file: set without a client_auth_type"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
       "tls_server_config.client_ca_file: missing"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
       "tls_server_config.min_version: 'TLS10' is refused"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: SSL3\n",
       "tls_server_config.min_version: unknown TLS version 'SSL3'"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n",
       "tls_server_config.max_version: is below min_version"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  prefer_server_cipher_suites: maybe\n",
       "tls_server_config.prefer_server_cipher_suites: must be true or false"},
      {"http_server_config:\n  headers:\n    X-Powered-By: me\n",
       "http_server_config.headers.X-Powered-By: this header cannot be configured"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       "http_server_config.headers.X-Frame-Options: 'allow' is not allowed (deny or sameorigin)"},
      {"http_server_config:\n  headers:\n    Content-Security-Policy: \"a\\r\\nSet-Cookie: x\"\n",
       "cannot hold a line break"},
      {"http_server_config:\n  http3: true\n", "http_server_config.http3: unknown key"},
      {"rate_limit:\n  interval: 1s\n  burst: 5\n", "rate_limit: not supported"},
      {"tls_server_config: [a]\n", "tls_server_config: must be a mapping"},
      {"- a\n- b\n", "web.yml: must be a mapping"},
      {"tls_server_config: {cert_file: a\n", "web.yml"},
      {Sample("toolkit-auth-excluded-paths.yml"),
       "web.yml:15: basic_auth_excluded_paths: unknown key"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto c = ParseWebConfig(row.text, "web.yml");
    ASSERT_FALSE(c.has_value());
    EXPECT_NE(c.error().message.find(row.want), std::string::npos) << c.error().message;
    EXPECT_EQ(c.error().message.rfind("web.yml", 0), 0u) << c.error().message;
  }
}

TEST(WebConfigLoad, CertificateAndKeyAreCheckedWithTheFieldNamed) {
  cvm::testing::TempTree t;
  std::string dir = t.path();
  Shell("cd '" + dir + "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-keyout a.key -out a.crt -days 1 -subj /CN=a 2>/dev/null && "
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null");
  t.Write("good.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n");
  auto good = LoadWebConfig(t.Abs("good.yml"));
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_EQ(good->tls->cert_file, t.Abs("a.crt"));

  t.Write("mismatch.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: other.key\n");
  auto mismatch = LoadWebConfig(t.Abs("mismatch.yml"));
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().message.find("tls_server_config.key_file: " + t.Abs("other.key") +
                                          " is not the key of"),
            std::string::npos)
      << mismatch.error().message;

  t.Write("nocert.yml", "tls_server_config:\n  cert_file: missing.crt\n  key_file: a.key\n");
  auto nocert = LoadWebConfig(t.Abs("nocert.yml"));
  ASSERT_FALSE(nocert.has_value());
  EXPECT_NE(nocert.error().message.find("tls_server_config.cert_file: " + t.Abs("missing.crt")),
            std::string::npos)
      << nocert.error().message;

  t.Write("noca.yml",
          "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n"
          "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: a.key\n");
  auto noca = LoadWebConfig(t.Abs("noca.yml"));
  ASSERT_FALSE(noca.has_value());
  EXPECT_NE(noca.error().message.find("tls_server_config.client_ca_file"), std::string::npos)
      << noca.error().message;

  auto absent = LoadWebConfig(t.Abs("absent.yml"));
  ASSERT_FALSE(absent.has_value());
  EXPECT_NE(absent.error().message.find(t.Abs("absent.yml") + ": cannot open"), std::string::npos);
}

TEST(WebConfigBcrypt, HashesFromHtpasswdAndLibxcryptMatchOnlyTheirPassword) {
  for (const std::string& hash : {Htpasswd("s3cret pass"), XcryptHash("s3cret pass")}) {
    SCOPED_TRACE(hash);
    ASSERT_TRUE(IsBcryptHash(hash));
    EXPECT_TRUE(BcryptMatches("s3cret pass", hash));
    EXPECT_FALSE(BcryptMatches("s3cret pasS", hash));
    EXPECT_FALSE(BcryptMatches("", hash));
    EXPECT_FALSE(BcryptMatches(std::string("s3cret pass\0x", 13), hash));
  }
  EXPECT_EQ(Htpasswd("x").substr(0, 7), "$2y$04$");
  EXPECT_EQ(XcryptHash("x").substr(0, 7), "$2b$04$");
}

TEST(WebConfigBcrypt, AHashFromGosBcryptMatches) {
  // exporter-toolkit web/handler.go: "This is a bcrypt-hashed version of
  // "fakepassword"" (made by golang.org/x/crypto/bcrypt).
  const std::string go_hash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
  EXPECT_TRUE(BcryptMatches("fakepassword", go_hash));
  EXPECT_FALSE(BcryptMatches("fakepassword2", go_hash));
}

TEST(WebConfigBcrypt, MalformedHashesNeverMatch) {
  std::string h = XcryptHash("pw");
  for (std::string bad : {std::string(), std::string("*0"), h.substr(0, 59), h + "x",
                          "$2x$" + h.substr(4), "$2b$03$" + h.substr(7), "$2b$99$" + h.substr(7)}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(IsBcryptHash(bad));
    EXPECT_FALSE(BcryptMatches("pw", bad));
  }
}

TEST(WebConfigBasicAuth, RightWrongAndMissingCredentials) {
  BasicAuth auth({{"alice", Htpasswd("wonder land")}, {"bob", XcryptHash("builder")}});
  ASSERT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.Allows(BasicHeader("alice", "wonder land").c_str()));
  EXPECT_TRUE(auth.Allows(BasicHeader("bob", "builder").c_str()));
  EXPECT_TRUE(auth.Allows(("basic   " + Base64("bob:builder")).c_str()));
  EXPECT_FALSE(auth.Allows(BasicHeader("alice", "builder").c_str()));
  EXPECT_FALSE(auth.Allows(BasicHeader("carol", "builder").c_str()));
  EXPECT_FALSE(auth.Allows(BasicHeader("Alice", "wonder land").c_str()));
  EXPECT_FALSE(auth.Allows(nullptr));
  EXPECT_FALSE(auth.Allows(""));
  EXPECT_FALSE(auth.Allows("Bearer abc"));
  EXPECT_FALSE(auth.Allows(("Basic " + Base64("alice")).c_str()));  // no colon
  EXPECT_FALSE(auth.Allows("Basic !!!!"));
  EXPECT_FALSE(auth.Allows(("Basic" + Base64("bob:builder")).c_str()));
  EXPECT_TRUE(BasicAuth({}).Allows(nullptr));
}

TEST(WebConfigBasicAuth, SuccessesAreCachedFailuresAndUnknownUsersCostABcrypt) {
  BasicAuth auth({{"alice", XcryptHash("pw")}});
  std::string right = BasicHeader("alice", "pw");
  EXPECT_TRUE(auth.Allows(right.c_str()));
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(auth.Allows(right.c_str()));
  EXPECT_EQ(auth.bcrypt_runs(), 1u) << "a remembered success runs no bcrypt";
  EXPECT_FALSE(auth.Allows(BasicHeader("alice", "pW").c_str()));
  EXPECT_FALSE(auth.Allows(BasicHeader("alice", "pW").c_str()));
  EXPECT_EQ(auth.bcrypt_runs(), 3u) << "failures are not remembered";
  EXPECT_FALSE(auth.Allows(BasicHeader("mallory", "pw").c_str()));
  EXPECT_EQ(auth.bcrypt_runs(), 4u) << "an unknown user costs a bcrypt, as a known one";
}

TEST(WebConfigBase64, DecodesRfc4648AndRefusesTheRest) {
  for (const std::string& s : {std::string(""), std::string("f"), std::string("fo"),
                               std::string("foo"), std::string("foob"),
                               std::string("a:b\xff\x00z", 6)}) {
    auto d = DecodeBase64(Base64(s));
    ASSERT_TRUE(d.has_value()) << Base64(s);
    EXPECT_EQ(*d, s);
  }
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v!", "Zg==Zm9v", "Zm=v"}) {
    EXPECT_FALSE(DecodeBase64(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace cvm::exporter
