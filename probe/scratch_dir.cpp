#include "probe/scratch_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>
#include <vector>

#include "probe/detail/unique_fd.h"
#include "probe/host_root.h"

namespace cvm::probe {
namespace {

Result<bool> WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool ValidName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos;
}

Result<bool> Open(const std::string& dir, std::string_view name, int flags,
                  std::string_view data) {
  std::string path = dir + "/" + std::string(name);
  if (!ValidName(name)) return ErrnoError(EINVAL, path);
  detail::UniqueFd fd(::open(path.c_str(), flags | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return ErrnoError(errno, path);
  return WriteAll(fd.get(), data, path);
}

}  // namespace

Result<ScratchDir> ScratchDir::Create(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp != nullptr && tmp[0] == '/' ? tmp : "/tmp";
  std::string templ = base + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return ErrnoError(errno, base);
  return ScratchDir(std::move(templ));
}

ScratchDir::ScratchDir(ScratchDir&& other) noexcept
    : path_(std::exchange(other.path_, std::string())) {}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  // Flat: only files, which this process and the library it serves made.
  // Listed through HostRoot, the one door that reads directories.
  if (auto dir = HostRoot::Open(path_, Resolver::kWalk)) {
    if (auto entries = dir->ListDir("/")) {
      for (const auto& e : *entries) (void)::unlink((path_ + "/" + e.name).c_str());
    }
  }
  (void)::rmdir(path_.c_str());
}

Result<bool> ScratchDir::Write(std::string_view name, std::string_view data) const {
  return Open(path_, name, O_CREAT | O_EXCL, data);
}

Result<bool> ScratchDir::Append(std::string_view name, std::string_view data) const {
  return Open(path_, name, O_APPEND, data);
}

}  // namespace cvm::probe
