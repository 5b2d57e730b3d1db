#pragma once
// The agent binary (CVM_BINARY) as a test runs it: a child process with
// its log in a file, talked to over HTTP on loopback, killed when the
// object goes. Shared by the agent and publisher tests.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/temp_tree.h"

namespace cvm::testing {

struct HttpGot {
  int status = 0;
  std::string body;
};

// A TCP connection to 127.0.0.1:port (5 s receive timeout); -1 on failure.
int ConnectLoopback(int port);

// One GET on 127.0.0.1:port, Connection: close; status 0 when it failed.
HttpGot Get(int port, const std::string& path,
            const std::string& method = "GET");

class AgentProcess {
 public:
  // `cvm-preflight agent ARGS...` with the environment plus `env`.
  AgentProcess(std::vector<std::string> args,
               std::vector<std::string> env = {});
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;
  std::string Log() const;
  std::string Out() const;
  // The port from the "agent started" line; 0 if it did not come in 10 s.
  int WaitPort();
  bool WaitReady(int port);
  bool Exited();
  // Waits for the exit; the exit status, or -1 after `limit`.
  int Wait(std::chrono::milliseconds limit);
  pid_t pid() const { return pid_; }

 private:
  TempTree tree_;
  std::string log_, out_;
  pid_t pid_ = -1;
  int status_ = 0;
};

}  // namespace cvm::testing
