#pragma once
// TestApiServer: starts tests/kube/kube_api_server.py (the Kubernetes API
// test server) on loopback with a CA made for it by make_certs.sh, and
// talks to its plain-HTTP control port. Stopped (SIGTERM, then SIGKILL)
// when the object goes. Also: running a command (kubectl) with extra
// environment and its output.

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/temp_tree.h"

namespace cvm::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs argv[0] (looked up on PATH) with the process's environment plus
// `env` ("NAME=value"), standard input /dev/null.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {});

// The kubectl the tests use; empty when there is none (tests skip).
std::string KubectlPath();

class TestApiServer {
 public:
  TestApiServer();
  ~TestApiServer();
  TestApiServer(const TestApiServer&) = delete;
  TestApiServer& operator=(const TestApiServer&) = delete;

  std::string Url() const;  // https://127.0.0.1:PORT
  int port() const { return api_port_; }
  std::string Cert(const std::string& name) const;  // ca.crt, client.key, ...
  TempTree& tmp() { return tmp_; }

  // The control endpoints (kube_api_server.py's docstring).
  void SetState(const nlohmann::json& state);
  void AddFaults(const nlohmann::json& faults);
  void Compact();
  // The certificate served to a client that sends SNI: "wrong-host" (the
  // CA's, for other.example only) or "server" (PUT /__test/tls).
  void ServeCert(const std::string& which);
  nlohmann::json Requests();
  nlohmann::json StoredNode(const std::string& name);
  nlohmann::json StoredEvents();
  // Every stored object of the kinds the server keeps besides nodes
  // (GET /__test/objects).
  nlohmann::json StoredObjects();
  // Requests whose method and path are these.
  int Count(const std::string& method, const std::string& path);

  // A standard state: an admin token "admin-token", a token
  // "node-a-token" that may get and patch node-a (and its status), create
  // events in `events_namespace` and get, create and patch NodeFeatures in
  // cvm-preflight; nodes node-a and node-b with a kubelet Ready
  // condition and addresses; the client certificate's CN "cert-user" admin.
  void SetStandardState(const std::string& events_namespace = "cvm-preflight");

 private:
  nlohmann::json Control(const std::string& method, const std::string& path,
                         const std::string& body = "");

  TempTree tmp_;
  pid_t pid_ = -1;
  int api_port_ = 0;
  int control_port_ = 0;
};

}  // namespace cvm::testing
