// The node publisher at cluster scale (issue 16): one process simulates N
// agents (default 5,000), each a NodeSync with its own node, through the
// same client code against the API test server (tests/kube), and prints
// the requests per node at start, per simulated hour of steady state, per
// changed fact, per changed verdict and per restart.
//
//   ./build/tests/bench/publisher_scale [NODES]
//
// The goal (issue 16): at start one GET plus at most one write per object
// that differs; in steady state only the hourly heartbeat; at most one
// write per object a change touches. node-feature-discovery's worker, for
// comparison, GETs its node every minute (60 per node per hour) and
// patches when labels differ. With --check it also exits 1 when a figure
// misses the goal (the CTest smoke runs it so, with few nodes): the counts
// are exact, not timings.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "exporter/kube/client.h"
#include "exporter/node_publisher.h"
#include "probe/host_root.h"
#include "probe/registry.h"
#include "rules/loader.h"
#include "tests/kube/test_server.h"
#include "tests/support/data.h"
#include "tests/support/temp_tree.h"

namespace {

using namespace std::chrono_literals;
using cvm::exporter::NodeSync;
using cvm::exporter::NodeWanted;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

NodeWanted Wanted(const std::string& fixture, const std::string& profile,
                  const std::string& site_rules) {
  auto root = cvm::probe::HostRoot::Open(
      cvm::testing::SourcePath("fixtures/" + fixture + "/root"));
  if (!root) std::abort();
  cvm::probe::ProbeOptions options;
  options.agent = true;
  cvm::probe::NodeInfo node{"n", "v1.32.0", "containerd://2.0.2", "", "", ""};
  cvm::testing::TempTree t;
  std::vector<std::string> paths;
  if (!site_rules.empty()) {
    t.Write("site.yaml", site_rules);
    paths.push_back(t.Abs("site.yaml"));
  }
  auto set = cvm::rules::LoadRuleSet(paths);
  return cvm::exporter::WantNode(cvm::rules::BuildReport(
      cvm::probe::RunProbes(*root, options, &node), set.set, profile));
}

struct Phase {
  std::string name;
  std::map<std::string, int> by_kind;  // GET, PATCH node, PATCH status, POST
  int total = 0;
  double seconds = 0;
};

std::string Kind(const json& r) {
  std::string path = r["path"];
  std::string m = r["method"];
  if (m == "PATCH") return path.size() > 7 && path.substr(path.size() - 7) == "/status"
                               ? "PATCH status"
                               : "PATCH node";
  if (m == "POST") return "POST event";
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = 5000;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--check") {
      check = true;
    } else {
      nodes = std::atoi(a.c_str());
    }
  }
  if (nodes <= 0) {
    std::fprintf(stderr, "usage: publisher_scale [--check] [NODES]\n");
    return 2;
  }
  cvm::testing::TestApiServer server;
  json list = json::array();
  for (int i = 0; i < nodes; ++i) {
    std::string name = "node-" + std::to_string(i);
    list.push_back({{"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
                    {"status",
                     {{"conditions", {{{"type", "Ready"}, {"status", "True"},
                                       {"reason", "KubeletReady"}}}},
                      {"nodeInfo", {{"kubeletVersion", "v1.32.0"}}}}}});
  }
  server.SetState({{"tokens", {{"admin-token", {{"user", "admin"}, {"admin", true}}}}},
                   {"nodes", list}});

  cvm::exporter::kube::RestConfig rc;
  rc.server = server.Url();
  rc.ca_pem = cvm::testing::ReadText(server.Cert("ca.crt"));
  rc.token = "admin-token";
  rc.source = "bench";
  auto client = cvm::exporter::kube::Client::Create(rc);
  if (!client) {
    std::fprintf(stderr, "client: %s\n", client.error().message.c_str());
    return 1;
  }
  const std::string site =
      "- {id: selinux-not-enforcing, enabled: false}\n- {id: storage-xfs-ftype, enabled: false}\n"
      "- {id: userns-unprivileged-clone, enabled: false}\n- {id: userns-max-nonzero, enabled: false}\n";
  const NodeWanted fit =
      Wanted("debian-12-k8s-1.32-containerd-2.0.2-sysbox-0.7.1", "sysbox-0.7", site);
  NodeWanted upgraded = fit;  // the same node after a kernel upgrade
  for (auto& [name, value] : upgraded.labels) {
    if (name == "kernel") value = "6.12";
  }
  const NodeWanted unfit = Wanted("rhel-8", "sysbox-0.7", "");

  std::vector<std::unique_ptr<NodeSync>> agents;
  auto start_agents = [&] {
    agents.clear();
    for (int i = 0; i < nodes; ++i) {
      cvm::exporter::PublishOptions o;
      o.node_name = "node-" + std::to_string(i);
      agents.push_back(std::make_unique<NodeSync>(client->get(), o));
    }
  };
  std::vector<Phase> phases;
  std::size_t seen = 0;
  int errors = 0;
  auto run = [&](const std::string& name, const NodeWanted& w,
                 std::chrono::system_clock::time_point at) {
    Phase p;
    p.name = name;
    auto t0 = Clock::now();
    for (auto& a : agents) {
      if (!a->Sync(w, at)) ++errors;
    }
    p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    json log = server.Requests();
    for (std::size_t i = seen; i < log.size(); ++i) {
      ++p.by_kind[Kind(log[i])];
      ++p.total;
    }
    seen = log.size();
    phases.push_back(p);
  };
  const auto t0 = std::chrono::system_clock::now();
  start_agents();
  run("start (new nodes)", fit, t0);
  // Steady state: a scan every 10 minutes for an hour, the same result.
  for (int m = 10; m <= 50; m += 10) run("rescan +" + std::to_string(m) + "m", fit, t0 + std::chrono::minutes(m));
  run("rescan +61m (heartbeat due)", fit, t0 + 61min);
  run("a fact changed (kernel)", upgraded, t0 + 70min);
  run("a verdict changed (cvm false)", unfit, t0 + 80min);
  start_agents();
  run("restart, nothing changed", unfit, t0 + 90min);

  std::printf("publisher_scale: %d nodes, one client, API test server on loopback\n", nodes);
  std::printf("%-32s %10s %9s  %s\n", "phase", "requests", "per node", "by kind; wall time");
  for (const auto& p : phases) {
    std::string kinds;
    for (const auto& [k, n] : p.by_kind) kinds += k + " " + std::to_string(n) + ", ";
    std::printf("%-32s %10d %9.2f  %s%.1f s\n", p.name.c_str(), p.total,
                static_cast<double>(p.total) / nodes, kinds.c_str(), p.seconds);
  }
  int hour = 0;
  for (std::size_t i = 1; i <= 6; ++i) hour += phases[i].total;
  std::printf("steady state: %.2f requests per node per hour (node-feature-discovery's worker: "
              "60 GETs per node per hour)\n",
              static_cast<double>(hour) / nodes);
  std::printf("errors: %d\n", errors);
  if (!check) return errors == 0 ? 0 : 1;
  // The goals, exactly.
  auto per = [&](std::size_t i, const char* kind) {
    auto it = phases[i].by_kind.find(kind);
    return it == phases[i].by_kind.end() ? 0 : it->second;
  };
  bool ok = errors == 0;
  ok &= phases[0].total == 4 * nodes && per(0, "GET") == nodes;  // GET + 3 objects differ
  for (std::size_t i = 1; i <= 5; ++i) ok &= phases[i].total == 0;
  ok &= phases[6].total == nodes && per(6, "PATCH status") == nodes;
  ok &= phases[7].total == nodes && per(7, "PATCH node") == nodes;
  ok &= phases[8].total == 3 * nodes;
  ok &= phases[9].total == nodes && per(9, "GET") == nodes;
  std::printf("goals: %s\n", ok ? "met" : "MISSED");
  return ok ? 0 : 1;
}
