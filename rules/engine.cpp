#include "rules/engine.h"

#include "rules/report.h"

#include <algorithm>
#include <iterator>

namespace cvm::rules {
namespace {

using probe::FactValue;

Tri FromBool(bool b) { return b ? Tri::kTrue : Tri::kFalse; }

std::string ValueText(const FactValue& v) {
  struct V {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const probe::StringList& l) const {
      std::string out;
      for (const auto& e : l) out += (out.empty() ? "" : ", ") + e;
      return "[" + out + "]";
    }
    std::string operator()(const probe::RecordList& l) const {
      return std::to_string(l.size()) + " entries";
    }
  };
  return std::visit(V{}, v);
}

// Compares a fact value with a literal: <0, 0, >0, or nullopt when the
// two cannot be compared.
std::optional<int> Compare(const FactValue& v, const Literal& lit,
                           std::optional<VersionScheme> scheme) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    if (lit.kind != Literal::Kind::kInt) return std::nullopt;
    return *i < lit.i ? -1 : (*i > lit.i ? 1 : 0);
  }
  if (const auto* b = std::get_if<bool>(&v)) {
    if (lit.kind != Literal::Kind::kBool) return std::nullopt;
    return *b == lit.b ? 0 : 1;
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (scheme) return CompareVersions(*s, lit.Text(), *scheme);
    return s->compare(lit.Text()) == 0 ? 0 : 1;
  }
  return std::nullopt;
}

bool Equal(const FactValue& v, const Literal& lit) {
  auto c = Compare(v, lit, std::nullopt);
  return c && *c == 0;
}

Tri Leaf(const Condition& c, const probe::Facts& facts) {
  const probe::Fact* f = facts.Find(c.fact);
  if (c.op == Op::kExists) return FromBool(f != nullptr);
  if (c.op == Op::kAbsent) return FromBool(f == nullptr);
  if (f == nullptr) return Tri::kUnknown;
  const FactValue& v = f->value;
  switch (c.op) {
    case Op::kIsTrue:
    case Op::kIsFalse: {
      const bool* b = std::get_if<bool>(&v);
      if (b == nullptr) return Tri::kUnknown;
      return FromBool(*b == (c.op == Op::kIsTrue));
    }
    case Op::kIn:
    case Op::kNotIn: {
      bool any = false;
      if (const auto* list = std::get_if<probe::StringList>(&v)) {
        for (const auto& e : *list) {
          for (const auto& lit : c.values) any = any || e == lit.s;
        }
      } else {
        for (const auto& lit : c.values) any = any || Equal(v, lit);
      }
      return FromBool(c.op == Op::kIn ? any : !any);
    }
    case Op::kMatches: {
      if (const auto* s = std::get_if<std::string>(&v)) {
        return FromBool(std::regex_search(*s, *c.regex));
      }
      if (const auto* list = std::get_if<probe::StringList>(&v)) {
        return FromBool(std::any_of(list->begin(), list->end(), [&](const std::string& e) {
          return std::regex_search(e, *c.regex);
        }));
      }
      return Tri::kUnknown;
    }
    default: {
      auto cmp = Compare(v, c.values.at(0), c.scheme);
      if (!cmp) return Tri::kUnknown;
      switch (c.op) {
        case Op::kEq: return FromBool(*cmp == 0);
        case Op::kNe: return FromBool(*cmp != 0);
        case Op::kGt: return FromBool(*cmp > 0);
        case Op::kGe: return FromBool(*cmp >= 0);
        case Op::kLt: return FromBool(*cmp < 0);
        case Op::kLe: return FromBool(*cmp <= 0);
        default: return Tri::kUnknown;
      }
    }
  }
}

bool CountsFor(const Rule& r, std::string_view verdict) {
  for (const auto& v : r.verdicts) {
    if (v == verdict) return true;
    // cvm-cached and cvm-gpu include every cvm check.
    if (v == "cvm" && (verdict == "cvm-cached" || verdict == "cvm-gpu")) return true;
  }
  return false;
}

}  // namespace

std::string_view TriName(Tri t) {
  switch (t) {
    case Tri::kFalse: return "false";
    case Tri::kTrue: return "true";
    case Tri::kUnknown: return "unknown";
  }
  return "unknown";
}

std::string_view StatusName(Status s) {
  switch (s) {
    case Status::kPass: return "pass";
    case Status::kFail: return "fail";
    case Status::kUnknown: return "unknown";
    case Status::kSkipped: return "skipped";
  }
  return "unknown";
}

const VerdictResult* Evaluation::Verdict(std::string_view name) const {
  for (const auto& v : verdicts) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

Tri EvaluateCondition(const Condition& c, const probe::Facts& facts) {
  switch (c.op) {
    case Op::kAllOf: {
      bool unknown = false;
      for (const auto& child : c.children) {
        Tri t = EvaluateCondition(child, facts);
        if (t == Tri::kFalse) return Tri::kFalse;
        unknown = unknown || t == Tri::kUnknown;
      }
      return unknown ? Tri::kUnknown : Tri::kTrue;
    }
    case Op::kAnyOf: {
      bool unknown = false;
      for (const auto& child : c.children) {
        Tri t = EvaluateCondition(child, facts);
        if (t == Tri::kTrue) return Tri::kTrue;
        unknown = unknown || t == Tri::kUnknown;
      }
      return unknown ? Tri::kUnknown : Tri::kFalse;
    }
    case Op::kNot: {
      Tri t = EvaluateCondition(c.children.at(0), facts);
      if (t == Tri::kUnknown) return t;
      return t == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
    }
    default:
      return Leaf(c, facts);
  }
}

std::string FillPlaceholders(std::string_view text, const probe::Facts& facts) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t open = text.find('{', i);
    if (open == std::string_view::npos) break;
    std::size_t close = text.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    std::string name(text.substr(open + 1, close - open - 1));
    const probe::Fact* f = facts.Find(name);
    out += f ? ValueText(f->value) : "unknown";
    i = close + 1;
  }
  out.append(text.substr(i));
  return out;
}

Evaluation Evaluate(const RuleSet& rules, const probe::Facts& facts,
                    std::string_view profile) {
  Evaluation ev;
  ev.profile = std::string(profile);
  // One allocation for the checks, not a reallocation (and a copy of
  // every check) each time the vector grows (README's Speed section).
  ev.checks.reserve(rules.rules.size());
  for (const auto& rule : rules.rules) {
    if (!rule.enabled || !rule.AppliesTo(profile)) continue;
    CheckResult r;
    r.id = rule.id;
    r.title = rule.title;
    r.reason = rule.reason;
    r.severity = rule.SeverityIn(profile);
    r.verdicts = rule.verdicts;
    r.sources = rule.sources;
    std::vector<std::string> names;
    if (rule.when) rule.when->CollectFacts(names);
    rule.expect.CollectFacts(names);
    std::string found;
    r.facts.reserve(names.size());
    for (const auto& n : names) {
      const probe::Fact* f = facts.Find(n);
      r.facts.emplace_back(n, f ? std::optional<FactValue>(f->value) : std::nullopt);
      found += (found.empty() ? "" : ", ") + n + "=" + (f ? ValueText(f->value) : "unknown");
    }
    Tri when = rule.when ? EvaluateCondition(*rule.when, facts) : Tri::kTrue;
    if (when == Tri::kFalse) {
      r.status = Status::kSkipped;
      r.message = "Does not apply: " + rule.when->Text() + " is false (" + found + ")";
    } else {
      Tri expect = when == Tri::kUnknown ? Tri::kUnknown
                                         : EvaluateCondition(rule.expect, facts);
      switch (expect) {
        case Tri::kTrue:
          r.status = Status::kPass;
          r.message = "OK: " + found;
          break;
        case Tri::kFalse:
          r.status = Status::kFail;
          // Long expressions (a distro table) say less than the facts do.
          r.message = rule.expect.Text().size() <= 120
                          ? "Expected " + rule.expect.Text() + "; found " + found
                          : "Not met; found " + found;
          r.fix = FillPlaceholders(rule.fix, facts);
          break;
        case Tri::kUnknown:
          r.status = Status::kUnknown;
          r.message = "Cannot tell: a fact it needs could not be read (" + found + ")";
          r.fix = FillPlaceholders(rule.fix, facts);
          break;
      }
    }
    ev.checks.push_back(std::move(r));
  }
  for (auto name : VerdictsOf(rules.kind)) {
    VerdictResult v;
    v.name = std::string(name);
    std::vector<std::string> failing, unknown;
    for (std::size_t k = 0; k < ev.checks.size(); ++k) {
      const CheckResult& c = ev.checks[k];
      if (c.severity != Severity::kError) continue;
      if (!CountsFor(*rules.Find(c.id), name)) continue;
      if (c.status == Status::kFail) failing.push_back(c.id);
      if (c.status == Status::kUnknown) unknown.push_back(c.id);
    }
    if (!failing.empty()) {
      v.value = Tri::kFalse;
      v.because = failing;
    } else if (!unknown.empty()) {
      v.value = Tri::kUnknown;
      v.because = unknown;
    } else {
      v.value = Tri::kTrue;
    }
    ev.verdicts.push_back(std::move(v));
  }
  return ev;
}

Report BuildReport(probe::Facts facts, const RuleSet& rules,
                   std::string_view profile, std::vector<LoadError> rule_errors) {
  Report report;
  // The selected profile is one of kProfiles (or a name outside them):
  // its evaluation is the same either way, so it is made once and copied.
  report.profiles.reserve(std::size(kProfiles));
  const Evaluation* selected = nullptr;
  for (const auto& p : kProfiles) {
    report.profiles.push_back(Evaluate(rules, facts, p.name));
    if (p.name == profile) selected = &report.profiles.back();
  }
  report.selected = selected != nullptr ? *selected : Evaluate(rules, facts, profile);
  report.facts = std::move(facts);
  report.rule_errors = std::move(rule_errors);
  return report;
}

}  // namespace cvm::rules
