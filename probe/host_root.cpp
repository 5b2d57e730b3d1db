#include "probe/host_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

namespace cvm {

std::string ErrnoName(int code) {
  if (const char* name = strerrorname_np(code)) return name;
  // Appended, not `"E" + std::to_string(code)`. g++ 12 at -O3 (Release)
  // warns with a false -Wrestrict ("__builtin_memcpy ... may overlap") about
  // std::string's inlined _M_replace when a literal is put in front of a
  // string or assigned to one (`s = "n"`); reported by other projects too
  // (open-telemetry/opentelemetry-cpp#2134, dyninst/dyninst#1422). Appending
  // avoids it, and keeps -Wrestrict for the real overlaps it finds.
  std::string out = "E";
  out += std::to_string(code);
  return out;
}

Error ErrnoError(int code, std::string path) {
  const char* what = strerrordesc_np(code);
  std::string message = path + ": " + (what ? what : "unknown error") + " (" +
                        ErrnoName(code) + ")";
  return Error{code, std::move(path), std::move(message)};
}

Error MakeError(std::string path, std::string message, int code) {
  std::string full = path.empty() ? message : path + ": " + message;
  return Error{code, std::move(path), std::move(full)};
}

}  // namespace cvm

namespace cvm::probe {
namespace {

using detail::UniqueFd;

FileType TypeOf(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return FileType::kRegular;
    case S_IFDIR: return FileType::kDirectory;
    case S_IFLNK: return FileType::kSymlink;
    case S_IFIFO: return FileType::kFifo;
    case S_IFSOCK: return FileType::kSocket;
    case S_IFCHR: return FileType::kCharDevice;
    case S_IFBLK: return FileType::kBlockDevice;
    default: return FileType::kOther;
  }
}

FileInfo InfoOf(const struct stat& st) {
  FileInfo info;
  info.type = TypeOf(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.dev = st.st_dev;
  info.ino = st.st_ino;
  info.rdev = st.st_rdev;
  return info;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    i = j + 1;
  }
  return parts;
}

std::string JoinPath(const std::vector<std::string>& names) {
  if (names.empty()) return "/";
  std::string out;
  for (const auto& n : names) out += "/" + n;
  return out;
}

// Error for a file of a type we never open for reading.
Error RefusedType(std::string_view display, FileType type) {
  if (type == FileType::kDirectory) {
    return ErrnoError(EISDIR, std::string(display));
  }
  return MakeError(std::string(display),
                   "refused: a " + std::string(FileTypeName(type)) +
                       ", not a regular file",
                   EINVAL);
}

// Reads fd to its end in pieces of at most 16 KiB handed to `sink`; more
// than `cap` bytes in all is EFBIG. One buffer on the stack serves every
// piece, so a large file costs no large allocation (whose pages would each
// fault in). Not a thread_local: civetweb's threads have small stacks,
// and static TLS is carved out of every thread's stack.
Result<std::uint64_t> ReadPieces(int fd, std::string_view display, std::size_t cap,
                                 const std::function<void(std::string_view)>& sink) {
  char buf[16384];
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, std::string(display));
    }
    if (n == 0) break;
    if (total + static_cast<std::uint64_t>(n) > cap) {
      return MakeError(std::string(display),
                       "larger than the read cap of " + std::to_string(cap) +
                           " bytes (EFBIG)",
                       EFBIG);
    }
    total += static_cast<std::uint64_t>(n);
    sink(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  return total;
}

Result<std::string> ReadBounded(int fd, std::string_view display,
                                std::size_t cap) {
  std::string out;
  auto r = ReadPieces(fd, display, cap, [&out](std::string_view piece) { out += piece; });
  if (!r) return r.error();
  return out;
}

long SysOpenat2(int dirfd, const char* path, int flags, bool follow) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC |
                                         (follow ? 0 : O_NOFOLLOW));
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

}  // namespace

std::string_view FileTypeName(FileType type) {
  switch (type) {
    case FileType::kRegular: return "regular file";
    case FileType::kDirectory: return "directory";
    case FileType::kSymlink: return "symbolic link";
    case FileType::kFifo: return "FIFO";
    case FileType::kSocket: return "socket";
    case FileType::kCharDevice: return "character device";
    case FileType::kBlockDevice: return "block device";
    case FileType::kOther: break;
  }
  return "special file";
}

std::string NormalizeInRootPath(std::string_view path) {
  std::string out = "/";
  for (const auto& part : SplitPath(path)) {
    if (out.size() > 1) out += '/';
    out += part;
  }
  return out;
}

struct HostRoot::Resolved {
  UniqueFd fd;  // O_PATH
  struct stat st {};
  UniqueFd parent;   // O_PATH directory holding the last component (walk)
  std::string name;  // last component (walk)
  std::string canonical;
};

bool HostRoot::KernelHasOpenat2() noexcept {
  static const bool has = [] {
    long fd = SysOpenat2(AT_FDCWD, "/", O_PATH, true);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
      return true;
    }
    return errno != ENOSYS && errno != EPERM;
  }();
  return has;
}

Result<HostRoot> HostRoot::Open(const std::string& dir, Resolver resolver) {
  if (dir.empty()) return MakeError("", "the root path is empty", EINVAL);
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, dir);
  auto state = std::make_shared<State>();
  state->root_fd.Reset(fd);
  state->path = dir;
  switch (resolver) {
    case Resolver::kAuto:
      state->resolver =
          KernelHasOpenat2() ? Resolver::kOpenat2 : Resolver::kWalk;
      break;
    case Resolver::kOpenat2:
      if (!KernelHasOpenat2()) {
        return MakeError(dir, "openat2(2) is not available on this kernel",
                         ENOSYS);
      }
      state->resolver = Resolver::kOpenat2;
      break;
    case Resolver::kWalk:
      state->resolver = Resolver::kWalk;
      break;
  }
  return HostRoot(std::move(state));
}

Result<HostRoot::Resolved> HostRoot::ResolveFd(std::string_view path,
                                               bool follow_last) const {
  std::string display = NormalizeInRootPath(path);
  if (state_->resolver == Resolver::kOpenat2) {
    return Openat2(display, follow_last);
  }
  return Walk(display, follow_last);
}

// The reference resolver: one component at a time with O_PATH|O_NOFOLLOW,
// keeping a stack of the directories passed so ".." never goes through
// the kernel and so never above the root.
Result<HostRoot::Resolved> HostRoot::Walk(std::string_view display,
                                          bool follow_last,
                                          const LookupGate* gate) const {
  auto refused = [&](std::string at) {
    return MakeError(std::string(display), "not looked up: " + at, kLookupRefused);
  };
  if (gate != nullptr && !(*gate)("/")) return refused("/");
  std::deque<std::string> todo;
  for (auto& part : SplitPath(display)) todo.push_back(std::move(part));
  std::vector<UniqueFd> dirs;
  std::vector<std::string> names;
  dirs.emplace_back(::fcntl(state_->root_fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!dirs.back().valid()) return ErrnoError(errno, std::string(display));
  int hops = 0;
  Resolved out;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == "..") {
      if (dirs.size() > 1) {
        dirs.pop_back();
        names.pop_back();
      }
      continue;
    }
    if (gate != nullptr) {
      std::string next = names.empty() ? "" : JoinPath(names);
      next += "/";
      next += part;
      if (!(*gate)(next)) return refused(next);
    }
    UniqueFd fd(::openat(dirs.back().get(), part.c_str(),
                         O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, std::string(display));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      return ErrnoError(errno, std::string(display));
    }
    bool last = todo.empty();
    if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
      if (++hops > kMaxSymlinkHops) {
        return ErrnoError(ELOOP, std::string(display));
      }
      char target[4096];
      ssize_t n = ::readlinkat(fd.get(), "", target, sizeof target);
      if (n < 0) return ErrnoError(errno, std::string(display));
      if (n == 0 || static_cast<std::size_t>(n) >= sizeof target) {
        return ErrnoError(n == 0 ? ENOENT : ENAMETOOLONG,
                          std::string(display));
      }
      std::string_view t(target, static_cast<std::size_t>(n));
      if (t.front() == '/') {
        dirs.resize(1);
        names.clear();
      }
      auto parts = SplitPath(t);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        todo.push_front(std::move(*it));
      }
      continue;
    }
    if (last) {
      out.fd = std::move(fd);
      out.st = st;
      out.parent = std::move(dirs.back());
      out.name = part;
      names.push_back(part);
      out.canonical = JoinPath(names);
      return out;
    }
    if (!S_ISDIR(st.st_mode)) return ErrnoError(ENOTDIR, std::string(display));
    dirs.push_back(std::move(fd));
    names.push_back(std::move(part));
  }
  // The path ended on the root or on a directory reached through "..".
  out.fd = std::move(dirs.back());
  if (::fstat(out.fd.get(), &out.st) != 0) {
    return ErrnoError(errno, std::string(display));
  }
  out.canonical = JoinPath(names);
  return out;
}

Result<HostRoot::Resolved> HostRoot::Openat2(std::string_view display,
                                             bool follow_last) const {
  std::string rel = display.size() > 1 ? std::string(display.substr(1)) : ".";
  long fd = -1;
  for (int attempt = 0; attempt < 8; ++attempt) {
    fd = SysOpenat2(state_->root_fd.get(), rel.c_str(), O_PATH, follow_last);
    if (fd >= 0 || errno != EAGAIN) break;  // EAGAIN: a rename race; retry
  }
  if (fd < 0) {
    if (errno == EAGAIN) return Walk(display, follow_last);
    return ErrnoError(errno, std::string(display));
  }
  Resolved out;
  out.fd.Reset(static_cast<int>(fd));
  if (::fstat(out.fd.get(), &out.st) != 0) {
    return ErrnoError(errno, std::string(display));
  }
  return out;
}

// Opens the resolved file for real I/O without opening anything else: the
// same in-root path is opened again with `flags` and must still be the
// same inode, so a file swapped for a device in between is refused.
Result<UniqueFd> HostRoot::Reopen(const Resolved& r, std::string_view display,
                                  int flags) const {
  flags |= O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  UniqueFd fd;
  if (r.parent.valid()) {
    fd.Reset(::openat(r.parent.get(), r.name.c_str(), flags));
  } else if (state_->resolver == Resolver::kOpenat2) {
    std::string rel =
        display.size() > 1 ? std::string(display.substr(1)) : ".";
    fd.Reset(static_cast<int>(
        SysOpenat2(state_->root_fd.get(), rel.c_str(), flags & ~O_NOFOLLOW,
                   /*follow=*/true)));
  } else {
    fd.Reset(::openat(r.fd.get(), ".", flags));
  }
  if (!fd.valid()) return ErrnoError(errno, std::string(display));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, std::string(display));
  if (st.st_dev != r.st.st_dev || st.st_ino != r.st.st_ino) {
    return MakeError(std::string(display), "changed while being opened",
                     EAGAIN);
  }
  return fd;
}

// Resolves a path and opens it for reading, refusing anything but a
// regular file before it is opened.
Result<UniqueFd> HostRoot::OpenRegular(std::string_view display) const {
  auto r = ResolveFd(display, /*follow_last=*/true);
  if (!r) return r.error();
  FileType type = TypeOf(r->st.st_mode);
  if (type != FileType::kRegular) return RefusedType(display, type);
  return Reopen(*r, display, O_RDONLY);
}

Result<std::string> HostRoot::ReadFile(std::string_view path,
                                       std::size_t cap) const {
  std::string display = NormalizeInRootPath(path);
  auto fd = OpenRegular(display);
  if (!fd) return fd.error();
  return ReadBounded(fd->get(), display, cap);
}

Result<std::uint64_t> HostRoot::ReadPieces(
    std::string_view path, std::size_t cap,
    const std::function<void(std::string_view)>& sink) const {
  std::string display = NormalizeInRootPath(path);
  auto fd = OpenRegular(display);
  if (!fd) return fd.error();
  return cvm::probe::ReadPieces(fd->get(), display, cap, sink);
}

Result<std::string> HostRoot::ReadRange(std::string_view path,
                                        std::uint64_t offset,
                                        std::size_t length) const {
  std::string display = NormalizeInRootPath(path);
  if (length > kDefaultReadCap) {
    return MakeError(display,
                     "range of " + std::to_string(length) +
                         " bytes is larger than the read cap of " +
                         std::to_string(kDefaultReadCap) + " bytes (EFBIG)",
                     EFBIG);
  }
  if (offset > static_cast<std::uint64_t>(INT64_MAX) - length) {
    return ErrnoError(EINVAL, display);
  }
  auto fd = OpenRegular(display);
  if (!fd) return fd.error();
  std::string out(length, '\0');
  std::size_t got = 0;
  while (got < length) {
    ssize_t n = ::pread(fd->get(), out.data() + got, length - got,
                        static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, display);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

Result<FileInfo> HostRoot::Stat(std::string_view path) const {
  auto r = ResolveFd(path, /*follow_last=*/true);
  if (!r) return r.error();
  return InfoOf(r->st);
}

Result<FileInfo> HostRoot::Lstat(std::string_view path) const {
  auto r = ResolveFd(path, /*follow_last=*/false);
  if (!r) return r.error();
  return InfoOf(r->st);
}

Result<std::vector<DirEntry>> HostRoot::ListDir(std::string_view path,
                                                std::size_t max_entries) const {
  std::string display = NormalizeInRootPath(path);
  auto r = ResolveFd(display, /*follow_last=*/true);
  if (!r) return r.error();
  if (!S_ISDIR(r->st.st_mode)) return ErrnoError(ENOTDIR, display);
  int fd = ::openat(r->fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, display);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int e = errno;
    ::close(fd);
    return ErrnoError(e, display);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, &::closedir);
  std::vector<DirEntry> entries;
  for (;;) {
    errno = 0;
    struct dirent* de = ::readdir(dir);
    if (de == nullptr) {
      if (errno != 0) return ErrnoError(errno, display);
      break;
    }
    std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    if (entries.size() >= max_entries) {
      return MakeError(display,
                       "more than " + std::to_string(max_entries) +
                           " entries (E2BIG)",
                       E2BIG);
    }
    FileType type = FileType::kOther;
    struct stat st;
    if (::fstatat(::dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      type = TypeOf(st.st_mode);
    }
    entries.push_back({std::string(name), type});
  }
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return entries;
}

Result<std::string> HostRoot::ReadLink(std::string_view path) const {
  std::string display = NormalizeInRootPath(path);
  auto r = ResolveFd(display, /*follow_last=*/false);
  if (!r) return r.error();
  if (!S_ISLNK(r->st.st_mode)) return ErrnoError(EINVAL, display);
  char target[4096];
  ssize_t n = ::readlinkat(r->fd.get(), "", target, sizeof target);
  if (n < 0) return ErrnoError(errno, display);
  return std::string(target, static_cast<std::size_t>(n));
}

Result<std::string> HostRoot::Resolve(std::string_view path) const {
  // The walk is the one resolver that knows the names it went through.
  auto r = Walk(NormalizeInRootPath(path), /*follow_last=*/true);
  if (!r) return r.error();
  return r->canonical;
}

Result<std::string> HostRoot::Resolve(
    std::string_view path,
    const std::function<bool(std::string_view)>& may_look_up) const {
  auto r = Walk(NormalizeInRootPath(path), /*follow_last=*/true, &may_look_up);
  if (!r) return r.error();
  return r->canonical;
}

Result<std::string> HostRoot::PathInProcess() const {
  std::string link = "/proc/self/fd/" + std::to_string(state_->root_fd.get());
  char target[4096];
  ssize_t n = ::readlink(link.c_str(), target, sizeof target);
  if (n < 0) return ErrnoError(errno, link);
  if (static_cast<std::size_t>(n) >= sizeof target) return ErrnoError(ENAMETOOLONG, link);
  std::string out(target, static_cast<std::size_t>(n));
  // "/x (deleted)", or "anon_inode:..."-like names outside any path.
  if (out.empty() || out.front() != '/' || out.ends_with(" (deleted)")) {
    return MakeError(link, "the root has no path in this process: " + out, ENOENT);
  }
  return out;
}

bool HostRoot::HasProcfs() const {
  auto r = ResolveFd("/proc", /*follow_last=*/true);
  if (!r) return false;
  struct statfs sfs;
  return ::fstatfs(r->fd.get(), &sfs) == 0 &&
         static_cast<unsigned long>(sfs.f_type) == PROC_SUPER_MAGIC;
}

bool HostRoot::IsHostSlash() const {
  struct stat root_st, slash_st;
  return ::fstat(state_->root_fd.get(), &root_st) == 0 &&
         ::stat("/", &slash_st) == 0 && root_st.st_dev == slash_st.st_dev &&
         root_st.st_ino == slash_st.st_ino;
}

Result<PinnedDir> HostRoot::PinDirectory(std::string_view path) const {
  std::string display = NormalizeInRootPath(path);
  auto r = ResolveFd(display, /*follow_last=*/true);
  if (!r) return r.error();
  if (!S_ISDIR(r->st.st_mode)) return ErrnoError(ENOTDIR, display);
  PinnedDir pinned;
  pinned.path = "/proc/self/fd/" + std::to_string(r->fd.get());
  pinned.fd = std::move(r->fd);
  return pinned;
}

Result<UniqueFd> HostRoot::OpenBlockDevice(std::string_view path) const {
  std::string display = NormalizeInRootPath(path);
  auto r = ResolveFd(display, /*follow_last=*/true);
  if (!r) return r.error();
  FileType type = TypeOf(r->st.st_mode);
  if (type != FileType::kBlockDevice && type != FileType::kRegular) {
    return MakeError(display,
                     "refused: a " + std::string(FileTypeName(type)) +
                         ", not a block device",
                     EINVAL);
  }
  return Reopen(*r, display, O_RDONLY);
}

}  // namespace cvm::probe
