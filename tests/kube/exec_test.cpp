// Exec credential plugins: the ExecCredential parser, RFC 3339 times, and
// real plugins (small shell scripts) run as client-go runs them.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exporter/kube/exec_credential.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter::kube {
namespace {

using namespace std::chrono_literals;
using cvm::testing::TempTree;
constexpr char kV1[] = "client.authentication.k8s.io/v1";
constexpr char kV1beta1[] = "client.authentication.k8s.io/v1beta1";

TEST(Rfc3339, ParsesTheFormsPluginsWrite) {
  struct Row {
    std::string in;
    long long unix_ms;  // -1: invalid
  };
  const std::vector<Row> rows = {
      {"1970-01-01T00:00:00Z", 0},
      {"2024-05-01T10:00:00Z", 1714557600000},
      {"2024-05-01T12:00:00+02:00", 1714557600000},
      {"2024-05-01T09:30:00-00:30", 1714557600000},
      {"2024-05-01T10:00:00.250Z", 1714557600250},
      {"2024-05-01T10:00:00.123456789Z", 1714557600123},
      {"2024-05-01 10:00:00Z", -1},
      {"2024-05-01T10:00:00", -1},
      {"2024-13-01T10:00:00Z", -1},
      {"2024-05-01T10:00:00.Z", -1},
      {"2024-05-01T10:00:00+0200", -1},
      {"2024-05-01T10:00:00Zjunk", -1},
      {"", -1},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.in);
    auto t = ParseRfc3339(row.in);
    ASSERT_EQ(t.has_value(), row.unix_ms >= 0) << (t ? "" : t.error().message);
    if (t) {
      EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(
                    t->time_since_epoch())
                    .count(),
                row.unix_ms);
    }
  }
}

TEST(ExecCredentialParse, TokenCertificateAndExpiry) {
  auto c = ParseExecCredential(
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",)"
      R"("spec":{"interactive":false},)"
      R"("status":{"token":"k8s-aws-v1.abc","expirationTimestamp":"2024-05-01T10:15:00Z"}})",
      kV1);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->token, "k8s-aws-v1.abc");
  ASSERT_TRUE(c->expiry.has_value());
  EXPECT_EQ(*c->expiry, *ParseRfc3339("2024-05-01T10:15:00Z"));
  auto cert = ParseExecCredential(
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1",)"
      R"("status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----\n","clientKeyData":"k"}})",
      kV1beta1);
  ASSERT_TRUE(cert.has_value()) << cert.error().message;
  EXPECT_EQ(cert->client_cert_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_FALSE(cert->expiry.has_value());
}

TEST(ExecCredentialParse, BadOutputNamesTheField) {
  struct Row {
    std::string json;
    std::string want;
  };
  const std::string head =
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1")";
  const std::vector<Row> rows = {
      {"token", "the output is not an ExecCredential JSON object"},
      {R"({"kind":"Pod"})", "ExecCredential kind: must be ExecCredential"},
      {R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"t"}})",
       "ExecCredential apiVersion: the plugin answered "
       "\"client.authentication.k8s.io/v1beta1\""},
      {head + "}", "ExecCredential status: is missing"},
      {head + R"(,"status":{}})", "ExecCredential status: has neither a token"},
      {head + R"(,"status":{"token":5}})",
       "ExecCredential status.token: must be a string"},
      {head + R"(,"status":{"clientKeyData":"k"}})",
       "ExecCredential status.clientCertificateData: is missing"},
      {head + R"(,"status":{"token":"t","expirationTimestamp":"tomorrow"}})",
       "ExecCredential status.expirationTimestamp: \"tomorrow\" is not an RFC "
       "3339 time"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.json);
    auto c = ParseExecCredential(row.json, kV1);
    ASSERT_FALSE(c.has_value());
    EXPECT_NE(c.error().message.find(row.want), std::string::npos)
        << c.error().message;
  }
}

// A plugin script in `t`: records its arguments, its environment variable
// MY_VAR and KUBERNETES_EXEC_INFO, then runs `body`.
ExecConfig Plugin(TempTree& t, const std::string& body,
                  const std::string& api = kV1) {
  t.Write("plugin.sh",
          "#!/bin/sh\n"
          "echo \"$@\" >" +
              t.Abs("args") +
              "\n"
              "printf '%s' \"$MY_VAR\" >" +
              t.Abs("myvar") +
              "\n"
              "printf '%s' \"$KUBERNETES_EXEC_INFO\" >" +
              t.Abs("info") + "\n" + body,
          0755);
  ExecConfig e;
  e.api_version = api;
  e.command = t.Abs("plugin.sh");
  e.args = {"get-token", "--cluster", "prod"};
  e.env = {{"MY_VAR", "from-kubeconfig"}};
  e.interactive_mode = "Never";
  return e;
}

TEST(ExecPlugin, RunsWithArgsEnvAndExecInfo) {
  TempTree t;
  ExecConfig e = Plugin(
      t,
      "cat <<'EOF'\n"
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",)"
      R"("status":{"token":"plugin-token"}})"
      "\nEOF\n");
  e.provide_cluster_info = true;
  auto c = RunExecPlugin(
      e, {"https://127.0.0.1:6443", "-----BEGIN CERTIFICATE-----\n", false},
      5s);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->token, "plugin-token");
  EXPECT_EQ(cvm::testing::ReadText(t.Abs("args")),
            "get-token --cluster prod\n");
  EXPECT_EQ(cvm::testing::ReadText(t.Abs("myvar")), "from-kubeconfig");
  auto info = nlohmann::json::parse(cvm::testing::ReadText(t.Abs("info")));
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["apiVersion"], kV1);
  EXPECT_EQ(info["spec"]["interactive"], false);
  EXPECT_EQ(info["spec"]["cluster"]["server"], "https://127.0.0.1:6443");
  EXPECT_EQ(info["spec"]["cluster"]["certificate-authority-data"],
            EncodeBase64("-----BEGIN CERTIFICATE-----\n"));
}

TEST(ExecPlugin, FailureCarriesItsStderr) {
  TempTree t;
  ExecConfig e = Plugin(
      t, "echo 'error: SSO session expired; run aws sso login' >&2\nexit 3\n");
  auto c = RunExecPlugin(e, {}, 5s);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message, "exec plugin " + e.command +
                                   ": exited with status 3: error: SSO session "
                                   "expired; run aws sso login");
}

TEST(ExecPlugin, WrongApiVersionIsRefused) {
  TempTree t;
  ExecConfig e = Plugin(t,
                        "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":"
                        "\"client.authentication.k8s.io/"
                        "v1beta1\",\"status\":{\"token\":\"x\"}}'\n");
  auto c = RunExecPlugin(e, {}, 5s);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(
      c.error().message.find("ExecCredential apiVersion: the plugin answered"),
      std::string::npos)
      << c.error().message;
}

TEST(ExecPlugin, HungPluginIsKilledAtTheTimeout) {
  TempTree t;
  ExecConfig e = Plugin(t, "exec sleep 30\n");
  auto start = std::chrono::steady_clock::now();
  auto c = RunExecPlugin(e, {}, 300ms);
  ASSERT_FALSE(c.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(c.error().message, "exec plugin " + e.command +
                                   ": still running after 300 ms; killed");
}

TEST(ExecPlugin, MissingCommandShowsTheInstallHint) {
  ExecConfig e;
  e.api_version = kV1beta1;
  e.command = "cvm-preflight-no-such-plugin";
  e.install_hint = "install it with: apt-get install no-such-plugin";
  auto c = RunExecPlugin(e, {}, 5s);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(
      c.error().message.find("install it with: apt-get install no-such-plugin"),
      std::string::npos)
      << c.error().message;
}

}  // namespace
}  // namespace cvm::exporter::kube
