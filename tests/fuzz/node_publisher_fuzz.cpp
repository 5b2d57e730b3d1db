// libFuzzer target for the node publisher's view of the API's answers: any
// node object (as GET or PATCH return it) is planned against, and once the
// planned writes are applied the same wish plans nothing (no write loop
// whatever the node holds). Host strings become valid label values.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "exporter/node_publisher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cvm::exporter;
  std::string text(reinterpret_cast<const char*>(data), size);
  static const std::regex kValue("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$");
  std::string value = LabelValue(text);
  if (value.size() > 63 || !std::regex_match(value, kValue)) __builtin_trap();

  nlohmann::json node = nlohmann::json::parse(text, nullptr, false);
  if (node.is_discarded()) node = nlohmann::json::object();
  NodeWanted wanted;
  for (std::string_view name : kLabelNames) {
    std::optional<std::string> v;
    if (name == "cvm") v = "false";
    if (name == "kernel" && !value.empty()) v = value;
    wanted.labels.emplace_back(std::string(name), v);
  }
  wanted.status = "False";
  wanted.reason = "SELinuxEnforcing";
  wanted.message = text.substr(0, 100);
  wanted.report = {{"profile", "coder-v1"}, {"verdicts", {{"cvm", "false"}}}};
  PublishOptions o;
  o.node_name = "node-a";
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  NodeWrites w = PlanNodeWrites(node, wanted, o, now);
  ApplyNodeWrites(node, w);
  NodeWrites again = PlanNodeWrites(node, wanted, o, now + std::chrono::minutes(1));
  if (!again.empty()) {
    std::fprintf(stderr, "node %s\nplans again: %s %s %s\n", node.dump().c_str(),
                 again.metadata.dump().c_str(), again.status.dump().c_str(),
                 again.event.dump().c_str());
    __builtin_trap();
  }
  (void)NodeInfoFrom(node);

  // Through a NodeFeature: the input is the object as read back; after
  // the planned writes nothing more is planned either.
  nlohmann::json feature = nlohmann::json::parse(text, nullptr, false);
  if (feature.is_discarded()) feature = nlohmann::json::object();
  o.nodefeature_namespace = "cvm-preflight";
  NodeWrites f = PlanNodeWrites(node, wanted, o, now, feature);
  if (!f.metadata.is_null()) __builtin_trap();  // the node's metadata is never patched
  ApplyNodeWrites(node, f);
  ApplyFeatureWrites(feature, f);
  NodeWrites f2 = PlanNodeWrites(node, wanted, o, now + std::chrono::minutes(1), feature);
  if (!f2.feature.is_null() || !f2.event.is_null()) {
    std::fprintf(stderr, "feature %s\nplans again: %s\n", feature.dump().c_str(),
                 f2.feature.dump().c_str());
    __builtin_trap();
  }
  return 0;
}
