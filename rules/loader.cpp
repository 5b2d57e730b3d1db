#include "rules/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "probe/fact_catalog.h"
#include "rules/default_rules.h"

namespace cvm::rules {
namespace {

using probe::FactType;

class Loader {
 public:
  Loader(std::string file, RuleSetKind kind) : file_(std::move(file)), kind_(kind) {}

  void Error(const YAML::Node& at, std::string message) {
    LoadError e{file_, 0, 0, std::move(message)};
    if (at.IsDefined()) {
      e.line = at.Mark().line + 1;
      e.column = at.Mark().column + 1;
    }
    errors_.push_back(std::move(e));
  }

  std::vector<LoadError> errors_;
  const std::string file_;
  const RuleSetKind kind_;

  bool IsKebab(std::string_view s) {
    if (s.empty() || s.front() == '-' || s.back() == '-') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    });
  }

  // A Kubernetes condition reason, kept to CamelCase: "SELinuxEnforcing".
  bool IsReason(std::string_view s) {
    if (s.empty() || s.size() > 64 || s.front() < 'A' || s.front() > 'Z') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    });
  }

  std::optional<std::string> String(const YAML::Node& n, std::string_view what) {
    if (!n.IsScalar()) {
      Error(n, std::string(what) + " must be a string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::vector<std::string> StringList(const YAML::Node& n, std::string_view what) {
    std::vector<std::string> out;
    if (!n.IsSequence()) {
      Error(n, std::string(what) + " must be a list of strings");
      return out;
    }
    for (const auto& e : n) {
      if (auto s = String(e, what)) out.push_back(*s);
    }
    return out;
  }

  std::optional<Severity> ParseSeverity(const YAML::Node& n) {
    auto s = String(n, "severity");
    if (!s) return std::nullopt;
    if (*s == "error") return Severity::kError;
    if (*s == "warning") return Severity::kWarning;
    if (*s == "info") return Severity::kInfo;
    Error(n, "severity must be error, warning or info, not '" + *s + "'");
    return std::nullopt;
  }

  // A literal of the fact's type.
  std::optional<Literal> ParseLiteral(const YAML::Node& n, FactType type,
                                      bool versioned, std::string_view fact) {
    if (!n.IsScalar()) {
      Error(n, "the value for " + std::string(fact) + " must be a scalar");
      return std::nullopt;
    }
    Literal lit;
    const std::string& s = n.Scalar();
    switch (type) {
      case FactType::kInt: {
        lit.kind = Literal::Kind::kInt;
        try {
          std::size_t used = 0;
          lit.i = std::stoll(s, &used);
          if (used != s.size()) throw std::invalid_argument(s);
        } catch (const std::exception&) {
          Error(n, std::string(fact) + " is an integer; '" + s + "' is not");
          return std::nullopt;
        }
        return lit;
      }
      case FactType::kBool:
        lit.kind = Literal::Kind::kBool;
        if (s == "true" || s == "false") {
          lit.b = s == "true";
          return lit;
        }
        Error(n, std::string(fact) + " is a boolean; '" + s + "' is not");
        return std::nullopt;
      case FactType::kString:
      case FactType::kStringList:
        lit.kind = Literal::Kind::kString;
        lit.s = s;
        (void)versioned;
        return lit;
      case FactType::kRecordList:
        break;
    }
    Error(n, std::string(fact) + " is a list of records: only exists/absent apply");
    return std::nullopt;
  }

  std::optional<Condition> ParseCondition(const YAML::Node& n) {
    if (!n.IsMap()) {
      Error(n, "a condition must be a mapping");
      return std::nullopt;
    }
    Condition c;
    static const std::set<std::string> kComb = {"allOf", "anyOf", "not"};
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      if (!kComb.count(key)) continue;
      if (n.size() != 1) {
        Error(kv.first, "'" + key + "' must be the only key of its condition");
        return std::nullopt;
      }
      if (key == "not") {
        auto child = ParseCondition(kv.second);
        if (!child) return std::nullopt;
        c.op = Op::kNot;
        c.children.push_back(std::move(*child));
        return c;
      }
      c.op = key == "allOf" ? Op::kAllOf : Op::kAnyOf;
      if (!kv.second.IsSequence() || kv.second.size() == 0) {
        Error(kv.second, key + " needs a non-empty list of conditions");
        return std::nullopt;
      }
      for (const auto& e : kv.second) {
        auto child = ParseCondition(e);
        if (!child) return std::nullopt;
        c.children.push_back(std::move(*child));
      }
      return c;
    }
    YAML::Node fact_node = n["fact"];
    if (!fact_node) {
      Error(n, "a condition needs 'fact' or one of allOf, anyOf, not");
      return std::nullopt;
    }
    auto fact = String(fact_node, "fact");
    if (!fact) return std::nullopt;
    const probe::FactSpec* spec = probe::FindFactSpec(*fact);
    if (spec == nullptr) {
      Error(fact_node, "unknown fact '" + *fact + "' (see docs/facts.md)");
      return std::nullopt;
    }
    c.fact = *fact;
    struct OpKey {
      std::string_view key;
      Op op;
    };
    static constexpr OpKey kOps[] = {
        {"in", Op::kIn},         {"notIn", Op::kNotIn},   {"matches", Op::kMatches},
        {"exists", Op::kExists}, {"absent", Op::kAbsent}, {"eq", Op::kEq},
        {"ne", Op::kNe},         {"gt", Op::kGt},         {"ge", Op::kGe},
        {"lt", Op::kLt},         {"le", Op::kLe},         {"isTrue", Op::kIsTrue},
        {"isFalse", Op::kIsFalse},
    };
    const YAML::Node* op_value = nullptr;
    YAML::Node op_node;
    int ops = 0;
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      if (key == "fact" || key == "scheme") continue;
      bool known = false;
      for (const auto& o : kOps) {
        if (o.key == key) {
          c.op = o.op;
          known = true;
        }
      }
      if (!known) {
        Error(kv.first, "unknown condition key '" + key + "'");
        return std::nullopt;
      }
      op_node = kv.second;
      op_value = &op_node;
      ++ops;
    }
    if (ops != 1) {
      Error(n, "a fact condition needs exactly one operator (in, notIn, matches, "
               "exists, absent, eq, ne, gt, ge, lt, le, isTrue, isFalse)");
      return std::nullopt;
    }
    if (YAML::Node sch = n["scheme"]) {
      auto s = String(sch, "scheme");
      if (!s) return std::nullopt;
      if (*s == "upstream") c.scheme = VersionScheme::kUpstream;
      else if (*s == "kernel") c.scheme = VersionScheme::kKernel;
      else if (*s == "dpkg") c.scheme = VersionScheme::kDpkg;
      else if (*s == "rpm") c.scheme = VersionScheme::kRpm;
      else {
        Error(sch, "scheme must be upstream, kernel, dpkg or rpm");
        return std::nullopt;
      }
      if (spec->type != FactType::kString) {
        Error(sch, "scheme applies to string facts only");
        return std::nullopt;
      }
    }
    const YAML::Node& v = *op_value;
    switch (c.op) {
      case Op::kExists:
      case Op::kAbsent:
      case Op::kIsTrue:
      case Op::kIsFalse:
        if (!v.IsScalar() || v.Scalar() != "true") {
          Error(v, std::string(OpName(c.op)) + " takes the value true");
          return std::nullopt;
        }
        if ((c.op == Op::kIsTrue || c.op == Op::kIsFalse) &&
            spec->type != FactType::kBool) {
          Error(v, std::string(OpName(c.op)) + " needs a boolean fact; " + c.fact +
                       " is a " + std::string(probe::FactTypeName(spec->type)));
          return std::nullopt;
        }
        return c;
      case Op::kIn:
      case Op::kNotIn:
        if (!v.IsSequence()) {
          Error(v, std::string(OpName(c.op)) + " takes a list");
          return std::nullopt;
        }
        if (spec->type == FactType::kBool) {
          Error(v, c.fact + " is a boolean: use isTrue or isFalse");
          return std::nullopt;
        }
        for (const auto& e : v) {
          auto lit = ParseLiteral(e, spec->type, false, c.fact);
          if (!lit) return std::nullopt;
          c.values.push_back(std::move(*lit));
        }
        return c;
      case Op::kMatches: {
        if (spec->type != FactType::kString && spec->type != FactType::kStringList) {
          Error(v, "matches needs a string fact; " + c.fact + " is a " +
                       std::string(probe::FactTypeName(spec->type)));
          return std::nullopt;
        }
        auto pat = String(v, "matches");
        if (!pat) return std::nullopt;
        try {
          c.regex = std::make_shared<const std::regex>(*pat, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          Error(v, "bad regular expression '" + *pat + "': " + e.what());
          return std::nullopt;
        }
        c.pattern = *pat;
        return c;
      }
      default: {  // eq ne gt ge lt le
        bool ordered = c.op != Op::kEq && c.op != Op::kNe;
        if (spec->type == FactType::kStringList || spec->type == FactType::kRecordList ||
            (ordered && spec->type == FactType::kBool)) {
          Error(v, std::string(OpName(c.op)) + " does not apply to " + c.fact +
                       ", a " + std::string(probe::FactTypeName(spec->type)));
          return std::nullopt;
        }
        auto lit = ParseLiteral(v, spec->type, ordered, c.fact);
        if (!lit) return std::nullopt;
        c.values.push_back(std::move(*lit));
        if (ordered && spec->type == FactType::kString && !c.scheme) {
          c.scheme = VersionScheme::kUpstream;
        }
        return c;
      }
    }
  }

  std::optional<Rule> ParseRule(const YAML::Node& n) {
    if (!n.IsMap()) {
      Error(n, "a rule must be a mapping");
      return std::nullopt;
    }
    static const std::set<std::string> kKeys = {
        "id", "title", "reason", "severity", "severityByProfile", "verdicts", "profiles",
        "when", "expect", "fix", "rationale", "sources", "enabled"};
    std::size_t before = errors_.size();
    for (const auto& kv : n) {
      if (!kKeys.count(kv.first.Scalar())) {
        Error(kv.first, "unknown rule key '" + kv.first.Scalar() + "'");
      }
    }
    Rule r;
    r.file = file_;
    r.line = n.Mark().line + 1;
    // `{id: X, enabled: false}` alone turns a rule of an earlier file off.
    if (n.size() == 2 && n["id"] && n["enabled"] && n["enabled"].IsScalar() &&
        n["enabled"].Scalar() == "false") {
      if (auto s = String(n["id"], "id")) r.id = *s;
      r.enabled = false;
      if (errors_.size() != before) return std::nullopt;
      return r;
    }
    auto required = [&](const char* key) {
      YAML::Node v = n[key];
      if (!v) Error(n, std::string("rule is missing '") + key + "'");
      return v;
    };
    if (auto v = required("id")) {
      if (auto s = String(v, "id")) {
        r.id = *s;
        if (!IsKebab(r.id)) Error(v, "id '" + r.id + "' must be kebab-case");
      }
    }
    if (auto v = required("title")) {
      if (auto s = String(v, "title")) r.title = *s;
    }
    if (auto v = required("reason")) {
      if (auto s = String(v, "reason")) {
        r.reason = *s;
        if (!IsReason(r.reason)) {
          Error(v, "reason '" + r.reason +
                       "' must be CamelCase (a capital letter, then letters and "
                       "digits, at most 64), as a Kubernetes condition reason");
        }
      }
    }
    if (auto v = required("severity")) {
      if (auto s = ParseSeverity(v)) r.severity = *s;
    }
    if (YAML::Node v = n["severityByProfile"]) {
      if (!v.IsMap()) {
        Error(v, "severityByProfile must map profile names to severities");
      } else {
        for (const auto& kv : v) {
          std::string p = kv.first.Scalar();
          if (!IsProfile(p)) Error(kv.first, "unknown profile '" + p + "'");
          if (auto s = ParseSeverity(kv.second)) r.profile_severity[p] = *s;
        }
      }
    }
    if (YAML::Node v = n["verdicts"]) {
      r.verdicts = StringList(v, "verdicts");
      for (const auto& s : r.verdicts) {
        if (IsVerdict(s, kind_)) continue;
        std::string known;
        for (auto k : VerdictsOf(kind_)) known += (known.empty() ? "" : ", ") + std::string(k);
        Error(v, "unknown verdict '" + s + "' (" + known + ")" +
                     (kind_ == RuleSetKind::kNode && IsVerdict(s, RuleSetKind::kImage)
                          ? ": image rules are loaded by `cvm-preflight image --rules`"
                          : kind_ == RuleSetKind::kImage && IsVerdict(s)
                                ? ": node rules are loaded by `cvm-preflight scan --rules`"
                                : ""));
      }
    } else {
      r.verdicts = {std::string(VerdictsOf(kind_).front())};
    }
    if (YAML::Node v = n["profiles"]) {
      for (const auto& s : StringList(v, "profiles")) {
        if (s == "all") continue;
        if (!IsProfile(s)) Error(v, "unknown profile '" + s + "'");
        r.profiles.push_back(s);
      }
    }
    if (YAML::Node v = n["when"]) r.when = ParseCondition(v);
    if (auto v = required("expect")) {
      if (auto c = ParseCondition(v)) r.expect = std::move(*c);
    }
    if (YAML::Node v = n["fix"]) {
      if (auto s = String(v, "fix")) r.fix = *s;
    }
    if (YAML::Node v = n["rationale"]) {
      if (auto s = String(v, "rationale")) r.rationale = *s;
    }
    if (auto v = required("sources")) {
      r.sources = StringList(v, "sources");
      if (v.IsSequence() && r.sources.empty()) Error(v, "a rule needs at least one source");
    }
    if (YAML::Node v = n["enabled"]) {
      if (!v.IsScalar() || (v.Scalar() != "true" && v.Scalar() != "false")) {
        Error(v, "enabled must be true or false");
      } else {
        r.enabled = v.Scalar() == "true";
      }
    }
    if (errors_.size() != before) return std::nullopt;
    return r;
  }
};

}  // namespace

std::string LoadError::Text() const {
  std::string out = file;
  if (line > 0) {
    // Appended piece by piece: see ErrnoName in probe/host_root.cpp.
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += ": ";
  out += message;
  return out;
}

LoadResult LoadRulesText(std::string_view text, const std::string& file,
                         RuleSetKind kind) {
  Loader loader(file, kind);
  LoadResult result;
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    result.errors.push_back({file, e.mark.line + 1, e.mark.column + 1, e.msg});
    return result;
  }
  if (doc.IsNull()) return result;  // an empty file has no rules
  if (!doc.IsSequence()) {
    loader.Error(doc, "a rule file is a list of rules");
    result.errors = loader.errors_;
    return result;
  }
  std::set<std::string> ids;
  try {
    for (const auto& n : doc) {
      auto rule = loader.ParseRule(n);
      if (!rule) continue;
      if (!ids.insert(rule->id).second) {
        loader.Error(n, "duplicate rule id '" + rule->id + "'");
        continue;
      }
      result.rules.push_back(std::move(*rule));
    }
  } catch (const YAML::Exception& e) {
    loader.errors_.push_back({file, e.mark.line + 1, e.mark.column + 1, e.msg});
  }
  result.errors = loader.errors_;
  if (!result.ok()) result.rules.clear();  // rejected whole
  return result;
}

namespace {
LoadResult LoadEmbedded(std::span<const DefaultRuleFile> files, std::string_view dir,
                        RuleSetKind kind = RuleSetKind::kNode) {
  LoadResult all;
  for (const auto& f : files) {
    LoadResult one = LoadRulesText(f.text, std::string(dir) + std::string(f.name), kind);
    for (auto& r : one.rules) all.rules.push_back(std::move(r));
    for (auto& e : one.errors) all.errors.push_back(std::move(e));
  }
  return all;
}
}  // namespace

LoadResult LoadDefaultRulesFromYaml() {
  return LoadEmbedded(DefaultRuleFiles(), "rules/default/");
}

LoadResult LoadClusterRules() { return LoadEmbedded(ClusterRuleFiles(), "rules/cluster/"); }

LoadResult LoadImageRulesFromYaml() {
  return LoadEmbedded(ImageRuleFiles(), "rules/default/image/", RuleSetKind::kImage);
}

RuleSetKind DetectKind(std::string_view text) {
  try {
    YAML::Node doc = YAML::Load(std::string(text));
    if (!doc.IsSequence()) return RuleSetKind::kNode;
    for (const auto& n : doc) {
      if (!n.IsMap()) continue;
      YAML::Node v = n["verdicts"];
      if (!v || !v.IsSequence()) continue;
      for (const auto& e : v) {
        if (e.IsScalar() && IsVerdict(e.Scalar(), RuleSetKind::kImage)) return RuleSetKind::kImage;
      }
    }
  } catch (const YAML::Exception&) {
    // The node loader reports the syntax error.
  }
  return RuleSetKind::kNode;
}

LoadResult LoadRulesPath(const std::string& path, std::optional<RuleSetKind> kind) {
  namespace fs = std::filesystem;
  LoadResult all;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
        files.push_back(e.path().string());
      }
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  } else {
    all.errors.push_back({path, 0, 0, "no such rule file or directory"});
    return all;
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      all.errors.push_back({f, 0, 0, "cannot be read"});
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    LoadResult one = LoadRulesText(text, f, kind ? *kind : DetectKind(text));
    for (auto& r : one.rules) all.rules.push_back(std::move(r));
    for (auto& e : one.errors) all.errors.push_back(std::move(e));
  }
  return all;
}

}  // namespace cvm::rules
