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
#include "tests/support/hung_fuse.h"
#include "tests/support/temp_tree.h"

extern char** environ;

namespace cvm::exporter {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct HttpGot {
  int status = 0;
  std::string body;
};

// One GET on 127.0.0.1:port, Connection: close; status 0 when it failed.
HttpGot Get(int port, const std::string& path, const std::string& method = "GET") {
  HttpGot got;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return got;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return got;
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return got;
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  std::size_t sp = resp.find(' ');
  std::size_t hdr_end = resp.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos) return got;
  got.status = std::atoi(resp.c_str() + sp + 1);
  got.body = resp.substr(hdr_end + 4);
  return got;
}

// The agent binary as a child, stderr to a file.
class AgentProcess {
 public:
  AgentProcess(std::vector<std::string> args, std::vector<std::string> env = {}) {
    log_ = tree_.Abs("agent.log");
    out_ = tree_.Abs("agent.out");
    std::vector<std::string> argv = {CVM_BINARY, "agent"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), env.begin(), env.end());
    std::vector<char*> cenv;
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_EQ(::posix_spawn(&pid_, CVM_BINARY, &fa, nullptr, cargv.data(), cenv.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~AgentProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  std::string Log() const { return cvm::testing::ReadText(log_); }
  std::string Out() const { return cvm::testing::ReadText(out_); }
  // The port from the "agent started" line; 0 if it did not come in 10 s.
  int WaitPort() {
    std::regex re("\"msg\":\"agent started\",\"port\":([0-9]+)");
    for (auto end = Clock::now() + 10s; Clock::now() < end; std::this_thread::sleep_for(20ms)) {
      std::smatch m;
      std::string log = Log();
      if (std::regex_search(log, m, re)) return std::stoi(m[1]);
      if (Exited()) return 0;
    }
    return 0;
  }
  bool WaitReady(int port) {
    for (auto end = Clock::now() + 10s; Clock::now() < end; std::this_thread::sleep_for(20ms)) {
      if (Get(port, "/readyz").status == 200) return true;
    }
    return false;
  }
  bool Exited() {
    if (pid_ <= 0) return true;
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = st;
      pid_ = -1;
      return true;
    }
    return false;
  }
  // Waits for the exit; the exit status, or -1 after `limit`.
  int Wait(std::chrono::milliseconds limit) {
    for (auto end = Clock::now() + limit; Clock::now() < end; std::this_thread::sleep_for(5ms)) {
      if (Exited()) return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
    }
    return -1;
  }
  pid_t pid() const { return pid_; }

 private:
  cvm::testing::TempTree tree_;
  std::string log_, out_;
  pid_t pid_ = -1;
  int status_ = 0;
};

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
  // The same report as `scan`, but judged as the agent (settings.agent is
  // a fact, under facts.settings).
  EXPECT_EQ(got["facts"]["settings"]["agent"], true);
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
    EXPECT_EQ(report["facts"]["settings"]["agent"], true) << fixture;
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

}  // namespace
}  // namespace cvm::exporter
