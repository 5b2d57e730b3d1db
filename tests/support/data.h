#pragma once
// Paths of the source tree's fixtures and test data, and file reading for
// tests (tests may read files directly; probes may not).

#include <string>
#include <vector>

namespace cvm::testing {

std::string SourcePath(const std::string& rel);  // CVM_SOURCE_DIR/rel
std::string ReadText(const std::string& path);
// Names of the entries of a directory, sorted; files only when asked.
std::vector<std::string> ListNames(const std::string& dir, bool files_only);
// Lines of a data file, without blank lines and '#' comments.
std::vector<std::string> DataLines(const std::string& path);

}  // namespace cvm::testing
