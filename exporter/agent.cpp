#include "exporter/agent.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>

#include "exporter/cli.h"
#include "exporter/duration.h"
#include "exporter/http_server.h"
#include "exporter/kube/client.h"
#include "exporter/kube/config.h"
#include "exporter/node_publisher.h"
#include "exporter/metrics.h"
#include "exporter/process_metrics.h"
#include "exporter/report_json.h"
#include "exporter/scan_worker.h"
#include "exporter/version.h"
#include "exporter/web_config.h"
#include "probe/pci_monitor.h"
#include "rules/loader.h"
#include "rules/report.h"

namespace cvm::exporter {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kAgentHelp =
    R"(Usage: cvm-preflight agent [OPTIONS]

Scans the host root at start, then every interval (with 10% jitter), at once
when the rule files change and when a PCI device comes or goes; serves the
last report on one HTTP port. A scrape never starts a scan.

  GET /metrics   Prometheus exposition (docs/metrics.md)
  GET /healthz   200 while scans finish on time, 503 after an overrun
  GET /readyz    200 once the first scan has finished
  GET /report    the last report as JSON (as 'scan --format json')

With a Kubernetes API (in a pod, or --kubeconfig) it also writes its own
node (--node-name): labels under --label-prefix, the CVMReady condition,
the report and owned-labels annotations, and an Event when a verdict
changes; only what changed is written (docs/labels.md).

Options (each also from the environment as CVM_PREFLIGHT_<FLAG>, e.g.
CVM_PREFLIGHT_INTERVAL=5m; the command line wins):
  --root DIR            The host's root (default /; /host in the DaemonSet)
  --listen ADDR:PORT    Where to serve (default 0.0.0.0:9861; port 0 picks a
                        free port and logs it)
  --interval D          Time between scans (default 10m; 30s, 10m, 1h...)
  --scan-timeout D      A scan that takes longer is killed and reported, and
                        /healthz fails until one finishes (default 2m)
  --rules PATH          The user's rule overrides, a file or a directory
                        (repeatable; in the environment comma-separated);
                        the defaults are compiled in. Watched for changes;
                        files that do not load keep the last good set
  --rules-check D       How often the rule files are checked for changes
                        (default 10s)
  --profile NAME        coder-v1 (default), coder-v2, sysbox-0.6, sysbox-0.7
  --node-name NAME      This node's name (default $NODE_NAME, the downward
                        API's spec.nodeName)
  --exec-versions       As 'scan --exec-versions'
  --coder-shiftfs-autoload
                        As 'scan --coder-shiftfs-autoload'
  --no-pci-events       Do not rescan on udev PCI events
  --log-level LEVEL     debug, info (default), warn or error; logs are one
                        JSON object per line on stderr
  --web-config FILE     TLS and basic auth from a web config file in the
                        Prometheus exporter toolkit's format (node_exporter's
                        --web.config.file): tls_server_config (cert_file,
                        key_file, client_auth_type RequireAndVerifyClientCert
                        with client_ca_file, min_version, max_version),
                        http_server_config.headers, basic_auth_users (bcrypt).
                        Off by default. /healthz and /readyz stay open to
                        the kubelet's probes; /metrics and /report need the
                        password. Settings the agent cannot honour are
                        refused at start, naming the field (docs/agent.md)
  --kubeconfig FILE     Publish to the Kubernetes API this kubeconfig names
                        (its current context). Without it, in a pod (with
                        KUBERNETES_SERVICE_HOST set), the pod's service
                        account; elsewhere no API: metrics only
  --no-publish          Read the node but write nothing: log what would be
                        written
  --label-prefix P      The prefix of the node's labels and annotations
                        (default cvm-preflight.dev/; docs/labels.md)
  --sysbox-install-label
                        Also label the node sysbox-install=yes while its cvm
                        verdict is true, so Sysbox's installer DaemonSet
                        installs Sysbox there; removed only if this agent
                        set it and Sysbox is not installed (docs/labels.md)
  --publish-labels WHERE
                        node (default): the labels and annotations on the
                        node; nodefeature: on a node-feature-discovery
                        NodeFeature object named after the node, in
                        --nodefeature-namespace, for NFD's master to copy
                        to the node (the condition and Events as before)
  --nodefeature-namespace NS
                        Where the NodeFeature goes (default $POD_NAMESPACE,
                        the downward API's metadata.namespace)
  --heartbeat D         How often the CVMReady condition's heartbeat is
                        refreshed when nothing changed (default 1h)
  --api-timeout D       One API request's timeout (default 30s)
  --oneshot             Scan once, serve nothing, publish nothing, print the
                        JSON report and exit with scan's exit status
  -h, --help            Show this help

Exit status: 0 after SIGTERM or SIGINT; 2 on a usage error or when the port
cannot be served; with --oneshot, scan's (0 true, 1 false, 3 unknown).
)";

std::string EnvName(std::string_view flag) {
  std::string out = "CVM_PREFLIGHT_";
  for (char c : flag.substr(2)) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::optional<std::string> Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || v[0] == '\0') return std::nullopt;
  return std::string(v);
}

std::optional<bool> EnvBool(std::string_view flag, std::string& error) {
  auto v = Env(EnvName(flag));
  if (!v) return std::nullopt;
  if (*v == "1" || *v == "true" || *v == "yes") return true;
  if (*v == "0" || *v == "false" || *v == "no") return false;
  error = EnvName(flag) + "='" + *v + "' is not true or false";
  return std::nullopt;
}

double UnixSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// What the user's rule files look like now: a change means reload.
std::string RulesSignature(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::string sig;
  auto add = [&](const fs::path& p) {
    std::error_code ec;
    auto t = fs::last_write_time(p, ec);
    auto size = fs::file_size(p, ec);
    sig += p.string() + '\0' + std::to_string(t.time_since_epoch().count()) + '\0' +
           std::to_string(ec ? 0 : size) + '\n';
  };
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end;
           it.increment(ec)) {
        files.push_back(it->path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) add(f);
    } else {
      add(path);
    }
  }
  return sig;
}

// What HTTP threads read: replaced whole after each scan.
struct Published {
  std::string exposition;  // the report's families, rendered
  std::string report_json;
};

class Agent {
 public:
  Agent(const AgentOptions& o, std::ostream& out, std::ostream& err)
      : o_(o), out_(out), log_(err, o.log_level), worker_(o.worker_exe),
        rng_(std::random_device{}()),
        scans_(prometheus::BuildCounter()
                   .Name("cvm_preflight_scans_total")
                   .Help("Scans finished since the agent started")
                   .Register(registry_)
                   .Add({})),
        overruns_(prometheus::BuildCounter()
                      .Name("cvm_preflight_scan_overruns_total")
                      .Help("Scans that passed their deadline and were killed")
                      .Register(registry_)
                      .Add({})),
        failures_(prometheus::BuildCounter()
                      .Name("cvm_preflight_probe_failures_total")
                      .Help("Probe runs that recorded an error, since the agent started")
                      .Register(registry_)),
        duration_(prometheus::BuildHistogram()
                      .Name("cvm_preflight_scan_duration_seconds")
                      .Help("How long whole scans took (probes and rules)")
                      .Register(registry_)
                      .Add({}, prometheus::Histogram::BucketBoundaries{
                                   0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                   5, 10, 30})),
        reload_ok_(prometheus::BuildGauge()
                       .Name("cvm_preflight_rules_reload_success")
                       .Help("1 when the user's rule files last loaded, 0 when they "
                             "did not and the last good set is kept")
                       .Register(registry_)
                       .Add({})) {}

  int Run();

 private:
  // Starts the node publisher when an API is configured (or --no-publish);
  // false on an error that must stop the agent.
  bool StartPublisher();
  bool LoadRules(bool first);
  // Runs one scan; false when it produced no report.
  bool Scan(std::string_view why, int interrupt_fd);
  void Reap();
  HttpResponse Metrics();
  // The cached text of the agent's own families is dropped when a scan,
  // an overrun or a rule reload changes them: only the process_* figures
  // can be up to kOwnMetricsTtl old.
  void InvalidateOwnMetrics() {
    std::lock_guard<std::mutex> lock(own_mu_);
    own_text_.clear();
  }
  HttpResponse Healthz();
  HttpResponse Readyz();
  HttpResponse Report();
  milliseconds Jittered();

  const AgentOptions& o_;
  std::ostream& out_;
  Logger log_;
  ScanWorker worker_;
  std::mt19937_64 rng_;

  prometheus::Registry registry_;
  prometheus::Counter& scans_;
  prometheus::Counter& overruns_;
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Histogram& duration_;
  prometheus::Gauge& reload_ok_;

  rules::RuleSet rules_;                    // the last good set
  std::vector<rules::LoadError> rule_errors_;  // of the last load
  std::string rules_sig_;

  std::mutex mu_;
  std::shared_ptr<const Published> published_;  // under mu_
  static constexpr milliseconds kOwnMetricsTtl{1000};
  std::mutex own_mu_;
  std::string own_text_;           // under own_mu_
  Clock::time_point own_at_{};     // under own_mu_
  std::atomic<bool> overrun_{false};
  std::atomic<Clock::rep> last_scan_end_{0};  // steady clock; 0 before any
  const Clock::time_point started_ = Clock::now();
  std::string last_change_sig_;
  rules::Tri last_verdict_ = rules::Tri::kUnknown;

  std::atomic<bool> stopping_{false};  // ends API requests in flight
  bool api_ = false;                   // a Kubernetes API is configured
  bool first_scan_ = true;
  std::unique_ptr<NodePublisher> publisher_;
};

bool Agent::StartPublisher() {
  std::unique_ptr<kube::Client> client;
  const bool in_cluster = Env("KUBERNETES_SERVICE_HOST").has_value();
  if (o_.kubeconfig.empty() && !in_cluster) {
    if (!o_.no_publish) {
      log_.Info("no Kubernetes API (not in a pod, no --kubeconfig): metrics only, the node is "
                "not labelled");
      return true;
    }
  } else {
    kube::LoadOptions lo;
    lo.kubeconfig = o_.kubeconfig;
    auto config = o_.kubeconfig.empty() ? kube::LoadInCluster(lo) : kube::LoadConfig(lo);
    if (!config) {
      if (o_.no_publish) {
        log_.Warn("no usable Kubernetes API configuration; --no-publish plans against an "
                  "empty node", {{"error", config.error().path + ": " + config.error().message}});
      } else {
        log_.Error("cannot use the Kubernetes API configuration",
                   {{"error", config.error().path + ": " + config.error().message}});
        return false;
      }
    } else {
      kube::ClientOptions co;
      co.timeout = o_.api_timeout;
      co.connect_timeout = std::min(o_.api_timeout, milliseconds(10000));
      co.user_agent = std::string("cvm-preflight/") + std::string(kVersion) + " agent";
      co.cancelled = [this] { return stopping_.load(); };
      auto c = kube::Client::Create(*config, co);
      if (!c) {
        log_.Error("cannot start the Kubernetes client",
                   {{"error", c.error().path + ": " + c.error().message}});
        return false;
      }
      client = std::move(*c);
      api_ = true;
      log_.Info("publishing to the Kubernetes API",
                {{"server", client->config().server}, {"source", client->config().source},
                 {"node", o_.node_name}, {"label_prefix", o_.label_prefix},
                 {"labels_on", o_.nodefeature_namespace.empty()
                                   ? std::string("node")
                                   : "nodefeature " + o_.nodefeature_namespace + "/" +
                                         o_.node_name},
                 {"dry_run", o_.no_publish}});
    }
  }
  PublishOptions po;
  po.node_name = o_.node_name;
  po.prefix = o_.label_prefix;
  po.sysbox_install_label = o_.sysbox_install_label;
  po.nodefeature_namespace = o_.nodefeature_namespace;
  po.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(o_.heartbeat);
  publisher_ = std::make_unique<NodePublisher>(std::move(client), po, o_.no_publish, log_,
                                               registry_);
  return true;
}

milliseconds Agent::Jittered() {
  std::uniform_real_distribution<double> d(0.9, 1.1);
  return milliseconds(static_cast<long long>(static_cast<double>(o_.interval.count()) * d(rng_)));
}

bool Agent::LoadRules(bool first) {
  rules_sig_ = RulesSignature(o_.rules);
  rules::RuleSetLoad loaded = rules::LoadRuleSet(o_.rules);
  rule_errors_ = loaded.errors;
  if (loaded.errors.empty()) {
    rules_ = std::move(loaded.set);
    reload_ok_.Set(1);
    InvalidateOwnMetrics();
    if (!first) log_.Info("rules reloaded", {{"rules", o_.rules}});
    return true;
  }
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : loaded.errors) errors.push_back(e.Text());
  reload_ok_.Set(0);
  InvalidateOwnMetrics();
  if (first) {
    // No last good set yet: the defaults alone, the errors in the report.
    rules_ = rules::LoadRuleSet({}).set;
    log_.Error("rule files do not load; judging by the default rules alone",
               {{"errors", errors}});
  } else {
    log_.Error("rule files do not load; keeping the last good rule set",
               {{"errors", errors}});
  }
  return false;
}

bool Agent::Scan(std::string_view why, int interrupt_fd) {
  ScanRequest req{o_.root, {}, std::nullopt};
  req.options.exec_versions = o_.exec_versions;
  req.options.coder_shiftfs_autoload = o_.coder_shiftfs_autoload;
  // With an API the scan has the node object's facts (node.*); the first
  // scan waits a little for the first read of the node.
  req.options.agent = api_;
  if (publisher_ && api_) {
    req.node = publisher_->Info(first_scan_ ? milliseconds(10000) : milliseconds(0));
  }
  first_scan_ = false;
  const auto t0 = Clock::now();
  ScanWorker::Outcome outcome = worker_.Scan(req, o_.scan_timeout, interrupt_fd);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (outcome.overrun) {
    overruns_.Increment();
    InvalidateOwnMetrics();
    overrun_ = true;
    log_.Error("scan overran its deadline; /healthz fails until a scan finishes",
               {{"why", why}, {"deadline_seconds", o_.scan_timeout.count() / 1000.0},
                {"error", outcome.facts.error().message}});
    return false;
  }
  if (!outcome.facts) {
    log_.Error("scan failed; the last report stays", {{"why", why},
                                                        {"error", outcome.facts.error().message}});
    return false;
  }
  rules::Report report = rules::BuildReport(std::move(*outcome.facts), rules_, o_.profile,
                                            rule_errors_);
  if (publisher_) publisher_->Submit(WantNode(report));
  scans_.Increment();
  duration_.Observe(seconds);
  for (const auto& run : report.facts.runs()) {
    if (!run.ok) failures_.Add({{"probe", run.name}}).Increment();
  }
  auto pub = std::make_shared<Published>();
  pub->exposition = RenderExposition(ReportFamilies(report, UnixSeconds()));
  pub->report_json = DumpJson(ReportToJson(report)) + "\n";
  {
    std::lock_guard<std::mutex> lock(mu_);
    published_ = std::move(pub);
  }
  InvalidateOwnMetrics();
  overrun_ = false;
  last_scan_end_ = Clock::now().time_since_epoch().count();
  if (o_.oneshot) {
    out_ << published_->report_json;
    last_verdict_ = report.selected.Verdict("cvm")->value;
    return true;
  }
  // Quiet in steady state: one info line when a verdict or check changed.
  std::string sig;
  nlohmann::json verdicts = nlohmann::json::object();
  for (const auto& v : report.selected.verdicts) {
    verdicts[v.name] = std::string(rules::TriName(v.value));
    sig += v.name + "=" + std::string(rules::TriName(v.value)) + ";";
  }
  nlohmann::json failing = nlohmann::json::array();
  for (const auto& c : report.selected.checks) {
    sig += c.id + "=" + std::string(rules::StatusName(c.status)) + ";";
    if (c.status == rules::Status::kFail) failing.push_back(c.id);
  }
  nlohmann::json fields = {{"why", why},
                           {"profile", report.selected.profile},
                           {"verdicts", verdicts},
                           {"failing", failing},
                           {"errors", report.facts.errors().size()},
                           {"duration_seconds", seconds}};
  if (!o_.node_name.empty()) fields["node"] = o_.node_name;
  if (sig != last_change_sig_) {
    log_.Info(last_change_sig_.empty() ? "first scan" : "scan changed the report",
              std::move(fields));
    last_change_sig_ = sig;
  } else {
    log_.Debug("scan", std::move(fields));
  }
  return true;
}

// The agent is a subreaper: probe children orphaned by a killed worker come
// here and are collected when they end, however long they hang first.
void Agent::Reap() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == worker_.pid()) {
      worker_.Reaped();
      log_.Warn("the scan worker ended", {{"pid", pid}, {"status", status}});
    } else {
      log_.Debug("reaped an orphaned probe child", {{"pid", pid}});
    }
  }
}

HttpResponse Agent::Metrics() {
  std::shared_ptr<const Published> pub;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pub = published_;
  }
  std::string body = pub ? pub->exposition : std::string();
  // The agent's own families (counters, histogram, build and process info)
  // are rendered at most once every kOwnMetricsTtl, and again after a scan,
  // an overrun or a reload (InvalidateOwnMetrics). Rendering them
  // (prometheus-cpp's serializer, /proc/self reads) cost more than the rest
  // of a request; Prometheus scrapes every 15 s or more, so this only
  // matters under load.
  {
    std::lock_guard<std::mutex> lock(own_mu_);
    auto now = Clock::now();
    if (own_text_.empty() || now - own_at_ >= kOwnMetricsTtl) {
      Families own = registry_.Collect();
      own.push_back(BuildInfoFamily());
      for (auto& f : ProcessFamilies()) own.push_back(std::move(f));
      own_text_ = RenderExposition(own);
      own_at_ = now;
    }
    body += own_text_;
  }
  return {200, kExpositionContentType, std::move(body)};
}

HttpResponse Agent::Healthz() {
  if (overrun_) return {503, "text/plain; charset=utf-8", "the last scan overran its deadline\n"};
  auto now = Clock::now();
  auto last = last_scan_end_.load();
  // On time: the next scan is due within interval + jitter, and may take
  // up to its deadline; a minute of slack on top.
  auto allowed = o_.interval + o_.interval / 10 + o_.scan_timeout + std::chrono::minutes(1);
  Clock::time_point since = last == 0 ? started_ : Clock::time_point(Clock::duration(last));
  if (now - since > allowed) {
    return {503, "text/plain; charset=utf-8", "no scan finished on time\n"};
  }
  return {200, "text/plain; charset=utf-8", "ok\n"};
}

HttpResponse Agent::Readyz() {
  if (last_scan_end_.load() == 0) {
    return {503, "text/plain; charset=utf-8", "the first scan has not finished\n"};
  }
  return {200, "text/plain; charset=utf-8", "ok\n"};
}

HttpResponse Agent::Report() {
  std::shared_ptr<const Published> pub;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pub = published_;
  }
  if (!pub) return {503, "application/json", "{\"error\": \"no scan has finished yet\"}\n"};
  return {200, "application/json", pub->report_json};
}

int Agent::Run() {
  // Signals arrive on a signalfd, blocked before any thread starts so that
  // civetweb's threads inherit the mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  sigset_t wanted = mask;
  sigdelset(&wanted, SIGPIPE);
  int sigfd = ::signalfd(-1, &wanted, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) {
    log_.Error("signalfd failed", {{"errno", errno}});
    return kExitUsage;
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  LoadRules(true);

  if (o_.oneshot) {
    bool ok = Scan("oneshot", sigfd);
    worker_.Stop();
    ::close(sigfd);
    if (!ok) return kExitUsage;
    switch (last_verdict_) {
      case rules::Tri::kTrue: return kExitOk;
      case rules::Tri::kFalse: return kExitFalse;
      case rules::Tri::kUnknown: break;
    }
    return kExitUnknown;
  }

  HttpOptions http;
  http.listen = o_.listen;
  if (!o_.web_config.empty()) {
    auto web = LoadWebConfig(o_.web_config);
    if (!web) {
      log_.Error("cannot use the web config", {{"web_config", o_.web_config},
                                               {"error", web.error().message}});
      ::close(sigfd);
      return kExitUsage;
    }
    http.tls = web->tls;
    http.headers = web->headers;
    http.auth = std::make_shared<BasicAuth>(web->users);
    // Probes carry no password (a kubelet httpGet probe could send one only
    // as a header in the pod spec); they tell nothing about the node.
    http.open_routes = {"/healthz", "/readyz"};
  }
  auto server = HttpServer::Start(
      http, {{"/metrics", [this] { return Metrics(); }},
             {"/healthz", [this] { return Healthz(); }},
             {"/readyz", [this] { return Readyz(); }},
             {"/report", [this] { return Report(); }}});
  if (!server) {
    log_.Error("cannot serve HTTP", {{"listen", o_.listen}, {"error", server.error().message}});
    ::close(sigfd);
    return kExitUsage;
  }
  nlohmann::json start = {{"listen", o_.listen}, {"port", (*server)->port()},
                          {"tls", http.tls.has_value()},
                          {"basic_auth", http.auth != nullptr && http.auth->enabled()},
                          {"root", o_.root}, {"interval_seconds", o_.interval.count() / 1000.0},
                          {"profile", o_.profile}, {"version", kVersion},
                          {"revision", kRevision}};
  if (!o_.node_name.empty()) start["node"] = o_.node_name;
  log_.Info("agent started", std::move(start));
  if (!StartPublisher()) {
    (void)server->release();
    ::close(sigfd);
    return kExitUsage;
  }

  bool pci_changed = false;
  std::unique_ptr<probe::PciMonitor> pci;
  if (o_.pci_events) {
    auto m = probe::PciMonitor::Open([&] { pci_changed = true; }, std::chrono::seconds(2));
    if (m) {
      pci = std::move(*m);
    } else {
      log_.Info("no udev PCI events; GPU changes are seen at the next interval",
                {{"error", m.error().message}});
    }
  }

  auto next_scan = Clock::now();
  auto next_rules = Clock::now() + o_.rules_check;
  std::string why = "start";
  bool running = true;
  while (running) {
    auto now = Clock::now();
    if (now >= next_scan || pci_changed) {
      if (pci_changed) why = "pci event";
      pci_changed = false;
      Scan(why, sigfd);
      now = Clock::now();
      next_scan = now + Jittered();
      why = "interval";
    }
    if (now >= next_rules) {
      next_rules = now + o_.rules_check;
      if (!o_.rules.empty() && RulesSignature(o_.rules) != rules_sig_) {
        LoadRules(false);
        next_scan = now;  // at once, with whatever set is now in force
        why = "rules changed";
        continue;
      }
    }
    Reap();
    auto until = std::min(next_scan, next_rules);
    long long wait = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    wait = std::clamp<long long>(wait, 0, 1000);  // reap orphans at least each second
    if (pci) {
      int t = pci->TimeoutMs(Clock::now());
      if (t >= 0 && t < wait) wait = t;
    }
    pollfd fds[2] = {{sigfd, POLLIN, 0}, {pci ? pci->fd() : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(wait));
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (::read(sigfd, &si, sizeof si) == sizeof si) {
        log_.Info("shutting down", {{"signal", ::strsignal(static_cast<int>(si.ssi_signo))}});
      }
      running = false;
    }
    if (pci) {
      if (fds[1].revents & POLLIN) pci->HandleReadable(Clock::now());
      pci->HandleTimeout(Clock::now());
    }
  }
  // Interrupted scans already killed their worker; end the idle one. The
  // HTTP threads are not joined: civetweb's mg_stop waits up to two
  // seconds for its listener's poll, and the process ends right after.
  worker_.Stop();
  stopping_ = true;
  if (publisher_) publisher_->Stop();
  (void)server->release();
  ::close(sigfd);
  log_.Info("stopped");
  return kExitOk;
}

}  // namespace

int RunAgent(const AgentOptions& options, std::ostream& out, std::ostream& err) {
  Agent agent(options, out, err);
  return agent.Run();
}

int RunAgentCommand(Args& args, std::ostream& out, std::ostream& err) {
  AgentOptions o;
  o.profile = std::string(rules::kDefaultProfile);
  auto usage = [&](const std::string& m) {
    err << "cvm-preflight: agent: " << m << " (see 'cvm-preflight agent --help')\n";
    return kExitUsage;
  };
  std::string error;
  // The environment first, then the command line over it.
  std::map<std::string, std::string> values;
  const char* kValueFlags[] = {"--root", "--listen", "--interval", "--scan-timeout",
                               "--rules", "--profile", "--node-name", "--log-level",
                               "--rules-check", "--web-config", "--kubeconfig",
                               "--label-prefix", "--heartbeat", "--api-timeout",
                               "--publish-labels", "--nodefeature-namespace"};
  for (const char* f : kValueFlags) {
    if (auto v = Env(EnvName(f))) values[f] = *v;
  }
  if (!values.count("--node-name")) {
    if (auto v = Env("NODE_NAME")) values["--node-name"] = *v;
  }
  if (!values.count("--nodefeature-namespace")) {
    if (auto v = Env("POD_NAMESPACE")) values["--nodefeature-namespace"] = *v;
  }
  std::vector<std::string> rules_env;
  if (values.count("--rules")) {
    std::string s = values["--rules"];
    for (std::size_t pos = 0; pos <= s.size();) {
      std::size_t comma = s.find(',', pos);
      if (comma == std::string::npos) comma = s.size();
      if (comma > pos) rules_env.push_back(s.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  struct BoolFlag {
    const char* name;
    bool* target;
    bool value_when_set;
  };
  BoolFlag bools[] = {{"--oneshot", &o.oneshot, true},
                      {"--exec-versions", &o.exec_versions, true},
                      {"--coder-shiftfs-autoload", &o.coder_shiftfs_autoload, true},
                      {"--no-pci-events", &o.pci_events, false},
                      {"--no-publish", &o.no_publish, true},
                      {"--sysbox-install-label", &o.sysbox_install_label, true}};
  for (auto& b : bools) {
    if (auto v = EnvBool(b.name, error)) *b.target = *v ? b.value_when_set : !b.value_when_set;
    if (!error.empty()) return usage(error);
  }
  std::vector<std::string> rules_cli;
  while (!args.Done()) {
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kAgentHelp;
      return kExitOk;
    }
    if (args.Flag("-V") || args.Flag("--version")) {
      out << "cvm-preflight " << kVersion << "\n";
      return kExitOk;
    }
    bool matched = false;
    for (auto& b : bools) {
      if (args.Flag(b.name)) {
        *b.target = b.value_when_set;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    for (const char* f : kValueFlags) {
      if (auto v = args.Option(f, error)) {
        if (std::string_view(f) == "--rules") {
          rules_cli.push_back(*v);
        } else {
          values[f] = *v;
        }
        matched = true;
        break;
      }
      if (!error.empty()) return usage(error);
    }
    if (matched) continue;
    return usage("unknown option '" + std::string(args.Peek()) + "'");
  }
  o.rules = rules_cli.empty() ? rules_env : rules_cli;
  if (values.count("--root")) o.root = values["--root"];
  if (values.count("--listen")) o.listen = values["--listen"];
  if (values.count("--profile")) o.profile = values["--profile"];
  if (values.count("--node-name")) o.node_name = values["--node-name"];
  if (values.count("--web-config")) o.web_config = values["--web-config"];
  if (values.count("--kubeconfig")) o.kubeconfig = values["--kubeconfig"];
  if (values.count("--publish-labels")) {
    const std::string& where = values["--publish-labels"];
    if (where == "nodefeature") {
      o.nodefeature_namespace = values["--nodefeature-namespace"];
      if (o.nodefeature_namespace.empty()) {
        return usage("--publish-labels nodefeature needs the namespace of the NodeFeature: "
                     "--nodefeature-namespace or POD_NAMESPACE (the downward API's "
                     "metadata.namespace)");
      }
      if (o.sysbox_install_label) {
        return usage("--sysbox-install-label needs --publish-labels node: through "
                     "node-feature-discovery the label would get NFD's prefix");
      }
    } else if (where != "node") {
      return usage("--publish-labels must be node or nodefeature, not '" + where + "'");
    }
  }
  if (values.count("--label-prefix")) {
    auto p = CheckLabelPrefix(values["--label-prefix"]);
    if (!p) return usage(p.error().path + ": " + p.error().message);
    o.label_prefix = *p;
  }
  for (auto [flag, target] : {std::pair{"--interval", &o.interval},
                              std::pair{"--scan-timeout", &o.scan_timeout},
                              std::pair{"--rules-check", &o.rules_check},
                              std::pair{"--heartbeat", &o.heartbeat},
                              std::pair{"--api-timeout", &o.api_timeout}}) {
    if (!values.count(flag)) continue;
    auto d = ParseDuration(values[flag]);
    if (!d) return usage(std::string(flag) + ": " + d.error().message);
    if (d->count() < 1000) return usage(std::string(flag) + " must be at least 1s");
    *target = *d;
  }
  if (values.count("--log-level")) {
    auto l = ParseLogLevel(values["--log-level"]);
    if (!l) return usage(l.error().message);
    o.log_level = *l;
  }
  if (!rules::IsProfile(o.profile)) {
    return usage("unknown profile '" + o.profile + "' (coder-v1, coder-v2, sysbox-0.6, sysbox-0.7)");
  }
  if (o.listen.find(':') == std::string::npos) {
    return usage("--listen wants ADDR:PORT (e.g. 0.0.0.0:9861 or 127.0.0.1:0), not '" +
                 o.listen + "'");
  }
  const bool api = !o.kubeconfig.empty() || Env("KUBERNETES_SERVICE_HOST").has_value();
  if (api && !o.oneshot && o.node_name.empty()) {
    return usage("publishing to the Kubernetes API needs this node's name: --node-name or "
                 "NODE_NAME (the downward API's spec.nodeName)");
  }
  if (!o.kubeconfig.empty() && !std::filesystem::exists(o.kubeconfig)) {
    return usage("--kubeconfig " + o.kubeconfig + " does not exist");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(o.root, ec)) {
    return usage("--root " + o.root + " is not a directory");
  }
  return RunAgent(o, out, err);
}

}  // namespace cvm::exporter
