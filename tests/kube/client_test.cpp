// The client against the Kubernetes API test server: requests, patch
// semantics as the server applies them, every fault and its retry rule,
// credentials (client certificate, exec plugin, rotating token file).
#include "exporter/kube/client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "exporter/kube/config.h"
#include "tests/kube/test_server.h"
#include "tests/support/data.h"

namespace cvm::exporter::kube {
namespace {

using namespace std::chrono_literals;
using cvm::testing::TestApiServer;
using nlohmann::json;

TEST(ApiJsonParse, StatusAndListPageOfRealAnswers) {
  auto conflict = ParseStatus(cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/kube/status-409.json")));
  ASSERT_TRUE(conflict.has_value());
  EXPECT_EQ(conflict->reason, "Conflict");
  EXPECT_EQ(conflict->code, 409);
  EXPECT_FALSE(conflict->retry_after_seconds.has_value());
  auto busy = ParseStatus(cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/kube/status-429.json")));
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->retry_after_seconds, 1);
  EXPECT_FALSE(ParseStatus(R"({"kind":"Node"})").has_value());
  EXPECT_FALSE(ParseStatus("<html>502 Bad Gateway</html>").has_value());
  auto page = ParseListPage(cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/kube/nodelist-page.json")));
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->resource_version, "1042");
  EXPECT_FALSE(page->continue_token.empty());
  EXPECT_FALSE(ParseListPage(R"({"items":{}})").has_value());
  EXPECT_FALSE(
      ParseListPage(R"({"items":[],"metadata":{"continue":5}})").has_value());
}

TEST(KubeconfigSample, KubectlWrittenSampleResolves) {
  std::string path = cvm::testing::SourcePath("tests/data/kube/kubeconfig");
  auto k = ParseKubeconfig(cvm::testing::ReadText(path), path);
  ASSERT_TRUE(k.has_value()) << k.error().message;
  EXPECT_EQ(k->users.size(), 4u);
  ASSERT_TRUE(k->users["gke"].exec.has_value());
  EXPECT_TRUE(k->users["gke"].exec->provide_cluster_info);
  EXPECT_TRUE(k->users["gke"].exec->args.empty());  // "args: null"
  auto rc = ResolveKubeconfig(*k, LoadOptions{});
  ASSERT_TRUE(rc.has_value()) << rc.error().message;
  EXPECT_EQ(rc->server, "https://10.0.0.1:6443");
  EXPECT_EQ(rc->token, "s3cret");
}

class KubeClient : public ::testing::Test {
 protected:
  void SetUp() override { server_.SetStandardState(); }

  RestConfig Config(const std::string& token = "admin-token") {
    RestConfig rc;
    rc.server = server_.Url();
    rc.ca_pem = cvm::testing::ReadText(server_.Cert("ca.crt"));
    rc.token = token;
    rc.source = "test";
    return rc;
  }
  // Short timeouts and backoff so every fault costs milliseconds.
  static ClientOptions Fast() {
    ClientOptions o;
    o.timeout = 1500ms;
    o.connect_timeout = 1000ms;
    o.max_attempts = 3;
    o.backoff_initial = 10ms;
    o.backoff_max = 40ms;
    return o;
  }
  std::unique_ptr<Client> Make(RestConfig rc, ClientOptions o = Fast()) {
    auto c = Client::Create(std::move(rc), o);
    EXPECT_TRUE(c.has_value()) << c.error().message;
    return c.has_value() ? std::move(*c) : nullptr;
  }
  static json Condition(const json& node, const std::string& type) {
    for (const auto& c : node["status"]["conditions"]) {
      if (c["type"] == type) return c;
    }
    return nullptr;
  }

  TestApiServer server_;
};

TEST_F(KubeClient, GetsANode) {
  auto c = Make(Config());
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ((*node)["kind"], "Node");
  EXPECT_EQ((*node)["status"]["nodeInfo"]["kubeletVersion"], "v1.32.0");
  auto req = server_.Requests().back();
  EXPECT_EQ(req["user"], "kubernetes-admin");
  EXPECT_EQ(req["accept"], "application/json");
}

TEST_F(KubeClient, ListFollowsContinueToTheEnd) {
  json nodes = json::array();
  for (int i = 0; i < 7; ++i)
    nodes.push_back({{"metadata", {{"name", "n" + std::to_string(i)}}}});
  server_.SetState(
      {{"tokens", {{"admin-token", {{"user", "admin"}, {"admin", true}}}}},
       {"nodes", nodes}});
  auto c = Make(Config());
  ListOptions lo;
  lo.page_size = 3;
  auto list = c->List("/api/v1/nodes", lo);
  ASSERT_TRUE(list.has_value()) << list.error().message;
  ASSERT_EQ(list->items.size(), 7u);
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(list->items[i]["metadata"]["name"], "n" + std::to_string(i));
  EXPECT_EQ(list->pages, 3);
  EXPECT_FALSE(list->resource_version.empty());
  auto log = server_.Requests();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0]["query"], json({{"limit", "3"}}));
  EXPECT_TRUE(log[1]["query"].contains("continue"));
  EXPECT_TRUE(log[2]["query"].contains("continue"));
}

TEST_F(KubeClient, ListWithSelectorEscapesIt) {
  auto c = Make(Config());
  ListOptions lo;
  lo.label_selector = "kubernetes.io/hostname in (node-b)";
  auto bad =
      c->List("/api/v1/nodes", lo);  // the test server knows =, ==, != only
  lo.label_selector = "kubernetes.io/hostname=node-b";
  auto list = c->List("/api/v1/nodes", lo);
  ASSERT_TRUE(list.has_value()) << list.error().message;
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0]["metadata"]["name"], "node-b");
  EXPECT_EQ(server_.Requests().back()["query"]["labelSelector"],
            "kubernetes.io/hostname=node-b");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, 400);
}

TEST_F(KubeClient, ListRestartsOnceWhenTheContinueTokenExpired) {
  json nodes = json::array();
  for (int i = 0; i < 5; ++i)
    nodes.push_back({{"metadata", {{"name", "n" + std::to_string(i)}}}});
  server_.SetState(
      {{"tokens", {{"admin-token", {{"user", "admin"}, {"admin", true}}}}},
       {"nodes", nodes}});
  server_.AddFaults({{{"method", "GET"},
                      {"path", "/api/v1/nodes"},
                      {"has_query", "continue"},
                      {"action", "compact"}}});
  auto c = Make(Config());
  ListOptions lo;
  lo.page_size = 2;
  auto list = c->List("/api/v1/nodes", lo);
  ASSERT_TRUE(list.has_value()) << list.error().message;
  EXPECT_EQ(list->items.size(), 5u);  // no page counted twice
  auto log = server_.Requests();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1]["status"], 410);
  EXPECT_EQ(log[2]["query"], json::object());  // one full list
}

TEST_F(KubeClient, StrategicMergeOfStatusMergesConditionsByType) {
  auto c = Make(Config("node-a-token"));
  json patch = {{"status",
                 {{"conditions",
                   {{{"type", "CVMReady"},
                     {"status", "True"},
                     {"reason", "AllChecksPass"}}}}}}};
  auto node = c->Patch("/api/v1/nodes/node-a/status",
                       PatchType::kStrategicMerge, patch);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(Condition(*node, "Ready")["reason"],
            "KubeletReady");  // the kubelet's, kept
  EXPECT_EQ(Condition(*node, "CVMReady")["status"], "True");
  EXPECT_EQ(server_.Requests().back()["content_type"],
            "application/strategic-merge-patch+json");
  // The same list as a JSON merge patch replaces the kubelet's conditions:
  // why node status takes a strategic merge patch.
  auto merged =
      c->Patch("/api/v1/nodes/node-a/status", PatchType::kMerge, patch);
  ASSERT_TRUE(merged.has_value()) << merged.error().message;
  EXPECT_EQ(Condition(*merged, "Ready"), nullptr);
  EXPECT_EQ(server_.Requests().back()["content_type"],
            "application/merge-patch+json");
}

TEST_F(KubeClient, StatusPatchKeepsSpecAndNodePatchKeepsStatus) {
  auto c = Make(Config());
  auto a = c->Patch("/api/v1/nodes/node-a/status", PatchType::kMerge,
                    {{"spec", {{"unschedulable", true}}},
                     {"status", {{"phase", "Running"}}}});
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_FALSE((*a)["spec"].contains("unschedulable"));
  EXPECT_EQ((*a)["status"]["phase"], "Running");
  auto b = c->Patch("/api/v1/nodes/node-a", PatchType::kMerge,
                    {{"spec", {{"unschedulable", true}}},
                     {"status", {{"phase", "Pending"}}}});
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ((*b)["spec"]["unschedulable"], true);
  EXPECT_EQ((*b)["status"]["phase"], "Running");
}

TEST_F(KubeClient, MergePatchSetsAndRemovesLabels) {
  auto c = Make(Config("node-a-token"));
  auto set = c->Patch(
      "/api/v1/nodes/node-a", PatchType::kMerge,
      {{"metadata", {{"labels", {{"cvm-preflight.coder.com/cvm", "true"}}}}}},
      PatchOptions{"cvm-preflight", false});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ((*set)["metadata"]["labels"]["cvm-preflight.coder.com/cvm"],
            "true");
  EXPECT_EQ((*set)["metadata"]["labels"]["kubernetes.io/hostname"], "node-a");
  EXPECT_EQ(server_.Requests().back()["query"]["fieldManager"],
            "cvm-preflight");
  auto removed = c->Patch(
      "/api/v1/nodes/node-a", PatchType::kMerge,
      {{"metadata", {{"labels", {{"cvm-preflight.coder.com/cvm", nullptr}}}}}});
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_FALSE(
      (*removed)["metadata"]["labels"].contains("cvm-preflight.coder.com/cvm"));
}

TEST_F(KubeClient, JsonPatchAppliesAndFailedTestIs422) {
  auto c = Make(Config());
  auto ok =
      c->Patch("/api/v1/nodes/node-a", PatchType::kJson,
               json::array({{{"op", "add"},
                             {"path", "/metadata/annotations"},
                             {"value", json::object()}},
                            {{"op", "add"},
                             {"path", "/metadata/annotations/cvm~1report"},
                             {"value", "x"}}}));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ((*ok)["metadata"]["annotations"]["cvm/report"], "x");
  EXPECT_EQ(server_.Requests().back()["content_type"],
            "application/json-patch+json");
  auto bad = c->Patch(
      "/api/v1/nodes/node-a", PatchType::kJson,
      json::array(
          {{{"op", "test"}, {"path", "/metadata/name"}, {"value", "node-b"}}}));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, 422);
  EXPECT_NE(bad.error().message.find("test failed"), std::string::npos)
      << bad.error().message;
}

TEST_F(KubeClient, ResourceVersionMovesOnChangeNotOnNoOp) {
  auto c = Make(Config());
  json patch = {{"metadata", {{"labels", {{"a", "b"}}}}}};
  auto first = c->Patch("/api/v1/nodes/node-a", PatchType::kMerge, patch);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  auto again = c->Patch("/api/v1/nodes/node-a", PatchType::kMerge, patch);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ((*again)["metadata"]["resourceVersion"],
            (*first)["metadata"]["resourceVersion"]);
  auto other = c->Patch("/api/v1/nodes/node-a", PatchType::kMerge,
                        {{"metadata", {{"labels", {{"a", "c"}}}}}});
  ASSERT_TRUE(other.has_value()) << other.error().message;
  EXPECT_NE((*other)["metadata"]["resourceVersion"],
            (*first)["metadata"]["resourceVersion"]);
}

TEST_F(KubeClient, StaleResourceVersionIs409AndNotRetried) {
  auto c = Make(Config());
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.has_value());
  std::string rv = (*node)["metadata"]["resourceVersion"];
  ASSERT_TRUE(c->Patch("/api/v1/nodes/node-a", PatchType::kMerge,
                       {{"metadata", {{"labels", {{"x", "1"}}}}}}));
  auto stale = c->Patch(
      "/api/v1/nodes/node-a", PatchType::kMerge,
      {{"metadata", {{"resourceVersion", rv}, {"labels", {{"x", "2"}}}}}});
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, 409);
  EXPECT_EQ(stale.error().message,
            "PATCH /api/v1/nodes/node-a: HTTP 409 Conflict: Operation cannot "
            "be fulfilled on nodes "
            "\"node-a\": the object has been modified; please apply your "
            "changes to the latest "
            "version and try again");
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 2);
  EXPECT_EQ(server_.StoredNode("node-a")["metadata"]["labels"]["x"], "1");
}

TEST_F(KubeClient, ClientErrorsAreNotRetried) {
  struct Row {
    std::string token;
    std::string path;
    json patch;
    int code;
    std::string message;
  };
  const std::vector<Row> rows = {
      {"wrong-token",
       "/api/v1/nodes/node-a",
       {{"metadata", {{"labels", {{"a", "b"}}}}}},
       401,
       "PATCH /api/v1/nodes/node-a: HTTP 401 Unauthorized: Unauthorized"},
      {"node-a-token",
       "/api/v1/nodes/node-b",
       {{"metadata", {{"labels", {{"a", "b"}}}}}},
       403,
       "PATCH /api/v1/nodes/node-b: HTTP 403 Forbidden: nodes \"node-b\" is "
       "forbidden: User "
       "\"system:serviceaccount:cvm-preflight:agent\" cannot patch resource "
       "\"nodes\" in API group "
       "\"\" at the cluster scope"},
      {"admin-token",
       "/api/v1/nodes/node-z",
       {{"metadata", {{"labels", {{"a", "b"}}}}}},
       404,
       "PATCH /api/v1/nodes/node-z: HTTP 404 NotFound: nodes \"node-z\" not "
       "found"},
      {"admin-token",
       "/api/v1/nodes/node-a",
       {{"metadata", {{"labels", {{"a", "bad value!"}}}}}},
       422,
       "PATCH /api/v1/nodes/node-a: HTTP 422 Invalid: Node \"node-a\" is "
       "invalid: metadata.labels: "
       "Invalid value: \"bad value!\": a valid label must be an empty string"},
      {"admin-token",
       "/api/v1/nodes/node-a",
       {{"metadata", {{"labels", {{"a", 1}}}}}},
       400,
       "PATCH /api/v1/nodes/node-a: HTTP 400 BadRequest: json: cannot "
       "unmarshal number"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.message);
    auto c = Make(Config(row.token));
    int before = server_.Count("PATCH", row.path);
    auto r = c->Patch(row.path, PatchType::kStrategicMerge, row.patch);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, row.code);
    EXPECT_EQ(r.error().path, "PATCH " + row.path);
    EXPECT_EQ(r.error().message.substr(0, row.message.size()), row.message)
        << r.error().message;
    EXPECT_EQ(server_.Count("PATCH", row.path) - before, 1);
  }
}

TEST_F(KubeClient, ServerErrorsOnGetAreRetriedThenSucceed) {
  server_.AddFaults({{{"method", "GET"},
                      {"path", "/api/v1/nodes/node-a"},
                      {"action", "status"},
                      {"code", 503},
                      {"times", 2}}});
  auto c = Make(Config());
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 3);
}

TEST_F(KubeClient, PersistentServerErrorGivesUpWithTheLastStatus) {
  server_.AddFaults({{{"path", "/api/v1/nodes/node-a"},
                      {"action", "status"},
                      {"code", 500},
                      {"times", 10}}});
  auto c = Make(Config());
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(node.has_value());
  EXPECT_EQ(node.error().code, 500);
  EXPECT_EQ(node.error().message,
            "GET /api/v1/nodes/node-a: gave up after 3 attempts: HTTP 500 "
            "InternalError: "
            "Internal error occurred: injected");
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 3);
}

TEST_F(KubeClient, ServerErrorOnPostIsNotRetried) {
  server_.AddFaults({{{"method", "POST"},
                      {"action", "status"},
                      {"code", 503},
                      {"times", 5}}});
  auto c = Make(Config());
  auto r = c->Post("/api/v1/namespaces/default/events",
                   {{"metadata", {{"generateName", "x."}}},
                    {"involvedObject", {{"kind", "Node"}, {"name", "node-a"}}},
                    {"reason", "R"},
                    {"message", "m"},
                    {"type", "Normal"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, 503);
  EXPECT_EQ(server_.Count("POST", "/api/v1/namespaces/default/events"), 1);
}

TEST_F(KubeClient, ServerErrorRetriesMergePatchesButNotJsonPatches) {
  auto c = Make(Config());
  server_.AddFaults(
      {{{"method", "PATCH"}, {"action", "status"}, {"code", 503}}});
  auto smp = c->Patch("/api/v1/nodes/node-a", PatchType::kStrategicMerge,
                      {{"metadata", {{"labels", {{"s", "1"}}}}}});
  ASSERT_TRUE(smp.has_value()) << smp.error().message;
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 2);
  server_.AddFaults(
      {{{"method", "PATCH"}, {"action", "status"}, {"code", 503}}});
  auto jp = c->Patch(
      "/api/v1/nodes/node-a", PatchType::kJson,
      json::array(
          {{{"op", "add"}, {"path", "/metadata/labels/j"}, {"value", "1"}}}));
  ASSERT_FALSE(jp.has_value());
  EXPECT_EQ(jp.error().code, 503);
  EXPECT_EQ(jp.error().message,
            "PATCH /api/v1/nodes/node-a: HTTP 503 ServiceUnavailable: The "
            "server is currently "
            "unable to handle the request");
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 3);
  EXPECT_FALSE(
      server_.StoredNode("node-a")["metadata"]["labels"].contains("j"));
}

TEST_F(KubeClient, TooManyRequestsHonoursRetryAfterEvenForPost) {
  server_.AddFaults({{{"method", "POST"},
                      {"action", "status"},
                      {"code", 429},
                      {"retry_after", 1}}});
  auto c = Make(Config());
  auto start = std::chrono::steady_clock::now();
  auto r = c->Post("/api/v1/namespaces/default/events",
                   {{"metadata", {{"name", "e1"}}},
                    {"involvedObject", {{"kind", "Node"}, {"name", "node-a"}}},
                    {"reason", "R"},
                    {"message", "m"},
                    {"type", "Normal"}});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            950ms);  // backoff alone is 10-40 ms
  EXPECT_EQ(server_.Count("POST", "/api/v1/namespaces/default/events"), 2);
  EXPECT_EQ(server_.StoredEvents().size(), 1u);
}

TEST_F(KubeClient, TimeoutOnGetIsRetried) {
  server_.AddFaults({{{"method", "GET"}, {"action", "delay"}, {"seconds", 2}}});
  ClientOptions o = Fast();
  o.timeout = 400ms;
  auto c = Make(Config(), o);
  auto node = c->Get("/api/v1/nodes/node-b");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-b"), 2);
}

TEST_F(KubeClient, TimeoutOnPostIsNotRetried) {
  server_.AddFaults(
      {{{"method", "POST"}, {"action", "delay"}, {"seconds", 1}}});
  ClientOptions o = Fast();
  o.timeout = 300ms;
  auto c = Make(Config(), o);
  auto r = c->Post("/apis/events.k8s.io/v1/namespaces/default/events",
                   {{"apiVersion", "events.k8s.io/v1"},
                    {"kind", "Event"},
                    {"metadata", {{"generateName", "node-a."}}},
                    {"eventTime", "2024-05-01T10:00:00.000000Z"},
                    {"reportingController", "cvm-preflight"},
                    {"reportingInstance", "node-a"},
                    {"action", "Scan"},
                    {"reason", "Verdict"},
                    {"type", "Normal"},
                    {"note", "n"},
                    {"regarding", {{"kind", "Node"}, {"name", "node-a"}}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, 0);
  EXPECT_NE(
      r.error().message.find(
          "POST /apis/events.k8s.io/v1/namespaces/default/events: no answer "
          "within 300 ms"),
      std::string::npos)
      << r.error().message;
  // The server did act on it after its delay: a retry would have made two.
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(server_.StoredEvents().size(), 1u);
  EXPECT_EQ(
      server_.Count("POST", "/apis/events.k8s.io/v1/namespaces/default/events"),
      1);
}

TEST_F(KubeClient, DroppedConnectionRetriesOnlyIdempotentRequests) {
  auto c = Make(Config());
  server_.AddFaults({{{"method", "PATCH"}, {"action", "drop"}}});
  auto merge = c->Patch("/api/v1/nodes/node-a", PatchType::kMerge,
                        {{"metadata", {{"labels", {{"m", "1"}}}}}});
  ASSERT_TRUE(merge.has_value()) << merge.error().message;
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 2);
  server_.AddFaults({{{"method", "PATCH"}, {"action", "drop"}}});
  auto jp = c->Patch(
      "/api/v1/nodes/node-a", PatchType::kJson,
      json::array(
          {{{"op", "add"}, {"path", "/metadata/labels/j"}, {"value", "1"}}}));
  ASSERT_FALSE(jp.has_value());
  EXPECT_NE(
      jp.error().message.find("PATCH /api/v1/nodes/node-a: connection failed"),
      std::string::npos)
      << jp.error().message;
  EXPECT_EQ(server_.Count("PATCH", "/api/v1/nodes/node-a"), 3);
  server_.AddFaults({{{"method", "GET"}, {"action", "drop"}, {"times", 2}}});
  auto get = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(get.has_value()) << get.error().message;
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 3);
}

TEST_F(KubeClient, ConnectionRefusedIsRetriedEvenForPostThenGivesUp) {
  // A port that was just free: nothing listens there.
  RestConfig rc = Config();
  rc.server = "https://127.0.0.1:1";
  auto c = Make(rc);
  auto r = c->Post("/api/v1/namespaces/default/events",
                   {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, 0);
  EXPECT_NE(
      r.error().message.find(
          "POST /api/v1/namespaces/default/events: gave up after 3 attempts: "
          "connection failed"),
      std::string::npos)
      << r.error().message;
}

TEST_F(KubeClient, UntrustedServerCertificateIsNotRetried) {
  RestConfig rc = Config();
  rc.ca_pem = cvm::testing::ReadText(server_.Cert("other-ca.crt"));
  auto c = Make(rc);
  auto r = c->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(
      r.error().message.find(
          "GET /api/v1/nodes/node-a: TLS: the server's certificate is not "
          "trusted by the cluster's CA"),
      std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("attempts"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(server_.Requests().empty());
}

TEST_F(KubeClient, ClientCertificateAuthenticates) {
  RestConfig rc = Config("");
  rc.client_cert_pem = cvm::testing::ReadText(server_.Cert("client.crt"));
  rc.client_key_pem = cvm::testing::ReadText(server_.Cert("client.key"));
  auto c = Make(rc);
  auto list = c->List("/api/v1/nodes");
  ASSERT_TRUE(list.has_value()) << list.error().message;
  EXPECT_EQ(list->items.size(), 2u);
  EXPECT_EQ(server_.Requests().back()["user"], "cert-user");
}

TEST_F(KubeClient, EventsOfBothGroupsShareOneStore) {
  auto c = Make(Config("node-a-token"));
  auto core =
      c->Post("/api/v1/namespaces/cvm-preflight/events",
              {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", "node-a.1"}}},
               {"involvedObject", {{"kind", "Node"}, {"name", "node-a"}}},
               {"reason", "CVMReady"},
               {"message", "all checks pass"},
               {"type", "Normal"}});
  ASSERT_TRUE(core.has_value()) << core.error().message;
  EXPECT_FALSE((*core)["metadata"]["uid"].get<std::string>().empty());
  auto ev = c->Post("/apis/events.k8s.io/v1/namespaces/cvm-preflight/events",
                    {{"apiVersion", "events.k8s.io/v1"},
                     {"kind", "Event"},
                     {"metadata", {{"generateName", "node-a."}}},
                     {"eventTime", "2024-05-01T10:00:00.000000Z"},
                     {"reportingController", "cvm-preflight.coder.com/agent"},
                     {"reportingInstance", "node-a"},
                     {"action", "Scan"},
                     {"reason", "CVMNotReady"},
                     {"type", "Warning"},
                     {"note", "shiftfs missing"},
                     {"regarding", {{"kind", "Node"}, {"name", "node-a"}}}});
  ASSERT_TRUE(ev.has_value()) << ev.error().message;
  auto stored = server_.StoredEvents();
  ASSERT_EQ(stored.size(), 2u);
  bool found = false;
  for (const auto& e : stored) {
    if (e["reason"] == "CVMNotReady") {
      found = true;
      EXPECT_EQ(e["message"], "shiftfs missing");  // core v1 form of the note
      EXPECT_EQ(e["involvedObject"]["name"], "node-a");
    }
  }
  EXPECT_TRUE(found);
  auto invalid =
      c->Post("/apis/events.k8s.io/v1/namespaces/cvm-preflight/events",
              {{"apiVersion", "events.k8s.io/v1"},
               {"kind", "Event"},
               {"metadata", {{"name", "e"}}}});
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().code, 422);
  auto elsewhere = c->Post("/api/v1/namespaces/kube-system/events",
                           {{"metadata", {{"name", "e"}}}});
  ASSERT_FALSE(elsewhere.has_value());
  EXPECT_EQ(elsewhere.error().code, 403);
  auto dup = c->Post("/api/v1/namespaces/cvm-preflight/events",
                     {{"metadata", {{"name", "node-a.1"}}},
                      {"involvedObject", {{"kind", "Node"}}},
                      {"reason", "R"},
                      {"type", "Normal"}});
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, 409);
}

TEST_F(KubeClient, ExecPluginTokenIsCachedUntilItExpires) {
  auto& t = server_.tmp();
  // The plugin counts its runs; its token expires in the past or far ahead
  // depending on the file "expiry".
  t.Write("expiry", "2099-01-01T00:00:00Z");
  t.Write("plugin.sh",
          "#!/bin/sh\necho run >>" + t.Abs("runs") +
              "\n"
              "printf "
              "'{\"kind\":\"ExecCredential\",\"apiVersion\":\"client."
              "authentication.k8s.io/v1\","
              "\"status\":{\"token\":\"admin-token\",\"expirationTimestamp\":"
              "\"%s\"}}' \"$(cat " +
              t.Abs("expiry") + ")\"\n",
          0755);
  RestConfig rc = Config("");
  rc.exec = ExecConfig{"client.authentication.k8s.io/v1",
                       t.Abs("plugin.sh"),
                       {},
                       {},
                       "Never",
                       false,
                       ""};
  auto c = Make(rc);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(c->Get("/api/v1/nodes/node-a").has_value());
  EXPECT_EQ(cvm::testing::ReadText(t.Abs("runs")), "run\n");
  t.Write("expiry", "2001-01-01T00:00:00Z");
  c = Make(rc);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(c->Get("/api/v1/nodes/node-a").has_value());
  EXPECT_EQ(cvm::testing::ReadText(t.Abs("runs")), "run\nrun\nrun\nrun\n");
}

TEST_F(KubeClient, ExecPluginRunsAgainAfterA401) {
  auto& t = server_.tmp();
  t.Write("token", "stale-token");
  t.Write("plugin.sh",
          "#!/bin/sh\necho run >>" + t.Abs("runs") +
              "\n"
              "printf "
              "'{\"kind\":\"ExecCredential\",\"apiVersion\":\"client."
              "authentication.k8s.io/v1beta1\","
              "\"status\":{\"token\":\"%s\"}}' \"$(cat " +
              t.Abs("token") + ")\"\n",
          0755);
  RestConfig rc = Config("");
  rc.exec = ExecConfig{"client.authentication.k8s.io/v1beta1",
                       t.Abs("plugin.sh"),
                       {},
                       {},
                       "",
                       false,
                       ""};
  auto c = Make(rc);
  auto first = c->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, 401);
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"),
            1);  // a 401 is not retried
  t.Write("token", "admin-token");
  auto second = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(cvm::testing::ReadText(t.Abs("runs")), "run\nrun\n");
}

TEST_F(KubeClient, ExecPluginClientCertificate) {
  auto& t = server_.tmp();
  json cred = {{"kind", "ExecCredential"},
               {"apiVersion", "client.authentication.k8s.io/v1"},
               {"status",
                {{"clientCertificateData",
                  cvm::testing::ReadText(server_.Cert("client.crt"))},
                 {"clientKeyData",
                  cvm::testing::ReadText(server_.Cert("client.key"))}}}};
  t.Write("cred.json", cred.dump());
  t.Write("plugin.sh", "#!/bin/sh\ncat " + t.Abs("cred.json") + "\n", 0755);
  RestConfig rc = Config("");
  rc.exec = ExecConfig{"client.authentication.k8s.io/v1",
                       t.Abs("plugin.sh"),
                       {},
                       {},
                       "Never",
                       false,
                       ""};
  auto c = Make(rc);
  ASSERT_TRUE(c->Get("/api/v1/nodes/node-b").has_value());
  EXPECT_EQ(server_.Requests().back()["user"], "cert-user");
}

TEST_F(KubeClient, InClusterTokenIsReadAgainWhenKubeletRotatesIt) {
  auto& t = server_.tmp();
  // The projected volume's layout: token -> ..data/token, ..data -> a
  // timestamped folder, swapped by a rename on rotation.
  t.Write("sa/..2024_01/token", "admin-token\n");
  t.Write("sa/..2024_01/ca.crt",
          cvm::testing::ReadText(server_.Cert("ca.crt")));
  t.Write("sa/..2024_01/namespace", "cvm-preflight");
  t.Symlink("sa/..data", "..2024_01");
  for (const char* f : {"token", "ca.crt", "namespace"})
    t.Symlink(std::string("sa/") + f, std::string("..data/") + f);
  LoadOptions o;
  o.service_account_dir = t.Abs("sa");
  std::string port = std::to_string(server_.port());
  o.getenv = [port](const std::string& n) -> std::optional<std::string> {
    if (n == "KUBERNETES_SERVICE_HOST") return "127.0.0.1";
    if (n == "KUBERNETES_SERVICE_PORT") return port;
    return std::nullopt;
  };
  auto rc = LoadInCluster(o);
  ASSERT_TRUE(rc.has_value()) << rc.error().message;
  EXPECT_EQ(rc->namespace_, "cvm-preflight");
  auto c = Make(*rc);
  ASSERT_TRUE(c->Get("/api/v1/nodes/node-a").has_value());
  EXPECT_EQ(server_.Requests().back()["user"], "kubernetes-admin");
  // Rotation: a new folder, ..data swapped atomically.
  t.Write("sa/..2024_02/token", "node-a-token\n");
  t.Symlink("sa/..data_tmp", "..2024_02");
  std::filesystem::rename(t.Abs("sa/..data_tmp"), t.Abs("sa/..data"));
  ASSERT_TRUE(c->Get("/api/v1/nodes/node-a").has_value());
  EXPECT_EQ(server_.Requests().back()["user"],
            "system:serviceaccount:cvm-preflight:agent");
}

TEST_F(KubeClient, OversizedAnswerIsAnErrorNotACrash) {
  ClientOptions o = Fast();
  o.max_response_bytes = 100;
  auto c = Make(Config(), o);
  auto r = c->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("the answer is larger than 100 bytes"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(server_.Count("GET", "/api/v1/nodes/node-a"), 1);
}

}  // namespace
}  // namespace cvm::exporter::kube
