#include "probe/mountinfo.h"
#include "probe/detail/text.h"

#include <cerrno>
#include <charconv>

namespace cvm::probe {
namespace {

using detail::SplitFields;

template <typename Int>
bool ParseInt(std::string_view s, Int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool HasOption(std::string_view list, std::string_view opt) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (list.substr(0, comma) == opt) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Calls fn(line, "line N: ") for each non-blank line's fields.
template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  auto lines = detail::SplitLines(text);
  for (std::size_t k = 0; k < lines.size(); ++k) {
    auto f = SplitFields(lines[k]);
    if (!f.empty()) fn(f, "line " + std::to_string(k + 1) + ": ");
  }
}

}  // namespace

std::string UnescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      std::string_view oct = field.substr(i + 1, 3);
      if (oct[0] >= '0' && oct[0] <= '3' && oct[1] >= '0' && oct[1] <= '7' &&
          oct[2] >= '0' && oct[2] <= '7') {
        out += static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 +
                                 (oct[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

bool MountInfo::ReadOnly() const {
  return HasOption(options, "ro") || HasOption(super_options, "ro");
}

std::string MountInfo::Propagation() const {
  bool shared = false, slave = false;
  for (const auto& f : optional_fields) {
    if (f.rfind("shared:", 0) == 0) shared = true;
    if (f.rfind("master:", 0) == 0) slave = true;
    if (f == "unbindable") return "unbindable";
  }
  if (shared && slave) return "shared,slave";
  if (shared) return "shared";
  if (slave) return "slave";
  return "private";
}

MountTable ParseMountInfo(std::string_view text) {
  MountTable table;
  ForEachLine(text, [&](const std::vector<std::string_view>& f, const std::string& where) {
    std::size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 7 || dash + 2 >= f.size()) {
      table.warnings.push_back(where + "too few fields; line ignored");
      return;
    }
    MountInfo m;
    auto colon = f[2].find(':');
    if (!ParseInt(f[0], m.mount_id) || !ParseInt(f[1], m.parent_id) ||
        colon == std::string_view::npos ||
        !ParseInt(f[2].substr(0, colon), m.major) ||
        !ParseInt(f[2].substr(colon + 1), m.minor)) {
      table.warnings.push_back(where + "bad mount id or device; line ignored");
      return;
    }
    m.root = UnescapeMountField(f[3]);
    m.mount_point = UnescapeMountField(f[4]);
    m.options = std::string(f[5]);
    for (std::size_t i = 6; i < dash; ++i) m.optional_fields.emplace_back(f[i]);
    m.fstype = std::string(f[dash + 1]);
    m.source = UnescapeMountField(f[dash + 2]);
    if (dash + 3 < f.size()) m.super_options = std::string(f[dash + 3]);
    table.mounts.push_back(std::move(m));
  });
  return table;
}

MountTable ParseProcMounts(std::string_view text) {
  MountTable table;
  table.has_ids = false;
  ForEachLine(text, [&](const std::vector<std::string_view>& f, const std::string& where) {
    // The two trailing numbers (dump, pass) are always "0 0" in /proc.
    if (f.size() < 4) {
      table.warnings.push_back(where + "too few fields; line ignored");
      return;
    }
    if (f[1].empty() || f[1].front() != '/') {
      table.warnings.push_back(where + "mount point is not an absolute path; line ignored");
      return;
    }
    MountInfo m;
    m.source = UnescapeMountField(f[0]);
    m.mount_point = UnescapeMountField(f[1]);
    m.fstype = std::string(f[2]);
    m.options = std::string(f[3]);
    table.mounts.push_back(std::move(m));
  });
  return table;
}

const MountInfo* FindMountFor(const MountTable& table, std::string_view path) {
  const MountInfo* best = nullptr;
  for (const auto& m : table.mounts) {
    std::string_view mp = m.mount_point;
    bool holds = path == mp ||
                 (mp == "/" && !path.empty() && path.front() == '/') ||
                 (path.size() > mp.size() && path.substr(0, mp.size()) == mp &&
                  path[mp.size()] == '/');
    if (holds && (best == nullptr || mp.size() >= best->mount_point.size())) {
      best = &m;
    }
  }
  return best;
}

Result<MountTableRead> ReadMountTable(const HostRoot& root) {
  Result<std::string> text = MakeError("", "");
  std::string_view source;
  for (std::string_view path : {"/proc/1/mountinfo", "/proc/self/mountinfo", "/proc/mounts"}) {
    source = path;
    text = root.ReadFile(path, kMountInfoCap);
    if (text || text.error().code != ENOENT) break;
  }
  if (!text) return text.error();
  MountTable table = source == "/proc/mounts" ? ParseProcMounts(*text) : ParseMountInfo(*text);
  return MountTableRead{std::move(table), std::string(source)};
}

const Result<MountTableRead>& MountTableOnce::Get() {
  if (!read_) read_.emplace(ReadMountTable(root_));
  return *read_;
}

}  // namespace cvm::probe
