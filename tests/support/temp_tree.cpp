#include "tests/support/temp_tree.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace cvm::testing {

TempTree::TempTree() {
  std::string tmpl = (fs::temp_directory_path() / "cvm-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
  path_ = tmpl;
}

TempTree::~TempTree() {
  std::error_code ec;
  // Mode-000 entries made by tests must not stop the clean-up.
  for (auto it = fs::recursive_directory_iterator(
           path_, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
  fs::remove_all(path_, ec);
}

std::string TempTree::Abs(std::string_view rel) const {
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return path_ + "/" + std::string(rel);
}

void TempTree::Write(std::string_view rel, std::string_view content, int mode) {
  std::string p = Abs(rel);
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
  ::chmod(p.c_str(), static_cast<mode_t>(mode));
}

void TempTree::Mkdir(std::string_view rel) { fs::create_directories(Abs(rel)); }

void TempTree::Symlink(std::string_view rel, std::string_view target) {
  std::string p = Abs(rel);
  fs::create_directories(fs::path(p).parent_path());
  fs::create_symlink(std::string(target), p);
}

void TempTree::Fifo(std::string_view rel) {
  std::string p = Abs(rel);
  fs::create_directories(fs::path(p).parent_path());
  if (::mkfifo(p.c_str(), 0644) != 0) throw std::runtime_error("mkfifo " + p);
}

void TempTree::CopyFrom(const std::string& dir) {
  fs::copy(dir, path_,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks |
               fs::copy_options::overwrite_existing);
}

}  // namespace cvm::testing
