#include "tests/support/hung_fuse.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cvm::testing {

HungFuse::HungFuse(const std::string& dir) : dir_(dir) {
  fd_ = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd_ < 0) {
    why_ = std::string("open /dev/fuse: ") + std::strerror(errno);
    return;
  }
  // The options the kernel requires of a raw fuse mount (fs/fuse/inode.c:
  // fd, rootmode, user_id, group_id).
  std::string opts = "fd=" + std::to_string(fd_) +
                     ",rootmode=40000,user_id=0,group_id=0";
  if (::mount("hung", dir.c_str(), "fuse.hung", MS_NOSUID | MS_NODEV,
              opts.c_str()) != 0) {
    why_ = std::string("mount fuse on ") + dir + ": " + std::strerror(errno);
    return;
  }
  mounted_ = true;
}

HungFuse::~HungFuse() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  // Closing the device aborts the connection: blocked callers get ENOTCONN.
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace cvm::testing
