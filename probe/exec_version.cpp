#include "probe/exec_version.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "probe/detail/unique_fd.h"

namespace cvm::probe {

Result<std::string> RunVersionCommand(const std::string& host_path,
                                      std::chrono::milliseconds timeout,
                                      std::size_t cap) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError(errno, host_path);
  detail::UniqueFd read_end(fds[0]);
  detail::UniqueFd write_end(fds[1]);
  std::string arg0 = host_path;
  std::string arg1 = "--version";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, host_path);
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execve(host_path.c_str(), argv, envp);
    ::_exit(127);
  }
  write_end.Reset();
  std::string out;
  bool too_big = false, timed_out = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {read_end.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = r == 0;
      break;
    }
    char buf[4096];
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() + static_cast<std::size_t>(n) > cap) {
      too_big = true;
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (timed_out || too_big) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return MakeError(host_path,
                     "--version did not finish within " +
                         std::to_string(timeout.count()) + " ms (ETIMEDOUT)",
                     ETIMEDOUT);
  }
  if (too_big) {
    return MakeError(host_path,
                     "--version printed more than " + std::to_string(cap) +
                         " bytes (EFBIG)",
                     EFBIG);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && out.empty()) {
    return MakeError(host_path, "could not be executed", ENOEXEC);
  }
  return out;
}

}  // namespace cvm::probe
