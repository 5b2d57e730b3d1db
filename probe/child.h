#pragma once
// Work that may block forever (statvfs of a hung NFS or FUSE mount) runs in
// a forked child the scan kills after a deadline (STYLE.md section 9).

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

struct ChildRun {
  std::string output;      // what the child wrote before it ended or was killed
  bool timed_out = false;  // killed at the deadline
  bool clean_exit = false; // exited with status 0
  // Set when no child was forked: the child of an earlier call with the
  // same key was killed at its deadline and has not ended since this time
  // (stuck in the kernel on a dead mount). timed_out is set too.
  std::optional<std::chrono::system_clock::time_point> hung_since;
};

// The hung-child registry. A child killed at its deadline is reaped at
// once when it ends at once; one stuck in an uninterruptible sleep (a FUSE
// or NFS request the server took and never answers ignores SIGKILL until
// the server answers or the connection is aborted) is kept here with its
// key and reaped by a later call when it ends, so a long-running process
// never collects zombies, and no second child is forked for a key whose
// child still hangs. Process-wide; safe to call from any thread.
struct HungChild {
  pid_t pid = -1;
  std::string key;
  std::chrono::system_clock::time_point since;
};
// Reaps the registered children that have ended (waitpid WNOHANG); returns
// those still hung. Every RunChild* call does this first; an idle process
// may call it to reap sooner.
std::vector<HungChild> ReapHungChildren();

// Forks; the child runs `work(fd)`, which writes its answer to `fd`, and
// _exits without running the parent's atexit handlers or destructors. The
// parent reads until EOF or `deadline`, then SIGKILLs and reaps the child.
// Output written before a hang is kept, so a child can report step by
// step. Errors only when pipe(2) or fork(2) fail.
// The child of a multi-threaded process may only use what glibc makes safe
// after fork (malloc is; locks held by other threads are not).
Result<ChildRun> RunChildWithDeadline(const std::function<void(int fd)>& work,
                                      std::chrono::milliseconds deadline);

// The same for several children at once, all forked before any is waited
// for and all bound by the one deadline: N hung works cost one deadline,
// not N. Results in the order of `works`.
// `keys`, when not empty, has one entry per work naming what it touches
// ("statvfs /host/var/lib"); an empty key is never skipped.
Result<std::vector<ChildRun>> RunChildrenWithDeadline(
    const std::vector<std::function<void(int fd)>>& works, std::chrono::milliseconds deadline,
    const std::vector<std::string>& keys = {});

// Writes all of `data` to `fd` (for the child); false on error.
bool WriteAll(int fd, std::string_view data);

}  // namespace cvm::probe
