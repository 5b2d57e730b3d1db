#include "exporter/report_json.h"

#include "exporter/utf8.h"
#include "exporter/version.h"
#include "probe/facts_json.h"

namespace cvm::exporter {
namespace {

using nlohmann::json;

// `j` with ValidUtf8 applied to every string and key.
// Whether every string and key of `j` is UTF-8 already, as it is in
// nearly every report: then no sanitised copy of the tree is made (it
// doubled the output's peak memory and page faults; README's Speed).
bool AllValidUtf8(const json& j) {
  switch (j.type()) {
    case json::value_t::string:
      return IsValidUtf8(j.get_ref<const std::string&>());
    case json::value_t::array:
      for (const auto& e : j) {
        if (!AllValidUtf8(e)) return false;
      }
      return true;
    case json::value_t::object:
      for (const auto& [k, v] : j.items()) {
        if (!IsValidUtf8(k) || !AllValidUtf8(v)) return false;
      }
      return true;
    default:
      return true;
  }
}

json Sanitized(const json& j) {
  switch (j.type()) {
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (IsValidUtf8(s)) return j;
      return json(ValidUtf8(s));
    }
    case json::value_t::array: {
      json out = json::array();
      for (const auto& e : j) out.push_back(Sanitized(e));
      return out;
    }
    case json::value_t::object: {
      json out = json::object();
      for (const auto& [k, v] : j.items()) out[ValidUtf8(k)] = Sanitized(v);
      return out;
    }
    default:
      return j;
  }
}

json FactValueJson(const probe::FactValue& v) {
  // Reuse the facts serialiser for one value.
  probe::Facts one;
  one.Set("v", v, "");
  return probe::FactsToJson(one)["facts"]["v"];
}

json VerdictsJson(const rules::Evaluation& ev) {
  json out = json::object();
  for (const auto& v : ev.verdicts) {
    out[v.name] = {{"value", std::string(rules::TriName(v.value))},
                   {"because", v.because}};
    if (const auto* note = rules::NoteOf(v.name)) {
      out[v.name]["note"] = std::string(note->text);
      out[v.name]["note_sources"] = std::string(note->sources);
    }
  }
  return out;
}

}  // namespace

json FactsReportToJson(const probe::Facts& facts) {
  json report = probe::FactsToJson(facts);
  report["schema"] = kReportSchema;
  report["version"] = kVersion;
  return report;
}

json ChecksToJson(const rules::Evaluation& ev) {
  json checks = json::array();
  for (const auto& c : ev.checks) {
    json facts = json::object();
    for (const auto& [name, value] : c.facts) {
      facts[name] = value ? FactValueJson(*value) : json(nullptr);
    }
    checks.push_back({{"id", c.id},
                      {"title", c.title},
                      {"status", std::string(rules::StatusName(c.status))},
                      {"severity", std::string(rules::SeverityName(c.severity))},
                      {"verdicts", c.verdicts},
                      {"facts", std::move(facts)},
                      {"message", c.message},
                      {"fix", c.fix},
                      {"sources", c.sources}});
  }
  return checks;
}

json ReportToJson(const rules::Report& report) {
  json out = FactsReportToJson(report.facts);
  out["profile"] = report.selected.profile;
  json checks = ChecksToJson(report.selected);
  out["checks"] = std::move(checks);
  out["verdicts"] = VerdictsJson(report.selected);
  json profiles = json::object();
  for (const auto& ev : report.profiles) {
    json p = json::object();
    for (const auto& v : ev.verdicts) p[v.name] = std::string(rules::TriName(v.value));
    profiles[ev.profile] = std::move(p);
  }
  out["profiles"] = std::move(profiles);
  json errors = json::array();
  for (const auto& e : report.rule_errors) errors.push_back(e.Text());
  out["rule_errors"] = std::move(errors);
  return out;
}

std::string DumpJson(const json& j, int indent) {
  // Sanitized first so that the rule is ours (one U+FFFD per bad byte);
  // nlohmann's replace handler stays as the last guard: it never throws.
  if (AllValidUtf8(j)) return j.dump(indent, ' ', false, json::error_handler_t::replace);
  return Sanitized(j).dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace cvm::exporter
