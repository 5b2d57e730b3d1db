#include "exporter/cluster.h"

#include <algorithm>
#include <cstdio>

#include "exporter/json_fields.h"
#include "exporter/kube/exec_credential.h"
#include "exporter/report_json.h"
#include "exporter/version.h"
#include "probe/fact_catalog.h"
#include "rules/loader.h"
#include "rules/rule.h"

namespace cvm::exporter::cluster {
namespace {

using nlohmann::json;

constexpr std::string_view kPodSecurityEnforce = "pod-security.kubernetes.io/enforce";
constexpr std::string_view kLegacyIstioService = "istio-sidecar-injector";
constexpr std::string_view kSysboxRuntimeClass = "sysbox-runc";
constexpr std::string_view kLabelFacts[] = {"kernel", "os", "arch", "runc", "containerd",
                                            "platform"};

std::vector<std::string> StringList(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::string Joined(const std::vector<std::string>& v, std::string_view sep = ",") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string VerdictText(const json& v) {
  if (!v.is_string()) return "";
  std::string s = v.get<std::string>();
  return s == "true" || s == "false" || s == "unknown" ? s : "";
}

}  // namespace

std::string_view NodeStateName(NodeState s) {
  switch (s) {
    case NodeState::kReported: return "reported";
    case NodeState::kStale: return "stale";
    case NodeState::kNoReport: return "no-report";
  }
  return "no-report";
}

NodeRow ReadNodeRow(const json& node, const ReportOptions& o, SystemTime now) {
  NodeRow row;
  row.name = Str(Field(node, "metadata"), "name");
  const json& labels = MapAt(node, "metadata", "labels");
  const json& annotations = MapAt(node, "metadata", "annotations");
  auto label = [&](std::string_view name) {
    return StringAt(labels, o.prefix + std::string(name));
  };
  for (auto name : kLabelFacts) {
    if (auto v = label(name)) row.labels[std::string(name)] = *v;
  }
  if (const json* cond = FindReadyCondition(node)) {
    row.condition_status = Str(*cond, "status");
    row.condition_reason = Str(*cond, "reason");
    if (auto t = kube::ParseRfc3339(Str(*cond, "lastHeartbeatTime"))) row.heartbeat = *t;
  }
  json report;
  if (auto text = StringAt(annotations, o.prefix + std::string(kReportAnnotation))) {
    report = json::parse(*text, nullptr, false);
    if (!report.is_object()) {
      row.problem = "the annotation " + o.prefix + std::string(kReportAnnotation) +
                    " is not a JSON object";
      report = nullptr;
    }
  }
  const bool ours = report.is_object() || !row.condition_status.empty() || label("cvm");
  if (!ours) {
    row.state = NodeState::kNoReport;
    row.profile = o.profile;
    return row;
  }
  row.state = row.heartbeat && now - *row.heartbeat <= o.stale_after ? NodeState::kReported
                                                                     : NodeState::kStale;
  row.agent_profile = report.is_object() ? Str(report, "profile") : label("profile").value_or("");
  row.profile = o.profile.empty() ? row.agent_profile : o.profile;
  if (report.is_object()) {
    const json& failing = Field(report, "failing");
    row.failing = StringList(Field(failing, "error"));
    row.warnings = StringList(Field(failing, "warning"));
    row.unknown = StringList(Field(report, "unknown"));
    row.stale_labels = StringList(Field(report, "stale"));
  }
  // The verdicts of row.profile: the annotation's own for the agent's
  // profile, its "profiles" map for another, the labels when an agent
  // wrote no annotation (labels exist only for the agent's profile).
  const json* verdicts = nullptr;
  if (report.is_object()) {
    if (row.profile == row.agent_profile) {
      verdicts = &Field(report, "verdicts");
    } else {
      verdicts = &Field(Field(report, "profiles"), row.profile.c_str());
    }
  }
  for (auto name : kVerdictNames) {
    std::string v;
    if (verdicts != nullptr) v = VerdictText(Field(*verdicts, std::string(name).c_str()));
    if (v.empty() && row.profile == row.agent_profile && !report.is_object()) {
      v = label(name).value_or("");
    }
    if (!v.empty()) row.verdicts[std::string(name)] = v;
  }
  return row;
}

std::map<std::string, std::string> OverlayNodeFeatures(std::vector<json>& nodes,
                                                       const std::vector<json>& features,
                                                       std::string_view prefix) {
  std::map<std::string, std::string> problems;
  std::map<std::string, json*> by_name;
  for (auto& n : nodes) by_name[Str(Field(n, "metadata"), "name")] = &n;
  const std::string pre(prefix);
  const std::string report_key = pre + std::string(kReportAnnotation);
  for (const auto& f : features) {
    const json& meta = Field(f, "metadata");
    std::string node_name =
        StringAt(MapAt(f, "metadata", "labels"), std::string(kNodeFeatureNodeLabel))
            .value_or(Str(meta, "name"));
    auto it = by_name.find(node_name);
    if (it == by_name.end()) continue;  // a node gone; prune removes it
    json& node = *it->second;
    if (!node.is_object()) continue;  // an answer's item that is no object
    if (!node["metadata"].is_object()) node["metadata"] = json::object();
    json& node_meta = node["metadata"];
    if (!node_meta["annotations"].is_object()) node_meta["annotations"] = json::object();
    json& node_ann = node_meta["annotations"];
    if (!node_ann.contains(report_key)) {
      for (const auto& [k, v] : MapAt(f, "metadata", "annotations").items()) {
        if (k.compare(0, pre.size(), pre) == 0 && v.is_string()) node_ann[k] = v;
      }
    }
    const json& node_labels = MapAt(node, "metadata", "labels");
    std::vector<std::string> missing;
    int count = 0;
    for (const auto& [k, v] : MapAt(f, "spec", "labels").items()) {
      if (k.compare(0, pre.size(), pre) != 0 || !v.is_string()) continue;
      ++count;
      if (StringAt(node_labels, k) != v.get<std::string>()) {
        missing.push_back(k + "=" + v.get<std::string>());
      }
    }
    if (missing.empty()) continue;
    std::string list;
    for (std::size_t i = 0; i < missing.size() && i < 3; ++i) {
      list += (i ? ", " : "") + missing[i];
    }
    if (missing.size() > 3) list += ", ...";
    problems[node_name] = std::to_string(missing.size()) + " of the " + std::to_string(count) +
                          " labels its NodeFeature " + Str(meta, "namespace") + "/" +
                          Str(meta, "name") + " asks for are not on the node (" + list +
                          "): is node-feature-discovery's master running, and does it allow "
                          "the prefix " + pre + "?";
  }
  return problems;
}

Fleet BuildFleet(const std::vector<json>& nodes, const ReportOptions& o, SystemTime now,
                 const std::map<std::string, std::string>* problems) {
  Fleet f;
  f.profile = o.profile;
  for (auto name : kVerdictNames) f.counts[std::string(name)] = {};
  for (const auto& n : nodes) {
    f.rows.push_back(ReadNodeRow(n, o, now));
    NodeRow& row = f.rows.back();
    if (problems != nullptr && row.problem.empty()) {
      if (auto p = problems->find(row.name); p != problems->end()) row.problem = p->second;
    }
  }
  std::sort(f.rows.begin(), f.rows.end(),
            [](const NodeRow& a, const NodeRow& b) { return a.name < b.name; });
  for (const auto& r : f.rows) {
    if (r.state == NodeState::kNoReport) {
      ++f.no_report;
      continue;
    }
    if (r.state == NodeState::kStale) {
      ++f.stale;
      continue;
    }
    for (auto name : kVerdictNames) {
      VerdictCount& c = f.counts[std::string(name)];
      auto it = r.verdicts.find(std::string(name));
      if (it == r.verdicts.end() || it->second == "unknown") {
        ++c.unknown;
      } else if (it->second == "true") {
        ++c.true_;
      } else {
        ++c.false_;
      }
    }
  }
  return f;
}

bool SelectorMatches(const json& selector, const json& labels) {
  if (!selector.is_object()) return true;
  const json& match = Field(selector, "matchLabels");
  for (const auto& [k, v] : match.items()) {
    if (!v.is_string() || StringAt(labels, k) != v.get<std::string>()) return false;
  }
  const json& exprs = Field(selector, "matchExpressions");
  if (!exprs.is_array()) return true;
  for (const auto& e : exprs) {
    const std::string key = Str(e, "key");
    const std::string op = Str(e, "operator");
    std::vector<std::string> values = StringList(Field(e, "values"));
    std::optional<std::string> have = StringAt(labels, key);
    bool in = have && std::find(values.begin(), values.end(), *have) != values.end();
    if (op == "In") {
      if (!in) return false;
    } else if (op == "NotIn") {
      if (in) return false;
    } else if (op == "Exists") {
      if (!have) return false;
    } else if (op == "DoesNotExist") {
      if (have) return false;
    } else {
      return false;  // the API server rejects such a selector: match nothing
    }
  }
  return true;
}

ClusterRead ReadCluster(kube::Client& client, std::string_view workspace_namespace) {
  ClusterRead r;
  r.workspace_namespace = std::string(workspace_namespace);
  auto note = [&](std::string_view what, const Error& e) {
    r.errors.push_back({"cluster", std::string(what), e.message});
  };
  if (auto v = client.Get("/version")) {
    r.version = std::move(*v);
  } else {
    note("/version", v.error());
  }
  if (!workspace_namespace.empty()) {
    std::string path = "/api/v1/namespaces/" + kube::EscapeComponent(workspace_namespace);
    if (auto ns = client.Get(path)) {
      r.namespace_object = std::move(*ns);
    } else if (ns.error().code == 404) {
      r.namespace_missing = true;
    } else {
      note(path, ns.error());
    }
  }
  const std::string hooks = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";
  if (auto l = client.List(hooks)) {
    r.webhooks = std::move(l->items);
  } else {
    note(hooks, l.error());
  }
  const std::string rc =
      "/apis/node.k8s.io/v1/runtimeclasses/" + std::string(kSysboxRuntimeClass);
  if (auto c = client.Get(rc)) {
    r.runtime_class = std::move(*c);
  } else if (c.error().code == 404) {
    r.runtime_class_missing = true;
  } else {
    note(rc, c.error());
  }
  return r;
}

probe::Facts ClusterFacts(const ClusterRead& r, const std::vector<json>& nodes) {
  probe::Facts f;
  f.root = "cluster";
  for (const auto& e : r.errors) f.AddError(e);
  if (r.version) {
    std::string v = Str(*r.version, "gitVersion");
    if (!v.empty()) f.Set(probe::kClusterKubernetesVersion, v, "/version");
  }
  if (!nodes.empty()) {
    // A managed service's own node labels first, then the cloud that the
    // providerID names (a self-managed cluster on that cloud).
    std::string provider;
    for (const auto& n : nodes) {
      const json& labels = MapAt(n, "metadata", "labels");
      if (labels.contains("kubernetes.azure.com/cluster")) provider = "aks";
      else if (labels.contains("eks.amazonaws.com/nodegroup")) provider = "eks";
      else if (labels.contains("cloud.google.com/gke-nodepool")) provider = "gke";
      if (!provider.empty()) break;
    }
    for (const auto& n : nodes) {
      if (!provider.empty()) break;
      std::string id = Str(Field(n, "spec"), "providerID");
      if (id.rfind("azure://", 0) == 0) provider = "azure";
      else if (id.rfind("aws://", 0) == 0) provider = "aws";
      else if (id.rfind("gce://", 0) == 0) provider = "gce";
    }
    f.Set(probe::kClusterProvider, provider.empty() ? "other" : provider,
          "the nodes' labels and spec.providerID");
  }
  json ns_labels = json::object();
  if (!r.workspace_namespace.empty()) {
    f.Set(probe::kClusterWorkspaceNamespace, r.workspace_namespace, "--workspace-namespace");
    const std::string src = "/api/v1/namespaces/" + r.workspace_namespace;
    if (r.namespace_missing) {
      f.Set(probe::kClusterWorkspaceNamespacePresent, false, src);
    } else if (r.namespace_object) {
      f.Set(probe::kClusterWorkspaceNamespacePresent, true, src);
      ns_labels = MapAt(*r.namespace_object, "metadata", "labels");
      f.Set(probe::kClusterWorkspaceNamespacePodSecurity,
            StringAt(ns_labels, std::string(kPodSecurityEnforce)).value_or(""),
            src + " label " + std::string(kPodSecurityEnforce));
    }
  }
  // Injection into the workspace namespace can be judged only when its
  // labels were read; without a namespace every legacy webhook counts.
  const bool ns_known = r.workspace_namespace.empty() || r.namespace_object || r.namespace_missing;
  if (r.webhooks && ns_known) {
    probe::StringList legacy;
    for (const auto& cfg : *r.webhooks) {
      const json& hooks = Field(cfg, "webhooks");
      if (!hooks.is_array()) continue;
      for (const auto& h : hooks) {
        if (Str(Field(Field(h, "clientConfig"), "service"), "name") != kLegacyIstioService) continue;
        if (r.namespace_object && !SelectorMatches(Field(h, "namespaceSelector"), ns_labels)) {
          continue;
        }
        if (r.namespace_missing) continue;  // no pods there to inject into
        legacy.push_back(Str(Field(cfg, "metadata"), "name") + "/" + Str(h, "name"));
      }
    }
    const std::string src = "mutatingwebhookconfigurations";
    f.Set(probe::kClusterIstioLegacyInjector, !legacy.empty(), src);
    f.Set(probe::kClusterIstioLegacyInjectors, std::move(legacy), src);
  }
  const std::string rc_src = "/apis/node.k8s.io/v1/runtimeclasses/sysbox-runc";
  if (r.runtime_class_missing) {
    f.Set(probe::kClusterRuntimeClassPresent, false, rc_src);
  } else if (r.runtime_class) {
    f.Set(probe::kClusterRuntimeClassPresent, true, rc_src);
    f.Set(probe::kClusterRuntimeClassHandler, Str(*r.runtime_class, "handler"), rc_src);
  }
  return f;
}

rules::Evaluation JudgeCluster(const probe::Facts& facts, std::string_view profile) {
  static const rules::RuleSet kRules = [] {
    rules::RuleSet set;
    for (auto& r : rules::LoadClusterRules().rules) set.Upsert(std::move(r));
    return set;
  }();
  return rules::Evaluate(kRules, facts, profile);
}

std::string FleetProfile(const Fleet& fleet) {
  if (!fleet.profile.empty()) return fleet.profile;
  std::map<std::string, int> seen;
  for (const auto& r : fleet.rows) {
    if (!r.agent_profile.empty() && rules::IsProfile(r.agent_profile)) ++seen[r.agent_profile];
  }
  std::string best(rules::kDefaultProfile);
  int most = 0;
  for (const auto& [p, n] : seen) {
    if (n > most) {
      best = p;
      most = n;
    }
  }
  return best;
}

std::string Age(SystemTime then, SystemTime now) {
  using namespace std::chrono;
  long long s = duration_cast<seconds>(now - then).count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

namespace {

int ReadyNodes(const Fleet& f) { return f.counts.at("cvm").true_; }

std::string Cell(const NodeRow& r, std::string_view verdict) {
  auto it = r.verdicts.find(std::string(verdict));
  return it == r.verdicts.end() ? "-" : it->second;
}

std::string Listed(const std::vector<std::string>& v, std::size_t max = 60) {
  if (v.empty()) return "-";
  std::string s = Joined(v);
  if (s.size() > max) {
    s.resize(max - 3);
    s += "...";
  }
  return s;
}

void WriteTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t k = 0; k < r.size(); ++k) width[k] = std::max(width[k], r[k].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t k = 0; k < r.size(); ++k) {
      line += r[k];
      if (k + 1 < r.size()) line += std::string(width[k] - r[k].size() + 3, ' ');
    }
    out << line << "\n";
  }
}

std::string_view Mark(rules::Status s) {
  switch (s) {
    case rules::Status::kPass: return "ok  ";
    case rules::Status::kFail: return "FAIL";
    case rules::Status::kUnknown: return "??  ";
    case rules::Status::kSkipped: return "skip";
  }
  return "??  ";
}

}  // namespace

void WriteReportText(const ReportView& v, bool wide, std::ostream& out) {
  const Fleet& f = v.fleet;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"NODE", "CVM", "CVM-CACHED", "CVM-GPU", "PROFILE", "HEARTBEAT"};
  if (wide) {
    for (auto l : {"KERNEL", "OS", "RUNC", "PLATFORM", "REASON"}) head.emplace_back(l);
  }
  head.emplace_back("FAILING");
  if (wide) {
    head.emplace_back("WARNINGS");
    head.emplace_back("UNKNOWN");
  }
  rows.push_back(head);
  for (const auto& r : f.rows) {
    std::vector<std::string> row = {r.name.empty() ? "(no name)" : r.name};
    if (r.state == NodeState::kNoReport) {
      for (int k = 0; k < 5; ++k) row.emplace_back("-");
      if (wide) {
        for (int k = 0; k < 5; ++k) row.emplace_back("-");
      }
      row.emplace_back("(no report: no agent has scanned this node)");
      if (wide) {
        row.emplace_back("-");
        row.emplace_back("-");
      }
      rows.push_back(std::move(row));
      continue;
    }
    for (auto name : kVerdictNames) row.push_back(Cell(r, name));
    std::string profile = r.profile.empty() ? "-" : r.profile;
    if (!f.profile.empty() && r.profile != r.agent_profile) profile += " (what-if)";
    row.push_back(profile);
    std::string beat = r.heartbeat ? Age(*r.heartbeat, v.now) : "never";
    if (r.state == NodeState::kStale) beat += " (stale)";
    row.push_back(beat);
    if (wide) {
      for (auto l : {"kernel", "os", "runc", "platform"}) {
        auto it = r.labels.find(l);
        row.push_back(it == r.labels.end() ? "-" : it->second);
      }
      row.push_back(r.condition_reason.empty() ? "-" : r.condition_reason);
    }
    std::string failing = r.profile == r.agent_profile ? Listed(r.failing, wide ? 200 : 60)
                                                       : "(see profile " + r.agent_profile + ")";
    if (!r.problem.empty()) failing += " (" + r.problem + ")";
    row.push_back(failing);
    if (wide) {
      row.push_back(Listed(r.warnings, 200));
      row.push_back(Listed(r.unknown, 200));
    }
    rows.push_back(std::move(row));
  }
  if (f.rows.empty()) {
    out << "No nodes.\n";
  } else {
    WriteTable(rows, out);
  }

  const int reported = static_cast<int>(f.rows.size()) - f.no_report - f.stale;
  out << "\n" << f.rows.size() << (f.rows.size() == 1 ? " node" : " nodes");
  out << (f.profile.empty() ? ", each judged by its agent's profile"
                            : ", judged by profile " + f.profile);
  out << ": ";
  std::vector<std::string> parts;
  for (auto name : kVerdictNames) {
    const VerdictCount& c = f.counts.at(std::string(name));
    std::string p = std::string(name) + " ready on " + std::to_string(c.true_) + " of " +
                    std::to_string(reported);
    if (c.false_ || c.unknown) {
      p += " (" + std::to_string(c.false_) + " false, " + std::to_string(c.unknown) +
           " unknown)";
    }
    parts.push_back(p);
  }
  out << Joined(parts, "; ");
  if (f.no_report) out << "; " << f.no_report << " with no report";
  if (f.stale) out << "; " << f.stale << " stale (heartbeat older than the limit, not counted)";
  out << ".\n";

  if (v.cluster != nullptr) {
    const rules::Evaluation& ev = *v.cluster;
    const rules::VerdictResult* cvm = ev.Verdict("cvm");
    out << "\nCluster checks (profile " << ev.profile << "): "
        << (cvm ? rules::TriName(cvm->value) : "unknown") << "\n";
    for (const auto& c : ev.checks) {
      out << "  " << Mark(c.status) << "  " << c.id << " [" << rules::SeverityName(c.severity)
          << "] " << c.title << "\n";
      if (c.status == rules::Status::kFail || c.status == rules::Status::kUnknown) {
        out << "        " << c.message << "\n";
        if (!c.fix.empty()) out << "        Fix: " << c.fix << "\n";
      }
    }
    if (v.cluster_facts != nullptr) {
      for (const auto& e : v.cluster_facts->errors()) {
        out << "  could not read " << e.path << ": " << e.message << "\n";
      }
    }
  }
}

json ReportToJson(const ReportView& v) {
  const Fleet& f = v.fleet;
  json nodes = json::array();
  for (const auto& r : f.rows) {
    json n = {{"name", r.name}, {"state", std::string(NodeStateName(r.state))}};
    if (r.state != NodeState::kNoReport) {
      n["profile"] = r.profile;
      n["agent_profile"] = r.agent_profile;
      n["verdicts"] = r.verdicts;
      n["failing"] = {{"error", r.failing}, {"warning", r.warnings}};
      n["unknown"] = r.unknown;
      n["stale_labels"] = r.stale_labels;
      n["condition"] = {{"status", r.condition_status}, {"reason", r.condition_reason}};
      n["labels"] = r.labels;
      if (r.heartbeat) {
        n["heartbeat"] = FormatRfc3339(*r.heartbeat);
        n["heartbeat_age_seconds"] =
            std::chrono::duration_cast<std::chrono::seconds>(v.now - *r.heartbeat).count();
      } else {
        n["heartbeat"] = nullptr;
      }
      if (!r.problem.empty()) n["problem"] = r.problem;
    }
    nodes.push_back(std::move(n));
  }
  json counts = json::object();
  for (const auto& [name, c] : f.counts) {
    counts[name] = {{"true", c.true_}, {"false", c.false_}, {"unknown", c.unknown}};
  }
  json out = {{"version", kVersion},
              {"time", FormatRfc3339(v.now)},
              {"profile", f.profile.empty() ? json(nullptr) : json(f.profile)},
              {"nodes", std::move(nodes)},
              {"summary",
               {{"nodes", f.rows.size()},
                {"no_report", f.no_report},
                {"stale", f.stale},
                {"verdicts", std::move(counts)}}}};
  if (v.cluster != nullptr) {
    json verdicts = json::object();
    if (const auto* cvm = v.cluster->Verdict("cvm")) {
      verdicts["cvm"] = {{"value", rules::TriName(cvm->value)}, {"because", cvm->because}};
    }
    json c = {{"profile", v.cluster->profile},
              {"verdicts", std::move(verdicts)},
              {"checks", ChecksToJson(*v.cluster)}};
    if (v.cluster_facts != nullptr) {
      json errors = json::array();
      for (const auto& e : v.cluster_facts->errors()) {
        errors.push_back({{"path", e.path}, {"message", e.message}});
      }
      c["errors"] = std::move(errors);
    }
    out["cluster"] = std::move(c);
  }
  out["exit_status"] = ReportExitStatus(v);
  return out;
}

int ReportExitStatus(const ReportView& v) {
  rules::Tri cluster = rules::Tri::kTrue;
  if (v.cluster != nullptr) {
    if (const auto* c = v.cluster->Verdict("cvm")) cluster = c->value;
  }
  if (cluster == rules::Tri::kFalse) return 1;
  const Fleet& f = v.fleet;
  if (ReadyNodes(f) > 0) return cluster == rules::Tri::kTrue ? 0 : 3;
  const VerdictCount& c = f.counts.at("cvm");
  if (f.rows.empty()) return 1;
  bool all_known_false = c.unknown == 0 && f.no_report == 0 && f.stale == 0;
  return all_known_false ? 1 : 3;
}

PrunePlan PlanPrune(const json& node, std::string_view prefix) {
  PrunePlan p;
  p.node = Str(Field(node, "metadata"), "name");
  const json& labels = MapAt(node, "metadata", "labels");
  const json& annotations = MapAt(node, "metadata", "annotations");
  const std::string pre(prefix);
  json label_patch = json::object(), ann_patch = json::object();
  for (const auto& [k, v] : labels.items()) {
    if (k.size() > pre.size() && k.compare(0, pre.size(), pre) == 0) {
      label_patch[k] = nullptr;
      p.labels.push_back(k);
    }
  }
  // The one label outside the prefix, only when the agent set it and the
  // node does not run Sysbox (its installer selects on it).
  if (auto owned = StringAt(annotations, pre + std::string(kOwnedAnnotation))) {
    const std::string key(kSysboxInstallLabel);
    if (OwnedLabelNames(*owned).count(key) && labels.contains(key) &&
        !labels.contains(std::string(kSysboxRuntimeLabel))) {
      label_patch[key] = nullptr;
      p.labels.push_back(key);
    }
  }
  for (const auto& [k, v] : annotations.items()) {
    if (k.size() > pre.size() && k.compare(0, pre.size(), pre) == 0) {
      ann_patch[k] = nullptr;
      p.annotations.push_back(k);
    }
  }
  if (!label_patch.empty() || !ann_patch.empty()) {
    p.metadata = {{"metadata", json::object()}};
    if (!label_patch.empty()) p.metadata["metadata"]["labels"] = label_patch;
    if (!ann_patch.empty()) p.metadata["metadata"]["annotations"] = ann_patch;
  }
  if (FindReadyCondition(node) != nullptr) {
    p.condition = true;
    p.status = {{"status",
                 {{"conditions", json::array({{{"type", kConditionType}, {"$patch", "delete"}}})}}}};
  }
  return p;
}

}  // namespace cvm::exporter::cluster
