#pragma once
// The cluster commands (docs/cluster.md), run by an admin with a
// kubeconfig or by the uninstall Job:
//   - `report`: every node's verdicts, failing checks and heartbeat, read
//     from what the agents wrote (labels, CVMReady, the report
//     annotation), a what-if for another profile, and the cluster checks
//     (rules/cluster/*.yaml) judged over facts read from the API;
//   - `prune`: removes what the agents wrote from every node.
// The pure steps (ReadNodeRow, BuildFleet, ClusterFacts, PlanPrune and the
// renderers) are tested alone; ReadCluster and the Run* functions talk to
// a kube::Client.

#include <array>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/kube/client.h"
#include "exporter/node_publisher.h"
#include "probe/facts.h"
#include "rules/engine.h"

namespace cvm::exporter::cluster {

struct ReportOptions {
  std::string prefix = std::string(kDefaultLabelPrefix);
  // Whose verdicts to show: empty for each node's own (the profile its
  // agent judged by); a profile name for a what-if, from the verdicts of
  // every profile that the report annotation carries.
  std::string profile;
  // A CVMReady heartbeat older than this marks the node stale (the agent
  // refreshes it hourly by default).
  std::chrono::seconds stale_after = std::chrono::hours(2);
};

enum class NodeState {
  kReported,  // an agent's report, heartbeat recent
  kStale,     // an agent's report, heartbeat older than stale_after
  kNoReport,  // nothing of ours on the node: never scanned
};
std::string_view NodeStateName(NodeState s);  // reported, stale, no-report

struct NodeRow {
  std::string name;
  NodeState state = NodeState::kNoReport;
  std::string agent_profile;  // the profile the agent judged by
  std::string profile;        // whose verdicts `verdicts` holds
  // Verdict name -> true/false/unknown; a verdict missing here is not
  // known for `profile` (an older agent wrote no per-profile verdicts).
  std::map<std::string, std::string> verdicts;
  // From the agent's profile only (the annotation carries no per-profile
  // check lists).
  std::vector<std::string> failing, warnings, unknown, stale_labels;
  std::string condition_status, condition_reason;
  std::optional<SystemTime> heartbeat;
  // kernel, os, arch, runc, containerd, platform: the agent's labels.
  std::map<std::string, std::string> labels;
  std::string problem;  // e.g. the report annotation is not JSON
};

NodeRow ReadNodeRow(const nlohmann::json& node, const ReportOptions& options,
                    SystemTime now);

inline constexpr std::array<std::string_view, 3> kVerdictNames = {"cvm", "cvm-cached",
                                                                  "cvm-gpu"};

struct VerdictCount {
  int true_ = 0, false_ = 0, unknown = 0;
};

struct Fleet {
  std::vector<NodeRow> rows;  // sorted by name
  std::string profile;        // as asked (empty: each node's own)
  int no_report = 0;
  int stale = 0;
  // Over the reported (not stale) nodes, per verdict name.
  std::map<std::string, VerdictCount> counts;
};

// `problems`: node name -> a problem to show on its row (from
// OverlayNodeFeatures) when ReadNodeRow found none.
Fleet BuildFleet(const std::vector<nlohmann::json>& nodes, const ReportOptions& options,
                 SystemTime now,
                 const std::map<std::string, std::string>* problems = nullptr);

// node-feature-discovery interop (agent --publish-labels nodefeature):
// the agents' NodeFeature objects, ours by the managed-by label. A node
// without the report annotation takes the prefix's annotations (report,
// owned-labels) from the NodeFeature for it (its node-name label); the
// labels stay the node's own, which is what the scheduler sees. Returns,
// per node, a problem when labels the agent asked NFD for are not on the
// node (NFD's master is not running, or its configuration denies the
// prefix).
std::map<std::string, std::string> OverlayNodeFeatures(
    std::vector<nlohmann::json>& nodes, const std::vector<nlohmann::json>& features,
    std::string_view prefix);
// The LIST of our NodeFeature objects in every namespace.
inline constexpr std::string_view kOurNodeFeatures = "app.kubernetes.io/managed-by=cvm-preflight";

// What the API answered for the cluster checks. A missing answer (an
// error, a 403) leaves its facts out, so their checks say unknown.
struct ClusterRead {
  std::optional<nlohmann::json> version;  // GET /version
  std::string workspace_namespace;        // as asked; empty: not asked
  std::optional<nlohmann::json> namespace_object;
  bool namespace_missing = false;  // 404
  std::optional<std::vector<nlohmann::json>> webhooks;  // MutatingWebhookConfigurations
  std::optional<nlohmann::json> runtime_class;
  bool runtime_class_missing = false;  // 404
  std::vector<probe::ProbeError> errors;
};

ClusterRead ReadCluster(kube::Client& client, std::string_view workspace_namespace);

// The cluster.* facts (docs/facts.md) from what was read and the nodes.
probe::Facts ClusterFacts(const ClusterRead& read, const std::vector<nlohmann::json>& nodes);

// Whether a label selector (matchLabels, matchExpressions) selects these
// labels; an absent or empty selector selects everything. A selector that
// is not one (an unknown operator) selects nothing.
bool SelectorMatches(const nlohmann::json& selector, const nlohmann::json& labels);

// The cluster checks of one profile.
rules::Evaluation JudgeCluster(const probe::Facts& facts, std::string_view profile);

// The profile the cluster checks use when none is asked: the one most
// nodes' agents judge by, else the default profile.
std::string FleetProfile(const Fleet& fleet);

struct ReportView {
  const Fleet& fleet;
  const rules::Evaluation* cluster = nullptr;  // null: not judged
  const probe::Facts* cluster_facts = nullptr;
  SystemTime now;
};

// kubectl-style table, a summary line, then the cluster checks. `wide`
// adds the node facts and the warning and unknown lists.
void WriteReportText(const ReportView& view, bool wide, std::ostream& out);
nlohmann::json ReportToJson(const ReportView& view);

// "45s", "12m", "5h", "3d": the age of a time, as kubectl prints it.
std::string Age(SystemTime then, SystemTime now);

// The exit status of `report`: 0 when at least one reported node is
// ready (cvm true) and the cluster checks pass, 1 when a cluster check
// error fails or every node is known not ready, 3 otherwise (unknown).
int ReportExitStatus(const ReportView& view);

// What prune removes from one node: the labels of the prefix, the
// owned-labels list outside it (sysbox-install, kept on a node that runs
// Sysbox), the annotations of the prefix, and the CVMReady condition.
struct PrunePlan {
  std::string node;
  std::vector<std::string> labels, annotations;
  bool condition = false;
  nlohmann::json metadata;  // JSON merge patch; null: none
  nlohmann::json status;    // strategic merge patch of nodes/status; null: none
  bool empty() const { return metadata.is_null() && status.is_null(); }
};
PrunePlan PlanPrune(const nlohmann::json& node, std::string_view prefix);

}  // namespace cvm::exporter::cluster
