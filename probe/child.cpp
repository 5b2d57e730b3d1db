#include "probe/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "probe/detail/unique_fd.h"

namespace cvm::probe {
namespace {

using Clock = std::chrono::steady_clock;

// Reaps `pid`; a child stuck in an uninterruptible sleep may outlive
// SIGKILL for a while, so this waits a bounded time and then gives up
// (the zombie is reaped by init when the scan exits).
bool Reap(pid_t pid, int& status, std::chrono::milliseconds patience) {
  auto until = Clock::now() + patience;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return false;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Result<ChildRun> RunChildWithDeadline(const std::function<void(int fd)>& work,
                                      std::chrono::milliseconds deadline) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe2");
  detail::UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "fork");
  if (pid == 0) {
    read_end.Reset();
    int status = 0;
    try {
      work(write_end.get());
    } catch (...) {
      status = 1;
    }
    ::_exit(status);
  }
  write_end.Reset();
  ChildRun run;
  auto until = Clock::now() + deadline;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - Clock::now());
    if (left.count() <= 0) {
      run.timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the loop head sees the deadline
    if (r < 0) break;
    char buf[4096];
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is done
    run.output.append(buf, static_cast<std::size_t>(n));
  }
  if (run.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  if (Reap(pid, status, std::chrono::milliseconds(run.timed_out ? 1000 : 5000))) {
    run.clean_exit = !run.timed_out && WIFEXITED(status) &&
                     WEXITSTATUS(status) == 0;
  }
  return run;
}

}  // namespace cvm::probe
