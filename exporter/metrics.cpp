#include "exporter/metrics.h"

#include <prometheus/text_serializer.h>

#include <map>
#include <sstream>
#include <utility>

#include "exporter/utf8.h"
#include "exporter/version.h"
#include "probe/fact_catalog.h"

namespace cvm::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric Gauge(std::vector<std::pair<std::string, std::string>> labels,
                   double value) {
  ClientMetric m;
  for (auto& [name, v] : labels) {
    m.label.push_back({std::move(name), ValidUtf8(v)});
  }
  m.gauge.value = value;
  return m;
}

MetricFamily Family(std::string name, std::string help) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = MetricType::Gauge;
  return f;
}

// A fact as a label value: strings as they are, numbers and booleans
// written out, anything absent (or a list) empty, never a guess.
std::string FactLabel(const probe::Facts& facts, std::string_view name) {
  const probe::Fact* f = facts.Find(name);
  if (f == nullptr) return "";
  if (const auto* s = std::get_if<std::string>(&f->value)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&f->value)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(&f->value)) return *b ? "true" : "false";
  return "";
}

MetricFamily VerdictFamily(const rules::Evaluation& e) {
  MetricFamily f = Family("cvm_preflight_verdict",
                          "The node's verdict for its profile: 1 true, 0 false; "
                          "absent while unknown");
  for (const auto& v : e.verdicts) {
    if (v.value == rules::Tri::kUnknown) continue;
    f.metric.push_back(Gauge({{"verdict", v.name}, {"profile", e.profile}},
                             v.value == rules::Tri::kTrue ? 1 : 0));
  }
  return f;
}

MetricFamily VerdictUnknownFamily(const rules::Evaluation& e) {
  MetricFamily f = Family("cvm_preflight_verdict_unknown",
                          "1 while the verdict is unknown (facts it needs are "
                          "missing), else 0");
  for (const auto& v : e.verdicts) {
    f.metric.push_back(Gauge({{"verdict", v.name}, {"profile", e.profile}},
                             v.value == rules::Tri::kUnknown ? 1 : 0));
  }
  return f;
}

MetricFamily CheckFamily(const rules::Evaluation& e) {
  MetricFamily f = Family("cvm_preflight_check_status",
                          "1 for each rule of the profile, its status label the "
                          "current state (pass, fail, unknown, skipped)");
  for (const auto& c : e.checks) {
    f.metric.push_back(Gauge({{"check", c.id},
                              {"severity", std::string(rules::SeverityName(c.severity))},
                              {"status", std::string(rules::StatusName(c.status))}},
                             1));
  }
  return f;
}

MetricFamily NodeInfoFamily(const probe::Facts& facts) {
  MetricFamily f = Family("cvm_preflight_node_info",
                          "Facts about the node as labels, always 1; an absent "
                          "fact gives an empty value");
  f.metric.push_back(Gauge(
      {{"kernel_release", FactLabel(facts, probe::kKernelRelease)},
       {"os_id", FactLabel(facts, probe::kOsId)},
       {"os_version_id", FactLabel(facts, probe::kOsVersionId)},
       {"arch", FactLabel(facts, probe::kKernelArch)},
       {"selinux_mode", FactLabel(facts, probe::kSelinuxMode)},
       {"cgroup_version", FactLabel(facts, probe::kCgroupVersion)},
       {"containerd_version", FactLabel(facts, probe::kRuntimeContainerdVersion)},
       {"runc_version", FactLabel(facts, probe::kRuntimeRuncVersion)},
       {"shiftfs_state", FactLabel(facts, probe::kShiftfsState)},
       {"platform_kind", FactLabel(facts, probe::kPlatformKind)},
       {"cloud", FactLabel(facts, probe::kPlatformCloud)}},
      1));
  return f;
}

// The rule of the mission's runc flag; it fails when runc is of another era.
constexpr std::string_view kRuncEraRule = "runc-containerd-io-1.5.11-era";

MetricFamily RuncEraFamily(const rules::Evaluation& e) {
  MetricFamily f = Family("cvm_preflight_runc_1_5_11_era",
                          "1 when the node's runc is the one of the containerd.io "
                          "1.5.11-1 package Coder pins, 0 when another; absent "
                          "while unknown");
  for (const auto& c : e.checks) {
    if (c.id != kRuncEraRule) continue;
    if (c.status == rules::Status::kPass) f.metric.push_back(Gauge({}, 1));
    if (c.status == rules::Status::kFail) f.metric.push_back(Gauge({}, 0));
  }
  return f;
}

MetricFamily GpuFamily(const probe::Facts& facts) {
  MetricFamily f = Family("cvm_preflight_gpu_devices",
                          "PCI display devices by vendor and model (the NVIDIA "
                          "driver's or the PCI database's name; empty where "
                          "neither names it)");
  struct Vendor {
    std::string_view name, count, devices;
  };
  constexpr Vendor kVendors[] = {
      {"nvidia", probe::kGpuNvidiaCount, probe::kGpuNvidiaDevices},
      {"amd", probe::kGpuAmdCount, probe::kGpuAmdDevices},
      {"intel", probe::kGpuIntelCount, ""},
      {"other", probe::kGpuOtherCount, ""},
  };
  for (const auto& v : kVendors) {
    std::optional<std::int64_t> count = facts.GetInt(v.count);
    if (!count) continue;
    std::map<std::string, double> by_model;
    const probe::Fact* devices = v.devices.empty() ? nullptr : facts.Find(v.devices);
    const auto* records =
        devices ? std::get_if<probe::RecordList>(&devices->value) : nullptr;
    // The driver's names (one per GPU) first, then the PCI database's.
    const probe::StringList* names =
        v.name == "nvidia" ? facts.GetList(probe::kGpuNvidiaModels) : nullptr;
    if (names != nullptr && static_cast<std::int64_t>(names->size()) == *count &&
        *count > 0) {
      for (const auto& n : *names) by_model[n] += 1;
    } else if (records != nullptr &&
               static_cast<std::int64_t>(records->size()) == *count && *count > 0) {
      for (const auto& r : *records) {
        auto it = r.find("model");
        const auto* model =
            it == r.end() ? nullptr : std::get_if<std::string>(&it->second);
        by_model[model ? *model : ""] += 1;
      }
    } else {
      by_model[""] = static_cast<double>(*count);
    }
    for (const auto& [model, n] : by_model) {
      f.metric.push_back(Gauge({{"vendor", std::string(v.name)}, {"model", model}}, n));
    }
  }
  return f;
}

Families ProbeFamilies(const probe::Facts& facts) {
  MetricFamily ok = Family("cvm_preflight_probe_success",
                           "1 when the probe read everything it looks at in the "
                           "last scan, 0 when it recorded an error");
  MetricFamily took = Family("cvm_preflight_probe_duration_seconds",
                             "How long the probe took in the last scan");
  for (const auto& run : facts.runs()) {
    ok.metric.push_back(Gauge({{"probe", run.name}}, run.ok ? 1 : 0));
    took.metric.push_back(Gauge({{"probe", run.name}}, run.duration_seconds));
  }
  return {std::move(ok), std::move(took)};
}

}  // namespace

Families ReportFamilies(const rules::Report& report, double scan_end_unix) {
  Families out;
  out.push_back(VerdictFamily(report.selected));
  out.push_back(VerdictUnknownFamily(report.selected));
  out.push_back(CheckFamily(report.selected));
  out.push_back(NodeInfoFamily(report.facts));
  out.push_back(RuncEraFamily(report.selected));
  out.push_back(GpuFamily(report.facts));
  for (auto& f : ProbeFamilies(report.facts)) out.push_back(std::move(f));
  MetricFamily last = Family("cvm_preflight_last_scan_timestamp_seconds",
                             "When the last scan finished, seconds since the epoch");
  last.metric.push_back(Gauge({}, scan_end_unix));
  out.push_back(std::move(last));
  return out;
}

MetricFamily BuildInfoFamily() {
  MetricFamily f = Family("cvm_preflight_build_info",
                          "The agent's version and source revision, always 1");
  f.metric.push_back(Gauge({{"version", kVersion}, {"revision", kRevision}}, 1));
  return f;
}

std::string RenderExposition(const Families& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace cvm::exporter
