#include "tests/support/hung_fuse.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace cvm::testing {

HungFuse::HungFuse(const std::string& dir, Mode mode) : dir_(dir) {
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
  if (mode == Mode::kTakeAndHold) {
    void* shared = ::mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
      why_ = "mmap";
      return;
    }
    held_ = new (shared) std::atomic<int>(0);
    pid_t parent = ::getpid();
    server_ = ::fork();
    if (server_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(0);
      Serve(fd_);
      ::_exit(0);
    }
    if (server_ < 0) {
      why_ = std::string("fork: ") + std::strerror(errno);
      return;
    }
    ::close(fd_);  // only the server holds the device now
    fd_ = -2;      // ok() stays true
  }
}

void HungFuse::Serve(int fd) {
  // The read buffer must hold the largest request (FUSE_MIN_READ_BUFFER).
  std::string buf(64 * 1024, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < static_cast<ssize_t>(sizeof(fuse_in_header))) return;
    fuse_in_header in;
    std::memcpy(&in, buf.data(), sizeof in);
    if (in.opcode == FUSE_INTERRUPT) continue;  // a signalled caller's; ignored too
    if (in.opcode != FUSE_INIT) {
      ++*held_;  // taken, never answered
      continue;
    }
    fuse_init_in init{};
    std::memcpy(&init, buf.data() + sizeof in,
                std::min(sizeof init, static_cast<std::size_t>(n) - sizeof in));
    struct {
      fuse_out_header h;
      fuse_init_out o;
    } reply{};
    reply.h.len = sizeof reply;
    reply.h.unique = in.unique;
    reply.o.major = FUSE_KERNEL_VERSION;
    reply.o.minor = std::min<uint32_t>(init.minor, FUSE_KERNEL_MINOR_VERSION);
    reply.o.max_readahead = init.max_readahead;
    reply.o.max_write = 4096;
    reply.o.max_background = 16;
    reply.o.congestion_threshold = 12;
    reply.o.time_gran = 1;
    if (::write(fd, &reply, sizeof reply) != static_cast<ssize_t>(sizeof reply)) return;
  }
}

void HungFuse::Abort() {
  if (server_ > 0) {
    ::kill(server_, SIGKILL);  // its device closes: the connection aborts
    int status = 0;
    ::waitpid(server_, &status, 0);
    server_ = -1;
  }
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  mounted_ = false;
  // Closing the device aborts the connection: blocked callers get ENOTCONN.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

HungFuse::~HungFuse() {
  Abort();
  if (held_ != nullptr) ::munmap(held_, sizeof(std::atomic<int>));
}

}  // namespace cvm::testing
