#pragma once
// `cvm-preflight agent`: the DaemonSet's long-running process (docs/agent.md).
// Scans at start, every interval with jitter, at once when the user's rule
// files change or a PCI device comes or goes; serves /metrics, /healthz,
// /readyz and /report on one port; a scrape never starts a scan. Scans run
// in a worker process (scan_worker.h) through the same probes and rules as
// `scan`.

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "exporter/args.h"
#include "exporter/log.h"

namespace cvm::exporter {

// Not in the 9100-9999 range's well-known exporters (docs/agent.md).
inline constexpr int kDefaultPort = 9861;

struct AgentOptions {
  std::string root = "/";
  std::string listen = "0.0.0.0:9861";
  std::chrono::milliseconds interval = std::chrono::minutes(10);
  std::chrono::milliseconds scan_timeout = std::chrono::minutes(2);
  std::chrono::milliseconds rules_check = std::chrono::seconds(10);
  std::vector<std::string> rules;  // the user's overrides
  std::string profile;             // default rules::kDefaultProfile
  std::string node_name;
  std::string web_config;  // --web-config: TLS and basic auth (web_config.h)
  // The node publisher (node_publisher.h): in a pod the in-cluster
  // configuration, outside one --kubeconfig; neither means metrics only.
  std::string kubeconfig;
  bool no_publish = false;  // read the node, log what would be written
  bool sysbox_install_label = false;  // also sysbox-install=yes while cvm is true
  // --publish-labels nodefeature: the NodeFeature's namespace; empty:
  // labels on the node (node_publisher.h, PublishOptions).
  std::string nodefeature_namespace;
  std::string label_prefix = "cvm-preflight.dev/";
  std::chrono::milliseconds heartbeat = std::chrono::hours(1);
  std::chrono::milliseconds api_timeout = std::chrono::seconds(30);
  bool oneshot = false;
  bool exec_versions = false;
  bool coder_shiftfs_autoload = false;
  bool pci_events = true;
  LogLevel log_level = LogLevel::kInfo;
  std::string worker_exe = "/proc/self/exe";
};

// Parses flags (and CVM_PREFLIGHT_<FLAG>, NODE_NAME), then runs the agent.
int RunAgentCommand(Args& args, std::ostream& out, std::ostream& err);
int RunAgent(const AgentOptions& options, std::ostream& out, std::ostream& err);

}  // namespace cvm::exporter
