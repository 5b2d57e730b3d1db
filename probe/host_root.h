#pragma once
// HostRoot: the only door from a probe to the host's files. Paths are
// in-root literals ("/etc/os-release") resolved inside the root the way
// systemd's chaseat() does: absolute symlinks restart at the root, ".."
// stops at it, and more than kMaxSymlinkHops links end in ELOOP. Reads are
// bounded; FIFOs, sockets and devices are refused, never opened.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probe/detail/unique_fd.h"
#include "probe/result.h"

namespace cvm::probe {

enum class FileType {
  kRegular,
  kDirectory,
  kSymlink,
  kFifo,
  kSocket,
  kCharDevice,
  kBlockDevice,
  kOther,
};
std::string_view FileTypeName(FileType type);

struct FileInfo {
  FileType type = FileType::kOther;
  std::uint32_t mode = 0;  // permission bits only
  std::uint64_t size = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t rdev = 0;
};

struct DirEntry {
  std::string name;
  FileType type = FileType::kOther;  // from lstat: links are kSymlink
  bool operator==(const DirEntry&) const = default;
};

// How paths are resolved. kAuto takes openat2(RESOLVE_IN_ROOT) where the
// running kernel has it (Linux 5.6+) and the userspace walk elsewhere.
enum class Resolver { kAuto, kOpenat2, kWalk };

inline constexpr std::size_t kDefaultReadCap = 1 << 20;  // 1 MiB
inline constexpr std::size_t kDefaultMaxDirEntries = 1 << 16;
inline constexpr int kMaxSymlinkHops = 40;  // as the kernel's MAXSYMLINKS

// An open directory handed to a C library that only takes path names
// (libkmod): `path` is "/proc/self/fd/N" and stays valid while this lives.
struct PinnedDir {
  detail::UniqueFd fd;
  std::string path;
};

class HostRoot {
 public:
  // Opens `dir` as the root. Fails when it does not exist or is not a
  // directory, or when kOpenat2 is asked for on a kernel without openat2.
  static Result<HostRoot> Open(const std::string& dir,
                               Resolver resolver = Resolver::kAuto);

  // The root as given ("/", "/host", a fixture folder).
  const std::string& path() const noexcept { return state_->path; }
  // The resolver in use: kOpenat2 or kWalk, never kAuto.
  Resolver resolver() const noexcept { return state_->resolver; }
  // True when the running kernel implements openat2(2).
  static bool KernelHasOpenat2() noexcept;

  // Reads a regular file, at most `cap` bytes; a longer file is an EFBIG
  // error, not a truncated read. Other file types are refused.
  Result<std::string> ReadFile(std::string_view path,
                               std::size_t cap = kDefaultReadCap) const;
  // ReadFile for large files read once (a dpkg status of 1 MB): hands the
  // file to `sink` in pieces of at most 16 KiB (a piece may end mid-line)
  // and returns the size; the same refusals and errors as ReadFile, and a
  // file over `cap` is EFBIG after the pieces before it were handed on.
  Result<std::uint64_t> ReadPieces(
      std::string_view path, std::size_t cap,
      const std::function<void(std::string_view)>& sink) const;
  // Reads `length` bytes of a regular file from `offset` (pread): fewer
  // when the file ends first. For formats read piecewise (ELF headers and
  // one section), so a large binary is never read whole. `length` above
  // kDefaultReadCap is an EFBIG error.
  Result<std::string> ReadRange(std::string_view path, std::uint64_t offset,
                                std::size_t length) const;
  // stat(2) of the file a path resolves to, links followed inside the root.
  Result<FileInfo> Stat(std::string_view path) const;
  // lstat(2): the last component is not followed.
  Result<FileInfo> Lstat(std::string_view path) const;
  // The entries of a directory (without "." and ".."), sorted by name.
  Result<std::vector<DirEntry>> ListDir(
      std::string_view path,
      std::size_t max_entries = kDefaultMaxDirEntries) const;
  // The target of a symbolic link, as stored.
  Result<std::string> ReadLink(std::string_view path) const;
  // The canonical in-root path a path resolves to ("/var/run" -> "/run").
  Result<std::string> Resolve(std::string_view path) const;
  // Resolve, asking `may_look_up` before each lookup: with "/" before the
  // first, then with the canonical in-root path of each component about to
  // be looked up (links followed: "/var/run" asks "/var", "/var/run",
  // then "/run"). When it answers false nothing more is looked up and the
  // error has code kLookupRefused. The storage probe uses it to resolve in
  // its own process only what sits on filesystems that cannot hang.
  static constexpr int kLookupRefused = -1;
  Result<std::string> Resolve(
      std::string_view path,
      const std::function<bool(std::string_view)>& may_look_up) const;
  // The root's path in this process's mount namespace ("/", "/host",
  // "/work/fixtures/x/root"), as the kernel names the open root
  // (/proc/self/fd/N); an error when it has none (deleted, unreachable).
  Result<std::string> PathInProcess() const;
  // True when `<root>/proc` is a mounted procfs, i.e. the root's /proc
  // describes the running kernel (a live host, not a folder or an image).
  bool HasProcfs() const;
  // True when the root is this process's own "/" (same device and inode):
  // only then may C libraries that read the real /sys (libudev) stand in
  // for reads through the root.
  bool IsHostSlash() const;
  // Pins a directory for a C library that takes path names (libkmod).
  Result<PinnedDir> PinDirectory(std::string_view path) const;
  // The one exception to "no device nodes" (ARCHITECTURE.md): opens a
  // block device, or a regular image file for tests, read-only and
  // non-blocking, for libblkid. Only the storage probe calls it.
  Result<detail::UniqueFd> OpenBlockDevice(std::string_view path) const;

 private:
  struct State {
    detail::UniqueFd root_fd;
    std::string path;
    Resolver resolver = Resolver::kWalk;
  };
  explicit HostRoot(std::shared_ptr<const State> state)
      : state_(std::move(state)) {}

  struct Resolved;
  Result<Resolved> ResolveFd(std::string_view path, bool follow_last) const;
  using LookupGate = std::function<bool(std::string_view)>;
  Result<Resolved> Walk(std::string_view display, bool follow_last,
                        const LookupGate* gate = nullptr) const;
  Result<Resolved> Openat2(std::string_view display, bool follow_last) const;
  Result<detail::UniqueFd> Reopen(const Resolved& r, std::string_view display,
                                  int flags) const;
  Result<detail::UniqueFd> OpenRegular(std::string_view display) const;

  std::shared_ptr<const State> state_;
};

// Normalises an in-root path for messages: leading "/", no doubled or
// trailing slashes ("etc//os-release/" -> "/etc/os-release").
std::string NormalizeInRootPath(std::string_view path);

}  // namespace cvm::probe
