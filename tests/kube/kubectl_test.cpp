// The real kubectl and the client, through one kubeconfig made by kubectl,
// against the API test server: each sees what the other wrote.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "exporter/kube/client.h"
#include "exporter/kube/config.h"
#include "tests/kube/test_server.h"
#include "tests/support/data.h"

namespace cvm::exporter::kube {
namespace {

using cvm::testing::CommandResult;
using cvm::testing::KubectlPath;
using cvm::testing::RunCommand;
using cvm::testing::TestApiServer;
using nlohmann::json;

class KubectlAndClient : public ::testing::Test {
 protected:
  void SetUp() override {
    if (KubectlPath().empty()) GTEST_SKIP() << "no kubectl on PATH";
    server_.SetStandardState();
    kubeconfig_ = server_.tmp().Abs("kubeconfig");
    Must({"config", "set-cluster", "test", "--server=" + server_.Url(),
          "--certificate-authority=" + server_.Cert("ca.crt"),
          "--embed-certs=true"});
    Must({"config", "set-credentials", "admin", "--token=admin-token"});
    Must({"config", "set-credentials", "agent", "--token=node-a-token"});
    Must({"config", "set-context", "admin", "--cluster=test", "--user=admin"});
    Must({"config", "set-context", "agent", "--cluster=test", "--user=agent",
          "--namespace=cvm-preflight"});
    Must({"config", "use-context", "admin"});
  }
  CommandResult Kubectl(std::vector<std::string> args) {
    args.insert(args.begin(), KubectlPath());
    // The gcloud kubectl dispatcher would otherwise look for a matching
    // kubectl version; this one is fine.
    return RunCommand(args,
                      {"KUBECONFIG=" + kubeconfig_,
                       "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1"});
  }
  std::string Must(std::vector<std::string> args) {
    auto r = Kubectl(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }
  std::unique_ptr<Client> ClientFor(const std::string& context) {
    LoadOptions o;
    o.kubeconfig = kubeconfig_;
    o.context = context;
    auto rc = LoadConfig(o);
    EXPECT_TRUE(rc.has_value()) << rc.error().message;
    if (!rc) return nullptr;
    auto c = Client::Create(*rc);
    EXPECT_TRUE(c.has_value()) << c.error().message;
    return c.has_value() ? std::move(*c) : nullptr;
  }

  TestApiServer server_;
  std::string kubeconfig_;
};

TEST_F(KubectlAndClient, GetNodesPrintsTheTable) {
  std::string out = Must({"get", "nodes"});
  EXPECT_NE(out.find("NAME"), std::string::npos) << out;
  EXPECT_NE(out.find("node-a   Ready"), std::string::npos) << out;
  EXPECT_NE(out.find("v1.32.0"), std::string::npos) << out;
  std::string wide = Must({"get", "nodes", "-o", "wide"});
  EXPECT_NE(wide.find("10.0.0.2"), std::string::npos) << wide;
  EXPECT_NE(wide.find("containerd://1.7.13"), std::string::npos) << wide;
}

TEST_F(KubectlAndClient, LabelAndAnnotateByKubectlReadByTheClient) {
  Must({"label", "node", "node-a", "cvm-preflight.coder.com/cvm=true"});
  Must({"annotate", "node", "node-a", "cvm-preflight.coder.com/report=ok"});
  auto c = ClientFor("agent");
  ASSERT_NE(c, nullptr);
  auto node = c->Get("/api/v1/nodes/node-a");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ((*node)["metadata"]["labels"]["cvm-preflight.coder.com/cvm"],
            "true");
  EXPECT_EQ(
      (*node)["metadata"]["annotations"]["cvm-preflight.coder.com/report"],
      "ok");
  // kubectl label sends a JSON merge patch with its field manager.
  bool seen = false;
  for (const auto& r : server_.Requests()) {
    if (r["method"] == "PATCH" &&
        r["query"].value("fieldManager", "") == "kubectl-label") {
      seen = true;
      EXPECT_EQ(r["content_type"], "application/merge-patch+json");
    }
  }
  EXPECT_TRUE(seen);
}

TEST_F(KubectlAndClient, ClientWritesKubectlReads) {
  auto c = ClientFor("agent");
  ASSERT_NE(c, nullptr);
  auto st = c->Patch("/api/v1/nodes/node-a/status", PatchType::kStrategicMerge,
                     {{"status",
                       {{"conditions",
                         {{{"type", "CVMReady"},
                           {"status", "False"},
                           {"reason", "ShiftfsMissing"}}}}}}});
  ASSERT_TRUE(st.has_value()) << st.error().message;
  auto md = c->Patch(
      "/api/v1/nodes/node-a", PatchType::kMerge,
      {{"metadata", {{"labels", {{"cvm-preflight.coder.com/cvm", "false"}}}}}});
  ASSERT_TRUE(md.has_value()) << md.error().message;
  std::string yaml = Must({"get", "node", "node-a", "-o", "yaml"});
  EXPECT_NE(yaml.find("cvm-preflight.coder.com/cvm: \"false\""),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("reason: ShiftfsMissing"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("reason: KubeletReady"), std::string::npos) << yaml;
  EXPECT_EQ(
      Must({"get", "node", "node-a", "-o",
            "jsonpath={.status.conditions[?(@.type==\"CVMReady\")].status}"}),
      "False");
}

TEST_F(KubectlAndClient, BothAreRefusedTheSameWay) {
  auto k = Kubectl({"--context=agent", "label", "node", "node-b", "x=y"});
  EXPECT_NE(k.exit_code, 0);
  EXPECT_NE(k.output.find("nodes \"node-b\" is forbidden"), std::string::npos)
      << k.output;
  auto c = ClientFor("agent");
  ASSERT_NE(c, nullptr);
  auto r = c->Patch("/api/v1/nodes/node-b", PatchType::kMerge,
                    {{"metadata", {{"labels", {{"x", "y"}}}}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("nodes \"node-b\" is forbidden"),
            std::string::npos);

  Must({"config", "set-credentials", "nobody", "--token=wrong"});
  Must({"config", "set-context", "nobody", "--cluster=test", "--user=nobody"});
  auto u = Kubectl({"--context=nobody", "get", "node", "node-a"});
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.output.find("Unauthorized"), std::string::npos) << u.output;
  auto cu = ClientFor("nobody");
  ASSERT_NE(cu, nullptr);
  auto ru = cu->Get("/api/v1/nodes/node-a");
  ASSERT_FALSE(ru.has_value());
  EXPECT_EQ(ru.error().code, 401);
}

TEST_F(KubectlAndClient, ExecPluginKubeconfigWorksForBoth) {
  auto& t = server_.tmp();
  // In a folder of its own: kubectl writes the command relative to the
  // kubeconfig's folder, and a bare "plugin.sh" would then be looked up on
  // PATH (by kubectl and by the client alike).
  t.Write("bin/plugin.sh",
          "#!/bin/sh\necho run >>" + t.Abs("runs") +
              "\n"
              "echo "
              "'{\"kind\":\"ExecCredential\",\"apiVersion\":\"client."
              "authentication.k8s.io/v1\","
              "\"status\":{\"token\":\"admin-token\"}}'\n",
          0755);
  Must({"config", "set-credentials", "plugin",
        "--exec-command=" + t.Abs("bin/plugin.sh"),
        "--exec-api-version=client.authentication.k8s.io/v1",
        "--exec-interactive-mode=Never"});
  Must({"config", "set-context", "plugin", "--cluster=test", "--user=plugin"});
  std::string out =
      Must({"--context=plugin", "get", "node", "node-b", "-o", "name"});
  EXPECT_EQ(out, "node/node-b\n");
  auto c = ClientFor("plugin");
  ASSERT_NE(c, nullptr);
  auto node = c->Get("/api/v1/nodes/node-b");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_NE(cvm::testing::ReadText(t.Abs("runs")).find("run\n"),
            std::string::npos);
}

TEST_F(KubectlAndClient, ClientCertificateKubeconfigWorksForBoth) {
  Must({"config", "set-credentials", "cert",
        "--client-certificate=" + server_.Cert("client.crt"),
        "--client-key=" + server_.Cert("client.key"), "--embed-certs=true"});
  Must({"config", "set-context", "cert", "--cluster=test", "--user=cert"});
  EXPECT_EQ(Must({"--context=cert", "get", "node", "node-a", "-o", "name"}),
            "node/node-a\n");
  auto c = ClientFor("cert");
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Get("/api/v1/nodes/node-a").has_value());
  EXPECT_EQ(server_.Requests().back()["user"], "cert-user");
}

}  // namespace
}  // namespace cvm::exporter::kube
