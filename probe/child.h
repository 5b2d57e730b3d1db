#pragma once
// Work that may block forever (statvfs of a hung NFS or FUSE mount) runs in
// a forked child the scan kills after a deadline (STYLE.md section 9).

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

struct ChildRun {
  std::string output;      // what the child wrote before it ended or was killed
  bool timed_out = false;  // killed at the deadline
  bool clean_exit = false; // exited with status 0
};

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
Result<std::vector<ChildRun>> RunChildrenWithDeadline(
    const std::vector<std::function<void(int fd)>>& works, std::chrono::milliseconds deadline);

// Writes all of `data` to `fd` (for the child); false on error.
bool WriteAll(int fd, std::string_view data);

}  // namespace cvm::probe
