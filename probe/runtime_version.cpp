#include "probe/runtime_version.h"
#include "probe/detail/text.h"

#include <cctype>

namespace cvm::probe {
namespace {

using detail::SplitFields;
using detail::SplitLines;
using detail::TrimSpace;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

bool LooksLikeVersion(std::string_view v) {
  return !v.empty() && (IsDigit(v.front()) ||
                        (v.size() > 1 && v.front() == 'v' && IsDigit(v[1])));
}

Error NoVersion(std::string_view what, std::string_view text) {
  std::string first(TrimSpace(text.substr(0, text.find('\n'))));
  if (first.size() > 80) first = first.substr(0, 80) + "...";
  return MakeError("", "no " + std::string(what) + " version in \"" + first + "\"");
}

}  // namespace

std::string StripV(std::string_view version) {
  if (version.size() > 1 && version.front() == 'v' && IsDigit(version[1])) {
    version.remove_prefix(1);
  }
  return std::string(version);
}

Result<RuncVersion> ParseRuncVersion(std::string_view text) {
  RuncVersion out;
  bool found = false;
  for (std::string_view line : SplitLines(text)) {
    line = TrimSpace(line);
    if (StartsWith(line, "runc version ")) {
      auto w = SplitFields(line.substr(13));
      if (!w.empty() && LooksLikeVersion(w[0])) {
        out.version = StripV(w[0]);
        found = true;
      }
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = TrimSpace(line.substr(0, colon));
    std::string value(TrimSpace(line.substr(colon + 1)));
    if (key == "commit") out.commit = value;
    else if (key == "spec") out.spec = value;
    else if (key == "go") out.go = value;
    else if (key == "libseccomp") out.libseccomp = value;
  }
  if (!found) return NoVersion("runc", text);
  return out;
}

Result<ContainerdVersion> ParseContainerdVersion(std::string_view text) {
  for (std::string_view line : SplitLines(text)) {
    auto w = SplitFields(line);
    if (w.size() < 3 || w[0] != "containerd") continue;
    ContainerdVersion out;
    if (w[1] == "version") {  // 0.2.x: "containerd version 0.2.4 commit: X"
      if (!LooksLikeVersion(w[2])) continue;
      out.version = StripV(w[2]);
      if (w.size() >= 5 && w[3] == "commit:") {
        out.revision = std::string(w[4]);
      } else if (w.size() >= 4 && StartsWith(w[3], "commit:")) {
        out.revision = std::string(w[3].substr(7));  // "commit:4ab9917f..."
      }
      return out;
    }
    if (!LooksLikeVersion(w[2])) continue;
    out.package = std::string(w[1]);
    out.version = StripV(w[2]);
    if (w.size() >= 4) out.revision = std::string(w[3]);
    return out;
  }
  return NoVersion("containerd", text);
}

Result<std::string> ParseToolVersion(std::string_view text) {
  for (std::string_view line : SplitLines(text)) {
    auto w = SplitFields(line);
    for (std::size_t i = 0; i + 1 < w.size(); ++i) {
      std::string word;
      for (char c : w[i]) word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (word != "version" && word != "version:") continue;
      std::string_view v = w[i + 1];
      while (!v.empty() && (v.back() == ',' || v.back() == ';')) v.remove_suffix(1);
      if (LooksLikeVersion(v)) return StripV(v);
    }
  }
  return NoVersion("", text);
}

ContainerdIoRuncTable ParseContainerdIoRuncTable(std::string_view text) {
  ContainerdIoRuncTable table;
  int n = 0;
  for (std::string_view line : SplitLines(text)) {
    ++n;
    std::string_view t = TrimSpace(line);
    if (t.empty() || t.front() == '#') continue;
    std::vector<std::string_view> cols;
    while (true) {
      auto tab = line.find('\t');
      cols.push_back(TrimSpace(line.substr(0, tab)));
      if (tab == std::string_view::npos) break;
      line.remove_prefix(tab + 1);
    }
    if (cols.size() != 3 || cols[0].empty() || cols[1].empty() ||
        cols[2].empty() || !LooksLikeVersion(cols[0]) ||
        !LooksLikeVersion(cols[1])) {
      table.warnings.push_back("line " + std::to_string(n) +
                               ": expected <containerd.io>\\t<runc>\\t<source>");
      continue;
    }
    table.rows.push_back({std::string(cols[0]), std::string(cols[1]),
                          std::string(cols[2])});
  }
  return table;
}

std::optional<ContainerdIoRunc> RuncOfContainerdIo(
    const ContainerdIoRuncTable& table, std::string_view package_version) {
  auto colon = package_version.find(':');  // a dpkg epoch
  if (colon != std::string_view::npos) package_version.remove_prefix(colon + 1);
  std::string_view upstream = package_version.substr(0, package_version.find('-'));
  for (const auto& row : table.rows) {
    if (row.containerd_io == upstream) return row;
  }
  return std::nullopt;
}

}  // namespace cvm::probe

namespace cvm::probe {
namespace detail {
extern const std::string_view kContainerdIoRuncTsv;
}  // namespace detail

const ContainerdIoRuncTable& BuiltinContainerdIoRuncTable() {
  static const ContainerdIoRuncTable table =
      ParseContainerdIoRuncTable(detail::kContainerdIoRuncTsv);
  return table;
}

}  // namespace cvm::probe
