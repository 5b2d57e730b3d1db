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
      {"storage", "Storage"},     {"image", "Workspace image"},
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

namespace {

void WriteFacts(const probe::Facts& facts, const Style& st, std::ostream& out) {
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
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void WriteCheck(const rules::CheckResult& c, const Style& st, std::string_view mark,
                std::ostream& out) {
  out << "  " << mark << " " << st.Bold(c.id) << " ["
      << rules::SeverityName(c.severity) << "] " << c.title << "\n";
  out << "      " << c.message << "\n";
  if (!c.fix.empty()) out << "      Fix: " << c.fix << "\n";
  if (!c.sources.empty()) out << st.Dim("      Sources: " + Joined(c.sources)) << "\n";
}

}  // namespace

void WriteTextReport(const rules::Report& report, const TextOptions& options,
                     std::ostream& out) {
  Style st{options.color};
  const auto& ev = report.selected;
  out << st.Bold("cvm-preflight " + std::string(kVersion)) << " " << options.subject << " of "
      << report.facts.root << ", profile " << ev.profile << "\n\n"
      << st.Bold("Verdicts") << "\n";
  for (const auto& v : ev.verdicts) {
    std::string value(rules::TriName(v.value));
    std::string shown = v.value == rules::Tri::kTrue    ? st.Wrap("32", value)
                        : v.value == rules::Tri::kFalse ? st.Red(value)
                                                        : st.Wrap("33", value);
    out << "  " << v.name << std::string(12 - v.name.size(), ' ') << shown
        << std::string(9 - value.size(), ' ');
    if (v.value == rules::Tri::kFalse) out << "failing: " << Joined(v.because);
    if (v.value == rules::Tri::kUnknown) out << "unknown: " << Joined(v.because);
    if (v.value == rules::Tri::kTrue) out << "every error check passes";
    out << "\n";
  }
  for (const auto& n : rules::kVerdictNotes) {
    if (ev.Verdict(n.verdict) == nullptr) continue;  // another rule set's
    out << "  " << st.Dim("Note on " + std::string(n.verdict) + ": " + std::string(n.text) +
                          " (" + std::string(n.sources) + ")")
        << "\n";
  }
  // One line on the other profiles, when any differs.
  std::string differs;
  for (const auto& p : report.profiles) {
    if (p.profile == ev.profile) continue;
    std::string these;
    for (std::size_t k = 0; k < p.verdicts.size() && k < ev.verdicts.size(); ++k) {
      if (p.verdicts[k].value != ev.verdicts[k].value) {
        these += (these.empty() ? "" : ", ") + p.verdicts[k].name + " " +
                 std::string(rules::TriName(p.verdicts[k].value));
      }
    }
    if (!these.empty()) differs += (differs.empty() ? "" : "; ") + p.profile + ": " + these;
  }
  if (!differs.empty()) out << "  Other profiles differ: " << differs << "\n";

  auto section = [&](std::string_view title, auto pred, std::string_view mark) {
    std::size_t n = 0;
    for (const auto& c : ev.checks) n += pred(c);
    if (n == 0) return;
    out << "\n" << st.Bold(std::string(title) + " (" + std::to_string(n) + ")") << "\n";
    for (const auto& c : ev.checks) {
      if (pred(c)) WriteCheck(c, st, mark, out);
    }
  };
  using rules::Severity;
  using rules::Status;
  section("Failing", [](const auto& c) {
    return c.status == Status::kFail && c.severity == Severity::kError;
  }, st.Red("FAIL"));
  section("Unknown", [](const auto& c) {
    return c.status == Status::kUnknown && c.severity == Severity::kError;
  }, st.Wrap("33", "????"));
  section("Warnings", [](const auto& c) {
    return (c.status == Status::kFail || c.status == Status::kUnknown) &&
           c.severity != Severity::kError;
  }, st.Wrap("33", "WARN"));
  std::vector<const rules::CheckResult*> passing, skipped;
  for (const auto& c : ev.checks) {
    if (c.status == Status::kPass) passing.push_back(&c);
    if (c.status == Status::kSkipped) skipped.push_back(&c);
  }
  if (!passing.empty()) {
    out << "\n" << st.Bold("Passing (" + std::to_string(passing.size()) + ")") << "\n";
    for (const auto* c : passing) {
      out << "  " << st.Wrap("32", "ok  ") << " " << c->id << ": " << c->title << "\n";
    }
  }
  if (!skipped.empty()) {
    std::vector<std::string> ids;
    for (const auto* c : skipped) ids.push_back(c->id);
    out << "\n" << st.Dim("Skipped, not applicable (" + std::to_string(ids.size()) +
                          "): " + Joined(ids)) << "\n";
  }
  if (options.facts) {
    out << "\n" << st.Bold("Facts") << "\n";
    WriteFacts(report.facts, st, out);
  }
  if (!report.rule_errors.empty()) {
    out << "\n" << st.Red(st.Bold("Rule files rejected (" +
                                  std::to_string(report.rule_errors.size()) + ")"))
        << "\n";
    for (const auto& e : report.rule_errors) out << "  " << e.Text() << "\n";
  }
  const auto& errors = report.facts.errors();
  if (!errors.empty()) {
    out << "\n" << st.Bold("Could not read (" + std::to_string(errors.size()) + ")")
        << "\n";
    for (const auto& e : errors) out << "  [" << e.probe << "] " << e.message << "\n";
  }
}

}  // namespace cvm::exporter
