#include "probe/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <thread>

#include "probe/detail/unique_fd.h"

namespace cvm::probe {
namespace {

using Clock = std::chrono::steady_clock;

// Reaps `pid`; a child stuck in an uninterruptible sleep may outlive
// SIGKILL for a while, so this waits a bounded time and then gives up
// (the caller registers it: ReapHungChildren reaps it later).
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

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

std::vector<HungChild>& Registry() {
  static std::vector<HungChild> hung;
  return hung;
}

void Register(pid_t pid, std::string key) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().push_back({pid, std::move(key), std::chrono::system_clock::now()});
}

// A killed child gets this long to end before it is left to the registry.
constexpr std::chrono::milliseconds kKilledPatience{100};

}  // namespace

std::vector<HungChild> ReapHungChildren() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto& hung = Registry();
  std::vector<HungChild> still;
  for (auto& h : hung) {
    int status = 0;
    pid_t r = ::waitpid(h.pid, &status, WNOHANG);
    // r == pid: ended and reaped now; r < 0 (ECHILD): reaped by someone
    // else (a subreaper's waitpid(-1)); both leave the registry.
    if (r == 0) still.push_back(std::move(h));
  }
  hung = still;
  return still;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Result<std::vector<ChildRun>> RunChildrenWithDeadline(
    const std::vector<std::function<void(int fd)>>& works, std::chrono::milliseconds deadline,
    const std::vector<std::string>& keys) {
  struct Live {
    pid_t pid = -1;
    detail::UniqueFd read_end;
    bool open = true;
  };
  auto key_of = [&](std::size_t i) { return i < keys.size() ? keys[i] : std::string(); };
  std::vector<Live> kids(works.size());
  std::vector<ChildRun> runs(works.size());
  // Works whose key's child still hangs are not forked again.
  for (const HungChild& h : ReapHungChildren()) {
    for (std::size_t i = 0; i < works.size(); ++i) {
      if (!h.key.empty() && key_of(i) == h.key && !runs[i].hung_since) {
        runs[i].hung_since = h.since;
        runs[i].timed_out = true;
        kids[i].open = false;
      }
    }
  }
  // Kills and reaps the children forked so far (on a fork or pipe error).
  auto abandon = [&](std::size_t upto) {
    for (std::size_t k = 0; k < upto; ++k) {
      if (kids[k].pid < 0) continue;
      ::kill(kids[k].pid, SIGKILL);
      int status = 0;
      if (!Reap(kids[k].pid, status, kKilledPatience)) Register(kids[k].pid, key_of(k));
    }
  };
  for (std::size_t i = 0; i < works.size(); ++i) {
    if (runs[i].hung_since) continue;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      int e = errno;
      abandon(i);
      return ErrnoError(e, "pipe2");
    }
    detail::UniqueFd read_end(fds[0]), write_end(fds[1]);
    pid_t pid = ::fork();
    if (pid < 0) {
      int e = errno;
      abandon(i);
      return ErrnoError(e, "fork");
    }
    if (pid == 0) {
      read_end.Reset();
      for (std::size_t k = 0; k < i; ++k) kids[k].read_end.Reset();
      int status = 0;
      try {
        works[i](write_end.get());
      } catch (...) {
        status = 1;
      }
      ::_exit(status);
    }
    kids[i].pid = pid;
    kids[i].read_end = std::move(read_end);
  }
  auto until = Clock::now() + deadline;
  std::size_t open = 0;
  for (const Live& k : kids) open += k.open ? 1 : 0;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) break;
    std::vector<pollfd> polls;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < kids.size(); ++i) {
      if (!kids[i].open) continue;
      polls.push_back({kids[i].read_end.get(), POLLIN, 0});
      which.push_back(i);
    }
    int r = ::poll(polls.data(), polls.size(), static_cast<int>(left.count()) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    for (std::size_t j = 0; j < polls.size(); ++j) {
      if (polls[j].revents == 0) continue;
      std::size_t i = which[j];
      char buf[4096];
      ssize_t n = ::read(kids[i].read_end.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // EOF: the child is done
        kids[i].open = false;
        --open;
        continue;
      }
      runs[i].output.append(buf, static_cast<std::size_t>(n));
    }
  }
  for (std::size_t i = 0; i < kids.size(); ++i) {
    if (kids[i].pid < 0) continue;
    runs[i].timed_out = kids[i].open;
    if (kids[i].open) ::kill(kids[i].pid, SIGKILL);
  }
  for (std::size_t i = 0; i < kids.size(); ++i) {
    if (kids[i].pid < 0) continue;
    int status = 0;
    // A child that closed its pipe is about to exit; a killed one may be
    // stuck in the kernel: it goes to the registry, reaped when it ends.
    if (Reap(kids[i].pid, status,
             runs[i].timed_out ? kKilledPatience : std::chrono::milliseconds(5000))) {
      runs[i].clean_exit = !runs[i].timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    } else {
      Register(kids[i].pid, key_of(i));
    }
  }
  return runs;
}

Result<ChildRun> RunChildWithDeadline(const std::function<void(int fd)>& work,
                                      std::chrono::milliseconds deadline) {
  auto runs = RunChildrenWithDeadline({work}, deadline);
  if (!runs) return runs.error();
  return std::move(runs->front());
}

}  // namespace cvm::probe
