// The agent as a user runs it: the real binary started on a fixture root,
// talked to over HTTP on loopback, stopped with SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/data.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CVM_HAS_ASAN 1
#endif
#endif
#ifndef CVM_HAS_ASAN
#define CVM_HAS_ASAN 0
#endif
#include "tests/support/agent_process.h"
#include "tests/support/hung_fuse.h"
#include "tests/support/temp_tree.h"

extern char** environ;

namespace cvm::exporter {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using cvm::testing::AgentProcess;
using cvm::testing::Get;
using cvm::testing::HttpGot;


std::string Root(const std::string& fixture) {
  return cvm::testing::SourcePath("fixtures/" + fixture + "/root");
}

double Sample(const std::string& exposition, const std::string& series) {
  std::size_t at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

std::string RunScan(const std::string& root) {
  std::string cmd = std::string(CVM_BINARY) + " scan --root '" + root + "' --format json 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

TEST(Agent, ServesMetricsHealthAndTheReportOfItsScan) {
  AgentProcess agent({"--root", Root("rhel-8"), "--listen", "127.0.0.1:0"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port)) << agent.Log();
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  HttpGot metrics = Get(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(Sample(metrics.body, "cvm_preflight_scans_total"), 1) << metrics.body;
  EXPECT_EQ(Sample(metrics.body, "cvm_preflight_rules_reload_success"), 1);
  EXPECT_GT(Sample(metrics.body, "process_resident_memory_bytes"), 0);
  EXPECT_NE(metrics.body.find("cvm_preflight_node_info{kernel_release="), std::string::npos);
  // A scrape never starts a scan.
  Get(port, "/metrics");
  EXPECT_EQ(Sample(Get(port, "/metrics").body, "cvm_preflight_scans_total"), 1);

  HttpGot report = Get(port, "/report");
  ASSERT_EQ(report.status, 200);
  nlohmann::json got = nlohmann::json::parse(report.body);
  nlohmann::json want = nlohmann::json::parse(RunScan(Root("rhel-8")));
  // The same report as `scan`: without a Kubernetes API the agent reads no
  // node object, so it judges as `scan` does (settings.agent false, the
  // node.* rules skipped); tests/kube/publisher_test.cpp has the other case.
  EXPECT_EQ(got["facts"]["settings"]["agent"], false);
  EXPECT_EQ(want["facts"]["settings"]["agent"], false);
  got["facts"].erase("settings");
  want["facts"].erase("settings");
  EXPECT_EQ(got["facts"], want["facts"]);
  EXPECT_EQ(got["profile"], want["profile"]);
  for (const auto& [key, value] : want.items()) {
    EXPECT_TRUE(got.contains(key)) << "the agent's report has no '" << key << "'";
  }

  EXPECT_EQ(Get(port, "/nothing").status, 404);
  EXPECT_EQ(Get(port, "/metrics", "POST").status, 405);
  EXPECT_EQ(Get(port, "/metrics", "HEAD").status, 200);
}

TEST(Agent, SigtermStopsItWithinASecond) {
  AgentProcess agent({"--root", Root("debian-12"), "--listen", "127.0.0.1:0"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port));
  auto t0 = Clock::now();
  ASSERT_EQ(::kill(agent.pid(), SIGTERM), 0);
  int status = agent.Wait(2s);
  auto took = Clock::now() - t0;
  EXPECT_EQ(status, 0) << agent.Log();
  EXPECT_LT(took, 1s) << std::chrono::duration<double>(took).count() << " s";
  EXPECT_NE(agent.Log().find("\"msg\":\"stopped\""), std::string::npos) << agent.Log();
}

TEST(Agent, APortInUseIsAClearErrorAtStart) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::string listen = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  AgentProcess agent({"--root", Root("debian-12"), "--listen", listen});
  EXPECT_EQ(agent.Wait(10s), 2);
  EXPECT_NE(agent.Log().find(listen + ": cannot listen"), std::string::npos) << agent.Log();
  ::close(fd);
}

TEST(Agent, OneshotPrintsTheReportWithScansExitStatus) {
  for (const char* fixture : {"rhel-8", "debian-12", "ubuntu-24.04-sysbox-0.7.1"}) {
    AgentProcess agent({"--root", Root(fixture), "--oneshot"});
    int status = agent.Wait(30s);
    nlohmann::json report = nlohmann::json::parse(agent.Out(), nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << fixture << ": " << agent.Out();
    nlohmann::json want = nlohmann::json::parse(RunScan(Root(fixture)));
    EXPECT_EQ(report["facts"]["settings"]["agent"], false) << fixture;  // no API
    report["facts"].erase("settings");
    want["facts"].erase("settings");
    EXPECT_EQ(report["facts"], want["facts"]) << fixture;
    // scan's exit codes, from the cvm verdict of the report it printed (the
    // agent's verdict can differ from scan's where a rule reads
    // settings.agent, as the kubelet-version rules do).
    std::string cvm = report["verdicts"]["cvm"]["value"];
    int expected = cvm == "true" ? 0 : cvm == "false" ? 1 : 3;
    EXPECT_EQ(status, expected) << fixture << ": cvm is " << cvm;
  }
}

TEST(Agent, RescansEveryIntervalFromTheEnvironment) {
  AgentProcess agent({"--root", Root("debian-12"), "--listen", "127.0.0.1:0"},
                     {"CVM_PREFLIGHT_INTERVAL=1s"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port));
  double scans = 0;
  for (auto end = Clock::now() + 10s; Clock::now() < end && scans < 3;
       std::this_thread::sleep_for(100ms)) {
    scans = Sample(Get(port, "/metrics").body, "cvm_preflight_scans_total");
  }
  EXPECT_GE(scans, 3);
  // Quiet in steady state: the unchanged rescans log nothing at info.
  std::string log = agent.Log();
  EXPECT_EQ(log.find("scan changed the report"), std::string::npos) << log;
}

TEST(Agent, BadFlagsAndEnvironmentAreUsageErrors) {
  AgentProcess a({"--interval", "10x"});
  EXPECT_EQ(a.Wait(5s), 2);
  EXPECT_NE(a.Log().find("'10x' is not a duration"), std::string::npos) << a.Log();
  AgentProcess b({}, {"CVM_PREFLIGHT_PROFILE=nope"});
  EXPECT_EQ(b.Wait(5s), 2);
  EXPECT_NE(b.Log().find("unknown profile 'nope'"), std::string::npos) << b.Log();
  AgentProcess c({"--root", "/nonexistent/root"});
  EXPECT_EQ(c.Wait(5s), 2);
  EXPECT_NE(c.Log().find("/nonexistent/root"), std::string::npos) << c.Log();
}

TEST(Agent, RuleFilesThatDoNotLoadKeepTheLastGoodSet) {
  cvm::testing::TempTree rules;
  std::string good = cvm::testing::ReadText(cvm::testing::SourcePath("rules/default/selinux.yaml"));
  rules.Write("override.yaml", good);
  AgentProcess agent({"--root", Root("rhel-8"), "--listen", "127.0.0.1:0", "--rules",
                      rules.Abs("."), "--log-level", "debug"},
                     {"CVM_PREFLIGHT_RULES_CHECK=1s"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port));
  std::string before = Get(port, "/metrics").body;
  EXPECT_EQ(Sample(before, "cvm_preflight_rules_reload_success"), 1) << agent.Log();
  rules.Write("override.yaml", "rules: [ {id: broken\n");
  double ok = 1, scans = 1;
  for (auto end = Clock::now() + 20s; Clock::now() < end && (ok != 0 || scans < 2);
       std::this_thread::sleep_for(100ms)) {
    std::string m = Get(port, "/metrics").body;
    ok = Sample(m, "cvm_preflight_rules_reload_success");
    scans = Sample(m, "cvm_preflight_scans_total");
  }
  EXPECT_EQ(ok, 0) << agent.Log();
  EXPECT_GE(scans, 2) << "a change scans at once";
  EXPECT_NE(agent.Log().find("keeping the last good rule set"), std::string::npos) << agent.Log();
  // The checks are still those of the good set.
  std::string after = Get(port, "/metrics").body;
  auto checks = [](const std::string& m) {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = m.find("\ncvm_preflight_check_status{", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  EXPECT_EQ(checks(after), checks(before));
}

// A scan past --scan-timeout (a host path on a FUSE mount whose server
// never answers, under the storage probe's own 2 s deadline) is killed and
// counted, /healthz fails so that the kubelet restarts the agent, and it
// passes again once a scan finishes.
TEST(Agent, AScanPastItsDeadlineFailsHealthzUntilOneFinishes) {
  cvm::testing::TempTree root;
  root.CopyFrom(Root("debian-12"));
  root.Mkdir("var/lib/kubelet");
  auto fuse = std::make_unique<cvm::testing::HungFuse>(root.Abs("var/lib/kubelet"));
  if (!fuse->ok()) GTEST_SKIP() << fuse->why();
  AgentProcess agent({"--root", root.path(), "--listen", "127.0.0.1:0", "--scan-timeout",
                      "1s", "--interval", "1s", "--no-pci-events"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  double overruns = 0;
  int health = 0;
  for (auto end = Clock::now() + 15s; Clock::now() < end && (overruns < 1 || health != 503);
       std::this_thread::sleep_for(50ms)) {
    overruns = Sample(Get(port, "/metrics").body, "cvm_preflight_scan_overruns_total");
    health = Get(port, "/healthz").status;
  }
  EXPECT_GE(overruns, 1) << agent.Log();
  EXPECT_EQ(health, 503) << agent.Log();
  EXPECT_NE(agent.Log().find("scan overran its deadline"), std::string::npos) << agent.Log();
  EXPECT_NE(Get(port, "/readyz").status, 200) << "no scan has finished yet";

  fuse.reset();  // the mount goes away: the next scan finishes
  for (auto end = Clock::now() + 15s; Clock::now() < end && health != 200;
       std::this_thread::sleep_for(50ms)) {
    health = Get(port, "/healthz").status;
  }
  EXPECT_EQ(health, 200) << agent.Log();
  EXPECT_EQ(Get(port, "/readyz").status, 200);
  EXPECT_GE(Sample(Get(port, "/metrics").body, "cvm_preflight_scans_total"), 1);
}

// ---- --web-config: TLS and basic auth (docs/agent.md, "TLS and basic auth")

// A shell command's stdout and exit status.
std::pair<int, std::string> Shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, out};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// A CA, a server certificate for 127.0.0.1 and localhost signed by it, a
// client certificate signed by it, and one from another CA, all made now by
// the openssl CLI (EC P-256, one day).
struct Pki {
  cvm::testing::TempTree t;
  std::string dir = t.path();
  bool made = false;
  Pki() {
    std::string c = "set -e; cd '" + dir + "'; "
        "k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1; }; "
        "k ca.key; openssl req -x509 -new -key ca.key -out ca.pem -days 1 -subj /CN=test-ca; "
        "k other-ca.key; openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 1 -subj /CN=other-ca; "
        "k server.key; openssl req -new -key server.key -out server.csr -subj /CN=localhost; "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "  -extfile san.ext -out server.crt; "
        "k client.key; openssl req -new -key client.key -out client.csr -subj /CN=prometheus; "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out client.crt; "
        "k stranger.key; openssl req -new -key stranger.key -out stranger.csr -subj /CN=stranger; "
        "openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial "
        "  -days 1 -out stranger.crt";
    made = Shell("(" + c + ") >/dev/null 2>&1").first == 0;
  }
  std::string Path(const std::string& f) const { return dir + "/" + f; }
};

// curl's HTTP status ("000" when no HTTP answer) for `url`, with `args`.
std::string Curl(const std::string& args, const std::string& url) {
  return Shell("curl -s -o /dev/null -w '%{http_code}' --max-time 5 " + args + " '" + url + "'").second;
}

std::string BcryptOf(const std::string& password) {
  std::string line = Shell("htpasswd -nbBC 5 u '" + password + "'").second;
  std::size_t colon = line.find(':');
  std::size_t end = line.find('\n');
  return colon == std::string::npos ? "" : line.substr(colon + 1, end - colon - 1);
}

TEST(AgentWebConfig, ServesTlsWithBasicAuthAndLeavesProbesOpen) {
  Pki pki;
  ASSERT_TRUE(pki.made);
  std::string hash = BcryptOf("correct horse");
  ASSERT_EQ(hash.size(), 60u);
  pki.t.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                         "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
                         "basic_auth_users:\n  prometheus: " + hash + "\n");
  // From the environment, as the DaemonSet would set it.
  AgentProcess agent({"--root", Root("debian-12"), "--listen", "127.0.0.1:0"},
                     {"CVM_PREFLIGHT_WEB_CONFIG=" + pki.Path("web.yml")});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  EXPECT_NE(agent.Log().find("\"tls\":true"), std::string::npos) << agent.Log();
  std::string base = "https://127.0.0.1:" + std::to_string(port);
  std::string ca = "--cacert '" + pki.Path("ca.pem") + "' ";
  bool ready = false;
  for (auto end = Clock::now() + 10s; Clock::now() < end && !ready; std::this_thread::sleep_for(50ms)) {
    ready = Curl(ca, base + "/readyz") == "200";
  }
  ASSERT_TRUE(ready) << agent.Log();
  EXPECT_EQ(Curl(ca, base + "/healthz"), "200");
  EXPECT_EQ(Curl(ca + "-u 'prometheus:correct horse'", base + "/metrics"), "200");
  EXPECT_EQ(Curl(ca + "-u 'prometheus:correct horse'", base + "/report"), "200");
  EXPECT_EQ(Curl(ca + "-u 'prometheus:wrong'", base + "/metrics"), "401");
  EXPECT_EQ(Curl(ca + "-u 'nobody:correct horse'", base + "/metrics"), "401");
  EXPECT_EQ(Curl(ca, base + "/metrics"), "401");
  EXPECT_EQ(Curl(ca, base + "/report"), "401");
  auto [rc, headers] = Shell("curl -s -D - -o /dev/null --max-time 5 " + ca + "'" + base + "/metrics'");
  EXPECT_NE(headers.find("WWW-Authenticate: Basic realm=\"cvm-preflight\""), std::string::npos) << headers;
  EXPECT_NE(headers.find("X-Content-Type-Options: nosniff"), std::string::npos) << headers;
  auto [rc2, body] = Shell("curl -s --max-time 5 " + ca + "-u 'prometheus:correct horse' '" + base + "/metrics'");
  EXPECT_GE(Sample(body, "cvm_preflight_scans_total"), 1) << body.substr(0, 300);
  // Without the CA, curl does not trust the certificate; plain HTTP to the
  // TLS port gets no HTTP answer.
  EXPECT_EQ(Curl("", base + "/healthz"), "000");
  EXPECT_EQ(Get(port, "/healthz").status, 0);
  EXPECT_EQ(Curl("", "http://127.0.0.1:" + std::to_string(port) + "/healthz"), "000");
}

TEST(AgentWebConfig, ClientCertificatesAreRequiredAndVerifiedAgainstTheCaFile) {
  Pki pki;
  ASSERT_TRUE(pki.made);
  pki.t.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                         "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n");
  AgentProcess agent({"--root", Root("debian-12"), "--listen", "127.0.0.1:0", "--web-config",
                      pki.Path("web.yml")});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  std::string url = "https://127.0.0.1:" + std::to_string(port) + "/healthz";
  std::string ca = "--cacert '" + pki.Path("ca.pem") + "' ";
  std::string client = ca + "--cert '" + pki.Path("client.crt") + "' --key '" + pki.Path("client.key") + "'";
  std::string stranger = ca + "--cert '" + pki.Path("stranger.crt") + "' --key '" + pki.Path("stranger.key") + "'";
  std::string got;
  for (auto end = Clock::now() + 10s; Clock::now() < end && got != "200"; std::this_thread::sleep_for(50ms)) {
    got = Curl(client, url);
  }
  EXPECT_EQ(got, "200") << agent.Log();
  EXPECT_EQ(Curl(ca, url), "000") << "no client certificate";
  EXPECT_EQ(Curl(stranger, url), "000") << "a certificate from another CA";
}

TEST(AgentWebConfig, MinAndMaxVersionAreHonoured) {
  Pki pki;
  ASSERT_TRUE(pki.made);
  for (const char* version : {"TLS12", "TLS13"}) {
    SCOPED_TRACE(version);
    pki.t.Write("web.yml", std::string("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n") +
                               "  min_version: " + version + "\n  max_version: " + version + "\n");
    AgentProcess agent({"--root", Root("debian-12"), "--listen", "127.0.0.1:0", "--web-config",
                        pki.Path("web.yml")});
    int port = agent.WaitPort();
    ASSERT_GT(port, 0) << agent.Log();
    std::string url = "https://127.0.0.1:" + std::to_string(port) + "/healthz";
    std::string ca = "--cacert '" + pki.Path("ca.pem") + "' ";
    bool v13 = std::string(version) == "TLS13";
    EXPECT_EQ(Curl(ca + "--tlsv1.2 --tls-max 1.2", url), v13 ? "000" : "200");
    EXPECT_EQ(Curl(ca + "--tlsv1.3", url), v13 ? "200" : "000");
  }
}

TEST(AgentWebConfig, AConfigThatCannotBeHonouredStopsTheAgentNamingTheField) {
  Pki pki;
  ASSERT_TRUE(pki.made);
  struct Row {
    std::string text, want;
  };
  const Row rows[] = {
      {"tls_server_config:\n  cert_file: server.crt\n", "tls_server_config.key_file: missing"},
      {"tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
       "tls_server_config.key_file: " + pki.Path("client.key") + " is not the key of"},
      {"basic_auth_users:\n  alice: plain-text-password\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
       "tls_server_config.cipher_suites: not supported"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    pki.t.Write("web.yml", row.text);
    AgentProcess agent({"--root", Root("debian-12"), "--listen", "127.0.0.1:0", "--web-config",
                        pki.Path("web.yml")});
    EXPECT_EQ(agent.Wait(10s), 2) << agent.Log();
    EXPECT_NE(agent.Log().find(row.want), std::string::npos) << agent.Log();
    EXPECT_NE(agent.Log().find(pki.Path("web.yml")), std::string::npos) << agent.Log();
  }
}

// ---- slow clients and load

// A TCP connection to 127.0.0.1:port that sends `data` and then stalls.
int Stall(int port, const std::string& data) {
  int fd = cvm::testing::ConnectLoopback(port);
  if (fd < 0) return -1;
  if (!data.empty() && ::write(fd, data.data(), data.size()) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

long RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

TEST(AgentLoad, SlowAndHalfOpenClientsBlockNeitherScrapesNorScans) {
  AgentProcess agent({"--root", Root("debian-12"), "--listen", "127.0.0.1:0"},
                     {"CVM_PREFLIGHT_INTERVAL=1s"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port));
  std::vector<int> fds;
  for (int i = 0; i < 50; ++i) {  // half a request each
    fds.push_back(Stall(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nUser-Agent: sl"));
  }
  for (int i = 0; i < 10; ++i) fds.push_back(Stall(port, ""));  // connected, silent
  for (int fd : fds) ASSERT_GE(fd, 0);
  std::this_thread::sleep_for(200ms);  // every stalled connection has its worker now
  double first = -1;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    HttpGot m = Get(port, "/metrics");
    auto took = Clock::now() - t0;
    ASSERT_EQ(m.status, 200);
    // Far below the 5 s request timeout a blocked request would wait for.
    EXPECT_LT(took, 2s) << std::chrono::duration<double>(took).count() << " s";
    if (first < 0) first = Sample(m.body, "cvm_preflight_scans_total");
  }
  double later = first;
  for (auto end = Clock::now() + 8s; Clock::now() < end && later < first + 2;
       std::this_thread::sleep_for(200ms)) {
    later = Sample(Get(port, "/metrics").body, "cvm_preflight_scans_total");
  }
  EXPECT_GE(later, first + 2) << "scans go on with 60 stalled connections open";
  for (int fd : fds) ::close(fd);
}

// wrk's summary: requests done, and whether it saw errors or non-2xx.
struct WrkRun {
  long requests = -1;
  bool errors = true;
  std::string text;
};

WrkRun Wrk(int port, const std::string& seconds) {
  WrkRun r;
  auto [rc, out] = Shell("wrk -t2 -c16 -d" + seconds + " http://127.0.0.1:" +
                         std::to_string(port) + "/metrics 2>&1");
  r.text = out;
  std::smatch m;
  if (rc == 0 && std::regex_search(out, m, std::regex("([0-9]+) requests in"))) r.requests = std::stol(m[1]);
  r.errors = out.find("Socket errors") != std::string::npos ||
             out.find("Non-2xx") != std::string::npos;
  return r;
}

TEST(AgentLoad, ThousandsOfScrapesFromWrkWithoutErrorsAndMemoryFlat) {
  AgentProcess agent({"--root", Root("rhel-8"), "--listen", "127.0.0.1:0"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port));
  long rss0 = RssKiB(agent.pid());
  WrkRun warm = Wrk(port, "2s");
  long rss1 = RssKiB(agent.pid());
  WrkRun second = Wrk(port, "3s");
  long rss2 = RssKiB(agent.pid());
  std::printf("wrk -t2 -c16 on /metrics: %ld requests in 2 s, then %ld in 3 s; VmRSS %ld KiB "
              "at start, %ld after the first round, %ld after the second\n",
              warm.requests, second.requests, rss0, rss1, rss2);
  EXPECT_GE(warm.requests, 1000) << warm.text;
  EXPECT_GE(second.requests, 1000) << second.text;
  EXPECT_FALSE(warm.errors) << warm.text;
  EXPECT_FALSE(second.errors) << second.text;
  ASSERT_GT(rss1, 0);
#if !defined(__SANITIZE_ADDRESS__) && !CVM_HAS_ASAN
  // (Under ASan the quarantine of freed memory grows resident memory by
  // design; LeakSanitizer checks leaks there.)
  EXPECT_LT(rss2 - rss1, 4 * 1024) << "resident memory grew by more than 4 MiB in the second round";
#endif
  EXPECT_EQ(Get(port, "/healthz").status, 200);
}

}  // namespace
}  // namespace cvm::exporter
