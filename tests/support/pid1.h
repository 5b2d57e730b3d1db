#pragma once
// For live tests that scan "/" in a forked child after making their own
// mounts: RunAsPid1 makes a new PID namespace, forks its PID 1, mounts a
// fresh /proc there and runs `body` in it, so /proc/1/mountinfo (what the
// storage probe reads first) is the child's own mount table, as it is for a
// scan of a container's root. Call it after any fork the setup needs (the
// first child forked after it becomes PID 1). Waits for that PID 1; returns
// "" on success, else the step that failed with its errno.

#include <functional>
#include <string>

namespace cvm::testing {

std::string RunAsPid1(const std::function<void()>& body);

}  // namespace cvm::testing
