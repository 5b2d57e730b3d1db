// The node publisher (exporter/node_publisher.h): labels, the CVMReady
// condition, the annotations and the Event for fixture roots whose cvm
// verdict is true, false and unknown; what a rescan, a changed fact and a
// restart send; every fault of the API test server; and the agent binary
// publishing through a kubeconfig.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <thread>

#include "exporter/kube/client.h"
#include "exporter/kube/exec_credential.h"
#include "exporter/node_publisher.h"
#include "probe/host_root.h"
#include "probe/registry.h"
#include "rules/loader.h"
#include "tests/kube/report_support.h"
#include "tests/kube/test_server.h"
#include "tests/support/agent_process.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CVM_HAS_ASAN 1
#endif
#endif
#ifndef CVM_HAS_ASAN
#define CVM_HAS_ASAN 0
#endif

namespace cvm::exporter {
namespace {

using namespace std::chrono_literals;
using cvm::testing::TestApiServer;
using nlohmann::json;

const std::string kPrefix = "cvm-preflight.dev/";

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}
std::string Root(const std::string& fixture) {
  return cvm::testing::SourcePath("fixtures/" + fixture + "/root");
}

using cvm::testing::kSiteRules;
using cvm::testing::kSysboxNode;

rules::Report ReportOf(const std::string& fixture, const std::string& profile,
                       const std::string& site_rules = "") {
  return cvm::testing::AgentReport(fixture, profile, site_rules);
}

NodeWanted WantedTrue() {
  return WantNode(ReportOf(kSysboxNode, "sysbox-0.7", kSiteRules));
}
NodeWanted WantedUnknown() {
  return WantNode(ReportOf(kSysboxNode, "sysbox-0.7"));
}
NodeWanted WantedFalse() { return WantNode(ReportOf("rhel-8", "coder-v1")); }

std::optional<std::string> Label(const NodeWanted& w, const std::string& name) {
  for (const auto& [n, v] : w.labels) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no label " << name;
  return std::nullopt;
}

json Condition(const json& node, const std::string& type) {
  for (const auto& c : node["status"]["conditions"]) {
    if (c["type"] == type) return c;
  }
  return nullptr;
}

PublishOptions Options() {
  PublishOptions o;
  o.node_name = "node-a";
  return o;
}

const std::regex kLabelValue("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$");

TEST(LabelValue, HostStringsBecomeValidValues) {
  struct Row {
    std::string raw, want;
  } rows[] = {
      {"6.1", "6.1"},
      {"1.7.13~ds1-1", "1.7.13-ds1-1"},        // Debian's containerd
      {"1.1.12+ds1-5+b1", "1.1.12-ds1-5-b1"},  // Debian's runc
      {"2.0.2", "2.0.2"},
      {"-rc93-", "rc93"},
      {"ubuntu-22.04", "ubuntu-22.04"},
      {"opensuse-microos 20220713", "opensuse-microos-20220713"},
      {"\xc3\xa9t\xc3\xa9", "t"},
      {"...", ""},
      {"", ""},
      {std::string(70, 'a'), std::string(63, 'a')},
      {std::string(62, 'a') + "-b", std::string(62, 'a')},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(LabelValue(r.raw), r.want) << r.raw;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string raw(rng() % 100, '\0');
    for (char& c : raw) c = static_cast<char>(rng() % 256);
    std::string v = LabelValue(raw);
    EXPECT_LE(v.size(), 63u);
    EXPECT_TRUE(std::regex_match(v, kLabelValue)) << v;
  }
}

TEST(LabelPrefix, ADnsSubdomainAndASlash) {
  EXPECT_TRUE(CheckLabelPrefix("cvm-preflight.dev/").has_value());
  EXPECT_TRUE(CheckLabelPrefix("feature.example.com/").has_value());
  for (const char* bad :
       {"cvm-preflight.dev", "/", "Cvm.dev/", "a..b/", "-a.dev/", "a_b.dev/"}) {
    auto r = CheckLabelPrefix(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().path, "--label-prefix");
    EXPECT_NE(r.error().message.find(bad), std::string::npos);
  }
}

TEST(ConditionTime, FormatsWhatTheParserReadsBack) {
  auto t = kube::ParseRfc3339("2024-03-01T12:30:05Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339(*t), "2024-03-01T12:30:05Z");
  auto now = std::chrono::system_clock::now();
  auto back = kube::ParseRfc3339(FormatRfc3339(now));
  ASSERT_TRUE(back.has_value());
  EXPECT_LT(now - *back, 1s);
  EXPECT_GE(now - *back, 0s);
}

TEST(WantNode, TrueFalseAndUnknownFixtures) {
  NodeWanted t = WantedTrue();
  EXPECT_EQ(Label(t, "cvm"), "true");
  EXPECT_EQ(Label(t, "profile"), "sysbox-0.7");
  EXPECT_EQ(Label(t, "os"), "debian-12");
  EXPECT_EQ(Label(t, "containerd"), "2.0.2");
  EXPECT_EQ(t.status, "True");
  EXPECT_EQ(t.reason, "AllChecksPassed");
  for (const auto& [name, value] : t.labels) {
    if (value) {
      EXPECT_TRUE(std::regex_match(*value, kLabelValue))
          << name << "=" << *value;
    }
  }

  NodeWanted f = WantedFalse();
  EXPECT_EQ(Label(f, "cvm"), "false");
  EXPECT_EQ(Label(f, "selinux"), "enforcing");
  EXPECT_EQ(f.status, "False");
  // The first failing error check's rule reason.
  EXPECT_EQ(f.reason, "KernelBelowSysboxRuncFloor");
  EXPECT_NE(f.message.find("selinux-not-enforcing"), std::string::npos)
      << f.message;
  EXPECT_EQ(f.report["verdicts"]["cvm"], "false");
  EXPECT_NE(f.report["failing"]["error"].dump().find("selinux-not-enforcing"),
            std::string::npos);

  NodeWanted u = WantedUnknown();
  EXPECT_EQ(Label(u, "cvm"), std::nullopt);  // never "unknown"
  EXPECT_EQ(Label(u, "os"), "debian-12");    // the facts that were read stay
  EXPECT_EQ(u.status, "Unknown");
  EXPECT_EQ(u.reason, "ChecksUnknown");
  EXPECT_NE(u.message.find("userns-max-nonzero"), std::string::npos)
      << u.message;
}

TEST(PlanNodeWrites, AFreshNodeGetsEverythingOnce) {
  const auto now = std::chrono::system_clock::now();
  json node = {{"metadata",
                {{"name", "node-a"},
                 {"uid", "u-1"},
                 {"labels", {{"kubernetes.io/hostname", "node-a"}}}}}};
  NodeWrites w = PlanNodeWrites(node, WantedTrue(), Options(), now);
  ASSERT_FALSE(w.metadata.is_null());
  EXPECT_EQ(w.metadata["metadata"]["labels"][kPrefix + "cvm"], "true");
  EXPECT_FALSE(
      w.metadata["metadata"]["labels"].contains("kubernetes.io/hostname"));
  std::string owned =
      w.metadata["metadata"]["annotations"][kPrefix + "owned-labels"];
  // cvm-cached and cvm-gpu are unknown in this capture: not labelled.
  EXPECT_EQ(owned.rfind("cvm,profile,kernel,os,", 0), 0u) << owned;
  json report =
      json::parse(w.metadata["metadata"]["annotations"][kPrefix + "report"]
                      .get<std::string>());
  EXPECT_EQ(report["time"], FormatRfc3339(now));
  EXPECT_EQ(report["verdicts"]["cvm"], "true");
  ASSERT_FALSE(w.status.is_null());
  json c = w.status["status"]["conditions"][0];
  EXPECT_EQ(c["type"], "CVMReady");
  EXPECT_EQ(c["status"], "True");
  ASSERT_FALSE(w.event.is_null());
  EXPECT_EQ(w.event["reason"], "CVMReady");
  EXPECT_EQ(w.event["regarding"]["uid"], "u-1");
  EXPECT_EQ(w.event["metadata"]["namespace"], "default");

  // What the server will hold after those writes needs nothing more.
  ApplyNodeWrites(node, w);
  EXPECT_TRUE(
      PlanNodeWrites(node, WantedTrue(), Options(), now + 5min).empty());
}

PublishOptions NfdOptions() {
  PublishOptions o = Options();
  o.nodefeature_namespace = "cvm-preflight";
  return o;
}

json KubeletNode() {
  return {{"metadata",
           {{"name", "node-a"},
            {"uid", "u-1"},
            {"labels", {{"kubernetes.io/hostname", "node-a"}}}}}};
}

TEST(PlanNodeWrites, ThroughANodeFeatureTheNodesMetadataIsNeverPatched) {
  const auto now = std::chrono::system_clock::now();
  json node = KubeletNode();
  json feature = json::object();  // none yet
  NodeWrites w = PlanNodeWrites(node, WantedTrue(), NfdOptions(), now, feature);
  EXPECT_TRUE(w.metadata.is_null()) << w.metadata;
  ASSERT_TRUE(w.feature_create);
  const json& f = w.feature;
  EXPECT_EQ(f["apiVersion"], "nfd.k8s-sigs.io/v1alpha1");
  EXPECT_EQ(f["kind"], "NodeFeature");
  EXPECT_EQ(f["metadata"]["name"], "node-a");
  EXPECT_EQ(f["metadata"]["namespace"], "cvm-preflight");
  EXPECT_EQ(f["metadata"]["labels"]["nfd.node.kubernetes.io/node-name"], "node-a");
  EXPECT_EQ(f["metadata"]["labels"]["app.kubernetes.io/managed-by"], "cvm-preflight");
  EXPECT_EQ(f["spec"]["labels"][kPrefix + "cvm"], "true");
  EXPECT_FALSE(f["spec"]["labels"].contains(kPrefix + "cvm-gpu"));  // unknown: not asked
  for (const auto& [k, v] : f["spec"]["labels"].items()) {
    EXPECT_EQ(k.rfind(kPrefix, 0), 0u) << k;
    EXPECT_TRUE(v.is_string()) << k;  // no nulls in a new object
  }
  json report = json::parse(f["metadata"]["annotations"][kPrefix + "report"].get<std::string>());
  EXPECT_EQ(report["verdicts"]["cvm"], "true");
  EXPECT_TRUE(f["status"].is_object());
  // The condition and the Event are the node's, as without NFD.
  ASSERT_FALSE(w.status.is_null());
  EXPECT_EQ(w.status["status"]["conditions"][0]["status"], "True");
  ASSERT_FALSE(w.event.is_null());
  EXPECT_EQ(w.event["regarding"]["uid"], "u-1");

  ApplyNodeWrites(node, w);
  ApplyFeatureWrites(feature, w);
  EXPECT_EQ(node["metadata"]["labels"].size(), 1u);  // only the kubelet's
  EXPECT_TRUE(PlanNodeWrites(node, WantedTrue(), NfdOptions(), now + 5min, feature).empty());

  // A verdict change is a merge patch of the object: the labels that
  // changed, a label now unknown kept (stale) as on a node.
  NodeWrites f2 = PlanNodeWrites(node, WantedFalse(), NfdOptions(), now + 10min, feature);
  ASSERT_FALSE(f2.feature.is_null());
  EXPECT_FALSE(f2.feature_create);
  EXPECT_EQ(f2.feature["spec"]["labels"][kPrefix + "cvm"], "false");
  EXPECT_FALSE(f2.feature.contains("apiVersion"));
  EXPECT_TRUE(f2.metadata.is_null());
  ApplyFeatureWrites(feature, f2);
  NodeWrites u = PlanNodeWrites(node, WantedUnknown(), NfdOptions(), now + 20min, feature);
  EXPECT_NE(std::find(u.stale.begin(), u.stale.end(), "cvm"), u.stale.end());
  ApplyFeatureWrites(feature, u);
  EXPECT_EQ(feature["spec"]["labels"][kPrefix + "cvm"], "false");

  // Someone else's edit of the node-name label is put back.
  feature["metadata"]["labels"]["nfd.node.kubernetes.io/node-name"] = "node-b";
  NodeWrites back = PlanNodeWrites(node, WantedUnknown(), NfdOptions(), now + 30min, feature);
  EXPECT_EQ(back.feature["metadata"]["labels"]["nfd.node.kubernetes.io/node-name"], "node-a");
}

TEST(PlanNodeWrites, UnknownAfterTrueKeepsTheLabelAndSaysItIsStale) {
  const auto now = std::chrono::system_clock::now();
  json node = {{"metadata", {{"name", "node-a"}}}};
  ApplyNodeWrites(node, PlanNodeWrites(node, WantedTrue(), Options(), now));
  NodeWrites w = PlanNodeWrites(node, WantedUnknown(), Options(), now + 10min);
  ASSERT_FALSE(w.metadata.is_null());
  EXPECT_FALSE(w.metadata["metadata"].contains("labels")) << w.metadata.dump();
  json report =
      json::parse(w.metadata["metadata"]["annotations"][kPrefix + "report"]
                      .get<std::string>());
  EXPECT_EQ(report["stale"], json::array({"cvm"}));
  json c = w.status["status"]["conditions"][0];
  EXPECT_EQ(c["status"], "Unknown");
  EXPECT_NE(c["message"].get<std::string>().find(
                "kept from an earlier scan: cvm=true"),
            std::string::npos)
      << c["message"];
  EXPECT_TRUE(w.event.is_null());  // no label changed
  ApplyNodeWrites(node, w);
  EXPECT_EQ(node["metadata"]["labels"][kPrefix + "cvm"], "true");
  EXPECT_TRUE(
      PlanNodeWrites(node, WantedUnknown(), Options(), now + 20min).empty());
}

TEST(PlanNodeWrites, OldLabelsOfThePrefixGoOthersStay) {
  const auto now = std::chrono::system_clock::now();
  json node = {
      {"metadata",
       {{"name", "node-a"},
        {"labels",
         {{kPrefix + "cvm", "true"},
          {kPrefix + "sysbox-ready", "true"},  // a name of an older release
          {"feature.node.kubernetes.io/cpu-model.vendor_id", "Intel"},
          {"other.example.com/cvm", "x"}}}}}};
  NodeWrites w = PlanNodeWrites(node, WantedFalse(), Options(), now);
  json labels = w.metadata["metadata"]["labels"];
  EXPECT_TRUE(labels[kPrefix + "sysbox-ready"].is_null());
  EXPECT_TRUE(labels.contains(kPrefix + "sysbox-ready"));
  EXPECT_EQ(labels[kPrefix + "cvm"], "false");
  EXPECT_FALSE(
      labels.contains("feature.node.kubernetes.io/cpu-model.vendor_id"));
  EXPECT_FALSE(labels.contains("other.example.com/cvm"));
  EXPECT_EQ(w.event["reason"], "CVMNotReady");
  EXPECT_EQ(w.event["type"], "Warning");
  EXPECT_NE(w.event["note"].get<std::string>().find("cvm true -> false"),
            std::string::npos);
}

TEST(PlanNodeWrites, TheHeartbeatIsTheOnlyPeriodicWrite) {
  const auto now = std::chrono::system_clock::now();
  json node = {{"metadata", {{"name", "node-a"}}}};
  ApplyNodeWrites(node, PlanNodeWrites(node, WantedFalse(), Options(), now));
  std::string transition = Condition(node, "CVMReady")["lastTransitionTime"];
  EXPECT_TRUE(
      PlanNodeWrites(node, WantedFalse(), Options(), now + 59min).empty());
  NodeWrites w = PlanNodeWrites(node, WantedFalse(), Options(), now + 61min);
  EXPECT_TRUE(w.metadata.is_null());
  EXPECT_TRUE(w.event.is_null());
  ASSERT_FALSE(w.status.is_null());
  EXPECT_TRUE(w.heartbeat_only);
  json c = w.status["status"]["conditions"][0];
  EXPECT_EQ(c["lastHeartbeatTime"], FormatRfc3339(now + 61min));
  EXPECT_EQ(c["lastTransitionTime"], transition);
}

// Against the API test server.
class Publisher : public ::testing::Test {
 protected:
  void SetUp() override { server_.SetStandardState("default"); }
  std::unique_ptr<kube::Client> Client(int attempts = 3) {
    kube::RestConfig rc;
    rc.server = server_.Url();
    rc.ca_pem = cvm::testing::ReadText(server_.Cert("ca.crt"));
    rc.token = "node-a-token";
    rc.source = "test";
    kube::ClientOptions o;
    o.timeout = 1500ms;
    o.max_attempts = attempts;
    o.backoff_initial = 10ms;
    o.backoff_max = 40ms;
    auto c = kube::Client::Create(rc, o);
    EXPECT_TRUE(c.has_value());
    return c.has_value() ? std::move(*c) : nullptr;
  }
  int Writes() {
    int n = 0;
    for (const auto& r : server_.Requests()) {
      if (r["method"] != "GET" && r["status"].get<int>() < 400 &&
          r["status"].get<int>() > 0)
        ++n;
    }
    return n;
  }
  TestApiServer server_;
};

TEST_F(Publisher, FirstSyncWritesEachObjectOnceAndARescanSendsNothing) {
  auto client = Client();
  NodeSync sync(client.get(), Options());
  const auto now = std::chrono::system_clock::now();
  auto r = sync.Sync(WantedFalse(), now);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->requests, 4);  // GET, node PATCH, status PATCH, Event POST
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 1);
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 1);
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a/status"), 1);
  json node = server_.StoredNode("node-a");
  EXPECT_EQ(node["metadata"]["labels"][kPrefix + "cvm"], "false");
  EXPECT_EQ(node["metadata"]["labels"]["kubernetes.io/hostname"], "node-a");
  EXPECT_EQ(Condition(node, "CVMReady")["reason"],
            "KernelBelowSysboxRuncFloor");
  EXPECT_EQ(Condition(node, "Ready")["reason"],
            "KubeletReady");  // the kubelet's stay
  EXPECT_FALSE(Condition(node, "MemoryPressure").is_null());
  json events = server_.StoredEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["involvedObject"]["name"], "node-a");
  EXPECT_EQ(events[0]["metadata"]["namespace"], "default");

  auto again = sync.Sync(WantedFalse(), now + 10min);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->requests, 0);
  EXPECT_EQ(server_.Requests().size(), 4u);
}

TEST_F(Publisher, AChangedFactIsOneWriteAndAChangedVerdictOneWritePerObject) {
  auto client = Client();
  NodeSync sync(client.get(), Options());
  const auto now = std::chrono::system_clock::now();
  NodeWanted w = WantedTrue();
  ASSERT_TRUE(sync.Sync(w, now).has_value());
  std::size_t before = server_.Requests().size();
  for (auto& [name, value] : w.labels) {
    if (name == "kernel")
      value = "6.12";  // a kernel upgrade, verdicts unchanged
  }
  auto r = sync.Sync(w, now + 10min);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->requests, 1);
  EXPECT_EQ(server_.Requests().size(), before + 1);
  EXPECT_EQ(
      server_.StoredNode("node-a")["metadata"]["labels"][kPrefix + "kernel"],
      "6.12");

  before = server_.Requests().size();
  r = sync.Sync(WantedFalse(), now + 20min);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->requests, 3);  // labels and annotations, condition, Event
  EXPECT_EQ(server_.StoredEvents().size(), 2u);
}

TEST_F(Publisher, ARestartReconcilesWithOneGet) {
  const auto now = std::chrono::system_clock::now();
  {
    auto client = Client();
    NodeSync sync(client.get(), Options());
    ASSERT_TRUE(sync.Sync(WantedTrue(), now).has_value());
  }
  std::size_t before = server_.Requests().size();
  auto client = Client();
  NodeSync restarted(client.get(), Options());
  auto r = restarted.Sync(WantedTrue(), now + 1min);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->requests, 1);
  EXPECT_EQ(server_.Requests().size(), before + 1);
  EXPECT_EQ(server_.Requests().back()["method"], "GET");
}

TEST_F(Publisher, DryRunReadsAndWritesNothing) {
  auto client = Client();
  NodeSync sync(client.get(), Options());
  auto r = sync.Sync(WantedFalse(), std::chrono::system_clock::now(),
                     /*dry_run=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->planned.empty());
  EXPECT_EQ(Writes(), 0);
  EXPECT_FALSE(server_.StoredNode("node-a")["metadata"]["labels"].contains(
      kPrefix + "cvm"));
}

TEST_F(Publisher, EveryFaultConvergesWithNothingLostOrDuplicated) {
  struct Fault {
    const char* name;
    json fault;
  } faults[] = {
      {"timeout",
       {{"method", "PATCH"},
        {"action", "delay"},
        {"seconds", 2.5},
        {"times", 1}}},
      {"429",
       {{"method", "PATCH"},
        {"action", "status"},
        {"code", 429},
        {"retry_after", 0},
        {"times", 1}}},
      {"500",
       {{"method", "PATCH"},
        {"action", "status"},
        {"code", 500},
        {"times", 1}}},
      {"drop", {{"method", "PATCH"}, {"action", "drop"}, {"times", 1}}},
      {"409",
       {{"method", "PATCH"},
        {"action", "status"},
        {"code", 409},
        {"times", 1}}},
      {"event timeout",
       {{"method", "POST"},
        {"action", "delay"},
        {"seconds", 2.5},
        {"times", 1}}},
      {"event drop", {{"method", "POST"}, {"action", "drop"}, {"times", 1}}},
      {"get 503",
       {{"method", "GET"}, {"action", "status"}, {"code", 503}, {"times", 1}}},
  };
  for (const auto& f : faults) {
    SCOPED_TRACE(f.name);
    server_.SetStandardState("default");
    auto client = Client(/*attempts=*/1);  // every fault reaches the publisher
    auto first = std::make_unique<NodeSync>(client.get(), Options());
    const auto now = std::chrono::system_clock::now();
    ASSERT_TRUE(first->Sync(WantedTrue(), now).has_value());
    // A fault on the read meets an agent that restarted (it reads first).
    NodeSync sync(client.get(), Options());
    if (f.fault["method"] != "GET") sync = std::move(*first);
    const std::size_t before = server_.Requests().size();
    server_.AddFaults(json::array({f.fault}));
    // The verdict changes while the server misbehaves; the publisher keeps
    // trying (NodePublisher does so with backoff) until it converges.
    int attempts = 0, failures = 0;
    for (; attempts < 5; ++attempts) {
      auto r = sync.Sync(WantedFalse(), now + 10min);
      if (r.has_value()) break;
      ++failures;
      EXPECT_FALSE(r.error().message.empty());
    }
    ASSERT_LT(attempts, 5);
    // The fault hit: the change alone takes three requests (node, status,
    // Event). A dropped idempotent PATCH may be resent by the transport
    // itself (a kept connection closed without an answer), so not every fault
    // reaches NodeSync as an error.
    EXPECT_LE(failures, 1);
    EXPECT_GT(server_.Requests().size(), before + (f.fault["method"] == "GET" ? 1 : 3));
    std::this_thread::sleep_for(1200ms);  // a delayed answer lands meanwhile
    json node = server_.StoredNode("node-a");
    EXPECT_EQ(node["metadata"]["labels"][kPrefix + "cvm"], "false");
    EXPECT_EQ(node["metadata"]["labels"]["kubernetes.io/hostname"], "node-a");
    EXPECT_EQ(Condition(node, "CVMReady")["status"], "False");
    EXPECT_EQ(Condition(node, "Ready")["reason"], "KubeletReady");
    // One Event for the first verdict, one for the change: never two.
    EXPECT_EQ(server_.StoredEvents().size(), 2u)
        << server_.StoredEvents().dump();
    auto settled = sync.Sync(WantedFalse(), now + 20min);
    ASSERT_TRUE(settled.has_value());
    EXPECT_EQ(settled->requests, 0);
  }
}

TEST_F(Publisher, ThroughANodeFeatureWritesTheObjectAndTheConditionOnly) {
  auto client = Client();
  NodeSync sync(client.get(), NfdOptions());
  const auto now = std::chrono::system_clock::now();
  auto r = sync.Sync(WantedFalse(), now);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  // GET node, GET NodeFeature (404), POST NodeFeature, status PATCH, Event.
  EXPECT_EQ(r->requests, 5);
  const std::string path = "/apis/nfd.k8s-sigs.io/v1alpha1/namespaces/cvm-preflight/nodefeatures";
  EXPECT_EQ(server_.Count("GET", path + "/node-a"), 1);
  EXPECT_EQ(server_.Count("POST", path), 1);
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 0);
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a/status"), 1);
  json node = server_.StoredNode("node-a");
  EXPECT_FALSE(node["metadata"]["labels"].contains(kPrefix + "cvm"));
  EXPECT_FALSE(node["metadata"].contains("annotations") &&
               node["metadata"]["annotations"].contains(kPrefix + "report"));
  EXPECT_EQ(Condition(node, "CVMReady")["status"], "False");
  // Stored as the server validated it against NFD's CRD schema.
  json objects = server_.StoredObjects();
  ASSERT_EQ(objects.size(), 1u) << objects;
  EXPECT_EQ(objects[0]["kind"], "NodeFeature");
  EXPECT_EQ(objects[0]["spec"]["labels"][kPrefix + "cvm"], "false");
  EXPECT_EQ(objects[0]["spec"]["labels"][kPrefix + "selinux"], "enforcing");

  auto again = sync.Sync(WantedFalse(), now + 10min);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->requests, 0);

  // A new verdict: one merge patch of the object, the condition, the Event.
  auto changed = sync.Sync(WantedTrue(), now + 20min);
  ASSERT_TRUE(changed.has_value()) << changed.error().message;
  EXPECT_EQ(changed->requests, 3);
  EXPECT_EQ(server_.Count("PATCH", path + "/node-a"), 1);
  EXPECT_EQ(server_.StoredObjects()[0]["spec"]["labels"][kPrefix + "cvm"], "true");

  // A restart reads the node and the object, and has nothing to write.
  auto client2 = Client();
  NodeSync restarted(client2.get(), NfdOptions());
  auto re = restarted.Sync(WantedTrue(), now + 21min);
  ASSERT_TRUE(re.has_value());
  EXPECT_EQ(re->requests, 2);
}

// Issue 20's flat memory, for the publisher: 500 verdict changes
// published through a NodeFeature (each a merge patch of the object, a
// status patch and an Event) in one process, over one client.
TEST_F(Publisher, FiveHundredChangesThroughANodeFeatureKeepResidentMemoryFlat) {
  auto client = Client();
  NodeSync sync(client.get(), NfdOptions());
  const NodeWanted wanted[2] = {WantedFalse(), WantedTrue()};
  const auto start = std::chrono::system_clock::now();
  int round = 0;
  auto change = [&] {
    auto r = sync.Sync(wanted[round % 2], start + round * 10min);
    ++round;
    ASSERT_TRUE(r.has_value()) << r.error().message;
    ASSERT_GE(r->writes, 2) << "round " << round;
  };
  for (int i = 0; i < 100; ++i) change();
  const long before = RssKiB();
  for (int i = 0; i < 500; ++i) change();
  const long after = RssKiB();
  std::printf("publisher resident after 100 changes: %ld KiB, after 600: %ld KiB (%+ld KiB)\n",
              before, after, after - before);
  ASSERT_GT(before, 0);
  const json objects = server_.StoredObjects();
  ASSERT_EQ(objects.size(), 1u);  // one object, patched, never duplicated
  EXPECT_EQ(objects[0]["spec"]["labels"][kPrefix + "cvm"], round % 2 ? "false" : "true");
#if !defined(__SANITIZE_ADDRESS__) && !CVM_HAS_ASAN
  // A leak of 1 KiB a change would show as 500 KiB; allocator noise is a
  // few pages. (ASan's quarantine grows resident memory by design.)
  EXPECT_LT(after - before, 384) << "resident memory grew over 500 changes";
#endif
}

TEST_F(Publisher, ThroughANodeFeatureALostCreateAndADeniedOneConverge) {
  const std::string path = "/apis/nfd.k8s-sigs.io/v1alpha1/namespaces/cvm-preflight/nodefeatures";
  // The connection drops under the create (the server reads it and acts
  // on nothing): the POST is not retried blindly; the next sync reads the
  // object again (404), creates it once, and the Event is not doubled.
  server_.AddFaults(json::array({{{"method", "POST"}, {"path", path}, {"action", "drop"}}}));
  auto client = Client();
  NodeSync sync(client.get(), NfdOptions());
  const auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(sync.Sync(WantedFalse(), now).has_value());
  auto r = sync.Sync(WantedFalse(), now + 1s);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(server_.Count("POST", path), 2);
  EXPECT_EQ(server_.Count("GET", path + "/node-a"), 2);
  json objects = server_.StoredObjects();
  EXPECT_EQ(objects.size(), 1u);
  EXPECT_EQ(server_.StoredEvents().size(), 1u);

  // Without RBAC for NodeFeatures: an error naming the resource; the node
  // keeps its labels untouched.
  json agent = {{"user", "system:serviceaccount:cvm-preflight:agent"},
                {"rules",
                 {{{"resource", "nodes"}, {"verbs", {"get", "patch"}}, {"names", {"node-a"}}},
                  {{"resource", "nodes/status"}, {"verbs", {"patch"}}, {"names", {"node-a"}}}}}};
  server_.SetState({{"tokens", {{"node-a-token", agent}}},
                    {"nodes", {{{"metadata", {{"name", "node-a"}}}}}}});
  auto client2 = Client();
  NodeSync denied(client2.get(), NfdOptions());
  auto d = denied.Sync(WantedFalse(), now);
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().message.find("nodefeatures"), std::string::npos) << d.error().message;
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 0);
}

// The agent binary, through a kubeconfig, as a workstation runs it.
class AgentPublishing : public Publisher {
 protected:
  std::string Kubeconfig(const std::string& token = "node-a-token") {
    server_.tmp().Write(
        "kubeconfig-" + token,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n"
        "    server: " +
            server_.Url() +
            "\n    certificate-authority: " + server_.Cert("ca.crt") +
            "\nusers:\n- name: agent\n  user:\n    token: " + token +
            "\ncontexts:\n- name: agent\n  context:\n    cluster: test\n    "
            "user: agent\n"
            "current-context: agent\n");
    return server_.tmp().Abs("kubeconfig-" + token);
  }
  bool WaitFor(const std::function<bool()>& done,
               std::chrono::milliseconds limit) {
    for (auto end = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(50ms)) {
      if (done()) return true;
    }
    return done();
  }
};

double Sample(const std::string& exposition, const std::string& series) {
  std::size_t at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

TEST_F(AgentPublishing, LabelsTheNodeKeepsServingThroughFaultsAndConverges) {
  cvm::testing::AgentProcess agent({"--root", Root("rhel-8"), "--listen",
                                    "127.0.0.1:0", "--kubeconfig", Kubeconfig(),
                                    "--node-name", "node-a", "--interval", "3s",
                                    "--no-pci-events"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(WaitFor(
      [&] {
        return server_.StoredNode("node-a")["metadata"]["labels"].contains(
            kPrefix + "cvm");
      },
      20s))
      << agent.Log();
  EXPECT_TRUE(WaitFor([&] { return server_.StoredEvents().size() == 1; }, 5s));
  json node = server_.StoredNode("node-a");
  EXPECT_EQ(node["metadata"]["labels"][kPrefix + "cvm"], "false");
  EXPECT_EQ(Condition(node, "CVMReady")["status"], "False");
  // The node object fed the scan: node.kubelet_version is in the report.
  json report = json::parse(cvm::testing::Get(port, "/report").body);
  EXPECT_EQ(report["facts"]["settings"]["agent"], true);
  EXPECT_EQ(report["facts"]["node"]["kubelet_version"], "v1.32.0")
      << report["facts"]["node"];

  // Rescans every 3 s send nothing.
  std::size_t writes = Writes();
  std::this_thread::sleep_for(7s);
  EXPECT_EQ(Writes(), writes);

  ::kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.Wait(5s), 0) << agent.Log();
}

TEST_F(AgentPublishing, KeepsServingMetricsWhileTheApiFailsAndConverges) {
  // Every request fails for a while (the first GET included), then the
  // server recovers.
  server_.AddFaults(
      json::array({{{"action", "status"}, {"code", 500}, {"times", 8}},
                   {{"action", "drop"}, {"times", 2}},
                   {{"action", "status"},
                    {"code", 429},
                    {"retry_after", 1},
                    {"times", 2}}}));
  cvm::testing::AgentProcess agent({"--root", Root("rhel-8"), "--listen",
                                    "127.0.0.1:0", "--kubeconfig", Kubeconfig(),
                                    "--node-name", "node-a", "--interval", "3s",
                                    "--no-pci-events"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port)) << agent.Log();
  EXPECT_EQ(cvm::testing::Get(port, "/metrics").status, 200);
  ASSERT_TRUE(WaitFor(
      [&] {
        return server_.StoredNode("node-a")["metadata"]["labels"].contains(
            kPrefix + "cvm");
      },
      60s))
      << agent.Log();
  ASSERT_TRUE(WaitFor([&] { return server_.StoredEvents().size() == 1; }, 10s));
  EXPECT_EQ(cvm::testing::Get(port, "/metrics").status, 200);
  EXPECT_NE(agent.Log().find("cannot read the node"), std::string::npos)
      << agent.Log();
  json node = server_.StoredNode("node-a");
  EXPECT_EQ(node["metadata"]["labels"][kPrefix + "cvm"], "false");
  EXPECT_EQ(Condition(node, "CVMReady")["status"], "False");
  EXPECT_EQ(Condition(node, "Ready")["reason"], "KubeletReady");
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string body = cvm::testing::Get(port, "/metrics").body;
        return Sample(body, "cvm_preflight_node_publish_pending") == 0;
      },
      5s));
  cvm::testing::HttpGot m = cvm::testing::Get(port, "/metrics");
  EXPECT_GT(Sample(m.body, "cvm_preflight_node_publish_errors_total"), 0)
      << m.body;
  EXPECT_EQ(Sample(m.body, "cvm_preflight_node_writes_total{object=\"event\"}"),
            1)
      << m.body;
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(server_.StoredEvents().size(), 1u);
  ::kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.Wait(5s), 0) << agent.Log();
}

TEST_F(AgentPublishing, NoPublishWritesNothingAndSaysWhatItWould) {
  cvm::testing::AgentProcess agent({"--root", Root("rhel-8"), "--listen",
                                    "127.0.0.1:0", "--kubeconfig", Kubeconfig(),
                                    "--node-name", "node-a", "--no-publish",
                                    "--no-pci-events"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(WaitFor(
      [&] { return agent.Log().find("would write") != std::string::npos; },
      15s))
      << agent.Log();
  EXPECT_EQ(Writes(), 0);
  EXPECT_GE(server_.Count("GET", "/api/v1/nodes/node-a"), 1);
}

TEST_F(AgentPublishing, WithoutAnApiItIsAMetricsOnlyAgentAndSaysSoOnce) {
  cvm::testing::AgentProcess agent(
      {"--root", Root("rhel-8"), "--listen", "127.0.0.1:0", "--interval", "1s",
       "--no-pci-events"},
      {"KUBERNETES_SERVICE_HOST="});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(agent.WaitReady(port));
  std::this_thread::sleep_for(2500ms);
  std::string log = agent.Log();
  std::size_t first = log.find("metrics only");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("metrics only", first + 1), std::string::npos);
  EXPECT_EQ(server_.Requests().size(), 0u);
}

TEST_F(AgentPublishing, APublishingAgentNeedsItsNodeName) {
  cvm::testing::AgentProcess agent(
      {"--root", Root("rhel-8"), "--kubeconfig", Kubeconfig()}, {"NODE_NAME="});
  EXPECT_EQ(agent.Wait(5s), 2);
  EXPECT_NE(agent.Log().find("needs this node's name"), std::string::npos)
      << agent.Log();
}

TEST_F(AgentPublishing, ABadLabelPrefixIsAUsageError) {
  cvm::testing::AgentProcess agent(
      {"--root", Root("rhel-8"), "--label-prefix", "Bad_Prefix"});
  EXPECT_EQ(agent.Wait(5s), 2);
  EXPECT_NE(agent.Log().find("--label-prefix: 'Bad_Prefix'"), std::string::npos)
      << agent.Log();
}

TEST_F(AgentPublishing, PublishesANodeFeatureInItsNamespace) {
  cvm::testing::AgentProcess agent(
      {"--root", Root("rhel-8"), "--listen", "127.0.0.1:0", "--kubeconfig", Kubeconfig(),
       "--node-name", "node-a", "--publish-labels", "nodefeature", "--no-pci-events"},
      {"POD_NAMESPACE=cvm-preflight"});
  int port = agent.WaitPort();
  ASSERT_GT(port, 0) << agent.Log();
  ASSERT_TRUE(WaitFor([&] { return server_.StoredObjects().size() == 1; }, 20s)) << agent.Log();
  json f = server_.StoredObjects()[0];
  EXPECT_EQ(f["metadata"]["namespace"], "cvm-preflight");
  EXPECT_EQ(f["spec"]["labels"][kPrefix + "cvm"], "false");
  EXPECT_TRUE(WaitFor(
      [&] { return !Condition(server_.StoredNode("node-a"), "CVMReady").is_null(); }, 5s));
  EXPECT_FALSE(server_.StoredNode("node-a")["metadata"]["labels"].contains(kPrefix + "cvm"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Sample(cvm::testing::Get(port, "/metrics").body,
                      "cvm_preflight_node_writes_total{object=\"nodefeature\"}") == 1;
      },
      5s))
      << cvm::testing::Get(port, "/metrics").body;
  EXPECT_NE(agent.Log().find("nodefeature cvm-preflight/node-a"), std::string::npos)
      << agent.Log();
  ::kill(agent.pid(), SIGTERM);
  EXPECT_EQ(agent.Wait(5s), 0) << agent.Log();
}

TEST_F(AgentPublishing, NodeFeatureUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string want;
  } cases[] = {
      {{"--publish-labels", "nodefeature"}, "needs the namespace"},
      {{"--publish-labels", "crd"}, "must be node or nodefeature"},
      {{"--publish-labels", "nodefeature", "--nodefeature-namespace", "x",
        "--sysbox-install-label"},
       "--sysbox-install-label needs --publish-labels node"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"--root", Root("rhel-8"), "--kubeconfig", Kubeconfig(),
                                     "--node-name", "node-a"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    cvm::testing::AgentProcess agent(args, {"POD_NAMESPACE="});
    EXPECT_EQ(agent.Wait(5s), 2) << c.want;
    EXPECT_NE(agent.Log().find(c.want), std::string::npos) << agent.Log();
  }
}

}  // namespace
}  // namespace cvm::exporter
