#include "tests/kube/test_server.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cvm::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t Append(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env) {
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (const auto& e : env) envs.push_back(e);
  std::vector<char*> envp, args;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  pid_t pid;
  int rc =
      ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  CommandResult out;
  if (rc != 0) {
    ::close(fds[0]);
    out.output = "cannot run " + argv[0];
    return out;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.output.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

std::string KubectlPath() { return CVM_KUBECTL; }

TestApiServer::TestApiServer() {
  std::string certs = tmp_.Abs("certs");
  auto made =
      RunCommand({"sh", CVM_SOURCE_DIR "/tests/kube/make_certs.sh", certs});
  if (made.exit_code != 0)
    throw std::runtime_error("make_certs.sh: " + made.output);
  std::string ports = tmp_.Abs("ports");
  std::vector<std::string> argv = {
      CVM_PYTHON3,    CVM_SOURCE_DIR "/tests/kube/kube_api_server.py",
      "--cert",       Cert("server.crt"),
      "--key",        Cert("server.key"),
      "--client-ca",  Cert("ca.crt"),
      "--alt-cert",   Cert("wrong-host.crt"),
      "--alt-key",    Cert("wrong-host.key"),
      "--ports-file", ports};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string log = tmp_.Abs("server.log");
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(ports);
    if (in >> api_port_ >> control_port_) return;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("the test API server ended: " + ReadAll(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("the test API server did not start: " +
                           ReadAll(log));
}

TestApiServer::~TestApiServer() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
}

std::string TestApiServer::Url() const {
  return "https://127.0.0.1:" + std::to_string(api_port_);
}

std::string TestApiServer::Cert(const std::string& name) const {
  return tmp_.Abs("certs/" + name);
}

// Plain libcurl, not the client under test, so a client bug cannot hide
// behind the control calls.
nlohmann::json TestApiServer::Control(const std::string& method,
                                      const std::string& path,
                                      const std::string& body) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> c(curl_easy_init(),
                                                        &curl_easy_cleanup);
  std::string url = "http://127.0.0.1:" + std::to_string(control_port_) + path;
  std::string out;
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c.get(), CURLOPT_NOPROXY, "*");
  if (method != "GET") {
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(body.size()));
  }
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &out);
  CURLcode rc = curl_easy_perform(c.get());
  if (rc != CURLE_OK)
    throw std::runtime_error("control " + path + ": " + curl_easy_strerror(rc));
  return nlohmann::json::parse(out);
}

void TestApiServer::SetState(const nlohmann::json& state) {
  Control("PUT", "/__test/state", state.dump());
}
void TestApiServer::AddFaults(const nlohmann::json& faults) {
  Control("POST", "/__test/faults", faults.dump());
}
void TestApiServer::Compact() { Control("POST", "/__test/compact", "{}"); }
void TestApiServer::ServeCert(const std::string& which) {
  Control("PUT", "/__test/tls", nlohmann::json{{"cert", which}}.dump());
}
nlohmann::json TestApiServer::Requests() {
  return Control("GET", "/__test/requests");
}
nlohmann::json TestApiServer::StoredNode(const std::string& name) {
  return Control("GET", "/__test/nodes/" + name);
}
nlohmann::json TestApiServer::StoredEvents() {
  return Control("GET", "/__test/events");
}

nlohmann::json TestApiServer::StoredObjects() {
  return Control("GET", "/__test/objects");
}

int TestApiServer::Count(const std::string& method, const std::string& path) {
  int n = 0;
  for (const auto& r : Requests()) {
    if (r["method"] == method && r["path"] == path) ++n;
  }
  return n;
}

void TestApiServer::SetStandardState(const std::string& events_namespace) {
  auto node = [](const std::string& name, const std::string& ip) {
    return nlohmann::json{
        {"metadata",
         {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
        {"spec", {{"podCIDR", "10.244.0.0/24"}}},
        {"status",
         {{"conditions",
           {{{"type", "MemoryPressure"},
             {"status", "False"},
             {"reason", "KubeletHasSufficientMemory"}},
            {{"type", "Ready"},
             {"status", "True"},
             {"reason", "KubeletReady"},
             {"message", "kubelet is posting ready status"}}}},
          {"addresses",
           {{{"type", "InternalIP"}, {"address", ip}},
            {{"type", "Hostname"}, {"address", name}}}},
          {"nodeInfo",
           {{"kubeletVersion", "v1.32.0"},
            {"kernelVersion", "6.1.0-18-amd64"},
            {"osImage", "Debian GNU/Linux 12 (bookworm)"},
            {"containerRuntimeVersion", "containerd://1.7.13"}}}}}};
  };
  nlohmann::json agent = {{"user", "system:serviceaccount:cvm-preflight:agent"},
                          {"rules",
                           {{{"resource", "nodes"},
                             {"verbs", {"get", "patch"}},
                             {"names", {"node-a"}}},
                            {{"resource", "nodes/status"},
                             {"verbs", {"get", "patch"}},
                             {"names", {"node-a"}}},
                            {{"resource", "events"},
                             {"verbs", {"create"}},
                             {"namespaces", {events_namespace}}},
                            // --publish-labels nodefeature, in the
                            // agent's own namespace (create cannot be
                            // limited by name in RBAC).
                            {{"resource", "nodefeatures"},
                             {"verbs", {"get", "create", "patch"}},
                             {"namespaces", {"cvm-preflight"}}}}}};
  SetState(
      {{"tokens",
        {{"admin-token", {{"user", "kubernetes-admin"}, {"admin", true}}},
         {"node-a-token", agent}}},
       {"certs", {{"cert-user", {{"user", "cert-user"}, {"admin", true}}}}},
       {"nodes", {node("node-a", "10.0.0.1"), node("node-b", "10.0.0.2")}}});
}

}  // namespace cvm::testing
