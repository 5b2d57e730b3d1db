#pragma once
// The node publisher (docs/labels.md): what the agent writes on its own
// Node object from each report, and the writes that bring the node there.
//   - labels under one prefix: the verdicts of the selected profile, the
//     profile, and a fixed list of facts (kLabelNames);
//   - the node condition CVMReady (status, a CamelCase reason from the
//     rules, a message naming the failing checks), with a heartbeat;
//   - the annotations <prefix>report (failing and unknown checks, compact
//     JSON) and <prefix>owned-labels (the labels it wrote);
//   - an events.k8s.io/v1 Event when a verdict label changes.
// A failed read never flips a label: a label whose value is unknown now
// keeps the value on the node, and the report and condition say so.
// Writes go only where something differs; a rescan with the same result
// sends nothing.
//
// Three layers, each testable alone: WantNode (a report to what the node
// should carry, pure), PlanNodeWrites (the node as read and what is wanted
// to the patches, pure), NodeSync (one node through a kube::Client), and
// NodePublisher (the agent's thread around a NodeSync).

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "exporter/kube/client.h"
#include "exporter/log.h"
#include "probe/probe.h"
#include "probe/result.h"
#include "rules/report.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace cvm::exporter {

using SystemTime = std::chrono::system_clock::time_point;

inline constexpr std::string_view kDefaultLabelPrefix = "cvm-preflight.dev/";
inline constexpr std::string_view kConditionType = "CVMReady";

// The labels the agent writes, under the prefix, in docs/labels.md order.
// A fixed list: RuntimeClasses, admission policies, dashboards and
// `report` depend on it.
inline constexpr std::string_view kLabelNames[] = {
    "cvm",         "cvm-cached",      "cvm-gpu",
    "profile",     "kernel",          "os",
    "arch",        "selinux",         "shiftfs",
    "runc",        "runc-1.5.11-era", "containerd",
    "nvidia-gpus", "platform"};

struct PublishOptions {
  std::string node_name;
  std::string prefix = std::string(kDefaultLabelPrefix);
  // Where node Events go: the kubelet's are in "default".
  std::string event_namespace = "default";
  // The CVMReady condition's lastHeartbeatTime is refreshed when at least
  // this old (the one periodic write).
  std::chrono::seconds heartbeat = std::chrono::hours(1);
  std::string field_manager = "cvm-preflight";
  // --sysbox-install-label: also set sysbox-install=yes (the label Sysbox's
  // installer DaemonSet selects, the one label outside the prefix) while
  // the cvm verdict is true. Removed again only if the agent set it and the
  // node does not run Sysbox (no sysbox-runtime label).
  bool sysbox_install_label = false;
  // --publish-labels nodefeature: the labels and the report and
  // owned-labels annotations go on a node-feature-discovery NodeFeature
  // object (nfd.k8s-sigs.io/v1alpha1) named after the node in this
  // namespace (the agent's own, from POD_NAMESPACE), whose labels NFD's
  // master copies to the node; the node's own metadata is never patched.
  // The CVMReady condition and the Events stay as they are. Empty: the
  // labels go on the node itself (the default).
  std::string nodefeature_namespace;
  bool via_nodefeature() const { return !nodefeature_namespace.empty(); }
};

// node-feature-discovery's NodeFeature (docs/labels.md, "Through
// node-feature-discovery"). The node-name label is how NFD's master finds
// the node an object is for; managed-by is how `report` and `prune` find
// ours among other extensions' objects.
inline constexpr std::string_view kNodeFeatureApiVersion = "nfd.k8s-sigs.io/v1alpha1";
inline constexpr std::string_view kNodeFeatureNodeLabel = "nfd.node.kubernetes.io/node-name";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "cvm-preflight";
// "/apis/nfd.k8s-sigs.io/v1alpha1/namespaces/NS/nodefeatures[/NAME]"; an
// empty namespace gives the cluster-wide list.
std::string NodeFeaturePath(std::string_view ns, std::string_view name = {});

// The label of --sysbox-install-label and the one it leaves alone on.
inline constexpr std::string_view kSysboxInstallLabel = "sysbox-install";
inline constexpr std::string_view kSysboxRuntimeLabel = "sysbox-runtime";
// The annotations under the prefix.
inline constexpr std::string_view kReportAnnotation = "report";
inline constexpr std::string_view kOwnedAnnotation = "owned-labels";

// A host string made a valid label value: at most 63 characters of
// [A-Za-z0-9-_.], alphanumeric at both ends. Other characters become '-';
// empty when nothing valid remains.
std::string LabelValue(std::string_view raw);

// Checks a --label-prefix: a DNS subdomain of at most 253 characters and
// a '/' ("cvm-preflight.dev/"); the error names the flag.
Result<std::string> CheckLabelPrefix(std::string_view prefix);

// What the node should carry after one report.
struct NodeWanted {
  // kLabelNames in order; nullopt: unknown in this report (the value on
  // the node stays, marked stale).
  std::vector<std::pair<std::string, std::optional<std::string>>> labels;
  std::string status;  // of CVMReady: True, False or Unknown
  std::string reason;
  std::string message;
  // The report annotation, without "time"/"stale": the selected profile's
  // verdicts and failing checks, and every other profile's verdicts
  // ("profiles"), which `cvm-preflight report --profile` reads.
  nlohmann::json report;
  bool operator==(const NodeWanted&) const = default;
};
NodeWanted WantNode(const rules::Report& report);

struct NodeWrites {
  nlohmann::json metadata;  // JSON merge patch of the node; null: none
  nlohmann::json status;    // strategic merge patch of nodes/status; null: none
  nlohmann::json event;     // an events.k8s.io/v1 Event to create; null: none
  // Through a NodeFeature (options.via_nodefeature()): the NodeFeature
  // to create (feature_create) or a JSON merge patch of it; null: none.
  // `metadata` is then always null.
  nlohmann::json feature;
  bool feature_create = false;
  std::vector<std::string> stale;  // labels kept although unknown now
  bool heartbeat_only = false;     // status carries only a newer heartbeat
  bool empty() const {
    return metadata.is_null() && status.is_null() && event.is_null() &&
           feature.is_null();
  }
};

// The writes that bring `node` (as last read; null or {} for a node known
// to carry nothing of ours) to `wanted` at `now`. Through a NodeFeature,
// `feature` is that object as last read ({} when there is none): the
// labels and annotations are its, the condition the node's.
NodeWrites PlanNodeWrites(const nlohmann::json& node, const NodeWanted& wanted,
                          const PublishOptions& options, SystemTime now,
                          const nlohmann::json& feature = nullptr);

// `node` (and `feature`) as the server will have them after `writes` (for
// a dry run).
void ApplyNodeWrites(nlohmann::json& node, const NodeWrites& writes);
void ApplyFeatureWrites(nlohmann::json& feature, const NodeWrites& writes);

// The names of an owned-labels annotation ("cvm,cvm-gpu,sysbox-install").
std::set<std::string> OwnedLabelNames(std::string_view text);
// The node's CVMReady condition; null when it has none.
const nlohmann::json* FindReadyCondition(const nlohmann::json& node);

// The probes' view of the node object (status.nodeInfo, spec.providerID).
probe::NodeInfo NodeInfoFrom(const nlohmann::json& node);

// "2026-12-07T07:30:00Z", as the API writes condition times (parsed back
// by kube::ParseRfc3339).
std::string FormatRfc3339(SystemTime t);

// One node through a client. Reads the node when its state is not known
// (the first time, after an error), then sends what PlanNodeWrites gives:
// the node's metadata (JSON merge patch), its status (strategic merge
// patch, so the kubelet's conditions stay), the Event. An Event whose
// answer was lost is sent again under the same name and a 409 counts as
// done, so it is recorded once. Not thread-safe.
class NodeSync {
 public:
  // `client` null: no API; the node starts empty and Sync must be a dry run.
  NodeSync(kube::Client* client, PublishOptions options)
      : client_(client), o_(std::move(options)) {}

  struct Outcome {
    int requests = 0;  // calls made (a client retry is one call)
    int writes = 0;    // PATCHes and POSTs that succeeded
    NodeWrites planned;
  };
  // Brings the node to `wanted`; with `dry_run` plans and sends nothing
  // but the read. An error leaves the node's state unknown (read again
  // next time); `requests` counts what was sent before it.
  Result<Outcome> Sync(const NodeWanted& wanted, SystemTime now,
                       bool dry_run = false);
  // GET the node (with no client: an empty node).
  Result<bool> Refresh();
  const nlohmann::json& node() const { return node_; }
  // Through a NodeFeature: the object as last read ({} when there is
  // none, null when not known).
  const nlohmann::json& feature() const { return feature_; }
  bool known() const { return !node_.is_null(); }

 private:
  std::string NodePath() const;
  Result<bool> RefreshFeature();
  Result<Outcome> SyncOnce(const NodeWanted& wanted, SystemTime now,
                           bool dry_run);

  kube::Client* client_;
  PublishOptions o_;
  nlohmann::json node_;           // null: not known
  nlohmann::json feature_;        // null: not known; {}: there is none
  nlohmann::json pending_event_;  // sent, answer not seen
};

// The agent's publisher: a thread that reads the node at start (its
// NodeInfo feeds the scans) and brings it to the latest report's wanted
// state, retrying with backoff after an error. The agent's scans and
// metrics never wait for the API.
class NodePublisher {
 public:
  // `client` null: no API; only with dry_run (log what would be written).
  NodePublisher(std::unique_ptr<kube::Client> client, PublishOptions options,
                bool dry_run, Logger& log, prometheus::Registry& registry);
  ~NodePublisher();
  NodePublisher(const NodePublisher&) = delete;
  NodePublisher& operator=(const NodePublisher&) = delete;

  // The latest wanted state replaces any not yet written.
  void Submit(NodeWanted wanted);
  // The node's NodeInfo once the node was read; waits up to `wait` for
  // the first read. nullopt when it was not read (yet).
  std::optional<probe::NodeInfo> Info(std::chrono::milliseconds wait);
  void Stop();

 private:
  void Loop();
  void RecordError(const Error& e, std::string_view what);

  std::unique_ptr<kube::Client> client_;
  PublishOptions o_;
  bool dry_run_;
  Logger& log_;
  std::unique_ptr<NodeSync> sync_;

  prometheus::Family<prometheus::Counter>& writes_;
  prometheus::Counter& errors_;
  prometheus::Gauge& pending_;
  prometheus::Gauge& last_success_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                    // under mu_
  std::optional<NodeWanted> wanted_;     // under mu_: not yet written
  std::optional<probe::NodeInfo> info_;  // under mu_
  bool read_ = false;                    // under mu_: the first read is over
  std::thread thread_;
};

}  // namespace cvm::exporter
