#include "tests/kube/report_support.h"

#include <gtest/gtest.h>

#include <vector>

#include "probe/host_root.h"
#include "probe/registry.h"
#include "rules/loader.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::testing {

rules::Report AgentReport(const std::string& fixture, const std::string& profile,
                          const std::string& site_rules) {
  auto root = probe::HostRoot::Open(SourcePath("fixtures/" + fixture + "/root"));
  EXPECT_TRUE(root.has_value()) << fixture;
  probe::ProbeOptions options;
  options.agent = true;
  probe::NodeInfo node{"node-a", "v1.32.0", "containerd://2.0.2", "6.1.0-18-amd64",
                       "Debian GNU/Linux 12 (bookworm)", ""};
  probe::Facts facts = probe::RunProbes(*root, options, &node);
  std::vector<std::string> paths;
  TempTree t;
  if (!site_rules.empty()) {
    t.Write("site.yaml", site_rules);
    paths.push_back(t.Abs("site.yaml"));
  }
  rules::RuleSetLoad set = rules::LoadRuleSet(paths);
  EXPECT_TRUE(set.errors.empty());
  return rules::BuildReport(std::move(facts), set.set, profile);
}

nlohmann::json BareNode(const std::string& name) {
  return {{"metadata",
           {{"name", name},
            {"uid", "uid-" + name},
            {"labels", {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"}}}}},
          {"status",
           {{"conditions",
             {{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}}},
            {"nodeInfo", {{"kubeletVersion", "v1.32.0"}}}}}};
}

nlohmann::json Published(nlohmann::json node, const rules::Report& report,
                         exporter::SystemTime now, const exporter::PublishOptions& options) {
  exporter::PublishOptions o = options;
  o.node_name = node["metadata"]["name"].get<std::string>();
  exporter::NodeWrites w = exporter::PlanNodeWrites(node, exporter::WantNode(report), o, now);
  exporter::ApplyNodeWrites(node, w);
  return node;
}

}  // namespace cvm::testing
