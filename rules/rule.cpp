#include "rules/rule.h"

#include <algorithm>

namespace cvm::rules {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: return "info";
  }
  return "error";
}

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kIn: return "in";
    case Op::kNotIn: return "notIn";
    case Op::kMatches: return "matches";
    case Op::kExists: return "exists";
    case Op::kAbsent: return "absent";
    case Op::kEq: return "eq";
    case Op::kNe: return "ne";
    case Op::kGt: return "gt";
    case Op::kGe: return "ge";
    case Op::kLt: return "lt";
    case Op::kLe: return "le";
    case Op::kIsTrue: return "isTrue";
    case Op::kIsFalse: return "isFalse";
    case Op::kAllOf: return "allOf";
    case Op::kAnyOf: return "anyOf";
    case Op::kNot: return "not";
  }
  return "?";
}

std::string Literal::Text() const {
  switch (kind) {
    case Kind::kInt: return std::to_string(i);
    case Kind::kBool: return b ? "true" : "false";
    case Kind::kString: return s;
  }
  return s;
}

void Condition::CollectFacts(std::vector<std::string>& out) const {
  if (!fact.empty() && std::find(out.begin(), out.end(), fact) == out.end()) {
    out.push_back(fact);
  }
  for (const auto& c : children) c.CollectFacts(out);
}

std::string Condition::Text() const {
  auto list = [&] {
    std::string s = "[";
    for (std::size_t k = 0; k < values.size(); ++k) {
      s += (k ? ", " : "") + values[k].Text();
    }
    return s + "]";
  };
  auto joined = [&](std::string_view sep) {
    std::string s;
    for (std::size_t k = 0; k < children.size(); ++k) {
      s += (k ? std::string(sep) : "") + "(" + children[k].Text() + ")";
    }
    return s;
  };
  switch (op) {
    case Op::kIn: return fact + " in " + list();
    case Op::kNotIn: return fact + " not in " + list();
    case Op::kMatches: return fact + " matches /" + pattern + "/";
    case Op::kExists: return fact + " is known";
    case Op::kAbsent: return fact + " is absent";
    case Op::kEq: return fact + " == " + values.at(0).Text();
    case Op::kNe: return fact + " != " + values.at(0).Text();
    case Op::kGt: return fact + " > " + values.at(0).Text();
    case Op::kGe: return fact + " >= " + values.at(0).Text();
    case Op::kLt: return fact + " < " + values.at(0).Text();
    case Op::kLe: return fact + " <= " + values.at(0).Text();
    case Op::kIsTrue: return fact + " is true";
    case Op::kIsFalse: return fact + " is false";
    case Op::kAllOf: return joined(" and ");
    case Op::kAnyOf: return joined(" or ");
    case Op::kNot: return "not (" + children.at(0).Text() + ")";
  }
  return "?";
}

bool Rule::AppliesTo(std::string_view profile) const {
  if (profiles.empty()) return true;
  return std::find(profiles.begin(), profiles.end(), profile) != profiles.end();
}

Severity Rule::SeverityIn(std::string_view profile) const {
  auto it = profile_severity.find(std::string(profile));
  return it == profile_severity.end() ? severity : it->second;
}

void RuleSet::Upsert(Rule rule) {
  for (auto& r : rules) {
    if (r.id == rule.id) {
      r = std::move(rule);
      return;
    }
  }
  rules.push_back(std::move(rule));
}

const Rule* RuleSet::Find(std::string_view id) const {
  for (const auto& r : rules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

bool IsProfile(std::string_view name) {
  for (const auto& p : kProfiles) {
    if (p.name == name) return true;
  }
  return false;
}

std::span<const std::string_view> VerdictsOf(RuleSetKind kind) {
  if (kind == RuleSetKind::kImage) return kImageVerdicts;
  return kVerdicts;
}

std::string_view KindName(RuleSetKind kind) {
  return kind == RuleSetKind::kImage ? "image" : "node";
}

bool IsVerdict(std::string_view name, RuleSetKind kind) {
  for (auto v : VerdictsOf(kind)) {
    if (v == name) return true;
  }
  return false;
}

const VerdictNote* NoteOf(std::string_view verdict) {
  for (const auto& n : kVerdictNotes) {
    if (n.verdict == verdict) return &n;
  }
  return nullptr;
}

}  // namespace cvm::rules
