// `cvm-preflight report` and `cvm-preflight prune` (exporter/cluster.h,
// docs/cluster.md): the commands an admin runs against a whole cluster.
#include "exporter/cluster_cli.h"

#include <chrono>
#include <string>
#include <vector>

#include "exporter/cli.h"
#include "exporter/cluster.h"
#include "exporter/duration.h"
#include "exporter/node_publisher.h"
#include "exporter/report_json.h"
#include "exporter/version.h"
#include "rules/rule.h"

namespace cvm::exporter {
namespace {

constexpr std::string_view kReportHelp =
    R"(Usage: cvm-preflight report [OPTIONS]

Lists every node of the cluster with the verdicts, failing checks and
heartbeat its cvm-preflight agent wrote (labels, the CVMReady condition
and the report annotation), a summary, and the cluster checks: the
Kubernetes version for the profile, the workspace namespace's Pod Security
level, a legacy Istio sidecar injector, the Sysbox RuntimeClass
(docs/cluster.md). Agents that publish through node-feature-discovery
(--publish-labels nodefeature) are read from their NodeFeature objects
too. Reads only; needs get/list on nodes and the objects the checks read
(the ClusterRole cvm-preflight-admin).

Options:
  --kubeconfig FILE        The kubeconfig (default: $KUBECONFIG, then
                           ~/.kube/config, then the pod's service account)
  --context NAME           A context of the kubeconfig instead of its current one
  -o, --output FORMAT      table (default), wide (node facts, warnings and
                           unknown checks too) or json
  --profile NAME           What-if: show every node's verdicts under this
                           profile (coder-v1, coder-v2, sysbox-0.6,
                           sysbox-0.7), from the verdicts the agents computed
                           for it; the cluster checks use it too
  --workspace-namespace NS The namespace workspace pods run in: checks its
                           Pod Security level and Istio injection
  --no-cluster-checks      Only the nodes
  --stale-after D          A heartbeat older than this marks a node stale
                           (default 2h; the agents beat hourly)
  --label-prefix P         The agents' --label-prefix (default cvm-preflight.dev/)
  --api-timeout D          One API request's limit (default 30s)
  -h, --help               Show this help

Exit status: 0 when at least one node is ready for CVMs (cvm true) and the
cluster checks pass, 1 when a cluster check fails or no node is ready, 3
when that cannot be told (nodes unknown, stale or never scanned), 2 on a
usage or API error.
)";

constexpr std::string_view kPruneHelp =
    R"(Usage: cvm-preflight prune [OPTIONS]

Removes what cvm-preflight's agents wrote from every node, for an
uninstall: the labels and annotations under the prefix, the CVMReady
condition, and sysbox-install when an agent set it (never on a node that
runs Sysbox), and the agents' node-feature-discovery NodeFeature objects
(then NFD's master drops their labels). Labels of other prefixes are not
touched. Idempotent: a
second run finds nothing. Run it after the agents are gone (they would
write everything back); manifests/uninstall/ runs it as a Job.

Options:
  --kubeconfig FILE   The kubeconfig (default: $KUBECONFIG, then
                      ~/.kube/config, then the pod's service account)
  --context NAME      A context of the kubeconfig instead of its current one
  --dry-run           List what would be removed; change nothing
  --label-prefix P    The agents' --label-prefix (default cvm-preflight.dev/)
  --api-timeout D     One API request's limit (default 30s)
  -h, --help          Show this help

Exit status: 0 when every node is clean (or, with --dry-run, when the plan
was made), 1 when a node or NodeFeature could not be changed (or the
NodeFeatures could not be listed), 2 on a usage or API error.
)";

struct ApiFlags {
  std::string kubeconfig, context;
  std::string prefix = std::string(kDefaultLabelPrefix);
  std::chrono::milliseconds timeout{30000};
};

// Takes one of the flags every cluster command has; false when the
// argument is not one of them (error set on a bad value).
bool ApiFlag(Args& args, ApiFlags& f, std::string& error) {
  if (auto v = args.Option("--kubeconfig", error)) {
    f.kubeconfig = *v;
    return true;
  }
  if (auto v = args.Option("--context", error)) {
    f.context = *v;
    return true;
  }
  if (auto v = args.Option("--label-prefix", error)) {
    auto p = CheckLabelPrefix(*v);
    if (!p) {
      error = p.error().message;
    } else {
      f.prefix = *p;
    }
    return true;
  }
  if (auto v = args.Option("--api-timeout", error)) {
    auto d = ParseDuration(*v);
    if (!d || *d <= std::chrono::milliseconds(0)) {
      error = "--api-timeout: '" + *v + "' is not a duration such as 30s or 1m";
    } else {
      f.timeout = *d;
    }
    return true;
  }
  return false;
}

Result<std::unique_ptr<kube::Client>> Connect(const ApiFlags& f, std::string_view command) {
  kube::LoadOptions lo;
  lo.kubeconfig = f.kubeconfig;
  lo.context = f.context;
  auto config = kube::LoadConfig(lo);
  if (!config) return config.error();
  kube::ClientOptions co;
  co.timeout = f.timeout;
  co.connect_timeout = std::min(f.timeout, std::chrono::milliseconds(10000));
  co.user_agent = "cvm-preflight/" + std::string(kVersion) + " " + std::string(command);
  return kube::Client::Create(*config, co);
}

int ApiError(std::ostream& err, std::string_view command, const Error& e) {
  err << "cvm-preflight: " << command << ": " << (e.path.empty() ? "" : e.path + ": ")
      << e.message << "\n";
  return kExitUsage;
}

int UsageError(std::ostream& err, std::string_view command, const std::string& message) {
  err << "cvm-preflight: " << command << ": " << message << " (see 'cvm-preflight " << command
      << " --help')\n";
  return kExitUsage;
}

}  // namespace

namespace {

// The agents' NodeFeature objects in every namespace. A cluster without
// node-feature-discovery's CRD answers 404: none. Another error is said on
// stderr; nullopt then.
std::optional<std::vector<nlohmann::json>> ListOurNodeFeatures(kube::Client& client,
                                                               std::string_view command,
                                                               std::ostream& err) {
  kube::ListOptions lo;
  lo.label_selector = std::string(cluster::kOurNodeFeatures);
  auto l = client.List(NodeFeaturePath(""), lo);
  if (l) return std::move(l->items);
  if (l.error().code == 404) return std::vector<nlohmann::json>{};
  err << "cvm-preflight: " << command << ": cannot list NodeFeature objects ("
      << l.error().path << ": " << l.error().message
      << "); nodes whose agents publish through node-feature-discovery are not seen\n";
  return std::nullopt;
}

}  // namespace

int RunReportCommand(Args& args, std::ostream& out, std::ostream& err) {
  ApiFlags api;
  std::string output = "table";
  cluster::ReportOptions ro;
  std::string workspace_namespace;
  bool cluster_checks = true;
  while (!args.Done()) {
    std::string error;
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kReportHelp;
      return kExitOk;
    }
    if (args.Flag("--no-cluster-checks")) {
      cluster_checks = false;
      continue;
    }
    if (ApiFlag(args, api, error)) {
      if (!error.empty()) return UsageError(err, "report", error);
      continue;
    }
    std::optional<std::string> v;
    if ((v = args.Option("-o", error)) || (v = args.Option("--output", error))) {
      output = *v;
      continue;
    }
    if ((v = args.Option("--profile", error))) {
      ro.profile = *v;
      continue;
    }
    if ((v = args.Option("--workspace-namespace", error))) {
      workspace_namespace = *v;
      continue;
    }
    if ((v = args.Option("--stale-after", error))) {
      auto d = ParseDuration(*v);
      if (!d || *d <= std::chrono::milliseconds(0)) {
        return UsageError(err, "report", "--stale-after: '" + *v + "' is not a duration such as 2h");
      }
      ro.stale_after = std::chrono::duration_cast<std::chrono::seconds>(*d);
      continue;
    }
    if (!error.empty()) return UsageError(err, "report", error);
    return UsageError(err, "report", "unknown option '" + std::string(args.Peek()) + "'");
  }
  if (output != "table" && output != "wide" && output != "json") {
    return UsageError(err, "report", "-o must be table, wide or json, not '" + output + "'");
  }
  if (!ro.profile.empty() && !rules::IsProfile(ro.profile)) {
    return UsageError(err, "report",
                      "unknown profile '" + ro.profile +
                          "' (coder-v1, coder-v2, sysbox-0.6, sysbox-0.7)");
  }
  ro.prefix = api.prefix;
  auto client = Connect(api, "report");
  if (!client) return ApiError(err, "report", client.error());
  auto nodes = (*client)->List("/api/v1/nodes");
  if (!nodes) return ApiError(err, "report", nodes.error());
  std::map<std::string, std::string> problems;
  if (auto features = ListOurNodeFeatures(**client, "report", err)) {
    problems = cluster::OverlayNodeFeatures(nodes->items, *features, ro.prefix);
  }
  const auto now = std::chrono::system_clock::now();
  cluster::Fleet fleet = cluster::BuildFleet(nodes->items, ro, now, &problems);
  std::optional<probe::Facts> facts;
  std::optional<rules::Evaluation> judged;
  if (cluster_checks) {
    cluster::ClusterRead read = cluster::ReadCluster(**client, workspace_namespace);
    facts = cluster::ClusterFacts(read, nodes->items);
    judged = cluster::JudgeCluster(*facts, cluster::FleetProfile(fleet));
  }
  cluster::ReportView view{fleet, judged ? &*judged : nullptr, facts ? &*facts : nullptr, now};
  if (output == "json") {
    out << DumpJson(cluster::ReportToJson(view)) << "\n";
  } else {
    cluster::WriteReportText(view, output == "wide", out);
  }
  return cluster::ReportExitStatus(view);
}

int RunPruneCommand(Args& args, std::ostream& out, std::ostream& err) {
  ApiFlags api;
  bool dry_run = false;
  while (!args.Done()) {
    std::string error;
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kPruneHelp;
      return kExitOk;
    }
    if (args.Flag("--dry-run")) {
      dry_run = true;
      continue;
    }
    if (ApiFlag(args, api, error)) {
      if (!error.empty()) return UsageError(err, "prune", error);
      continue;
    }
    if (!error.empty()) return UsageError(err, "prune", error);
    return UsageError(err, "prune", "unknown option '" + std::string(args.Peek()) + "'");
  }
  auto client = Connect(api, "prune");
  if (!client) return ApiError(err, "prune", client.error());
  auto nodes = (*client)->List("/api/v1/nodes");
  if (!nodes) return ApiError(err, "prune", nodes.error());
  int changed = 0, clean = 0, failed = 0;
  // The agents' NodeFeature objects first (--publish-labels nodefeature),
  // so that node-feature-discovery's master does not put the labels back
  // after the nodes are cleaned.
  int features_removed = 0;
  auto features = ListOurNodeFeatures(**client, "prune", err);
  if (!features) ++failed;
  for (const auto& f : features ? *features : std::vector<nlohmann::json>{}) {
    const nlohmann::json& meta = f.value("metadata", nlohmann::json::object());
    const std::string ns = meta.value("namespace", ""), name = meta.value("name", "");
    if (ns.empty() || name.empty()) continue;
    if (dry_run) {
      out << "nodefeature/" << ns << "/" << name << ": would delete\n";
      ++features_removed;
      continue;
    }
    kube::Request del;
    del.method = "DELETE";
    del.path = NodeFeaturePath(ns, name);
    auto r = (*client)->Send(del);
    if (r || r.error().code == 404) {  // 404: deleted meanwhile
      out << "nodefeature/" << ns << "/" << name << ": deleted\n";
      ++features_removed;
    } else {
      err << "cvm-preflight: prune: " << r.error().path << ": " << r.error().message << "\n";
      ++failed;
    }
  }
  kube::PatchOptions po;
  po.field_manager = "cvm-preflight-prune";
  for (const auto& node : nodes->items) {
    cluster::PrunePlan plan = cluster::PlanPrune(node, api.prefix);
    if (plan.empty()) {
      ++clean;
      continue;
    }
    std::vector<std::string> what = plan.labels;
    for (const auto& a : plan.annotations) what.push_back("annotation " + a);
    if (plan.condition) what.emplace_back("condition CVMReady");
    std::string list;
    for (const auto& w : what) list += (list.empty() ? "" : ", ") + w;
    if (dry_run) {
      out << "node/" << plan.node << ": would remove " << list << "\n";
      ++changed;
      continue;
    }
    const std::string path = "/api/v1/nodes/" + kube::EscapeComponent(plan.node);
    // A node deleted meanwhile (404) has nothing left to prune.
    auto patch = [&](const std::string& p, kube::PatchType type, const nlohmann::json& body) {
      if (body.is_null()) return true;
      auto r = (*client)->Patch(p, type, body, po);
      if (r || r.error().code == 404) return true;
      err << "cvm-preflight: prune: " << r.error().path << ": " << r.error().message << "\n";
      return false;
    };
    bool ok = patch(path, kube::PatchType::kMerge, plan.metadata) &&
              patch(path + "/status", kube::PatchType::kStrategicMerge, plan.status);
    if (ok) {
      out << "node/" << plan.node << ": removed " << list << "\n";
      ++changed;
    } else {
      ++failed;
    }
  }
  out << nodes->items.size() << " nodes: " << changed << (dry_run ? " to prune, " : " pruned, ")
      << clean << " already clean";
  if (features_removed > 0) {
    out << "; " << features_removed
        << (features_removed == 1 ? " NodeFeature" : " NodeFeatures")
        << (dry_run ? " to delete" : " deleted");
  }
  if (failed) out << ", " << failed << " failed";
  out << ".\n";
  return failed ? kExitFalse : kExitOk;
}

}  // namespace cvm::exporter
