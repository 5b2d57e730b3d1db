#include "probe/package_db.h"

#include <algorithm>

#include "probe/detail/text.h"

namespace cvm::probe {
namespace {

using detail::TrimSpace;

template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

std::vector<Package> ParseDpkgStatus(std::string_view text,
                                     bool status_optional) {
  std::vector<Package> out;
  Package cur;
  bool has_status = false, installed = false;
  auto flush = [&] {
    if (!cur.name.empty() && (installed || (!has_status && status_optional))) {
      out.push_back(std::move(cur));
    }
    cur = Package{};
    has_status = installed = false;
  };
  ForEachLine(text, [&](std::string_view line) {
    if (TrimSpace(line).empty()) return flush();
    if (line.front() == ' ' || line.front() == '\t') return;  // continuation
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view key = line.substr(0, colon);
    std::string_view value = TrimSpace(line.substr(colon + 1));
    if (key == "Package") {
      cur.name = std::string(value);
    } else if (key == "Version") {
      cur.version = std::string(value);
    } else if (key == "Architecture") {
      cur.arch = std::string(value);
    } else if (key == "Status") {
      has_status = true;
      // "install ok installed": the last word is the package state.
      auto sp = value.rfind(' ');
      installed = value.substr(sp == std::string_view::npos ? 0 : sp + 1) == "installed";
    }
  });
  flush();
  return out;
}

void DpkgStatusReader::Take(std::string_view stanzas) {
  for (auto& p : ParseDpkgStatus(stanzas, status_optional_)) {
    if (std::find(wanted_.begin(), wanted_.end(), p.name) != wanted_.end()) {
      out_.push_back(std::move(p));
    }
  }
}

void DpkgStatusReader::Feed(std::string_view piece) {
  // "\n\n" is always a blank line, where ParseDpkgStatus ends a stanza.
  detail::FeedPiece(carry_, piece, "\n\n", [this](std::string_view stanzas) { Take(stanzas); });
}

std::vector<Package> DpkgStatusReader::Finish() {
  Take(carry_);
  carry_.clear();
  return std::move(out_);
}

std::vector<std::string> ParseDpkgList(std::string_view text) {
  std::vector<std::string> out;
  ForEachLine(text, [&](std::string_view line) {
    line = TrimSpace(line);
    if (!line.empty() && line.front() == '/') out.emplace_back(line);
  });
  return out;
}

std::vector<Package> ParseApkInstalled(std::string_view text) {
  std::vector<Package> out;
  Package cur;
  std::string dir;
  auto flush = [&] {
    if (!cur.name.empty()) out.push_back(std::move(cur));
    cur = Package{};
    dir.clear();
  };
  ForEachLine(text, [&](std::string_view line) {
    if (TrimSpace(line).empty()) return flush();
    if (line.size() < 2 || line[1] != ':') return;
    std::string_view value = line.substr(2);
    switch (line[0]) {
      case 'P': cur.name = std::string(value); break;
      case 'V': cur.version = std::string(value); break;
      case 'A': cur.arch = std::string(value); break;
      case 'F': dir = std::string(value); break;
      case 'R': {
        // Appended piece by piece: see ErrnoName in probe/host_root.cpp.
        std::string path = "/";
        if (!dir.empty()) {
          path += dir;
          path += '/';
        }
        path += value;
        cur.files.push_back(std::move(path));
        break;
      }
      default: break;
    }
  });
  flush();
  return out;
}

std::string UpstreamVersion(std::string_view version) {
  auto colon = version.find(':');
  if (colon != std::string_view::npos) version.remove_prefix(colon + 1);
  auto dash = version.rfind('-');
  if (dash != std::string_view::npos && dash > 0) version = version.substr(0, dash);
  return std::string(version);
}

}  // namespace cvm::probe
