#include "tests/support/pid1.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace cvm::testing {

std::string RunAsPid1(const std::function<void()>& body) {
  if (::unshare(CLONE_NEWPID) != 0) return "unshare(CLONE_NEWPID): errno " + std::to_string(errno);
  int pipefd[2];
  if (::pipe(pipefd) != 0) return "pipe: errno " + std::to_string(errno);
  pid_t init = ::fork();
  if (init < 0) return "fork: errno " + std::to_string(errno);
  if (init == 0) {
    ::close(pipefd[0]);
    char ok = 1;
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      ok = 0;
    }
    (void)!::write(pipefd[1], &ok, 1);
    ::close(pipefd[1]);
    if (ok) body();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  char ok = 0;
  ssize_t n = ::read(pipefd[0], &ok, 1);
  ::close(pipefd[0]);
  ::waitpid(init, nullptr, 0);
  if (n != 1 || ok != 1) return "mount proc in the new PID namespace failed";
  return "";
}

}  // namespace cvm::testing
