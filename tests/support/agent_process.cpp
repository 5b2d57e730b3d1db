#include "tests/support/agent_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <thread>

#include "tests/support/data.h"

extern char** environ;

namespace cvm::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

HttpGot Get(int port, const std::string& path, const std::string& method) {
  HttpGot got;
  int fd = ConnectLoopback(port);
  if (fd < 0) return got;
  std::string req = method + " " + path +
                    " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return got;
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0)
    resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  std::size_t sp = resp.find(' ');
  std::size_t hdr_end = resp.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos) return got;
  got.status = std::atoi(resp.c_str() + sp + 1);
  got.body = resp.substr(hdr_end + 4);
  return got;
}

AgentProcess::AgentProcess(std::vector<std::string> args,
                           std::vector<std::string> env) {
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
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_EQ(
      ::posix_spawn(&pid_, CVM_BINARY, &fa, nullptr, cargv.data(), cenv.data()),
      0);
  posix_spawn_file_actions_destroy(&fa);
}
AgentProcess::~AgentProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
}
std::string AgentProcess::Log() const { return cvm::testing::ReadText(log_); }
std::string AgentProcess::Out() const { return cvm::testing::ReadText(out_); }
int AgentProcess::WaitPort() {
  // The log's keys are sorted: "node" may stand between "msg" and "port".
  std::regex re("\"msg\":\"agent started\",[^\n]*\"port\":([0-9]+)");
  for (auto end = Clock::now() + 10s; Clock::now() < end;
       std::this_thread::sleep_for(20ms)) {
    std::smatch m;
    std::string log = Log();
    if (std::regex_search(log, m, re)) return std::stoi(m[1]);
    if (Exited()) return 0;
  }
  return 0;
}
bool AgentProcess::WaitReady(int port) {
  for (auto end = Clock::now() + 10s; Clock::now() < end;
       std::this_thread::sleep_for(20ms)) {
    if (Get(port, "/readyz").status == 200) return true;
  }
  return false;
}
bool AgentProcess::Exited() {
  if (pid_ <= 0) return true;
  int st;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    pid_ = -1;
    return true;
  }
  return false;
}
int AgentProcess::Wait(std::chrono::milliseconds limit) {
  for (auto end = Clock::now() + limit; Clock::now() < end;
       std::this_thread::sleep_for(5ms)) {
    if (Exited())
      return WIFEXITED(status_) ? WEXITSTATUS(status_)
                                : 128 + WTERMSIG(status_);
  }
  return -1;
}

}  // namespace cvm::testing
