#include "exporter/node_publisher.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>

#include "exporter/json_fields.h"
#include "exporter/kube/exec_credential.h"
#include "exporter/utf8.h"
#include "probe/fact_catalog.h"

namespace cvm::exporter {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMaxLabelValue = 63;
constexpr std::size_t kMaxReportBytes = 4096;   // the report annotation
constexpr std::size_t kMaxMessageBytes = 1024;  // condition message, event note
constexpr std::string_view kEraRule = "runc-containerd-io-1.5.11-era";

bool Alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

bool IsVerdictLabel(std::string_view name) {
  return name == "cvm" || name == "cvm-cached" || name == "cvm-gpu";
}

bool IsLabelName(std::string_view name) {
  return std::find(std::begin(kLabelNames), std::end(kLabelNames), name) !=
         std::end(kLabelNames);
}

// At most `max` bytes, cut on a UTF-8 character boundary, "..." marking a cut.
std::string Bounded(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s + "...";
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

// The names of an owned-labels annotation ("cvm,cvm-gpu,sysbox-install").
std::set<std::string> OwnedLabelNames(std::string_view text) {
  std::set<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    if (comma > start) out.emplace(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

const nlohmann::json* FindReadyCondition(const nlohmann::json& node) {
  const nlohmann::json& list = Field(Field(node, "status"), "conditions");
  if (!list.is_array()) return nullptr;
  for (const auto& c : list) {
    if (Str(c, "type") == kConditionType) return &c;
  }
  return nullptr;
}

namespace {

std::uint64_t Fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string MicroTime(SystemTime t) {
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(t.time_since_epoch()).count() % 1000000;
  std::string s = FormatRfc3339(t);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld",
                static_cast<long long>(us < 0 ? 0 : us));
  return s.substr(0, s.size() - 1) + frac + "Z";
}

const rules::CheckResult* FindCheck(const rules::Evaluation& e,
                                    std::string_view id) {
  for (const auto& c : e.checks) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

std::optional<std::string> FactLabel(const probe::Facts& f,
                                     std::string_view name) {
  namespace p = probe;
  auto str = [&](std::string_view fact) -> std::optional<std::string> {
    if (const std::string* s = f.GetString(fact)) return *s;
    return std::nullopt;
  };
  std::optional<std::string> raw;
  if (name == "kernel") {
    auto ma = f.GetInt(p::kKernelMajor), mi = f.GetInt(p::kKernelMinor);
    if (ma && mi) raw = std::to_string(*ma) + "." + std::to_string(*mi);
  } else if (name == "os") {
    if (auto id = str(p::kOsId)) {
      auto v = str(p::kOsVersionId);
      raw = v ? *id + "-" + *v : *id;
    }
  } else if (name == "arch") {
    raw = str(p::kKernelArch);
  } else if (name == "selinux") {
    raw = str(p::kSelinuxMode);
  } else if (name == "shiftfs") {
    raw = str(p::kShiftfsState);
  } else if (name == "runc") {
    raw = str(p::kRuntimeRuncVersion);
  } else if (name == "containerd") {
    raw = str(p::kRuntimeContainerdVersion);
  } else if (name == "nvidia-gpus") {
    if (auto n = f.GetInt(p::kGpuNvidiaCount)) raw = std::to_string(*n);
  } else if (name == "platform") {
    auto kind = str(p::kPlatformKind);
    if (kind && *kind == "bare-metal") {
      raw = "bare-metal";
    } else if (kind) {
      auto cloud = str(p::kPlatformCloud);
      raw = cloud && *cloud != "none" ? *cloud : *kind;
    }
  }
  if (!raw) return std::nullopt;
  std::string v = LabelValue(*raw);
  if (v.empty()) return std::nullopt;
  return v;
}

// The rule of the mission's runc flag: the selected profile's check, else
// the first profile that evaluates it.
std::optional<std::string> EraLabel(const rules::Report& r) {
  auto from = [](const rules::CheckResult* c) -> std::optional<std::string> {
    if (c == nullptr) return std::nullopt;
    if (c->status == rules::Status::kPass) return "true";
    if (c->status == rules::Status::kFail) return "false";
    return std::nullopt;
  };
  if (auto v = from(FindCheck(r.selected, kEraRule))) return v;
  for (const auto& e : r.profiles) {
    if (auto v = from(FindCheck(e, kEraRule))) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string LabelValue(std::string_view raw) {
  std::string v;
  v.reserve(std::min(raw.size(), kMaxLabelValue + 8));
  for (char c : raw) {
    if (v.size() >= kMaxLabelValue * 2) break;
    v += Alnum(c) || c == '-' || c == '_' || c == '.' ? c : '-';
  }
  auto trim = [&v] {
    std::size_t b = 0;
    while (b < v.size() && !Alnum(v[b])) ++b;
    std::size_t e = v.size();
    while (e > b && !Alnum(v[e - 1])) --e;
    v = v.substr(b, e - b);
  };
  trim();
  if (v.size() > kMaxLabelValue) {
    v.resize(kMaxLabelValue);
    trim();
  }
  return v;
}

Result<std::string> CheckLabelPrefix(std::string_view prefix) {
  auto bad = [&](const std::string& why) {
    std::string m(
        1, '\'');  // appended: see ParseRfc3339 in kube/exec_credential.cpp
    m.append(prefix);
    m += "' ";
    m += why;
    return MakeError("--label-prefix", std::move(m));
  };
  if (prefix.empty() || prefix.back() != '/') {
    return bad(
        "must end in '/' (a DNS subdomain and a slash: cvm-preflight.dev/)");
  }
  std::string_view dns = prefix.substr(0, prefix.size() - 1);
  if (dns.empty() || dns.size() > 253)
    return bad("needs a DNS subdomain of 1 to 253 characters");
  std::size_t start = 0;
  while (start <= dns.size()) {
    std::size_t dot = dns.find('.', start);
    if (dot == std::string_view::npos) dot = dns.size();
    std::string_view part = dns.substr(start, dot - start);
    bool ok =
        !part.empty() && part.size() <= 63 && Alnum(part.front()) &&
        Alnum(part.back()) && std::all_of(part.begin(), part.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        });
    if (!ok) {
      return bad(
          "is not a DNS subdomain: lower-case letters, digits and '-' in parts "
          "of at "
          "most 63, separated by '.'");
    }
    start = dot + 1;
  }
  return std::string(prefix);
}

std::string FormatRfc3339(SystemTime t) {
  std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

NodeWanted WantNode(const rules::Report& report) {
  const rules::Evaluation& e = report.selected;
  NodeWanted w;
  for (std::string_view name : kLabelNames) {
    std::optional<std::string> value;
    if (IsVerdictLabel(name)) {
      if (const auto* v = e.Verdict(name);
          v && v->value != rules::Tri::kUnknown) {
        value = std::string(rules::TriName(v->value));
      }
    } else if (name == "profile") {
      value = LabelValue(e.profile);
    } else if (name == "runc-1.5.11-era") {
      value = EraLabel(report);
    } else {
      value = FactLabel(report.facts, name);
    }
    w.labels.emplace_back(std::string(name), std::move(value));
  }

  nlohmann::json verdicts = nlohmann::json::object();
  for (const auto& v : e.verdicts)
    verdicts[v.name] = std::string(rules::TriName(v.value));
  nlohmann::json others = nlohmann::json::object();
  for (const auto& p : report.profiles) {
    if (p.profile == e.profile) continue;
    nlohmann::json pv = nlohmann::json::object();
    for (const auto& v : p.verdicts)
      pv[v.name] = std::string(rules::TriName(v.value));
    others[p.profile] = std::move(pv);
  }
  std::vector<std::string> errors, warnings, unknown;
  for (const auto& c : e.checks) {
    if (c.status == rules::Status::kFail) {
      (c.severity == rules::Severity::kError ? errors : warnings)
          .push_back(c.id);
    } else if (c.status == rules::Status::kUnknown) {
      unknown.push_back(c.id);
    }
  }
  // Bounded: the lists lose their tail first, and say how much.
  std::size_t dropped = 0;
  auto build = [&] {
    nlohmann::json r = {{"profile", e.profile}, {"verdicts", verdicts}};
    if (!others.empty()) r["profiles"] = others;
    nlohmann::json failing = nlohmann::json::object();
    if (!errors.empty()) failing["error"] = errors;
    if (!warnings.empty()) failing["warning"] = warnings;
    r["failing"] = failing;
    r["unknown"] = unknown;
    if (dropped > 0) r["truncated"] = dropped;
    return r;
  };
  w.report = build();
  while (w.report.dump().size() >
         kMaxReportBytes - 128) {  // room for time and stale
    auto* longest = &unknown;
    for (auto* l : {&errors, &warnings}) {
      if (l->size() > longest->size()) longest = l;
    }
    if (longest->empty()) break;
    longest->pop_back();
    ++dropped;
    w.report = build();
  }

  const rules::VerdictResult* cvm = e.Verdict("cvm");
  std::vector<std::string> because =
      cvm ? cvm->because : std::vector<std::string>{};
  auto described = [&](const std::vector<std::string>& ids) {
    std::vector<std::string> parts;
    for (const auto& id : ids) {
      const rules::CheckResult* c = FindCheck(e, id);
      parts.push_back(c && !c->title.empty() ? id + " (" + c->title + ")" : id);
    }
    return Join(parts, ", ");
  };
  if (cvm == nullptr || cvm->value == rules::Tri::kUnknown) {
    w.status = "Unknown";
    w.reason = "ChecksUnknown";
    w.message =
        "Profile " + e.profile +
        ": the facts of these checks could not be read: " + described(because) +
        ".";
  } else if (cvm->value == rules::Tri::kTrue) {
    w.status = "True";
    w.reason = "AllChecksPassed";
    w.message = "Profile " + e.profile + ": every error check passes.";
    std::vector<std::string> warn;
    for (const auto& c : e.checks) {
      if (c.status == rules::Status::kFail &&
          c.severity != rules::Severity::kError &&
          std::find(c.verdicts.begin(), c.verdicts.end(), "cvm") !=
              c.verdicts.end()) {
        warn.push_back(c.id);
      }
    }
    if (!warn.empty()) w.message += " Warnings: " + Join(warn, ", ") + ".";
  } else {
    w.status = "False";
    w.reason = "ChecksFailed";
    for (const auto& id : because) {
      const rules::CheckResult* c = FindCheck(e, id);
      if (c && c->status == rules::Status::kFail && !c->reason.empty()) {
        w.reason = c->reason;
        break;
      }
    }
    w.message = "Profile " + e.profile +
                ": failing checks: " + described(because) + ".";
  }
  w.message = ValidUtf8(
      Bounded(w.message, kMaxMessageBytes - 200));  // room for stale labels
  return w;
}

std::string NodeFeaturePath(std::string_view ns, std::string_view name) {
  std::string path = "/apis/" + std::string(kNodeFeatureApiVersion);
  if (!ns.empty()) path += "/namespaces/" + kube::EscapeComponent(ns);
  path += "/nodefeatures";
  if (!name.empty()) path += "/" + kube::EscapeComponent(name);
  return path;
}

NodeWrites PlanNodeWrites(const nlohmann::json& node, const NodeWanted& wanted,
                          const PublishOptions& o, SystemTime now,
                          const nlohmann::json& feature) {
  NodeWrites w;
  // Through a NodeFeature the labels and annotations are the object's
  // (spec.labels, metadata.annotations): what the agent asked NFD for,
  // whatever NFD's master made of it on the node.
  const bool nfd = o.via_nodefeature();
  const nlohmann::json& labels = nfd ? MapAt(feature, "spec", "labels")
                                     : MapAt(node, "metadata", "labels");
  const nlohmann::json& annotations =
      MapAt(nfd ? feature : node, "metadata", "annotations");
  nlohmann::json label_patch = nlohmann::json::object();
  std::vector<std::string> owned, stale_values, changes;
  std::string cvm_now;     // on the node after this write (stale kept)
  std::string cvm_wanted;  // decided by this report; empty when unknown
  for (const auto& [name, value] : wanted.labels) {
    const std::string key = o.prefix + name;
    std::optional<std::string> cur = StringAt(labels, key);
    if (value) {
      if (cur != value) label_patch[key] = *value;
      owned.push_back(name);
      if (IsVerdictLabel(name) && cur != value) {
        changes.push_back(name + " " + (cur ? *cur : std::string("(none)")) +
                          " -> " + *value);
      }
      if (name == "cvm") cvm_now = cvm_wanted = *value;
    } else if (cur) {
      owned.push_back(name);
      w.stale.push_back(name);
      stale_values.push_back(name + "=" + *cur);
      if (name == "cvm") cvm_now = *cur;
    }
  }
  // Labels of the prefix that the agent no longer writes (renamed in an
  // upgrade) go; labels of other prefixes are never touched.
  for (const auto& [key, value] : labels.items()) {
    if (key.size() > o.prefix.size() &&
        key.compare(0, o.prefix.size(), o.prefix) == 0 &&
        !IsLabelName(std::string_view(key).substr(o.prefix.size()))) {
      label_patch[key] = nullptr;
    }
  }

  const std::string owned_key = o.prefix + std::string(kOwnedAnnotation);
  std::optional<std::string> owned_cur = StringAt(annotations, owned_key);
  // sysbox-install (--sysbox-install-label), outside the prefix: listed in
  // owned-labels only while the agent is the one that set it, so an
  // admin's own label is never taken over, and never removed from a node
  // where Sysbox is installed or installing (its installer's label). Not
  // through a NodeFeature: NFD would put the name under its own prefix.
  if (!nfd) {
    const std::string key(kSysboxInstallLabel);
    std::optional<std::string> cur = StringAt(labels, key);
    bool was_owned = cur && owned_cur &&
                     OwnedLabelNames(*owned_cur).count(std::string(kSysboxInstallLabel));
    bool keep_owned = was_owned;
    if (o.sysbox_install_label && cvm_wanted == "true") {
      if (cur != "yes") {
        label_patch[key] = "yes";
        keep_owned = true;
      }
    } else if (o.sysbox_install_label && cvm_wanted == "false" && was_owned &&
               !StringAt(labels, std::string(kSysboxRuntimeLabel))) {
      label_patch[key] = nullptr;
      keep_owned = false;
    }
    if (keep_owned) owned.push_back(key);
  }

  nlohmann::json ann_patch = nlohmann::json::object();
  const std::string owned_text = Join(owned, ",");
  if (owned.empty()) {
    if (owned_cur) ann_patch[owned_key] = nullptr;
  } else if (owned_cur != owned_text) {
    ann_patch[owned_key] = owned_text;
  }
  nlohmann::json report = wanted.report;
  if (!w.stale.empty()) report["stale"] = w.stale;
  const std::string report_key = o.prefix + std::string(kReportAnnotation);
  nlohmann::json report_cur;
  if (auto text = StringAt(annotations, report_key)) {
    report_cur = nlohmann::json::parse(*text, nullptr, false);
    if (report_cur.is_object()) report_cur.erase("time");
  }
  if (report_cur != report) {
    report["time"] = FormatRfc3339(now);
    ann_patch[report_key] = report.dump();
  }
  const bool feature_exists = !Str(Field(feature, "metadata"), "name").empty();
  const bool node_label_right =
      StringAt(MapAt(feature, "metadata", "labels"),
               std::string(kNodeFeatureNodeLabel)) == o.node_name;
  if (nfd && !feature_exists && (!label_patch.empty() || !ann_patch.empty())) {
    // merge_patch drops the nulls: only what is set goes into a new object.
    nlohmann::json spec_labels = nlohmann::json::object();
    spec_labels.merge_patch(label_patch);
    nlohmann::json ann = nlohmann::json::object();
    ann.merge_patch(ann_patch);
    w.feature_create = true;
    w.feature = {
        {"apiVersion", kNodeFeatureApiVersion},
        {"kind", "NodeFeature"},
        {"metadata",
         {{"name", o.node_name},
          {"namespace", o.nodefeature_namespace},
          {"labels",
           {{std::string(kNodeFeatureNodeLabel), o.node_name},
            {std::string(kManagedByLabel), kManagedByValue}}}}},
        {"spec", {{"labels", spec_labels}}},
        // The CRD (NFD 0.17+) makes status a required field; NFD's worker
        // fills it for its own objects, an extension may leave it empty.
        {"status", nlohmann::json::object()}};
    if (!ann.empty()) w.feature["metadata"]["annotations"] = ann;
  } else if (nfd && feature_exists &&
             (!label_patch.empty() || !ann_patch.empty() || !node_label_right)) {
    w.feature = nlohmann::json::object();
    if (!label_patch.empty()) w.feature["spec"]["labels"] = label_patch;
    if (!ann_patch.empty()) w.feature["metadata"]["annotations"] = ann_patch;
    if (!node_label_right) {
      w.feature["metadata"]["labels"] = {
          {std::string(kNodeFeatureNodeLabel), o.node_name},
          {std::string(kManagedByLabel), kManagedByValue}};
    }
  } else if (!nfd && (!label_patch.empty() || !ann_patch.empty())) {
    w.metadata = {{"metadata", nlohmann::json::object()}};
    if (!label_patch.empty()) w.metadata["metadata"]["labels"] = label_patch;
    if (!ann_patch.empty()) w.metadata["metadata"]["annotations"] = ann_patch;
  }

  std::string message = wanted.message;
  if (!stale_values.empty()) {
    message +=
        " Labels kept from an earlier scan: " + Join(stale_values, ", ") + ".";
  }
  message = ValidUtf8(Bounded(message, kMaxMessageBytes));
  const nlohmann::json* cond = FindReadyCondition(node);
  bool changed = cond == nullptr || Str(*cond, "status") != wanted.status ||
                 Str(*cond, "reason") != wanted.reason ||
                 Str(*cond, "message") != message;
  bool heartbeat = false;
  if (!changed) {
    auto beat = kube::ParseRfc3339(Str(*cond, "lastHeartbeatTime"));
    heartbeat = !beat || now - *beat >= o.heartbeat;
  }
  w.heartbeat_only = !changed && heartbeat;
  if (changed || heartbeat) {
    std::string transition = FormatRfc3339(now);
    if (cond != nullptr && Str(*cond, "status") == wanted.status &&
        !Str(*cond, "lastTransitionTime").empty()) {
      transition = Str(*cond, "lastTransitionTime");
    }
    w.status = {{"status",
                 {{"conditions",
                   {{{"type", kConditionType},
                     {"status", wanted.status},
                     {"reason", wanted.reason},
                     {"message", message},
                     {"lastHeartbeatTime", FormatRfc3339(now)},
                     {"lastTransitionTime", transition}}}}}}};
  }

  if (!changes.empty()) {
    std::string profile = wanted.report.value("profile", "");
    std::string note = Join(changes, ", ") + " (profile " + profile + ")";
    if (cvm_now == "false")
      note += ". " + wanted.reason + ": " + wanted.message;
    note = ValidUtf8(Bounded(note, kMaxMessageBytes));
    std::string reason = "CVMVerdictsChanged";
    for (const auto& c : changes) {
      if (c.rfind("cvm ", 0) == 0)
        reason = cvm_now == "true" ? "CVMReady" : "CVMNotReady";
    }
    const std::string uid =
        StringAt(Field(node, "metadata"), "uid").value_or(o.node_name);
    const std::string time = MicroTime(now);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(
                      Fnv1a(uid + '\n' + note + '\n' + time)));
    w.event = {
        {"apiVersion", "events.k8s.io/v1"},
        {"kind", "Event"},
        {"metadata",
         {{"name", o.node_name + "." + hex}, {"namespace", o.event_namespace}}},
        {"eventTime", time},
        {"reportingController", "cvm-preflight.dev/agent"},
        {"reportingInstance",
         Bounded("cvm-preflight-agent-" + o.node_name, 128)},
        {"action", "Scan"},
        {"reason", reason},
        {"type", cvm_now == "false" ? "Warning" : "Normal"},
        {"note", note},
        {"regarding",
         {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"name", o.node_name},
          {"uid", uid}}}};
  }
  return w;
}

void ApplyFeatureWrites(nlohmann::json& feature, const NodeWrites& w) {
  if (w.feature.is_null()) return;
  if (w.feature_create || !feature.is_object()) {
    feature = w.feature;
  } else {
    feature.merge_patch(w.feature);
  }
}

void ApplyNodeWrites(nlohmann::json& node, const NodeWrites& w) {
  if (!node.is_object()) node = nlohmann::json::object();
  if (!w.metadata.is_null()) node.merge_patch(w.metadata);
  if (!w.status.is_null()) {
    nlohmann::json& st = node["status"];
    if (!st.is_object()) st = nlohmann::json::object();
    nlohmann::json& list = st["conditions"];
    if (!list.is_array()) list = nlohmann::json::array();
    for (const auto& c : w.status["status"]["conditions"]) {
      auto it =
          std::find_if(list.begin(), list.end(), [&](const nlohmann::json& x) {
            return Str(x, "type") == Str(c, "type");
          });
      if (it == list.end()) {
        list.push_back(c);
      } else {
        *it = c;
      }
    }
  }
}

probe::NodeInfo NodeInfoFrom(const nlohmann::json& node) {
  probe::NodeInfo info;
  if (!node.is_object()) return info;
  const nlohmann::json& meta = Field(node, "metadata");
  info.name = StringAt(meta, "name").value_or("");
  const nlohmann::json& ni = MapAt(node, "status", "nodeInfo");
  info.kubelet_version = StringAt(ni, "kubeletVersion").value_or("");
  info.container_runtime_version =
      StringAt(ni, "containerRuntimeVersion").value_or("");
  info.kernel_version = StringAt(ni, "kernelVersion").value_or("");
  info.os_image = StringAt(ni, "osImage").value_or("");
  info.provider_id = StringAt(Field(node, "spec"), "providerID").value_or("");
  return info;
}

std::string NodeSync::NodePath() const {
  return "/api/v1/nodes/" + kube::EscapeComponent(o_.node_name);
}

Result<bool> NodeSync::Refresh() {
  if (client_ == nullptr) {
    if (node_.is_null()) node_ = nlohmann::json::object();
    return true;
  }
  auto n = client_->Get(NodePath());
  if (!n) {
    node_ = nullptr;
    return n.error();
  }
  node_ = std::move(*n);
  return true;
}

Result<bool> NodeSync::RefreshFeature() {
  if (client_ == nullptr) {
    if (feature_.is_null()) feature_ = nlohmann::json::object();
    return true;
  }
  auto f = client_->Get(NodeFeaturePath(o_.nodefeature_namespace, o_.node_name));
  if (!f) {
    feature_ = nullptr;
    if (f.error().code == 404) {
      // No such object yet, or no NodeFeature API at all: the create that
      // follows tells the two apart (its 404 names the missing resource).
      feature_ = nlohmann::json::object();
      return true;
    }
    return f.error();
  }
  feature_ = std::move(*f);
  return true;
}

Result<NodeSync::Outcome> NodeSync::Sync(const NodeWanted& wanted,
                                         SystemTime now, bool dry_run) {
  // The node comes from the API: whatever it holds, a surprise is an error
  // of this attempt (read again next time), never the end of the agent.
  try {
    return SyncOnce(wanted, now, dry_run);
  } catch (const std::exception& e) {
    node_ = nullptr;
    feature_ = nullptr;
    return MakeError(NodePath(),
                     std::string("cannot plan the node's writes: ") + e.what());
  }
}

Result<NodeSync::Outcome> NodeSync::SyncOnce(const NodeWanted& wanted,
                                             SystemTime now, bool dry_run) {
  Outcome out;
  if (!known()) {
    if (client_ != nullptr) ++out.requests;
    if (auto r = Refresh(); !r) return r.error();
  }
  if (o_.via_nodefeature() && feature_.is_null()) {
    if (client_ != nullptr) ++out.requests;
    if (auto r = RefreshFeature(); !r) return r.error();
  }
  out.planned = PlanNodeWrites(node_, wanted, o_, now, feature_);
  NodeWrites& w = out.planned;
  if (w.event.is_null() && !pending_event_.is_null()) w.event = pending_event_;
  if (dry_run || client_ == nullptr) {
    ApplyNodeWrites(node_, w);
    ApplyFeatureWrites(feature_, w);
    return out;
  }
  kube::PatchOptions patch;
  patch.field_manager = o_.field_manager;
  auto send = [&](const nlohmann::json& body, kube::PatchType type,
                  const std::string& path) -> Result<bool> {
    ++out.requests;
    auto r = client_->Patch(path, type, body, patch);
    if (!r) {
      node_ = nullptr;  // a write may or may not have landed: read again
      return r.error();
    }
    node_ = std::move(*r);
    ++out.writes;
    return true;
  };
  if (!w.metadata.is_null()) {
    if (auto r = send(w.metadata, kube::PatchType::kMerge, NodePath()); !r)
      return r.error();
  }
  if (!w.feature.is_null()) {
    ++out.requests;
    // A NodeFeature is a custom resource: a JSON merge patch (a strategic
    // merge patch is 415 for those). A create whose answer was lost ends
    // in 409 next time; the object is read again then and patched.
    auto r = w.feature_create
                 ? client_->Post(NodeFeaturePath(o_.nodefeature_namespace), w.feature)
                 : client_->Patch(NodeFeaturePath(o_.nodefeature_namespace, o_.node_name),
                                  kube::PatchType::kMerge, w.feature, patch);
    if (!r) {
      feature_ = nullptr;
      return r.error();
    }
    feature_ = std::move(*r);
    ++out.writes;
  }
  if (!w.status.is_null()) {
    if (auto r = send(w.status, kube::PatchType::kStrategicMerge,
                      NodePath() + "/status");
        !r) {
      return r.error();
    }
  }
  if (!w.event.is_null()) {
    pending_event_ = w.event;
    ++out.requests;
    auto r =
        client_->Post("/apis/events.k8s.io/v1/namespaces/" +
                          kube::EscapeComponent(o_.event_namespace) + "/events",
                      w.event);
    // 409 AlreadyExists: an earlier attempt of this very Event landed.
    if (!r && !(r.error().code == 409 &&
                r.error().message.find("AlreadyExists") != std::string::npos)) {
      return r.error();
    }
    pending_event_ = nullptr;
    ++out.writes;
  }
  return out;
}

NodePublisher::NodePublisher(std::unique_ptr<kube::Client> client,
                             PublishOptions options, bool dry_run, Logger& log,
                             prometheus::Registry& registry)
    : client_(std::move(client)),
      o_(std::move(options)),
      dry_run_(dry_run || client_ == nullptr),
      log_(log),
      sync_(std::make_unique<NodeSync>(client_.get(), o_)),
      writes_(
          prometheus::BuildCounter()
              .Name("cvm_preflight_node_writes_total")
              .Help("Writes to the agent's Node object, Events and NodeFeature, "
                    "by object (metadata, status, event, nodefeature)")
              .Register(registry)),
      errors_(
          prometheus::BuildCounter()
              .Name("cvm_preflight_node_publish_errors_total")
              .Help("Attempts to bring the node to the last report that failed")
              .Register(registry)
              .Add({})),
      pending_(
          prometheus::BuildGauge()
              .Name("cvm_preflight_node_publish_pending")
              .Help("1 while the node does not carry the last report's labels, "
                    "condition and annotations yet")
              .Register(registry)
              .Add({})),
      last_success_(
          prometheus::BuildGauge()
              .Name("cvm_preflight_node_publish_last_success_timestamp_seconds")
              .Help("When the node last matched a report (Unix time)")
              .Register(registry)
              .Add({})) {
  for (const char* object : {"metadata", "status", "event"})
    writes_.Add({{"object", object}});
  if (o_.via_nodefeature()) writes_.Add({{"object", "nodefeature"}});
  thread_ = std::thread([this] { Loop(); });
}

NodePublisher::~NodePublisher() { Stop(); }

void NodePublisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NodePublisher::Submit(NodeWanted wanted) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wanted_ = std::move(wanted);
  }
  cv_.notify_all();
}

std::optional<probe::NodeInfo> NodePublisher::Info(
    std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [this] { return read_ || stop_; });
  return info_;
}

void NodePublisher::RecordError(const Error& e, std::string_view what) {
  errors_.Increment();
  log_.Error(what,
             {{"node", o_.node_name}, {"error", e.path + ": " + e.message}});
}

void NodePublisher::Loop() {
  using Clock = std::chrono::steady_clock;
  std::mt19937_64 rng(std::random_device{}());
  milliseconds backoff{0};
  auto retry_at = Clock::now();
  std::optional<NodeWanted> current;  // taken from wanted_, not yet on the node
  auto fail = [&](const Error& e, std::string_view what) {
    backoff = std::clamp(backoff * 2, milliseconds(1000), milliseconds(300000));
    std::uniform_int_distribution<long long> jitter(0, backoff.count() / 2);
    auto wait =
        milliseconds(backoff.count() - backoff.count() / 2 + jitter(rng));
    retry_at = Clock::now() + wait;
    RecordError(e, what);
    log_.Info("will try again",
              {{"node", o_.node_name}, {"in_seconds", wait.count() / 1000.0}});
  };
  auto publish_info = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    read_ = true;
    if (client_ != nullptr && sync_->known())
      info_ = NodeInfoFrom(sync_->node());
  };
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      bool work = !sync_->known() || current || wanted_;
      auto ready = [&] {
        return stop_ || (Clock::now() >= retry_at &&
                         (wanted_ || current || !sync_->known()));
      };
      if (work) {
        cv_.wait_until(lock, retry_at, ready);
      } else {
        cv_.wait(lock, [&] { return stop_ || wanted_.has_value(); });
      }
      if (stop_) break;
      if (Clock::now() < retry_at) continue;
      if (wanted_) {
        current = std::move(*wanted_);
        wanted_.reset();
      }
    }
    if (!sync_->known()) {
      auto r = sync_->Refresh();
      if (!r) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          read_ = true;  // scans go on without the node's facts
        }
        cv_.notify_all();
        fail(r.error(),
             "cannot read the node; its node.* facts are unknown until it is "
             "read");
        continue;
      }
      publish_info();
      cv_.notify_all();
    }
    if (!current) continue;
    pending_.Set(1);
    auto r = sync_->Sync(*current, std::chrono::system_clock::now(), dry_run_);
    if (!r) {
      fail(r.error(), "cannot update the node; the labels stay as they were");
      continue;
    }
    backoff = milliseconds(0);
    current.reset();
    pending_.Set(0);
    last_success_.Set(std::chrono::duration<double>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
    publish_info();
    const NodeWrites& w = r->planned;
    if (!w.metadata.is_null())
      writes_.Add({{"object", "metadata"}}).Increment(dry_run_ ? 0 : 1);
    if (!w.status.is_null())
      writes_.Add({{"object", "status"}}).Increment(dry_run_ ? 0 : 1);
    if (!w.event.is_null())
      writes_.Add({{"object", "event"}}).Increment(dry_run_ ? 0 : 1);
    if (!w.feature.is_null())
      writes_.Add({{"object", "nodefeature"}}).Increment(dry_run_ ? 0 : 1);
    if (w.empty()) continue;
    nlohmann::json fields = {{"node", o_.node_name}};
    if (!w.metadata.is_null()) fields["metadata"] = w.metadata["metadata"];
    if (!w.feature.is_null()) {
      fields["nodefeature"] = o_.nodefeature_namespace + "/" + o_.node_name;
      fields["nodefeature_labels"] = Field(Field(w.feature, "spec"), "labels");
      if (w.feature_create) fields["nodefeature_created"] = true;
    }
    if (!w.status.is_null())
      fields["condition"] = w.status["status"]["conditions"][0];
    if (!w.event.is_null())
      fields["event"] = {{"reason", w.event["reason"]},
                         {"note", w.event["note"]}};
    if (!w.stale.empty()) fields["stale"] = w.stale;
    // A heartbeat alone is routine.
    bool only_heartbeat = w.metadata.is_null() && w.feature.is_null() &&
                          w.event.is_null() && w.heartbeat_only;
    if (dry_run_) {
      log_.Info("would write (--no-publish or no API)", std::move(fields));
    } else if (only_heartbeat) {
      log_.Debug("node condition heartbeat", std::move(fields));
    } else {
      log_.Info("node updated", std::move(fields));
    }
  }
}

}  // namespace cvm::exporter
