// kubeconfig parsing, merging and resolution, on files the real kubectl
// writes (`kubectl config set-cluster/set-credentials/set-context` into a
// temporary KUBECONFIG, then `kubectl config view --raw`), and the
// in-cluster configuration.
#include "exporter/kube/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "exporter/kube/exec_credential.h"
#include "tests/kube/test_server.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter::kube {
namespace {

using cvm::testing::KubectlPath;
using cvm::testing::RunCommand;
using cvm::testing::TempTree;

#define REQUIRE_KUBECTL()                                          \
  if (KubectlPath().empty()) GTEST_SKIP() << "no kubectl on PATH"; \
  static_assert(true)

// Runs kubectl with KUBECONFIG=kubeconfig; the test fails when it fails.
std::string Kubectl(const std::string& kubeconfig,
                    std::vector<std::string> args) {
  args.insert(args.begin(), KubectlPath());
  auto r = RunCommand(args, {"KUBECONFIG=" + kubeconfig});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

const char kCaPem[] =
    "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const char kKeyPem[] =
    "-----BEGIN EC PRIVATE KEY-----\nMHcfake\n-----END EC PRIVATE KEY-----\n";

// Two clusters (CA embedded, CA by file), four users (token, tokenFile,
// client certificate files, exec plugin), three contexts.
std::string WriteWithKubectl(TempTree& t, const std::string& name) {
  t.Write("pki/ca.crt", kCaPem);
  t.Write("pki/client.crt", kCaPem);
  t.Write("pki/client.key", kKeyPem);
  t.Write("token", "file-token\n");
  std::string kc = t.Abs(name);
  Kubectl(
      kc,
      {"config", "set-cluster", "prod", "--server=https://10.0.0.1:6443",
       "--certificate-authority=" + t.Abs("pki/ca.crt"), "--embed-certs=true"});
  Kubectl(kc,
          {"config", "set-cluster", "dev", "--server=https://dev.example.com",
           "--certificate-authority=" + t.Abs("pki/ca.crt")});
  Kubectl(kc, {"config", "set-credentials", "admin", "--token=s3cret"});
  Kubectl(kc, {"config", "set-credentials", "robot",
               "--client-certificate=" + t.Abs("pki/client.crt"),
               "--client-key=" + t.Abs("pki/client.key")});
  Kubectl(kc,
          {"config", "set-credentials", "eks", "--exec-command=aws",
           "--exec-api-version=client.authentication.k8s.io/v1beta1",
           "--exec-arg=eks", "--exec-arg=get-token",
           "--exec-arg=--cluster-name=prod", "--exec-env=AWS_PROFILE=prod"});
  Kubectl(kc, {"config", "set-context", "prod-admin", "--cluster=prod",
               "--user=admin", "--namespace=kube-system"});
  Kubectl(kc, {"config", "set-context", "prod-robot", "--cluster=prod",
               "--user=robot"});
  Kubectl(kc,
          {"config", "set-context", "dev-eks", "--cluster=dev", "--user=eks"});
  Kubectl(kc, {"config", "use-context", "prod-admin"});
  return kc;
}

Kubeconfig ParseFile(const std::string& path) {
  auto k = ParseKubeconfig(cvm::testing::ReadText(path), path);
  EXPECT_TRUE(k.has_value()) << k.error().message;
  return k.has_value() ? *k : Kubeconfig{};
}

TEST(KubeconfigParse, ReadsWhatKubectlWrites) {
  REQUIRE_KUBECTL();
  TempTree t;
  std::string kc = WriteWithKubectl(t, "config");
  Kubeconfig k = ParseFile(kc);
  EXPECT_EQ(k.current_context, "prod-admin");
  ASSERT_EQ(k.clusters.size(), 2u);
  EXPECT_EQ(k.clusters["prod"].server, "https://10.0.0.1:6443");
  EXPECT_EQ(k.clusters["prod"].certificate_authority_data,
            kCaPem);  // embedded, decoded
  EXPECT_EQ(k.clusters["dev"].certificate_authority, t.Abs("pki/ca.crt"));
  ASSERT_EQ(k.users.size(), 3u);
  EXPECT_EQ(k.users["admin"].token, "s3cret");
  EXPECT_EQ(k.users["robot"].client_certificate, t.Abs("pki/client.crt"));
  EXPECT_EQ(k.users["robot"].client_key, t.Abs("pki/client.key"));
  ASSERT_TRUE(k.users["eks"].exec.has_value());
  ExecConfig want;
  want.api_version = "client.authentication.k8s.io/v1beta1";
  want.command = "aws";
  want.args = {"eks", "get-token", "--cluster-name=prod"};
  want.env = {{"AWS_PROFILE", "prod"}};
  want.interactive_mode = "IfAvailable";  // kubectl writes v1beta1's default
  EXPECT_EQ(*k.users["eks"].exec, want);
  ASSERT_EQ(k.contexts.size(), 3u);
  EXPECT_EQ(k.contexts["prod-admin"].namespace_, "kube-system");
  EXPECT_EQ(k.contexts["dev-eks"].user, "eks");

  // `kubectl config view --raw` writes the same configuration back.
  t.Write("view.yaml", Kubectl(kc, {"config", "view", "--raw"}));
  Kubeconfig v = ParseFile(t.Abs("view.yaml"));
  v.files = k.files;
  for (auto* m : {&v}) {
    for (auto& [n, c] : m->clusters) c.origin = kc;
    for (auto& [n, u] : m->users) u.origin = kc;
    for (auto& [n, c] : m->contexts) c.origin = kc;
  }
  EXPECT_EQ(v, k);
}

TEST(KubeconfigParse, RelativePathsResolveAgainstTheFile) {
  TempTree t;
  t.Write("sub/ca.crt", kCaPem);
  std::string text =
      "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
      "    server: https://a:1\n    certificate-authority: ca.crt\n"
      "users:\n- name: u\n  user:\n    tokenFile: ../tok\n"
      "    exec:\n      command: ./bin/plugin\n      apiVersion: "
      "client.authentication.k8s.io/v1\n"
      "- name: v\n  user:\n    exec:\n      command: plugin-on-path\n"
      "      apiVersion: client.authentication.k8s.io/v1\n";
  auto k = ParseKubeconfig(text, t.Abs("sub/config"));
  ASSERT_TRUE(k.has_value()) << k.error().message;
  EXPECT_EQ(k->clusters["c"].certificate_authority, t.Abs("sub") + "/ca.crt");
  EXPECT_EQ(k->users["u"].token_file, t.Abs("sub") + "/../tok");
  EXPECT_EQ(k->users["u"].exec->command, t.Abs("sub") + "/./bin/plugin");
  EXPECT_EQ(k->users["v"].exec->command,
            "plugin-on-path");  // looked up on PATH
}

TEST(KubeconfigParse, EmptyFileIsAnEmptyConfig) {
  auto k = ParseKubeconfig("", "/x/config");
  ASSERT_TRUE(k.has_value());
  EXPECT_TRUE(k->clusters.empty());
  EXPECT_TRUE(k->current_context.empty());
}

TEST(KubeconfigParse, BadFilesNameTheField) {
  struct Row {
    std::string text;
    std::string want;  // the whole message must contain it
  };
  const std::vector<Row> rows = {
      {"clusters: [", "/k/config: not valid YAML"},
      {"- a\n- b\n", "/k/config: not a kubeconfig (the top is not a map)"},
      {"kind: Pod\n", "/k/config: kind: \"Pod\" is not Config"},
      {"apiVersion: v2\n", "/k/config: apiVersion: \"v2\" is not v1"},
      {"clusters: {a: b}\n", "/k/config: clusters: must be a list"},
      {"clusters:\n- cluster: {server: https://a}\n",
       "/k/config: clusters[0].name: is missing"},
      {"clusters:\n- name: a\n  cluster: {server: [1]}\n",
       "/k/config: clusters[a].cluster.server: must be a string"},
      {"clusters:\n- name: a\n  cluster: {certificate-authority-data: "
       "'not*base64'}\n",
       "/k/config: clusters[a].cluster.certificate-authority-data: not valid "
       "base64"},
      {"clusters:\n- name: a\n  cluster: {insecure-skip-tls-verify: maybe}\n",
       "/k/config: clusters[a].cluster.insecure-skip-tls-verify: must be true "
       "or false"},
      {"clusters:\n- name: a\n  cluster: {}\n- name: a\n  cluster: {}\n",
       "/k/config: clusters[1].name: duplicate name \"a\" in clusters"},
      {"users:\n- name: u\n  user: {client-key-data: 'YQ=b'}\n",
       "/k/config: users[u].user.client-key-data: not valid base64"},
      {"users:\n- name: u\n  user:\n    exec: {command: x, args: y}\n",
       "/k/config: users[u].user.exec.args: must be a list of strings"},
      {"users:\n- name: u\n  user:\n    exec: {command: x, env: [{value: "
       "v}]}\n",
       "/k/config: users[u].user.exec.env[0].name: is empty"},
      {"contexts:\n- name: c\n  context: [a]\n",
       "/k/config: contexts[c].context: must be a map"},
      {"current-context: {a: 1}\n",
       "/k/config: current-context: must be a string"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto k = ParseKubeconfig(row.text, "/k/config");
    ASSERT_FALSE(k.has_value());
    EXPECT_NE(k.error().message.find(row.want), std::string::npos)
        << k.error().message;
  }
}

TEST(KubeconfigMerge, MergesAsKubectlDoes) {
  REQUIRE_KUBECTL();
  TempTree t;
  std::string a = t.Abs("a"), b = t.Abs("b");
  // Both name cluster "shared" and user "shared"; b sets its own
  // current-context, which a's wins over.
  Kubectl(a,
          {"config", "set-cluster", "shared", "--server=https://from-a:6443"});
  Kubectl(a, {"config", "set-credentials", "shared", "--token=token-a"});
  Kubectl(a, {"config", "set-context", "ctx-a", "--cluster=shared",
              "--user=shared"});
  Kubectl(a, {"config", "use-context", "ctx-a"});
  Kubectl(b,
          {"config", "set-cluster", "shared", "--server=https://from-b:6443"});
  Kubectl(b,
          {"config", "set-cluster", "only-b", "--server=https://only-b:6443"});
  Kubectl(b, {"config", "set-credentials", "shared", "--token=token-b"});
  Kubectl(b, {"config", "set-context", "ctx-b", "--cluster=only-b",
              "--user=shared"});
  Kubectl(b, {"config", "use-context", "ctx-b"});

  Kubeconfig merged = MergeKubeconfigs({ParseFile(a), ParseFile(b)});
  // kubectl's own merge of the same list, read back.
  t.Write("merged.yaml", Kubectl(a + ":" + b, {"config", "view", "--raw"}));
  Kubeconfig theirs = ParseFile(t.Abs("merged.yaml"));
  EXPECT_EQ(merged.current_context, theirs.current_context);
  EXPECT_EQ(merged.current_context, "ctx-a");
  ASSERT_EQ(merged.clusters.size(), theirs.clusters.size());
  for (const auto& [name, c] : theirs.clusters)
    EXPECT_EQ(merged.clusters[name].server, c.server) << name;
  ASSERT_EQ(merged.users.size(), theirs.users.size());
  for (const auto& [name, u] : theirs.users)
    EXPECT_EQ(merged.users[name].token, u.token) << name;
  EXPECT_EQ(merged.clusters["shared"].server, "https://from-a:6443");
  EXPECT_EQ(merged.users["shared"].token, "token-a");
  EXPECT_EQ(merged.contexts.size(), 2u);

  // The same through LoadConfig and a KUBECONFIG list, with a missing file
  // in it skipped as kubectl skips it.
  LoadOptions o;
  std::map<std::string, std::string> env = {
      {"KUBECONFIG", t.Abs("missing") + ":" + a + "::" + b}};
  o.getenv = [&](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto rc = LoadConfig(o);
  ASSERT_TRUE(rc.has_value()) << rc.error().message;
  EXPECT_EQ(rc->server, "https://from-a:6443");
  EXPECT_EQ(rc->token, "token-a");
  o.context = "ctx-b";
  rc = LoadConfig(o);
  ASSERT_TRUE(rc.has_value()) << rc.error().message;
  EXPECT_EQ(rc->server, "https://only-b:6443");
  EXPECT_EQ(rc->token, "token-a");  // user "shared" is a's
  EXPECT_EQ(rc->namespace_, "default");
}

// A GetEnv over a map.
GetEnv EnvOf(std::map<std::string, std::string> env) {
  return [env](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

TEST(KubeconfigResolve, ReadsFilesAndDataOfEachContext) {
  REQUIRE_KUBECTL();
  TempTree t;
  std::string kc = WriteWithKubectl(t, "config");
  LoadOptions o;
  o.kubeconfig = kc;
  o.getenv = EnvOf({});
  auto admin = LoadConfig(o);
  ASSERT_TRUE(admin.has_value()) << admin.error().message;
  EXPECT_EQ(admin->server, "https://10.0.0.1:6443");
  EXPECT_EQ(admin->ca_pem, kCaPem);
  EXPECT_EQ(admin->token, "s3cret");
  EXPECT_EQ(admin->namespace_, "kube-system");
  EXPECT_EQ(admin->source, "kubeconfig " + kc + " (context prod-admin)");
  o.context = "prod-robot";
  auto robot = LoadConfig(o);
  ASSERT_TRUE(robot.has_value()) << robot.error().message;
  EXPECT_EQ(robot->client_cert_pem, kCaPem);
  EXPECT_EQ(robot->client_key_pem, kKeyPem);
  EXPECT_TRUE(robot->token.empty());
  o.context = "dev-eks";
  auto eks = LoadConfig(o);
  ASSERT_TRUE(eks.has_value()) << eks.error().message;
  EXPECT_EQ(eks->server, "https://dev.example.com");
  EXPECT_EQ(eks->ca_pem, kCaPem);  // read from the file
  ASSERT_TRUE(eks->exec.has_value());
  EXPECT_EQ(eks->exec->command, "aws");
}

TEST(KubeconfigResolve, RefusalsNameTheField) {
  TempTree t;
  t.Write("ca.crt", kCaPem);
  t.Write("notpem", "hello");
  struct Row {
    std::string text;
    std::string context;
    std::string want;
  };
  const std::string head = "apiVersion: v1\nkind: Config\n";
  const std::string ctx =
      "contexts:\n- name: c\n  context: {cluster: k, user: "
      "u}\ncurrent-context: c\n";
  const std::string user = "users:\n- name: u\n  user: {token: t}\n";
  auto cluster = [](const std::string& body) {
    return "clusters:\n- name: k\n  cluster: {" + body + "}\n";
  };
  const std::string f = t.Abs("config");
  const std::vector<Row> rows = {
      {head, "", "current-context is not set"},
      {head + ctx + user + cluster("server: https://a"), "other",
       "context \"other\" not found"},
      {head + ctx + user, "",
       f + ": contexts[c].context.cluster: cluster \"k\" not found"},
      {head + ctx + cluster("server: https://a"), "",
       f + ": contexts[c].context.user: user \"u\" not found"},
      {head + ctx + user + cluster("server: ''"), "",
       f + ": clusters[k].cluster.server: is empty"},
      {head + ctx + user + cluster("server: http://a:8080"), "",
       f + ": clusters[k].cluster.server: \"http://a:8080\" is plain http"},
      {head + ctx + user +
           cluster("server: https://a, insecure-skip-tls-verify: true"),
       "",
       f + ": clusters[k].cluster.insecure-skip-tls-verify: true is refused"},
      {head + ctx + user +
           cluster("server: https://a, certificate-authority: nope.crt"),
       "",
       f + ": clusters[k].cluster.certificate-authority: " + t.Abs("nope.crt") +
           ": No such file or directory (ENOENT)"},
      {head + ctx + user +
           cluster("server: https://a, certificate-authority: notpem"),
       "",
       f + ": clusters[k].cluster.certificate-authority: is not a PEM "
           "certificate"},
      {head + ctx + user + cluster("server: https://a, tls-server-name: b"), "",
       f + ": clusters[k].cluster.tls-server-name: is not supported"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {auth-provider: {name: gcp}}\n",
       "", f + ": users[u].user.auth-provider: the in-tree auth providers"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {username: a, password: b}\n",
       "",
       f + ": users[u].user.username: basic authentication is not supported"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {client-certificate: ca.crt}\n",
       "", f + ": users[u].user.client-key: is missing"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {client-certificate: ca.crt, "
           "client-key: ca.crt}\n",
       "", f + ": users[u].user.client-key: is not a PEM private key"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {tokenFile: gone}\n",
       "",
       f + ": users[u].user.tokenFile: " + t.Abs("gone") + ": No such file"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {token: t, exec: {command: x, "
           "apiVersion: "
           "client.authentication.k8s.io/v1, interactiveMode: Never}}\n",
       "", f + ": users[u].user: more than one authentication method"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {exec: {command: x, apiVersion: "
           "client.authentication.k8s.io/v1alpha1}}\n",
       "",
       f + ": users[u].user.exec.apiVersion: "
           "client.authentication.k8s.io/v1alpha1 was removed"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {exec: {command: x, apiVersion: "
           "client.authentication.k8s.io/v1}}\n",
       "", f + ": users[u].user.exec.interactiveMode: must be set"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {exec: {command: x, apiVersion: "
           "client.authentication.k8s.io/v1, interactiveMode: Always}}\n",
       "", f + ": users[u].user.exec.interactiveMode: Always needs a terminal"},
      {head + ctx + cluster("server: https://a") +
           "users:\n- name: u\n  user: {exec: {apiVersion: "
           "client.authentication.k8s.io/v1beta1}}\n",
       "", f + ": users[u].user.exec.command: is empty"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto k = ParseKubeconfig(row.text, f);
    ASSERT_TRUE(k.has_value()) << k.error().message;
    LoadOptions o;
    o.context = row.context;
    auto rc = ResolveKubeconfig(*k, o);
    ASSERT_FALSE(rc.has_value());
    EXPECT_NE(rc.error().message.find(row.want), std::string::npos)
        << rc.error().message;
  }
}

TEST(KubeconfigResolve, InsecureOnlyWhenAllowed) {
  std::string text =
      "clusters:\n- name: k\n  cluster: {server: 'https://a:6443/', "
      "insecure-skip-tls-verify: true}\n"
      "contexts:\n- name: c\n  context: {cluster: k}\ncurrent-context: c\n";
  auto k = ParseKubeconfig(text, "/k");
  ASSERT_TRUE(k.has_value());
  LoadOptions o;
  EXPECT_FALSE(ResolveKubeconfig(*k, o).has_value());
  o.allow_insecure = true;
  auto rc = ResolveKubeconfig(*k, o);
  ASSERT_TRUE(rc.has_value()) << rc.error().message;
  EXPECT_TRUE(rc->insecure_skip_tls_verify);
  EXPECT_EQ(rc->server, "https://a:6443");  // trailing slash dropped
}

TEST(KubeconfigLoad, OrderIsFlagThenKubeconfigThenHomeThenInCluster) {
  TempTree t;
  auto file = [&](const std::string& rel, const std::string& server) {
    t.Write(rel, "clusters:\n- name: k\n  cluster: {server: '" + server +
                     "'}\ncontexts:\n- name: c\n  context: {cluster: "
                     "k}\ncurrent-context: c\n");
    return t.Abs(rel);
  };
  std::string flag = file("flag", "https://flag");
  std::string env = file("env", "https://env");
  file("home/.kube/config", "https://home");
  t.Write("sa/token", "sa-token\n");
  t.Write("sa/ca.crt", kCaPem);
  t.Write("sa/namespace", "cvm-preflight");
  LoadOptions o;
  o.service_account_dir = t.Abs("sa");
  std::map<std::string, std::string> vars = {
      {"KUBECONFIG", env},
      {"HOME", t.Abs("home")},
      {"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
      {"KUBERNETES_SERVICE_PORT", "443"}};
  auto load = [&] {
    o.getenv = EnvOf(vars);
    auto rc = LoadConfig(o);
    EXPECT_TRUE(rc.has_value()) << rc.error().message;
    return rc.has_value() ? rc->server : std::string();
  };
  o.kubeconfig = flag;
  EXPECT_EQ(load(), "https://flag");
  o.kubeconfig.clear();
  EXPECT_EQ(load(), "https://env");
  vars.erase("KUBECONFIG");
  EXPECT_EQ(load(), "https://home");
  vars["HOME"] = t.Abs("nohome");
  EXPECT_EQ(load(), "https://10.96.0.1:443");
  // A --kubeconfig that does not exist is an error, never a fallback.
  o.kubeconfig = t.Abs("nope");
  o.getenv = EnvOf(vars);
  auto rc = LoadConfig(o);
  ASSERT_FALSE(rc.has_value());
  EXPECT_NE(rc.error().message.find(t.Abs("nope") + ": No such file"),
            std::string::npos)
      << rc.error().message;
  // Nothing at all.
  o.kubeconfig.clear();
  o.getenv = EnvOf({{"HOME", t.Abs("nohome")}});
  rc = LoadConfig(o);
  ASSERT_FALSE(rc.has_value());
  EXPECT_NE(rc.error().message.find(
                "not in a cluster (KUBERNETES_SERVICE_HOST is not set)"),
            std::string::npos)
      << rc.error().message;
}

TEST(InClusterConfig, ReadsTheServiceAccount) {
  TempTree t;
  t.Write("sa/token", "tok\n");
  t.Write("sa/ca.crt", kCaPem);
  t.Write("sa/namespace", "cvm-preflight\n");
  LoadOptions o;
  o.service_account_dir = t.Abs("sa");
  o.getenv = EnvOf({{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                    {"KUBERNETES_SERVICE_PORT", "6443"}});
  auto rc = LoadInCluster(o);
  ASSERT_TRUE(rc.has_value()) << rc.error().message;
  EXPECT_EQ(rc->server, "https://[fd00::1]:6443");
  EXPECT_EQ(rc->token_file, t.Abs("sa/token"));
  EXPECT_EQ(rc->ca_pem, kCaPem);
  EXPECT_EQ(rc->namespace_, "cvm-preflight");
}

TEST(InClusterConfig, ErrorsNameWhatIsMissing) {
  TempTree t;
  t.Write("sa/ca.crt", kCaPem);
  LoadOptions o;
  o.service_account_dir = t.Abs("sa");
  o.getenv = EnvOf({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}});
  auto rc = LoadInCluster(o);
  ASSERT_FALSE(rc.has_value());
  EXPECT_NE(rc.error().message.find("KUBERNETES_SERVICE_PORT"),
            std::string::npos);
  o.getenv = EnvOf({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                    {"KUBERNETES_SERVICE_PORT", "443"}});
  rc = LoadInCluster(o);
  ASSERT_FALSE(rc.has_value());
  EXPECT_EQ(rc.error().message,
            t.Abs("sa/token") + ": No such file or directory (ENOENT)");
}

TEST(Base64, DecodesAsGoDoes) {
  struct Row {
    std::string in;
    std::optional<std::string> out;
  };
  const std::vector<Row> rows = {{"", ""},
                                 {"YQ==", "a"},
                                 {"YWI=", "ab"},
                                 {"YWJj", "abc"},
                                 {"YWJj\nZGVm", "abcdef"},
                                 {"YQ", std::nullopt},
                                 {"Y===", std::nullopt},
                                 {"YQ=a", std::nullopt},
                                 {"Y*==", std::nullopt}};
  for (const auto& row : rows) {
    SCOPED_TRACE(row.in);
    auto d = DecodeBase64(row.in);
    ASSERT_EQ(d.has_value(), row.out.has_value());
    if (row.out) {
      EXPECT_EQ(*d, *row.out);
      EXPECT_EQ(*DecodeBase64(EncodeBase64(*d)), *d);
    }
  }
}

}  // namespace
}  // namespace cvm::exporter::kube
