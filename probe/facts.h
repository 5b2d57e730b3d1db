#pragma once
// Facts: the typed tree of what the probes found, keyed by stable dotted
// names (fact_catalog.h), with where each value came from, the errors met
// and how each probe ran. The one input of the rules engine.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

// One entry of a device list (gpu.nvidia.devices): plain named values.
using Scalar = std::variant<bool, std::int64_t, std::string>;
using Record = std::map<std::string, Scalar>;
using StringList = std::vector<std::string>;
using RecordList = std::vector<Record>;
using FactValue =
    std::variant<bool, std::int64_t, std::string, StringList, RecordList>;

struct Fact {
  FactValue value;
  std::string source;  // in-root file, "uname(2)", "node.status", ...
  bool operator==(const Fact&) const = default;
};

struct ProbeError {
  std::string probe;    // kebab-case probe name
  std::string path;     // in-root path, may be empty
  std::string message;  // full text for people, names the path
  bool operator==(const ProbeError&) const = default;
};

struct ProbeRun {
  std::string name;
  bool ok = true;  // false when the probe recorded any error
  double duration_seconds = 0;
};

// What one probe returns: facts and errors, merged by the registry.
struct ProbeOutput {
  std::vector<std::pair<std::string, Fact>> facts;
  std::vector<Error> errors;

  void Set(std::string_view name, FactValue value, std::string_view source) {
    facts.emplace_back(std::string(name),
                       Fact{std::move(value), std::string(source)});
  }
  void AddError(Error error) { errors.push_back(std::move(error)); }
};

class Facts {
 public:
  // Sets (or replaces) a fact.
  void Set(std::string_view name, FactValue value, std::string_view source);
  const Fact* Find(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  // Typed lookups: nullptr / nullopt when absent or of another type.
  const std::string* GetString(std::string_view name) const;
  std::optional<std::int64_t> GetInt(std::string_view name) const;
  std::optional<bool> GetBool(std::string_view name) const;
  const StringList* GetList(std::string_view name) const;

  void AddError(ProbeError error) { errors_.push_back(std::move(error)); }
  void AddRun(ProbeRun run) { runs_.push_back(std::move(run)); }

  const std::map<std::string, Fact, std::less<>>& all() const { return facts_; }
  const std::vector<ProbeError>& errors() const { return errors_; }
  const std::vector<ProbeRun>& runs() const { return runs_; }

  std::string root;  // the scanned root as given

 private:
  std::map<std::string, Fact, std::less<>> facts_;
  std::vector<ProbeError> errors_;
  std::vector<ProbeRun> runs_;
};

}  // namespace cvm::probe
