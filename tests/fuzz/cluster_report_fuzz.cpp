// libFuzzer target for the cluster commands' reading of the API's answers
// (exporter/cluster.h): any object, taken as a node, a namespace, a
// webhook configuration, a RuntimeClass and /version at once, goes through
// ReadNodeRow, BuildFleet, ClusterFacts, the cluster checks, both
// renderers and PlanPrune without an exception, and a prune plan applied
// leaves nothing of the prefix to prune.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "exporter/cluster.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cvm::exporter;
  using nlohmann::json;
  std::string text(reinterpret_cast<const char*>(data), size);
  json obj = json::parse(text, nullptr, false);
  if (obj.is_discarded()) obj = json(text);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1800000000));
  cluster::ReportOptions o;
  if (size % 2) o.profile = "sysbox-0.7";
  std::vector<json> nodes = {obj, obj};
  auto problems = cluster::OverlayNodeFeatures(nodes, {obj}, kDefaultLabelPrefix);
  cluster::Fleet fleet = cluster::BuildFleet(nodes, o, now, &problems);
  cluster::ClusterRead read;
  read.version = obj;
  read.workspace_namespace = "coder";
  read.namespace_object = obj;
  read.webhooks = std::vector<json>{obj};
  read.runtime_class = obj;
  cvm::probe::Facts facts = cluster::ClusterFacts(read, {obj});
  cvm::rules::Evaluation ev = cluster::JudgeCluster(facts, cluster::FleetProfile(fleet));
  cluster::ReportView view{fleet, &ev, &facts, now};
  std::ostringstream out;
  cluster::WriteReportText(view, size % 3 == 0, out);
  (void)cluster::ReportToJson(view).dump(-1, ' ', false, json::error_handler_t::replace);
  cluster::PrunePlan plan = cluster::PlanPrune(obj, kDefaultLabelPrefix);
  if (!plan.metadata.is_null()) {
    json after = obj;
    after.merge_patch(plan.metadata);
    cluster::PrunePlan again = cluster::PlanPrune(after, kDefaultLabelPrefix);
    if (!again.labels.empty() || !again.annotations.empty()) __builtin_trap();
  }
  return 0;
}
