#pragma once
// HungFuse: a real FUSE mount whose server never answers, for tests of the
// statvfs deadline. It opens /dev/fuse and mount(2)s "fuse" with fd=N, then
// never reads a request: every call that reaches the filesystem (stat,
// statfs, lookup) blocks until the connection is aborted. No libfuse.

#include <string>

namespace cvm::testing {

class HungFuse {
 public:
  // Mounts on `dir` (which must exist). ok() is false, with why(), when
  // this process may not mount (not root, no /dev/fuse, in a container).
  explicit HungFuse(const std::string& dir);
  ~HungFuse();  // lazy unmount (MNT_DETACH touches no FUSE request), close
  HungFuse(const HungFuse&) = delete;
  HungFuse& operator=(const HungFuse&) = delete;

  bool ok() const { return fd_ >= 0 && mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_;
  std::string why_;
  int fd_ = -1;
  bool mounted_ = false;
};

}  // namespace cvm::testing
