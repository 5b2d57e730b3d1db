#include "probe/facts_json.h"

#include <string>

namespace cvm::probe {
namespace {

using nlohmann::json;

json ScalarToJson(const Scalar& s) {
  return std::visit([](const auto& v) { return json(v); }, s);
}

json ValueToJson(const FactValue& value) {
  struct Visitor {
    json operator()(bool v) const { return v; }
    json operator()(std::int64_t v) const { return v; }
    json operator()(const std::string& v) const { return v; }
    json operator()(const StringList& v) const { return v; }
    json operator()(const RecordList& v) const {
      json out = json::array();
      for (const auto& rec : v) {
        json obj = json::object();
        for (const auto& [k, s] : rec) obj[k] = ScalarToJson(s);
        out.push_back(std::move(obj));
      }
      return out;
    }
  };
  return std::visit(Visitor{}, value);
}

std::optional<Scalar> JsonToScalar(const json& j) {
  if (j.is_boolean()) return Scalar(j.get<bool>());
  if (j.is_number_integer()) return Scalar(j.get<std::int64_t>());
  if (j.is_string()) return Scalar(j.get<std::string>());
  return std::nullopt;
}

std::optional<FactValue> JsonToValue(const json& j) {
  if (j.is_boolean()) return FactValue(j.get<bool>());
  if (j.is_number_integer()) return FactValue(j.get<std::int64_t>());
  if (j.is_string()) return FactValue(j.get<std::string>());
  if (!j.is_array()) return std::nullopt;
  if (j.empty() || j.front().is_string()) {
    StringList list;
    for (const auto& e : j) {
      if (!e.is_string()) return std::nullopt;
      list.push_back(e.get<std::string>());
    }
    return FactValue(std::move(list));
  }
  RecordList records;
  for (const auto& e : j) {
    if (!e.is_object()) return std::nullopt;
    Record rec;
    for (const auto& [k, v] : e.items()) {
      auto s = JsonToScalar(v);
      if (!s) return std::nullopt;
      rec[k] = std::move(*s);
    }
    records.push_back(std::move(rec));
  }
  return FactValue(std::move(records));
}

// Walks the nested `facts` object; a leaf is anything but an object.
bool Flatten(const json& node, const std::string& prefix, const json& sources,
             Facts& out, std::string& bad) {
  for (const auto& [key, value] : node.items()) {
    std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      if (!Flatten(value, name, sources, out, bad)) return false;
      continue;
    }
    auto v = JsonToValue(value);
    if (!v) {
      bad = name;
      return false;
    }
    std::string source;
    if (auto it = sources.find(name); it != sources.end() && it->is_string()) {
      source = it->get<std::string>();
    }
    out.Set(name, std::move(*v), source);
  }
  return true;
}

}  // namespace

json FactsToJson(const Facts& facts) {
  json out = json::object();
  out["root"] = facts.root;
  json tree = json::object();
  json sources = json::object();
  for (const auto& [name, fact] : facts.all()) {
    // Walk the dots by hand: a json_pointer would make an all-digit
    // component ("x.0") an array index.
    json* node = &tree;
    std::size_t start = 0;
    for (;;) {
      std::size_t dot = name.find('.', start);
      std::string key = name.substr(start, dot - start);
      if (dot == std::string::npos) {
        (*node)[key] = ValueToJson(fact.value);
        break;
      }
      json& child = (*node)[key];
      if (!child.is_object()) child = json::object();
      node = &child;
      start = dot + 1;
    }
    sources[name] = fact.source;
  }
  out["facts"] = std::move(tree);
  out["sources"] = std::move(sources);
  json errors = json::array();
  for (const auto& e : facts.errors()) {
    errors.push_back({{"probe", e.probe}, {"path", e.path}, {"message", e.message}});
  }
  out["errors"] = std::move(errors);
  json probes = json::array();
  for (const auto& r : facts.runs()) {
    probes.push_back({{"name", r.name},
                      {"ok", r.ok},
                      {"duration_seconds", r.duration_seconds}});
  }
  out["probes"] = std::move(probes);
  return out;
}

static Result<Facts> FactsFromJsonUnchecked(const json& report) {
  if (!report.is_object()) return MakeError("", "the report is not a JSON object");
  Facts facts;
  if (auto it = report.find("root"); it != report.end() && it->is_string()) {
    facts.root = it->get<std::string>();
  }
  auto tree = report.find("facts");
  if (tree == report.end() || !tree->is_object()) {
    return MakeError("facts", "missing or not an object");
  }
  json sources = report.value("sources", json::object());
  if (!sources.is_object()) return MakeError("sources", "not an object");
  std::string bad;
  if (!Flatten(*tree, "", sources, facts, bad)) {
    return MakeError("facts." + bad,
                     "not a boolean, integer, string, list of strings or "
                     "list of flat objects");
  }
  if (auto it = report.find("errors"); it != report.end()) {
    if (!it->is_array()) return MakeError("errors", "not an array");
    for (const auto& e : *it) {
      if (!e.is_object()) return MakeError("errors", "an entry is not an object");
      facts.AddError({e.value("probe", ""), e.value("path", ""),
                      e.value("message", "")});
    }
  }
  if (auto it = report.find("probes"); it != report.end()) {
    if (!it->is_array()) return MakeError("probes", "not an array");
    for (const auto& r : *it) {
      if (!r.is_object()) return MakeError("probes", "an entry is not an object");
      facts.AddRun({r.value("name", ""), r.value("ok", false),
                    r.value("duration_seconds", 0.0)});
    }
  }
  return facts;
}

Result<Facts> FactsFromJson(const json& report) {
  try {
    return FactsFromJsonUnchecked(report);
  } catch (const json::exception& e) {
    return MakeError("", std::string("malformed report: ") + e.what());
  }
}

}  // namespace cvm::probe
