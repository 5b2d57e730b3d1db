#include "tests/support/data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace cvm::testing {

std::string SourcePath(const std::string& rel) {
  return std::string(CVM_SOURCE_DIR) + "/" + rel;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ListNames(const std::string& dir, bool files_only) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (files_only && !e.is_regular_file()) continue;
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> DataLines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(ReadText(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  return out;
}

}  // namespace cvm::testing
