#include "exporter/text_report.h"

#include <algorithm>
#include <string>

#include "exporter/version.h"

namespace cvm::exporter {
namespace {

struct Style {
  bool on;
  std::string Bold(std::string_view s) const { return Wrap("1", s); }
  std::string Dim(std::string_view s) const { return Wrap("2", s); }
  std::string Red(std::string_view s) const { return Wrap("31", s); }
  std::string Wrap(std::string_view code, std::string_view s) const {
    if (!on) return std::string(s);
    return "\033[" + std::string(code) + "m" + std::string(s) + "\033[0m";
  }
};

std::string GroupTitle(std::string_view group) {
  struct Title {
    std::string_view group;
    std::string_view title;
  };
  static constexpr Title kTitles[] = {
      {"kernel", "Kernel"},       {"os", "Operating system"},
      {"selinux", "SELinux"},     {"cgroup", "cgroups"},
      {"userns", "User namespaces"}, {"shiftfs", "shiftfs"},
      {"runtime", "Container runtimes"}, {"gpu", "GPUs"},
      {"platform", "Platform"},   {"hostpath", "Host paths"},
      {"storage", "Storage"},
  };
  for (const auto& t : kTitles) {
    if (t.group == group) return std::string(t.title);
  }
  std::string s(group);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 32);
  return s;
}

std::string ScalarText(const probe::Scalar& s) {
  struct V {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(const std::string& x) const { return x; }
  };
  return std::visit(V{}, s);
}

}  // namespace

std::string FactValueText(const probe::FactValue& value) {
  struct V {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(const std::string& s) const {
      return s.empty() ? "\"\"" : s;
    }
    std::string operator()(const probe::StringList& l) const {
      if (l.empty()) return "(none)";
      std::string out;
      for (const auto& e : l) out += (out.empty() ? "" : ", ") + e;
      return out;
    }
    std::string operator()(const probe::RecordList& l) const {
      if (l.empty()) return "(none)";
      std::string out;
      for (const auto& rec : l) {
        std::string one;
        for (const auto& [k, v] : rec) {
          one += (one.empty() ? "" : " ") + k + "=" + ScalarText(v);
        }
        out += (out.empty() ? "" : "; ") + one;
      }
      return out;
    }
  };
  return std::visit(V{}, value);
}

void WriteTextReport(const probe::Facts& facts, const TextOptions& options,
                     std::ostream& out) {
  Style st{options.color};
  out << st.Bold("cvm-preflight " + std::string(kVersion)) << " scan of "
      << facts.root << "\n";
  std::size_t width = 0;
  for (const auto& [name, fact] : facts.all()) width = std::max(width, name.size());
  std::string group;
  for (const auto& [name, fact] : facts.all()) {
    std::string g = name.substr(0, name.find('.'));
    if (g != group) {
      group = g;
      out << "\n" << st.Bold(GroupTitle(group)) << "\n";
    }
    out << "  " << name << std::string(width - name.size() + 2, ' ')
        << FactValueText(fact.value);
    if (!fact.source.empty()) out << "  " << st.Dim("(" + fact.source + ")");
    out << "\n";
  }
  if (facts.all().empty()) out << "\nNo facts could be read.\n";
  if (!facts.errors().empty()) {
    out << "\n"
        << st.Red(st.Bold("Errors (" + std::to_string(facts.errors().size()) +
                          ")"))
        << "\n";
    for (const auto& e : facts.errors()) {
      out << "  [" << e.probe << "] " << e.message << "\n";
    }
  }
}

}  // namespace cvm::exporter
