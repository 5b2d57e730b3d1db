#pragma once
// HungFuse: a real FUSE mount whose server never answers, for tests of the
// statvfs deadline. It opens /dev/fuse and mount(2)s "fuse" with fd=N, then
// never reads a request: every call that reaches the filesystem (stat,
// statfs, lookup) blocks until the connection is aborted. No libfuse.
//
// Mode kTakeAndHold is the worse hang of a real dead server: a server
// process answers FUSE_INIT, then reads every request and never answers
// it. The kernel waits for the answer of a request the server has taken in
// an uninterruptible sleep (fs/fuse/dev.c, request_wait_answer: "Either
// request is already in userspace, or it was forced. Wait it out."), so a
// caller blocked there outlives SIGKILL until Abort(). The server is its
// own process so that the test's forked children do not inherit the
// device (a child holding it would keep its own hang alive), and it dies
// with the test process (PR_SET_PDEATHSIG), which aborts the connection.

#include <sys/types.h>

#include <atomic>
#include <string>

namespace cvm::testing {

class HungFuse {
 public:
  // Mounts on `dir` (which must exist). ok() is false, with why(), when
  // this process may not mount (not root, no /dev/fuse, in a container).
  enum class Mode { kNeverRead, kTakeAndHold };
  explicit HungFuse(const std::string& dir, Mode mode = Mode::kNeverRead);
  ~HungFuse();  // lazy unmount (MNT_DETACH touches no FUSE request), close
  HungFuse(const HungFuse&) = delete;
  HungFuse& operator=(const HungFuse&) = delete;

  bool ok() const { return (fd_ >= 0 || server_ > 0) && mounted_; }
  const std::string& why() const { return why_; }
  // Requests taken and held (kTakeAndHold), FUSE_INIT not counted.
  int held() const { return held_ ? held_->load() : 0; }
  // Aborts the connection (closes the device): every held and blocked
  // request ends with an error. The destructor does it too.
  void Abort();

 private:
  void Serve(int fd);

  std::string dir_;
  std::string why_;
  int fd_ = -1;
  bool mounted_ = false;
  pid_t server_ = -1;
  std::atomic<int>* held_ = nullptr;  // shared with the server process
};

}  // namespace cvm::testing
