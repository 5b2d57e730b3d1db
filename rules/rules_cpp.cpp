#include "rules/rules_cpp.h"

#include <cstdio>
#include <memory>
#include <regex>

namespace cvm::rules {
namespace {

// A C++ string literal: printable ASCII as it is, everything else octal.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f && c != '?') {  // '?': no trigraphs
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    }
  }
  return out + "\"";
}

std::string Strings(const std::vector<std::string>& v) {
  std::string out = "{";
  for (const auto& s : v) out += Quoted(s) + ", ";
  return out + "}";
}

std::string SeverityCpp(Severity s) {
  switch (s) {
    case Severity::kError: return "Severity::kError";
    case Severity::kWarning: return "Severity::kWarning";
    case Severity::kInfo: return "Severity::kInfo";
  }
  return "Severity::kError";
}

std::string SchemeCpp(const std::optional<VersionScheme>& s) {
  if (!s) return "std::nullopt";
  switch (*s) {
    case VersionScheme::kUpstream: return "VersionScheme::kUpstream";
    case VersionScheme::kKernel: return "VersionScheme::kKernel";
    case VersionScheme::kDpkg: return "VersionScheme::kDpkg";
    case VersionScheme::kRpm: return "VersionScheme::kRpm";
  }
  return "std::nullopt";
}

std::string LiteralCpp(const Literal& l) {
  switch (l.kind) {
    case Literal::Kind::kInt: return "detail::IntLiteral(" + std::to_string(l.i) + "LL)";
    case Literal::Kind::kBool: return std::string("detail::BoolLiteral(") + (l.b ? "true" : "false") + ")";
    case Literal::Kind::kString: break;
  }
  return "detail::StringLiteral(" + Quoted(l.s) + ")";
}

std::string ConditionCpp(const Condition& c) {
  std::string out = "detail::MakeCondition(static_cast<Op>(" +
                    std::to_string(static_cast<int>(c.op)) + "), " + Quoted(c.fact) + ", {";
  for (const auto& v : c.values) out += LiteralCpp(v) + ", ";
  out += "}, " + SchemeCpp(c.scheme) + ", " + Quoted(c.pattern) + ", {";
  for (const auto& child : c.children) out += ConditionCpp(child) + ", ";
  return out + "})";
}

}  // namespace

std::string RulesAsCpp(const std::vector<Rule>& rules, std::string_view function) {
  std::string out;
  const std::string prefix = std::string(function) + "Rule";
  // One function a rule: one function for all is too big for the
  // compiler's variable tracking (-g).
  for (std::size_t n = 0; n < rules.size(); ++n) {
    const Rule& r = rules[n];
    out += "static Rule " + prefix + std::to_string(n) + "() {\n    Rule r;\n";
    out += "    r.id = " + Quoted(r.id) + ";\n";
    out += "    r.title = " + Quoted(r.title) + ";\n";
    out += "    r.reason = " + Quoted(r.reason) + ";\n";
    out += "    r.severity = " + SeverityCpp(r.severity) + ";\n";
    for (const auto& [profile, sev] : r.profile_severity) {
      out += "    r.profile_severity[" + Quoted(profile) + "] = " + SeverityCpp(sev) + ";\n";
    }
    out += "    r.verdicts = " + Strings(r.verdicts) + ";\n";
    out += "    r.profiles = " + Strings(r.profiles) + ";\n";
    if (r.when) out += "    r.when = " + ConditionCpp(*r.when) + ";\n";
    out += "    r.expect = " + ConditionCpp(r.expect) + ";\n";
    out += "    r.fix = " + Quoted(r.fix) + ";\n";
    out += "    r.rationale = " + Quoted(r.rationale) + ";\n";
    out += "    r.sources = " + Strings(r.sources) + ";\n";
    out += std::string("    r.enabled = ") + (r.enabled ? "true" : "false") + ";\n";
    out += "    r.file = " + Quoted(r.file) + ";\n";
    out += "    r.line = " + std::to_string(r.line) + ";\n";
    out += "    return r;\n}\n\n";
  }
  out += "std::vector<Rule> " + std::string(function) +
         "() {\n  std::vector<Rule> out;\n  out.reserve(" + std::to_string(rules.size()) + ");\n";
  for (std::size_t n = 0; n < rules.size(); ++n) {
    out += "  out.push_back(" + prefix + std::to_string(n) + "());\n";
  }
  return out + "  return out;\n}\n";
}

namespace detail {

Literal IntLiteral(std::int64_t i) {
  Literal l;
  l.kind = Literal::Kind::kInt;
  l.i = i;
  return l;
}

Literal StringLiteral(std::string s) {
  Literal l;
  l.kind = Literal::Kind::kString;
  l.s = std::move(s);
  return l;
}

Literal BoolLiteral(bool b) {
  Literal l;
  l.kind = Literal::Kind::kBool;
  l.b = b;
  return l;
}

Condition MakeCondition(Op op, std::string fact, std::vector<Literal> values,
                        std::optional<VersionScheme> scheme, std::string pattern,
                        std::vector<Condition> children) {
  Condition c;
  c.op = op;
  c.fact = std::move(fact);
  c.values = std::move(values);
  c.scheme = scheme;
  if (op == Op::kMatches) {
    // Compiled at build time by the loader already: it cannot throw here.
    c.regex = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  }
  c.pattern = std::move(pattern);
  c.children = std::move(children);
  return c;
}

}  // namespace detail
}  // namespace cvm::rules
