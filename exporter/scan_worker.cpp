#include "exporter/scan_worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "probe/child.h"
#include "probe/facts_json.h"
#include "probe/host_root.h"
#include "probe/registry.h"

extern char** environ;

namespace cvm::exporter {
namespace {

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json Answer(const std::string& line) {
  nlohmann::json req = nlohmann::json::parse(line, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("root") ||
      !req["root"].is_string()) {
    return {{"error", "scan worker: the request is not {\"root\": ...} JSON"}};
  }
  probe::ProbeOptions options;
  options.exec_versions = req.value("exec_versions", false);
  options.coder_shiftfs_autoload = req.value("coder_shiftfs_autoload", false);
  options.agent = req.value("agent", false);
  std::optional<probe::NodeInfo> node;
  if (req.contains("node") && req["node"].is_object()) {
    const auto& n = req["node"];
    node = probe::NodeInfo{n.value("name", ""),
                           n.value("kubelet_version", ""),
                           n.value("container_runtime_version", ""),
                           n.value("kernel_version", ""),
                           n.value("os_image", ""),
                           n.value("provider_id", "")};
  }
  auto host = probe::HostRoot::Open(req["root"].get<std::string>());
  if (!host) return {{"error", "cannot open root " + host.error().message}};
  return {{"facts", probe::FactsToJson(probe::RunProbes(*host, options, node ? &*node : nullptr))}};
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

int RunScanWorker() {
  // Lines from stdin; between requests, once a second, the children a scan
  // left hung in the kernel are reaped as they end (probe/child.h), so an
  // idle worker holds no zombies either.
  std::string buf;
  for (;;) {
    std::size_t eol;
    while ((eol = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, eol);
      buf.erase(0, eol + 1);
      nlohmann::json answer;
      try {
        answer = Answer(line);
      } catch (const std::exception& e) {
        answer = {{"error", std::string("scan worker: ") + e.what()}};
      }
      if (!probe::WriteAll(STDOUT_FILENO, Dump(answer) + "\n")) return 1;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int r = ::poll(&p, 1, 1000);
    if (r < 0 && errno != EINTR) return 1;
    if (r <= 0) {
      probe::ReapHungChildren();
      continue;
    }
    char chunk[4096];
    ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;  // the agent closed our stdin
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

ScanWorker::~ScanWorker() { Stop(); }

Result<bool> ScanWorker::Start() {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe2");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(in[0]);
    ::close(in[1]);
    return ErrnoError(e, "pipe2");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  // The agent blocks SIGTERM and SIGINT for its signalfd; the worker gets
  // the defaults back.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string arg0 = "cvm-preflight";
  std::string arg1 = "__scan-worker";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, exe_.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    return ErrnoError(rc, exe_);
  }
  pid_ = pid;
  to_ = in[1];
  from_ = out[0];
  pending_.clear();
  return true;
}

void ScanWorker::Kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    // A worker killed in D state (a hung mount) may take a while to go;
    // the agent's reaper (waitpid(-1)) collects it then.
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) != 0) break;
      ::usleep(10 * 1000);
    }
  }
  pid_ = -1;
  CloseFd(to_);
  CloseFd(from_);
}

void ScanWorker::Reaped() {
  pid_ = -1;
  CloseFd(to_);
  CloseFd(from_);
}

void ScanWorker::Stop() {
  if (pid_ <= 0) return;
  CloseFd(to_);  // EOF: the worker's loop ends
  int status = 0;
  for (int i = 0; i < 20; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      CloseFd(from_);
      return;
    }
    ::usleep(10 * 1000);
  }
  Kill();
}

ScanWorker::Outcome ScanWorker::Scan(const ScanRequest& request,
                                     std::chrono::milliseconds deadline,
                                     int interrupt_fd) {
  using Clock = std::chrono::steady_clock;
  Outcome out;
  if (pid_ <= 0) {
    auto started = Start();
    if (!started) {
      out.facts = MakeError(exe_, "cannot start the scan worker: " + started.error().message);
      return out;
    }
  }
  nlohmann::json req = {{"root", request.root},
                        {"exec_versions", request.options.exec_versions},
                        {"coder_shiftfs_autoload", request.options.coder_shiftfs_autoload},
                        {"agent", request.options.agent}};
  if (request.node) {
    const probe::NodeInfo& n = *request.node;
    req["node"] = {{"name", n.name},
                   {"kubelet_version", n.kubelet_version},
                   {"container_runtime_version", n.container_runtime_version},
                   {"kernel_version", n.kernel_version},
                   {"os_image", n.os_image},
                   {"provider_id", n.provider_id}};
  }
  if (!probe::WriteAll(to_, Dump(req) + "\n")) {
    Kill();
    out.facts = MakeError(exe_, "the scan worker did not take the request (it ended)");
    return out;
  }
  const auto end = Clock::now() + deadline;
  while (true) {
    std::size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      nlohmann::json answer = nlohmann::json::parse(line, nullptr, false);
      if (answer.is_discarded() || !answer.is_object()) {
        Kill();
        out.facts = MakeError(exe_, "the scan worker's answer is not JSON");
      } else if (answer.contains("error")) {
        out.facts = MakeError("", answer["error"].is_string()
                                      ? answer["error"].get<std::string>()
                                      : std::string("scan worker error"));
      } else {
        out.facts = probe::FactsFromJson(answer["facts"]);
      }
      return out;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) {
      Kill();
      out.overrun = true;
      out.facts = MakeError("", "the scan passed its deadline of " +
                                    std::to_string(deadline.count()) +
                                    " ms; the worker was killed");
      return out;
    }
    pollfd fds[2] = {{from_, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
    int n = ::poll(fds, interrupt_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      Kill();
      out.facts = ErrnoError(errno, "poll");
      return out;
    }
    if (interrupt_fd >= 0 && (fds[1].revents & POLLIN)) {
      Kill();
      out.facts = MakeError("", "the scan was interrupted (shutting down)");
      return out;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      ssize_t r = ::read(from_, buf, sizeof buf);
      if (r > 0) {
        pending_.append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        Kill();
        out.facts = MakeError(exe_, "the scan worker ended without an answer");
        return out;
      }
    }
  }
}

}  // namespace cvm::exporter
