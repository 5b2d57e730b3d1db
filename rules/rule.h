#pragma once
// The rule model: conditions over facts, rules, and rule sets, as loaded
// from YAML (docs/rules.md). Pure data; loader.h builds it, engine.h runs it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <vector>

#include "rules/version.h"

namespace cvm::rules {

enum class Severity { kError, kWarning, kInfo };
std::string_view SeverityName(Severity s);

enum class Op {
  kIn, kNotIn, kMatches, kExists, kAbsent, kEq, kNe, kGt, kGe, kLt, kLe,
  kIsTrue, kIsFalse,
  kAllOf, kAnyOf, kNot,
};
std::string_view OpName(Op op);

// A literal in a rule: integer, string or boolean.
struct Literal {
  enum class Kind { kInt, kString, kBool } kind = Kind::kString;
  std::int64_t i = 0;
  std::string s;
  bool b = false;
  std::string Text() const;
};

struct Condition {
  Op op = Op::kExists;
  std::string fact;                 // leaf conditions
  std::vector<Literal> values;      // in / notIn: the list; eq..le: one value
  std::optional<VersionScheme> scheme;  // eq..le on strings: how to order
  std::shared_ptr<const std::regex> regex;  // matches
  std::string pattern;              // matches, as written
  std::vector<Condition> children;  // allOf / anyOf / not
  // Facts this condition reads, for reports.
  void CollectFacts(std::vector<std::string>& out) const;
  std::string Text() const;  // "selinux.mode not in [enforcing]"
};

struct Rule {
  std::string id;
  std::string title;
  // CamelCase, why a failing check leaves its verdict false: the reason of
  // the node condition CVMReady (SELinuxEnforcing, KernelTooOld).
  std::string reason;
  Severity severity = Severity::kError;
  // Per-profile severity, e.g. an error in coder-v1 and a warning elsewhere.
  std::map<std::string, Severity> profile_severity;
  std::vector<std::string> verdicts;  // cvm, cvm-cached, cvm-gpu
  std::vector<std::string> profiles;  // empty = every profile
  std::optional<Condition> when;
  Condition expect;
  std::string fix;       // with {fact.name} placeholders
  std::string rationale; // why the rule exists (explain)
  std::vector<std::string> sources;
  bool enabled = true;
  std::string file;      // where it was loaded from
  int line = 0;

  bool AppliesTo(std::string_view profile) const;
  Severity SeverityIn(std::string_view profile) const;
};

// What a rule set judges: a node (rules/default/*.yaml, the verdicts cvm,
// cvm-cached, cvm-gpu) or a workspace image (rules/default/image/*.yaml,
// the one verdict image; `cvm-preflight image`, docs/workspace-image.md).
// A rule names verdicts of its set's kind only.
enum class RuleSetKind { kNode, kImage };

struct RuleSet {
  RuleSetKind kind = RuleSetKind::kNode;
  std::vector<Rule> rules;  // in load order; ids unique
  // Adds or replaces by id (a user rule with the id of a default one
  // replaces it).
  void Upsert(Rule rule);
  const Rule* Find(std::string_view id) const;
};

// The verdicts of the node rule sets, and of the image rule set. The
// profiles below are shared by both.
inline constexpr std::string_view kVerdicts[] = {"cvm", "cvm-cached", "cvm-gpu"};
inline constexpr std::string_view kImageVerdicts[] = {"image"};
std::span<const std::string_view> VerdictsOf(RuleSetKind kind);
std::string_view KindName(RuleSetKind kind);  // "node", "image"

// What a person should know of a verdict whatever the node: statements, not
// checks (nothing on a node makes them pass), so they travel with the
// verdict instead of posing as rules that can only fail.
struct VerdictNote {
  std::string_view verdict;
  std::string_view text;
  std::string_view sources;
};
inline constexpr VerdictNote kVerdictNotes[] = {
    {"cvm-gpu",
     "GPU CVMs are a beta feature in Coder, Sysbox has no official GPU "
     "support, and GPUs do not work with cached CVMs: schedule GPU workspaces "
     "as non-cached CVMs.",
     "coder/docs:admin/workspace-management/cvms/index.md, "
     "coder/docs:admin/workspace-management/cvms/management.md, nestybox/sysbox#50"},
};
// The note of a verdict, or nullptr.
const VerdictNote* NoteOf(std::string_view verdict);

struct Profile {
  std::string_view name;
  std::string_view description;
};
inline constexpr Profile kProfiles[] = {
    {"coder-v1",
     "Coder v1 CVM documentation as written: Sysbox distro table, shiftfs, "
     "the containerd.io 1.5.11-1 era runc, no NFS under /var/lib (default)"},
    {"coder-v2",
     "Coder v2 (Envbox or the sysbox-runc runtime class): Sysbox 0.6/0.7 "
     "numbers, host /usr/src and /lib/modules readable, no caching settings"},
    {"sysbox-0.6", "The thresholds of Sysbox 0.6.x releases"},
    {"sysbox-0.7", "The thresholds of Sysbox 0.7.x releases"},
};
inline constexpr std::string_view kDefaultProfile = "coder-v1";
bool IsProfile(std::string_view name);
// A verdict of the given kind's rule set (node: cvm, cvm-cached, cvm-gpu).
bool IsVerdict(std::string_view name, RuleSetKind kind = RuleSetKind::kNode);

}  // namespace cvm::rules
