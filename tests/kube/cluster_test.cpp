// The cluster commands (exporter/cluster.h): `report` over nodes the real
// publisher wrote for fixture roots (golden outputs in each format, the
// what-if of another profile, stale and never-scanned nodes), every
// cluster check passing, failing and unknown, `prune`, and the binary
// against the API test server with hundreds of nodes (LIST pagination).
#include "exporter/cluster.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "exporter/kube/client.h"
#include "exporter/kube/exec_credential.h"
#include "exporter/node_publisher.h"
#include "tests/kube/report_support.h"
#include "tests/kube/test_server.h"
#include "tests/support/data.h"

namespace cvm::exporter::cluster {
namespace {

using namespace std::chrono_literals;
using cvm::testing::AgentReport;
using cvm::testing::BareNode;
using cvm::testing::kSiteRules;
using cvm::testing::kSysboxNode;
using cvm::testing::Published;
using nlohmann::json;

SystemTime T0() { return *kube::ParseRfc3339("2026-12-07T08:00:00Z"); }

// Five nodes, one of each kind, as the real publisher leaves them.
std::vector<json> FleetNodes() {
  static const std::vector<json> nodes = [] {
    rules::Report ready = AgentReport(kSysboxNode, "sysbox-0.7", kSiteRules);
    rules::Report unknown = AgentReport(kSysboxNode, "sysbox-0.7");
    rules::Report rhel = AgentReport("rhel-8", "coder-v1");
    return std::vector<json>{
        Published(BareNode("node-ready"), ready, T0() - 10min),
        Published(BareNode("node-rhel"), rhel, T0() - 5min),
        Published(BareNode("node-unknown"), unknown, T0() - 1h),
        Published(BareNode("node-stale"), rhel, T0() - 3h),
        BareNode("node-new"),
    };
  }();
  return nodes;
}

void ExpectGolden(const std::string& name, const std::string& got) {
  std::string path = cvm::testing::SourcePath("tests/kube/golden/" + name);
  const char* update = std::getenv("CVM_PREFLIGHT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::trunc) << got;
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << " is missing; run with CVM_PREFLIGHT_UPDATE_GOLDEN=1 and review it";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(want.str(), got) << name;
}

json ClusterOk() {
  // What a healthy Sysbox cluster answers.
  return {{"version", {{"gitVersion", "v1.32.0"}}},
          {"webhooks", json::array()},
          {"runtime_class", {{"metadata", {{"name", "sysbox-runc"}}}, {"handler", "sysbox-runc"}}}};
}

ClusterRead ReadOf(const json& j) {
  ClusterRead r;
  if (j.contains("version")) r.version = j["version"];
  r.workspace_namespace = j.value("ns", "");
  if (j.contains("namespace")) r.namespace_object = j["namespace"];
  r.namespace_missing = j.value("namespace_missing", false);
  if (j.contains("webhooks")) r.webhooks = j["webhooks"].get<std::vector<json>>();
  if (j.contains("runtime_class")) r.runtime_class = j["runtime_class"];
  r.runtime_class_missing = j.value("runtime_class_missing", false);
  return r;
}

rules::Status StatusOf(const rules::Evaluation& ev, const std::string& id) {
  for (const auto& c : ev.checks) {
    if (c.id == id) return c.status;
  }
  ADD_FAILURE() << id << " was not evaluated";
  return rules::Status::kSkipped;
}

TEST(Fleet, ReadsWhatThePublisherWrote) {
  Fleet f = BuildFleet(FleetNodes(), {}, T0());
  ASSERT_EQ(f.rows.size(), 5u);
  std::map<std::string, NodeRow> by;
  for (const auto& r : f.rows) by[r.name] = r;
  EXPECT_EQ(by["node-ready"].state, NodeState::kReported);
  EXPECT_EQ(by["node-ready"].verdicts["cvm"], "true");
  EXPECT_EQ(by["node-ready"].profile, "sysbox-0.7");
  EXPECT_EQ(by["node-rhel"].verdicts["cvm"], "false");
  EXPECT_FALSE(by["node-rhel"].failing.empty());
  EXPECT_EQ(by["node-rhel"].condition_status, "False");
  EXPECT_EQ(by["node-unknown"].verdicts["cvm"], "unknown");
  EXPECT_FALSE(by["node-unknown"].unknown.empty());
  EXPECT_EQ(by["node-stale"].state, NodeState::kStale);
  EXPECT_EQ(by["node-new"].state, NodeState::kNoReport);
  EXPECT_EQ(f.no_report, 1);
  EXPECT_EQ(f.stale, 1);
  EXPECT_EQ(f.counts["cvm"].true_, 1);
  EXPECT_EQ(f.counts["cvm"].false_, 1);
  EXPECT_EQ(f.counts["cvm"].unknown, 1);
  EXPECT_EQ(by["node-ready"].labels["os"], "debian-12");
}

TEST(Fleet, StaleAfterIsTheLimit) {
  ReportOptions o;
  o.stale_after = 4h;
  Fleet f = BuildFleet(FleetNodes(), o, T0());
  EXPECT_EQ(f.stale, 0);
  o.stale_after = 30min;
  f = BuildFleet(FleetNodes(), o, T0());
  EXPECT_EQ(f.stale, 2);  // node-unknown (1h) and node-stale (3h)
}

TEST(Fleet, WhatIfReadsEveryProfilesVerdicts) {
  // The RHEL 8 node judged coder-v1 carries the other profiles' verdicts
  // in its report annotation; what-if shows them, not the labels.
  rules::Report rhel = AgentReport("rhel-8", "coder-v1");
  ReportOptions o;
  o.profile = "sysbox-0.7";
  Fleet f = BuildFleet({Published(BareNode("n"), rhel, T0())}, o, T0());
  ASSERT_EQ(f.rows.size(), 1u);
  const rules::Evaluation* other = nullptr;
  for (const auto& p : rhel.profiles) {
    if (p.profile == "sysbox-0.7") other = &p;
  }
  ASSERT_NE(other, nullptr);
  for (const auto& v : other->verdicts) {
    EXPECT_EQ(f.rows[0].verdicts[v.name], rules::TriName(v.value)) << v.name;
  }
  EXPECT_EQ(f.rows[0].profile, "sysbox-0.7");
  EXPECT_EQ(f.rows[0].agent_profile, "coder-v1");
}

TEST(Fleet, AnOldAnnotationWithoutProfilesIsUnknownInAWhatIf) {
  json node = Published(BareNode("n"), AgentReport("rhel-8", "coder-v1"), T0());
  std::string key = std::string(kDefaultLabelPrefix) + "report";
  json report = json::parse(node["metadata"]["annotations"][key].get<std::string>());
  report.erase("profiles");
  node["metadata"]["annotations"][key] = report.dump();
  ReportOptions o;
  o.profile = "coder-v2";
  Fleet f = BuildFleet({node}, o, T0());
  EXPECT_TRUE(f.rows[0].verdicts.empty());
  EXPECT_EQ(f.counts["cvm"].unknown, 1);
}

TEST(Fleet, ABrokenAnnotationIsSaidNotFatal) {
  json node = Published(BareNode("n"), AgentReport("rhel-8", "coder-v1"), T0());
  node["metadata"]["annotations"][std::string(kDefaultLabelPrefix) + "report"] = "{not json";
  Fleet f = BuildFleet({node}, {}, T0());
  EXPECT_NE(f.rows[0].problem.find("not a JSON object"), std::string::npos);
  EXPECT_EQ(f.rows[0].verdicts["cvm"], "false");  // from the label
}

TEST(ReportOutput, Golden) {
  Fleet f = BuildFleet(FleetNodes(), {}, T0());
  ClusterRead read = ReadOf(ClusterOk());
  probe::Facts facts = ClusterFacts(read, FleetNodes());
  rules::Evaluation ev = JudgeCluster(facts, FleetProfile(f));
  ReportView view{f, &ev, &facts, T0()};
  std::ostringstream table, wide;
  WriteReportText(view, false, table);
  WriteReportText(view, true, wide);
  ExpectGolden("report-table.txt", table.str());
  ExpectGolden("report-wide.txt", wide.str());
  ExpectGolden("report.json", ReportToJson(view).dump(2) + "\n");
  EXPECT_EQ(ReportExitStatus(view), 0);  // one node ready, cluster checks pass

  ReportOptions o;
  o.profile = "coder-v2";
  Fleet what_if = BuildFleet(FleetNodes(), o, T0());
  rules::Evaluation ev2 = JudgeCluster(facts, FleetProfile(what_if));
  EXPECT_EQ(ev2.profile, "coder-v2");
  std::ostringstream w;
  WriteReportText({what_if, &ev2, &facts, T0()}, false, w);
  ExpectGolden("report-what-if.txt", w.str());
}

TEST(ReportOutput, ExitStatus) {
  ClusterRead read = ReadOf(ClusterOk());
  std::vector<json> rhel = {FleetNodes()[1]};
  probe::Facts facts = ClusterFacts(read, rhel);
  Fleet f = BuildFleet(rhel, {}, T0());
  rules::Evaluation ev = JudgeCluster(facts, "coder-v1");
  EXPECT_EQ(ReportExitStatus({f, &ev, &facts, T0()}), 1);  // the only node is false
  Fleet never = BuildFleet({BareNode("n")}, {}, T0());
  EXPECT_EQ(ReportExitStatus({never, &ev, &facts, T0()}), 3);
  ClusterRead bad = read;
  bad.runtime_class.reset();
  bad.runtime_class_missing = true;
  probe::Facts bad_facts = ClusterFacts(bad, FleetNodes());
  Fleet all = BuildFleet(FleetNodes(), {}, T0());
  rules::Evaluation failing = JudgeCluster(bad_facts, "sysbox-0.7");
  EXPECT_EQ(ReportExitStatus({all, &failing, &bad_facts, T0()}), 1);
  ClusterRead unread = read;
  unread.runtime_class.reset();
  probe::Facts unread_facts = ClusterFacts(unread, FleetNodes());
  rules::Evaluation unknown = JudgeCluster(unread_facts, "sysbox-0.7");
  EXPECT_EQ(ReportExitStatus({all, &unknown, &unread_facts, T0()}), 3);
}

TEST(ClusterRules, LoadWithoutErrorsAndCiteSources) {
  rules::LoadResult r = rules::LoadClusterRules();
  for (const auto& e : r.errors) ADD_FAILURE() << e.Text();
  EXPECT_GE(r.rules.size(), 7u);
  for (const auto& rule : r.rules) {
    EXPECT_FALSE(rule.sources.empty()) << rule.id;
    EXPECT_EQ(rule.id.rfind("cluster-", 0), 0u) << rule.id;
  }
}

struct CheckCase {
  std::string name;
  std::string check;
  std::string profile;
  json read;
  std::vector<json> nodes;
  rules::Status want;
};

json Node(const json& labels, const std::string& provider_id = "") {
  json n = {{"metadata", {{"name", "n"}, {"labels", labels}}}};
  if (!provider_id.empty()) n["spec"] = {{"providerID", provider_id}};
  return n;
}

json Webhook(const std::string& service, const json& selector) {
  json h = {{"name", "sidecar-injector.istio.io"},
            {"clientConfig", {{"service", {{"name", service}, {"namespace", "istio-system"}}}}}};
  if (!selector.is_null()) h["namespaceSelector"] = selector;
  return {{"metadata", {{"name", "istio-sidecar-injector"}}}, {"webhooks", {h}}};
}

json With(json base, const json& patch) {
  base.merge_patch(patch);
  return base;
}

std::vector<CheckCase> CheckCases() {
  using S = rules::Status;
  const json ok = ClusterOk();
  const json aks = Node({{"kubernetes.azure.com/cluster", "MC_rg_cluster_eastus"}},
                        "azure:///subscriptions/x/resourceGroups/mc/providers/"
                        "Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1/virtualMachines/0");
  const json plain = Node({{"kubernetes.io/os", "linux"}});
  const json inject = {{"matchLabels", {{"istio-injection", "enabled"}}}};
  const json ns_injected = {{"metadata", {{"name", "coder"}, {"labels", {{"istio-injection", "enabled"}}}}}};
  const json ns_plain = {{"metadata", {{"name", "coder"}, {"labels", json::object()}}}};
  const json ns_baseline = {{"metadata", {{"name", "coder"}, {"labels", {{"pod-security.kubernetes.io/enforce", "baseline"}}}}}};
  const json ns_priv = {{"metadata", {{"name", "coder"}, {"labels", {{"pod-security.kubernetes.io/enforce", "privileged"}}}}}};
  const std::string v1 = "cluster-kubernetes-version-coder-v1";
  const std::string v7 = "cluster-kubernetes-version-sysbox-0.7";
  const std::string az = "cluster-aks-kubernetes-1.18";
  const std::string ps = "cluster-workspace-namespace-privileged";
  const std::string is = "cluster-no-legacy-istio-injector";
  const std::string rc = "cluster-sysbox-runtimeclass";
  return {
      {"version 1.32 passes coder-v1", v1, "coder-v1", ok, {plain}, S::kPass},
      {"version 1.17 fails coder-v1", v1, "coder-v1", With(ok, {{"version", {{"gitVersion", "v1.17.14-gke.1600"}}}}), {plain}, S::kFail},
      {"no /version is unknown", v1, "coder-v1", With(ok, {{"version", nullptr}}), {plain}, S::kUnknown},
      {"1.31 is outside Sysbox 0.7", v7, "sysbox-0.7", With(ok, {{"version", {{"gitVersion", "v1.31.4"}}}}), {plain}, S::kFail},
      {"1.35 is inside Sysbox 0.7", v7, "sysbox-0.7", With(ok, {{"version", {{"gitVersion", "v1.35.0"}}}}), {plain}, S::kPass},
      {"AKS 1.17 fails", az, "coder-v1", With(ok, {{"version", {{"gitVersion", "v1.17.16"}}}}), {aks}, S::kFail},
      {"AKS 1.20 passes", az, "coder-v1", With(ok, {{"version", {{"gitVersion", "v1.20.9"}}}}), {aks}, S::kPass},
      {"AKS without /version is unknown", az, "coder-v1", With(ok, {{"version", nullptr}}), {aks}, S::kUnknown},
      {"not AKS: skipped", az, "coder-v1", ok, {plain}, S::kSkipped},
      {"no nodes: provider unknown", az, "coder-v1", ok, {}, S::kUnknown},
      {"no namespace asked: skipped", ps, "coder-v1", ok, {plain}, S::kSkipped},
      {"namespace missing fails", ps, "coder-v1", With(ok, {{"ns", "coder"}, {"namespace_missing", true}}), {plain}, S::kFail},
      {"baseline fails", ps, "coder-v1", With(ok, {{"ns", "coder"}, {"namespace", ns_baseline}}), {plain}, S::kFail},
      {"privileged passes", ps, "coder-v2", With(ok, {{"ns", "coder"}, {"namespace", ns_priv}}), {plain}, S::kPass},
      {"no label passes", ps, "coder-v1", With(ok, {{"ns", "coder"}, {"namespace", ns_plain}}), {plain}, S::kPass},
      {"namespace unread is unknown", ps, "coder-v1", With(ok, {{"ns", "coder"}}), {plain}, S::kUnknown},
      {"legacy injector into the namespace fails", is, "coder-v1", With(ok, {{"ns", "coder"}, {"namespace", ns_injected}, {"webhooks", {Webhook("istio-sidecar-injector", inject)}}}), {plain}, S::kFail},
      {"legacy injector elsewhere passes", is, "coder-v1", With(ok, {{"ns", "coder"}, {"namespace", ns_plain}, {"webhooks", {Webhook("istio-sidecar-injector", inject)}}}), {plain}, S::kPass},
      {"istiod injector passes", is, "coder-v1", With(ok, {{"ns", "coder"}, {"namespace", ns_injected}, {"webhooks", {Webhook("istiod", inject)}}}), {plain}, S::kPass},
      {"legacy injector, no namespace asked, fails", is, "coder-v1", With(ok, {{"webhooks", {Webhook("istio-sidecar-injector", inject)}}}), {plain}, S::kFail},
      {"no webhooks passes", is, "coder-v1", With(ok, {{"webhooks", json::array()}}), {plain}, S::kPass},
      {"webhooks unread is unknown", is, "coder-v1", With(ok, {{"webhooks", nullptr}}), {plain}, S::kUnknown},
      {"RuntimeClass passes", rc, "sysbox-0.7", ok, {plain}, S::kPass},
      {"RuntimeClass missing fails", rc, "sysbox-0.7", With(ok, {{"runtime_class", nullptr}, {"runtime_class_missing", true}}), {plain}, S::kFail},
      {"RuntimeClass of another handler fails", rc, "sysbox-0.6", With(ok, {{"runtime_class", {{"handler", "runc"}}}}), {plain}, S::kFail},
      {"RuntimeClass unread is unknown", rc, "sysbox-0.7", With(ok, {{"runtime_class", nullptr}}), {plain}, S::kUnknown},
  };
}

TEST(ClusterChecks, PassFailUnknown) {
  for (const auto& c : CheckCases()) {
    probe::Facts facts = ClusterFacts(ReadOf(c.read), c.nodes);
    rules::Evaluation ev = JudgeCluster(facts, c.profile);
    EXPECT_EQ(rules::StatusName(StatusOf(ev, c.check)), rules::StatusName(c.want)) << c.name;
  }
}

TEST(ClusterChecks, SeverityByProfile) {
  probe::Facts facts = ClusterFacts(ReadOf(With(ClusterOk(), {{"runtime_class", nullptr}, {"runtime_class_missing", true}})), {});
  EXPECT_EQ(JudgeCluster(facts, "sysbox-0.7").Verdict("cvm")->value, rules::Tri::kFalse);
  // Envbox needs no RuntimeClass: a warning under coder-v2.
  EXPECT_NE(JudgeCluster(facts, "coder-v2").Verdict("cvm")->value, rules::Tri::kFalse);
}

TEST(Selectors, MatchAsTheApiServerDoes) {
  json labels = {{"env", "prod"}, {"istio-injection", "enabled"}};
  EXPECT_TRUE(SelectorMatches(nullptr, labels));
  EXPECT_TRUE(SelectorMatches(json::object(), labels));
  EXPECT_TRUE(SelectorMatches({{"matchLabels", {{"env", "prod"}}}}, labels));
  EXPECT_FALSE(SelectorMatches({{"matchLabels", {{"env", "dev"}}}}, labels));
  auto expr = [](const std::string& op, const json& values) {
    return json{{"matchExpressions", {{{"key", "env"}, {"operator", op}, {"values", values}}}}};
  };
  EXPECT_TRUE(SelectorMatches(expr("In", {"dev", "prod"}), labels));
  EXPECT_FALSE(SelectorMatches(expr("NotIn", {"prod"}), labels));
  EXPECT_TRUE(SelectorMatches(expr("NotIn", {"dev"}), json::object()));
  EXPECT_TRUE(SelectorMatches(expr("Exists", json::array()), labels));
  EXPECT_FALSE(SelectorMatches(expr("DoesNotExist", json::array()), labels));
  EXPECT_FALSE(SelectorMatches(expr("Gt", {"1"}), labels));
}

TEST(Prune, RemovesOursOnly) {
  PublishOptions po;
  po.sysbox_install_label = true;
  json node = Published(BareNode("n"), AgentReport(kSysboxNode, "sysbox-0.7", kSiteRules), T0(), po);
  node["metadata"]["labels"]["example.com/team"] = "a";
  node["metadata"]["annotations"]["example.com/note"] = "kept";
  ASSERT_EQ(node["metadata"]["labels"].value("sysbox-install", ""), "yes");
  PrunePlan p = PlanPrune(node, kDefaultLabelPrefix);
  EXPECT_TRUE(p.condition);
  EXPECT_FALSE(p.labels.empty());
  json after = node;
  after.merge_patch(p.metadata);
  for (const auto& [k, v] : after["metadata"]["labels"].items()) {
    EXPECT_EQ(k.rfind(kDefaultLabelPrefix, 0), std::string::npos) << k;
  }
  EXPECT_FALSE(after["metadata"]["labels"].contains("sysbox-install"));
  EXPECT_EQ(after["metadata"]["labels"]["example.com/team"], "a");
  EXPECT_EQ(after["metadata"]["annotations"]["example.com/note"], "kept");
  EXPECT_EQ(after["metadata"]["labels"]["kubernetes.io/hostname"], "n");
  // On a node Sysbox runs on, sysbox-install stays.
  node["metadata"]["labels"]["sysbox-runtime"] = "running";
  PrunePlan kept = PlanPrune(node, kDefaultLabelPrefix);
  EXPECT_FALSE(kept.metadata["metadata"]["labels"].contains("sysbox-install"));
  // A clean node has nothing to do.
  EXPECT_TRUE(PlanPrune(BareNode("m"), kDefaultLabelPrefix).empty());
}

TEST(SysboxInstallLabel, SetWhileTrueRemovedOnlyWhenOursAndNotRunning) {
  PublishOptions po;
  po.sysbox_install_label = true;
  rules::Report yes = AgentReport(kSysboxNode, "sysbox-0.7", kSiteRules);
  rules::Report no = AgentReport("rhel-8", "coder-v1");
  rules::Report unknown = AgentReport(kSysboxNode, "sysbox-0.7");
  json n = Published(BareNode("n"), yes, T0(), po);
  EXPECT_EQ(n["metadata"]["labels"].value("sysbox-install", ""), "yes");
  std::string owned_key = std::string(kDefaultLabelPrefix) + "owned-labels";
  EXPECT_NE(n["metadata"]["annotations"][owned_key].get<std::string>().find("sysbox-install"),
            std::string::npos);
  json kept = Published(n, unknown, T0() + 10min, po);
  EXPECT_EQ(kept["metadata"]["labels"].value("sysbox-install", ""), "yes");  // unknown: kept
  json gone = Published(n, no, T0() + 10min, po);
  EXPECT_FALSE(gone["metadata"]["labels"].contains("sysbox-install"));
  json running = n;
  running["metadata"]["labels"]["sysbox-runtime"] = "running";
  running = Published(running, no, T0() + 10min, po);
  EXPECT_EQ(running["metadata"]["labels"].value("sysbox-install", ""), "yes");
  // An admin's own label is never taken over nor removed.
  json admin = BareNode("a");
  admin["metadata"]["labels"]["sysbox-install"] = "yes";
  admin = Published(admin, yes, T0(), po);
  EXPECT_EQ(admin["metadata"]["annotations"][owned_key].get<std::string>().find("sysbox-install"),
            std::string::npos);
  admin = Published(admin, no, T0() + 10min, po);
  EXPECT_EQ(admin["metadata"]["labels"].value("sysbox-install", ""), "yes");
  // Without the option nothing outside the prefix is written.
  json off = Published(BareNode("o"), yes, T0());
  EXPECT_FALSE(off["metadata"]["labels"].contains("sysbox-install"));
}

// ------------------------------------------------------------ the binary

class ClusterCommands : public ::testing::Test {
 protected:
  void SetUp() override { server_.SetStandardState(); }
  std::string Kubeconfig(const std::string& token = "admin-token") {
    server_.tmp().Write("kubeconfig-" + token,
                        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n"
                        "    server: " + server_.Url() + "\n    certificate-authority: " +
                            server_.Cert("ca.crt") + "\nusers:\n- name: u\n  user:\n    token: " +
                            token + "\ncontexts:\n- name: c\n  context:\n    cluster: test\n    "
                            "user: u\ncurrent-context: c\n");
    return server_.tmp().Abs("kubeconfig-" + token);
  }
  cvm::testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), CVM_BINARY);
    return cvm::testing::RunCommand(args);
  }
  // `count` nodes: a fifth never scanned, a tenth stale, the rest cvm
  // true (Sysbox capture, site rules) or false (RHEL 8) in turn.
  json ManyNodes(int count) {
    auto now = std::chrono::system_clock::now();
    rules::Report yes = AgentReport(kSysboxNode, "sysbox-0.7", kSiteRules);
    rules::Report no = AgentReport("rhel-8", "coder-v1");
    json nodes = json::array();
    for (int i = 0; i < count; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "node-%04d", i);
      json n = BareNode(name);
      if (i % 5 == 4) {
        nodes.push_back(n);
        continue;
      }
      auto when = i % 10 == 3 ? now - 5h : now - 20min;
      n = Published(n, i % 2 == 0 ? yes : no, when);
      n["metadata"]["labels"]["team.example.com/owner"] = "infra";
      nodes.push_back(n);
    }
    return nodes;
  }
  cvm::testing::TestApiServer server_;
};

TEST_F(ClusterCommands, ReportPagesThroughHundredsOfNodes) {
  json nodes = ManyNodes(700);
  server_.SetState({{"tokens", {{"admin-token", {{"user", "admin"}, {"admin", true}}}}},
                    {"nodes", nodes},
                    {"objects",
                     {{{"apiVersion", "node.k8s.io/v1"},
                       {"kind", "RuntimeClass"},
                       {"metadata", {{"name", "sysbox-runc"}}},
                       {"handler", "sysbox-runc"}},
                      {{"apiVersion", "v1"},
                       {"kind", "Namespace"},
                       {"metadata", {{"name", "coder"}, {"labels", {{"pod-security.kubernetes.io/enforce", "baseline"}}}}}}}}});
  auto r = Run({"report", "--kubeconfig", Kubeconfig(), "-o", "json", "--workspace-namespace",
                "coder", "--profile", "coder-v1"});
  ASSERT_EQ(r.exit_code, 1) << r.output;  // baseline Pod Security fails under coder-v1
  json j = json::parse(r.output);
  EXPECT_EQ(j["nodes"].size(), 700u);
  EXPECT_EQ(j["summary"]["no_report"], 140);
  EXPECT_EQ(j["summary"]["stale"], 70);
  const int reported = 700 - 140 - 70;
  const json& cvm = j["summary"]["verdicts"]["cvm"];
  EXPECT_EQ(cvm["true"].get<int>() + cvm["false"].get<int>() + cvm["unknown"].get<int>(),
            reported);
  EXPECT_GT(cvm["false"].get<int>(), 0);
  bool ns_failed = false;
  for (const auto& c : j["cluster"]["checks"]) {
    if (c["id"] == "cluster-workspace-namespace-privileged") ns_failed = c["status"] == "fail";
  }
  EXPECT_TRUE(ns_failed);
  // Two pages of the default 500, through continue.
  int lists = 0, continued = 0;
  for (const auto& q : server_.Requests()) {
    if (q["method"] == "GET" && q["path"] == "/api/v1/nodes") {
      ++lists;
      continued += q["query"].contains("continue");
    }
  }
  EXPECT_EQ(lists, 2);
  EXPECT_EQ(continued, 1);

  auto table = Run({"report", "--kubeconfig", Kubeconfig(), "--no-cluster-checks"});
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("700 nodes"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("(no report"), std::string::npos);
  EXPECT_NE(table.output.find("(stale)"), std::string::npos);
}

TEST_F(ClusterCommands, ReportWithoutPermissionsSaysUnknown) {
  // May list nodes and nothing else: every cluster check that needs more
  // is unknown, and the errors say what could not be read.
  json lister = {{"user", "viewer"}, {"rules", {{{"resource", "nodes"}, {"verbs", {"list"}}}}}};
  server_.SetState({{"tokens", {{"list-token", lister}}}, {"nodes", ManyNodes(6)}});
  auto r = Run({"report", "--kubeconfig", Kubeconfig("list-token"), "-o", "json"});
  // stderr first (merged here): the NodeFeatures it may not list.
  ASSERT_NE(r.output.find('{'), std::string::npos) << r.output;
  EXPECT_NE(r.output.substr(0, r.output.find('{')).find("cannot list NodeFeature objects"),
            std::string::npos)
      << r.output;
  json j = json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  for (const auto& c : j["cluster"]["checks"]) {
    if (c["id"] == "cluster-sysbox-runtimeclass" || c["id"] == "cluster-no-legacy-istio-injector") {
      EXPECT_EQ(c["status"], "unknown") << c["id"];
    }
  }
  std::string errors = j["cluster"]["errors"].dump();
  EXPECT_NE(errors.find("forbidden"), std::string::npos) << errors;
}

TEST_F(ClusterCommands, ReportUsageAndApiErrors) {
  EXPECT_EQ(Run({"report", "-o", "yaml"}).exit_code, 2);
  EXPECT_EQ(Run({"report", "--profile", "sysbox-9"}).exit_code, 2);
  auto r = Run({"report", "--kubeconfig", Kubeconfig("wrong-token")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("401"), std::string::npos) << r.output;
  auto missing = Run({"report", "--kubeconfig", "/nonexistent/kubeconfig"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("/nonexistent/kubeconfig"), std::string::npos) << missing.output;
}

TEST_F(ClusterCommands, PruneIsIdempotentAndLeavesForeignLabels) {
  PublishOptions po;
  po.sysbox_install_label = true;
  json nodes = ManyNodes(20);
  nodes[0] = Published(BareNode("node-0000"), AgentReport(kSysboxNode, "sysbox-0.7", kSiteRules),
                       std::chrono::system_clock::now(), po);
  server_.SetState({{"tokens", {{"admin-token", {{"user", "admin"}, {"admin", true}}}}},
                    {"nodes", nodes}});
  auto dry = Run({"prune", "--kubeconfig", Kubeconfig(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("node/node-0000: would remove"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("16 to prune, 4 already clean"), std::string::npos) << dry.output;
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-0000"), 0);

  auto run = Run({"prune", "--kubeconfig", Kubeconfig()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("16 pruned, 4 already clean"), std::string::npos) << run.output;
  for (int i = 0; i < 20; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "node-%04d", i);
    json n = server_.StoredNode(name);
    const json labels = n["metadata"].value("labels", json::object());
    const json annotations = n["metadata"].value("annotations", json::object());
    for (const auto& [k, v] : labels.items()) {
      EXPECT_EQ(k.rfind("cvm-preflight.dev/", 0), std::string::npos) << name << " " << k;
      EXPECT_NE(k, "sysbox-install") << name;
    }
    for (const auto& [k, v] : annotations.items()) {
      EXPECT_EQ(k.rfind("cvm-preflight.dev/", 0), std::string::npos) << name << " " << k;
    }
    bool ready = false;
    for (const auto& c : n["status"]["conditions"]) {
      EXPECT_NE(c["type"], "CVMReady") << name;
      ready = ready || c["type"] == "Ready";
    }
    EXPECT_TRUE(ready) << name << ": the kubelet's condition must stay";
    if (i % 5 != 4 && i != 0) {
      EXPECT_EQ(n["metadata"]["labels"]["team.example.com/owner"], "infra") << name;
    }
  }
  auto again = Run({"prune", "--kubeconfig", Kubeconfig()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.output.find("0 pruned, 20 already clean"), std::string::npos) << again.output;
}

// An agent with --publish-labels nodefeature: its NodeFeature as the real
// publisher plans it, and the node as node-feature-discovery's master
// leaves it when it copies the NodeFeature's spec.labels onto the node
// (kubernetes-sigs/node-feature-discovery docs, "Custom Resources":
// "nfd-master ... labels nodes as specified"), or when it does not (not
// running, or the prefix denied).
struct NfdNode {
  json node, feature;
};
NfdNode ThroughNfd(const std::string& name, const rules::Report& report, SystemTime when,
                   bool master_copies) {
  PublishOptions o;
  o.node_name = name;
  o.nodefeature_namespace = "cvm-preflight";
  NfdNode n{BareNode(name), json::object()};
  NodeWrites w = PlanNodeWrites(n.node, WantNode(report), o, when, n.feature);
  ApplyNodeWrites(n.node, w);
  ApplyFeatureWrites(n.feature, w);
  if (master_copies) {
    for (const auto& [k, v] : n.feature["spec"]["labels"].items()) {
      n.node["metadata"]["labels"][k] = v;
    }
  }
  return n;
}

TEST(NodeFeatureReport, AnnotationsFromTheObjectLabelsFromTheNode) {
  rules::Report rhel = AgentReport("rhel-8", "coder-v1");
  NfdNode copied = ThroughNfd("node-nfd", rhel, T0() - 5min, true);
  NfdNode denied = ThroughNfd("node-denied", rhel, T0() - 5min, false);
  json foreign = {{"metadata", {{"name", "node-nfd-gpu"}, {"namespace", "gpu-operator"},
                                {"labels", {{"nfd.node.kubernetes.io/node-name", "node-nfd"}}}}},
                  {"spec", {{"labels", {{"nvidia.com/gpu.present", "true"}}}}}};
  std::vector<json> nodes = {copied.node, denied.node, BareNode("node-new")};
  auto problems = OverlayNodeFeatures(nodes, {copied.feature, denied.feature, foreign},
                                      "cvm-preflight.dev/");
  Fleet f = BuildFleet(nodes, ReportOptions{}, T0(), &problems);
  ASSERT_EQ(f.rows.size(), 3u);
  const NodeRow& d = f.rows[0];  // sorted: node-denied, node-new, node-nfd
  const NodeRow& c = f.rows[2];
  EXPECT_EQ(c.name, "node-nfd");
  EXPECT_EQ(c.state, NodeState::kReported);
  EXPECT_EQ(c.verdicts.at("cvm"), "false");
  EXPECT_FALSE(c.failing.empty());
  EXPECT_EQ(c.problem, "");
  EXPECT_EQ(c.labels.at("os"), "rhel-8.9");
  EXPECT_EQ(d.name, "node-denied");
  EXPECT_EQ(d.verdicts.at("cvm"), "false");  // from the object's annotation
  EXPECT_NE(d.problem.find("NodeFeature cvm-preflight/node-denied"), std::string::npos)
      << d.problem;
  EXPECT_NE(d.problem.find("cvm-preflight.dev/cvm=false"), std::string::npos) << d.problem;
  EXPECT_EQ(f.rows[1].state, NodeState::kNoReport);
  // The foreign object's labels are not ours to check.
  EXPECT_EQ(problems.count("node-nfd"), 0u);
}

TEST_F(ClusterCommands, ReportAndPruneThroughNodeFeatures) {
  auto now = std::chrono::system_clock::now();
  rules::Report rhel = AgentReport("rhel-8", "coder-v1");
  NfdNode a = ThroughNfd("node-a", rhel, now - 5min, true);
  NfdNode b = ThroughNfd("node-b", rhel, now - 5min, false);
  json foreign = {{"apiVersion", "nfd.k8s-sigs.io/v1alpha1"},
                  {"kind", "NodeFeature"},
                  {"metadata", {{"name", "node-a"}, {"namespace", "node-feature-discovery"},
                                {"labels", {{"nfd.node.kubernetes.io/node-name", "node-a"}}}}},
                  {"spec", {{"labels", {{"feature.node.kubernetes.io/cpu-cpuid.AVX", "true"}}}}},
                  {"status", json::object()}};
  server_.SetState({{"tokens", {{"admin-token", {{"user", "admin"}, {"admin", true}}}}},
                    {"nodes", {a.node, b.node}},
                    {"objects", {a.feature, b.feature, foreign}}});
  auto r = Run({"report", "--kubeconfig", Kubeconfig(), "-o", "json", "--no-cluster-checks"});
  ASSERT_EQ(r.exit_code, 1) << r.output;  // every reported node known not ready
  json j = json::parse(r.output.substr(r.output.find('{')));
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["state"], "reported") << j["nodes"][0];
  EXPECT_FALSE(j["nodes"][0].contains("problem")) << j["nodes"][0];
  EXPECT_NE(j["nodes"][1].value("problem", "").find("node-feature-discovery's master"),
            std::string::npos)
      << j["nodes"][1];
  bool listed = false;
  for (const auto& q : server_.Requests()) {
    if (q["path"] == "/apis/nfd.k8s-sigs.io/v1alpha1/nodefeatures") {
      listed = q["query"].value("labelSelector", "") == "app.kubernetes.io/managed-by=cvm-preflight";
    }
  }
  EXPECT_TRUE(listed);

  auto dry = Run({"prune", "--kubeconfig", Kubeconfig(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("nodefeature/cvm-preflight/node-a: would delete"), std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("2 NodeFeatures to delete"), std::string::npos) << dry.output;
  EXPECT_EQ(server_.StoredObjects().size(), 3u);
  auto run = Run({"prune", "--kubeconfig", Kubeconfig()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("2 NodeFeatures deleted"), std::string::npos) << run.output;
  json left = server_.StoredObjects();
  ASSERT_EQ(left.size(), 1u) << left;
  EXPECT_EQ(left[0]["metadata"]["namespace"], "node-feature-discovery");
  EXPECT_FALSE(server_.StoredNode("node-a")["metadata"]["labels"].contains("cvm-preflight.dev/cvm"));
  auto again = Run({"prune", "--kubeconfig", Kubeconfig()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.output.find("NodeFeature"), std::string::npos) << again.output;
}

TEST_F(ClusterCommands, PruneSaysWhichNodeFailed) {
  json nodes = ManyNodes(3);
  json patcher = {{"user", "half"},
                  {"rules",
                   {{{"resource", "nodes"}, {"verbs", {"list", "patch"}}},
                    {{"resource", "nodes/status"}, {"verbs", {"patch"}}, {"names", {"node-0000"}}}}}};
  server_.SetState({{"tokens", {{"half-token", patcher}}}, {"nodes", nodes}});
  auto r = Run({"prune", "--kubeconfig", Kubeconfig("half-token")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("node-0001/status"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("forbidden"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace cvm::exporter::cluster

namespace cvm::exporter::cluster {
namespace {

// The test server's NodeFeature objects follow NFD's published CRD schema
// (tests/kube/data/nfd-nodefeature-crd.yaml), as the real API server
// validates a custom resource: the shape NFD interop will write.
class NodeFeatures : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.SetStandardState();
    kube::RestConfig rc;
    rc.server = server_.Url();
    rc.ca_pem = cvm::testing::ReadText(server_.Cert("ca.crt"));
    rc.token = "admin-token";
    kube::ClientOptions co;
    co.max_attempts = 1;
    client_ = std::move(*kube::Client::Create(rc, co));
  }
  static json Feature(const std::string& name) {
    return {{"apiVersion", "nfd.k8s-sigs.io/v1alpha1"},
            {"kind", "NodeFeature"},
            {"metadata",
             {{"name", name}, {"labels", {{"nfd.node.kubernetes.io/node-name", "node-a"}}}}},
            {"spec", {{"labels", {{"cvm-preflight.dev/cvm", "true"}}}}},
            {"status", json::object()}};
  }
  const std::string path_ = "/apis/nfd.k8s-sigs.io/v1alpha1/namespaces/cvm-preflight/nodefeatures";
  cvm::testing::TestApiServer server_;
  std::unique_ptr<kube::Client> client_;
};

TEST_F(NodeFeatures, ValidObjectIsStoredUnknownFieldsPruned) {
  json f = Feature("node-a-cvm-preflight");
  f["spec"]["surprise"] = 1;
  auto r = client_->Post(path_, f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE((*r)["spec"].contains("surprise"));
  EXPECT_EQ((*r)["spec"]["labels"]["cvm-preflight.dev/cvm"], "true");
  auto again = client_->Post(path_, Feature("node-a-cvm-preflight"));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, 409);
  auto got = client_->Get(path_ + "/node-a-cvm-preflight");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ((*got)["metadata"]["namespace"], "cvm-preflight");
}

TEST_F(NodeFeatures, SchemaViolationsAre422NamingTheField) {
  json no_status = Feature("a");
  no_status.erase("status");
  auto r = client_->Post(path_, no_status);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_NE(r.error().message.find("status: Required value"), std::string::npos)
      << r.error().message;
  json bad_type = Feature("b");
  bad_type["spec"]["labels"]["cvm-preflight.dev/cvm"] = true;
  r = client_->Post(path_, bad_type);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_NE(r.error().message.find("spec.labels.cvm-preflight.dev/cvm"), std::string::npos)
      << r.error().message;
  json bad_label = Feature("c");
  bad_label["metadata"]["labels"]["nfd.node.kubernetes.io/node-name"] = "not a name";
  r = client_->Post(path_, bad_label);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, 422);
}

TEST_F(NodeFeatures, PatchKindsAndDelete) {
  ASSERT_TRUE(client_->Post(path_, Feature("p")).has_value());
  json patch = {{"spec", {{"labels", {{"cvm-preflight.dev/cvm", "false"}}}}}};
  auto merged = client_->Patch(path_ + "/p", kube::PatchType::kMerge, patch);
  ASSERT_TRUE(merged.has_value()) << merged.error().message;
  EXPECT_EQ((*merged)["spec"]["labels"]["cvm-preflight.dev/cvm"], "false");
  EXPECT_EQ((*merged)["metadata"]["generation"], 2);
  auto smp = client_->Patch(path_ + "/p", kube::PatchType::kStrategicMerge, patch);
  ASSERT_FALSE(smp.has_value());
  EXPECT_EQ(smp.error().code, 415);  // no strategic merge for custom resources
  kube::Request del;
  del.method = "DELETE";
  del.path = path_ + "/p";
  auto d = client_->Send(del);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  auto gone = client_->Get(path_ + "/p");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, 404);
}

}  // namespace
}  // namespace cvm::exporter::cluster
