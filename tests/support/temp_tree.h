#pragma once
// TempTree: a temporary folder for a test, removed at the end, with small
// helpers to lay out a host root (files, links, FIFOs).

#include <string>
#include <string_view>

namespace cvm::testing {

class TempTree {
 public:
  TempTree();
  ~TempTree();
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& path() const { return path_; }
  // Absolute host path of an in-tree path.
  std::string Abs(std::string_view rel) const;
  void Write(std::string_view rel, std::string_view content, int mode = 0644);
  void Mkdir(std::string_view rel);
  void Symlink(std::string_view rel, std::string_view target);
  void Fifo(std::string_view rel);
  // Copies a source-tree folder (fixtures/x/root) in, links kept as links.
  void CopyFrom(const std::string& dir);

 private:
  std::string path_;
};

}  // namespace cvm::testing
