#pragma once
// Reports of fixture roots as the agent makes them (probes with the node
// object's facts, the default rules plus a site file), and nodes carrying
// what the publisher writes for them: the inputs of the cluster command
// tests.

#include <nlohmann/json.hpp>
#include <string>

#include "exporter/node_publisher.h"
#include "rules/report.h"

namespace cvm::testing {

// The capture of a Debian 12 Kubernetes node with Sysbox 0.7.1: cvm is
// unknown by the default rules (no SELinux, XFS or user namespace files in
// the capture), true with kSiteRules turning those four checks off.
inline const std::string kSysboxNode = "debian-12-k8s-1.32-containerd-2.0.2-sysbox-0.7.1";
inline const char kSiteRules[] =
    "- {id: selinux-not-enforcing, enabled: false}\n"
    "- {id: storage-xfs-ftype, enabled: false}\n"
    "- {id: userns-unprivileged-clone, enabled: false}\n"
    "- {id: userns-max-nonzero, enabled: false}\n";

rules::Report AgentReport(const std::string& fixture, const std::string& profile,
                          const std::string& site_rules = "");

// A node as the kubelet registers it (Ready condition, nodeInfo).
nlohmann::json BareNode(const std::string& name);

// `node` after the publisher wrote `report` on it at `now`.
nlohmann::json Published(nlohmann::json node, const rules::Report& report,
                         exporter::SystemTime now,
                         const exporter::PublishOptions& options = {});

}  // namespace cvm::testing
