#include "exporter/cli.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/agent.h"
#include "exporter/args.h"
#include "exporter/cluster_cli.h"
#include "exporter/facts_doc.h"
#include "exporter/image_cli.h"
#include "exporter/metrics.h"
#include "exporter/report_json.h"
#include "exporter/scan_worker.h"
#include "exporter/text_report.h"
#include "exporter/version.h"
#include "probe/host_root.h"
#include "probe/registry.h"
#include "rules/loader.h"
#include "rules/report.h"

namespace cvm::exporter {
namespace {

constexpr std::string_view kMainHelp =
    R"(Usage: cvm-preflight COMMAND [OPTIONS]

Checks whether a node can host Coder CVM workspaces (Sysbox).

Commands:
  scan      Scan a host root once, judge it and print the report
  image     Check a workspace image (an unpacked root) before a CVM
            workspace is built from it (docs/workspace-image.md)
  agent     Scan on a schedule and serve metrics, health and the report
            over HTTP (the DaemonSet; docs/agent.md)
  report    Every node's verdicts as its agent wrote them, a what-if for
            another profile, and the cluster checks (docs/cluster.md)
  prune     Remove what the agents wrote from every node (uninstall)
  rules     List or validate rules (rules list, rules validate FILE...)
  explain   Show what a rule checks, why, its sources and its fix
  facts     List every fact the probes can set

Options:
  -h, --help     Show this help (also after a command)
  -V, --version  Show the version

Run 'cvm-preflight COMMAND --help' for a command's options.
)";

constexpr std::string_view kScanHelp =
    R"(Usage: cvm-preflight scan [OPTIONS]

Scans a host root, judges it with the rules of a profile and prints the
verdicts, the failing checks with their fixes, and what could not be read.
Nothing on the host is changed and nothing is executed unless
--exec-versions is given.

Options:
  --root DIR        The host's root: / at a shell (default), /host in the
                    DaemonSet, or a folder (a fixture, an unpacked image)
  --format FORMAT   text (default, for people), json (docs/report-format.md)
                    or prometheus (the exposition of docs/metrics.md, once:
                    for node_exporter's textfile collector)
  --profile NAME    coder-v1 (default), coder-v2, sysbox-0.6 or sysbox-0.7:
                    which sources' thresholds to judge by (docs/rules.md)
  --verdict NAME    The verdict that sets the exit status: cvm (default),
                    cvm-cached or cvm-gpu
  --rules PATH      Add or override rules from a YAML file or a directory
                    of them (repeatable; same id replaces a default rule)
  --facts           Also list every fact in the text report
  --coder-shiftfs-autoload
                    Judge cached CVMs for Coder's "Auto loading of the
                    shiftfs kernel module" setting (needs /usr/src and
                    /lib/modules writable)
  --exec-versions   Run '<binary> --version' of container runtimes when no
                    package database or build information gives a version
  -h, --help        Show this help
  -V, --version     Show the version

Exit status: 0 when the verdict is true, 1 when false, 3 when unknown,
2 on a usage or fatal error. Colour is used on a terminal unless NO_COLOR
is set.
)";

constexpr std::string_view kRulesHelp =
    R"(Usage: cvm-preflight rules list [--image|--cluster] [--profile NAME] [--rules PATH]...
       cvm-preflight rules validate [--image|--node] FILE...

list      Print every rule that applies to a profile, with its severity,
          verdicts and sources; --image lists the image rule set of
          `cvm-preflight image` instead of the node rules, --cluster the
          cluster checks of `cvm-preflight report` (built in; --rules does
          not apply to them).
validate  Load rule files and report every problem as file:line:col;
          exit 1 when any file has an error. A file whose rules name the
          verdict `image` is checked as an image rule file, any other as
          a node rule file; --image or --node says it for every file.
)";

constexpr std::string_view kExplainHelp =
    R"(Usage: cvm-preflight explain RULE-ID [--rules PATH]...

Prints what a rule checks, why, when it applies, its sources and its fix:
a node rule, a cluster check of `cvm-preflight report`, or an image rule of
`cvm-preflight image` (image-*; --rules files of either kind are read).
)";

constexpr std::string_view kFactsHelp =
    R"(Usage: cvm-preflight facts [--markdown]

Lists every fact name with its type and meaning.

Options:
  --markdown   Print docs/facts.md
  -h, --help   Show this help
)";

int PrintVersion(std::ostream& out) {
  out << "cvm-preflight " << kVersion << "\n";
  return kExitOk;
}

int Usage(std::ostream& err, const std::string& message) {
  err << "cvm-preflight: " << message
      << " (see 'cvm-preflight --help')\n";
  return kExitUsage;
}

int RunScan(Args& args, std::ostream& out, std::ostream& err) {
  std::string root = "/";
  std::string format = "text";
  std::string profile(rules::kDefaultProfile);
  std::string verdict = "cvm";
  std::vector<std::string> rule_paths;
  bool show_facts = false;
  probe::ProbeOptions options;
  while (!args.Done()) {
    std::string error;
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kScanHelp;
      return kExitOk;
    }
    if (args.Flag("-V") || args.Flag("--version")) {
      out << "cvm-preflight " << kVersion << "\n";
      return kExitOk;
    }
    if (args.Flag("--exec-versions")) {
      options.exec_versions = true;
      continue;
    }
    if (args.Flag("--facts")) {
      show_facts = true;
      continue;
    }
    if (args.Flag("--coder-shiftfs-autoload")) {
      options.coder_shiftfs_autoload = true;
      continue;
    }
    if (auto v = args.Option("--profile", error)) {
      profile = *v;
      continue;
    }
    if (auto v = args.Option("--verdict", error)) {
      verdict = *v;
      continue;
    }
    if (auto v = args.Option("--rules", error)) {
      rule_paths.push_back(*v);
      continue;
    }
    if (auto v = args.Option("--root", error)) {
      root = *v;
      continue;
    }
    if (auto v = args.Option("--format", error)) {
      format = *v;
      continue;
    }
    if (!error.empty()) return Usage(err, "scan: " + error);
    return Usage(err, "scan: unknown option '" + std::string(args.Peek()) + "'");
  }
  if (format != "text" && format != "json" && format != "prometheus") {
    return Usage(err, "scan: --format must be text, json or prometheus, not '" +
                          format + "'");
  }
  if (!rules::IsProfile(profile)) {
    return Usage(err, "scan: unknown profile '" + profile +
                          "' (coder-v1, coder-v2, sysbox-0.6, sysbox-0.7)");
  }
  if (!rules::IsVerdict(verdict)) {
    return Usage(err, "scan: unknown verdict '" + verdict +
                          "' (cvm, cvm-cached, cvm-gpu)");
  }
  auto host = probe::HostRoot::Open(root);
  if (!host) {
    err << "cvm-preflight: scan: cannot open root " << host.error().message
        << "\n";
    return kExitUsage;
  }
  rules::RuleSetLoad loaded = rules::LoadRuleSet(rule_paths);
  rules::Report report = rules::BuildReport(probe::RunProbes(*host, options),
                                            loaded.set, profile,
                                            std::move(loaded.errors));
  if (format == "json") {
    out << DumpJson(ReportToJson(report)) << "\n";
  } else if (format == "prometheus") {
    Families families = ReportFamilies(report, UnixNow());
    families.push_back(BuildInfoFamily());
    out << RenderExposition(families);
  } else {
    WriteTextReport(report, TextOptions{UseColor(), show_facts}, out);
  }
  return ExitCodeOf(report.selected.Verdict(verdict)->value);
}

std::string Joined(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

int RunRules(Args& args, std::ostream& out, std::ostream& err) {
  if (args.Done()) return Usage(err, "rules: say 'list' or 'validate FILE...'");
  std::string sub(args.Peek());
  if (sub == "-h" || sub == "--help") {
    out << kRulesHelp;
    return kExitOk;
  }
  if (sub == "-V" || sub == "--version") return PrintVersion(out);
  args.Flag(sub);
  if (sub == "validate") {
    std::vector<std::string> files;
    std::optional<rules::RuleSetKind> kind;  // per file, DetectKind
    while (!args.Done()) {
      if (args.Flag("-h") || args.Flag("--help")) {
        out << kRulesHelp;
        return kExitOk;
      }
      if (args.Flag("--image")) {
        kind = rules::RuleSetKind::kImage;
        continue;
      }
      if (args.Flag("--node")) {
        kind = rules::RuleSetKind::kNode;
        continue;
      }
      files.emplace_back(args.Peek());
      args.Flag(files.back());
    }
    if (files.empty()) return Usage(err, "rules validate: name at least one file");
    int bad = 0;
    for (const auto& f : files) {
      rules::LoadResult r = rules::LoadRulesPath(f, kind);
      for (const auto& e : r.errors) err << e.Text() << "\n";
      bad += !r.ok();
      if (r.ok()) out << f << ": " << r.rules.size() << " rules OK\n";
    }
    return bad ? kExitFalse : kExitOk;
  }
  if (sub != "list") return Usage(err, "rules: unknown subcommand '" + sub + "'");
  std::string profile(rules::kDefaultProfile);
  std::vector<std::string> paths;
  bool image = false;
  bool cluster = false;
  while (!args.Done()) {
    std::string error;
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kRulesHelp;
      return kExitOk;
    }
    if (args.Flag("--image")) {
      image = true;
      continue;
    }
    if (args.Flag("--cluster")) {
      cluster = true;
      continue;
    }
    if (auto v = args.Option("--profile", error)) {
      profile = *v;
      continue;
    }
    if (auto v = args.Option("--rules", error)) {
      paths.push_back(*v);
      continue;
    }
    if (!error.empty()) return Usage(err, "rules list: " + error);
    return Usage(err, "rules list: unknown option '" + std::string(args.Peek()) + "'");
  }
  if (!rules::IsProfile(profile)) {
    return Usage(err, "rules list: unknown profile '" + profile + "'");
  }
  if (image && cluster) return Usage(err, "rules list: --image or --cluster, not both");
  if (cluster && !paths.empty()) {
    return Usage(err, "rules list: the cluster checks are built in; --rules does not apply to them");
  }
  rules::RuleSetLoad loaded;
  if (cluster) {
    rules::LoadResult c = rules::LoadClusterRules();
    loaded.errors = std::move(c.errors);
    for (auto& r : c.rules) loaded.set.Upsert(std::move(r));
  } else {
    loaded = image ? rules::LoadImageRuleSet(paths) : rules::LoadRuleSet(paths);
  }
  for (const auto& e : loaded.errors) err << e.Text() << "\n";
  for (const auto& r : loaded.set.rules) {
    if (!r.AppliesTo(profile)) continue;
    out << r.id << "  [" << rules::SeverityName(r.SeverityIn(profile)) << "; "
        << Joined(r.verdicts) << "] " << r.title << "\n";
    for (const auto& src : r.sources) out << "    source: " << src << "\n";
  }
  return loaded.errors.empty() ? kExitOk : kExitFalse;
}

int RunExplain(Args& args, std::ostream& out, std::ostream& err) {
  std::string id;
  std::vector<std::string> paths;
  while (!args.Done()) {
    std::string error;
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kExplainHelp;
      return kExitOk;
    }
    if (args.Flag("-V") || args.Flag("--version")) return PrintVersion(out);
    if (auto v = args.Option("--rules", error)) {
      paths.push_back(*v);
      continue;
    }
    if (!error.empty()) return Usage(err, "explain: " + error);
    std::string a(args.Peek());
    if (a.rfind("-", 0) == 0) return Usage(err, "explain: unknown option '" + a + "'");
    if (!id.empty()) return Usage(err, "explain: one rule id at a time");
    id = a;
    args.Flag(a);
  }
  if (id.empty()) return Usage(err, "explain: name a rule id (see 'cvm-preflight rules list')");
  // Node rules, then image rules, each with the user's files of its kind
  // on top (a --rules file is read as the kind its verdicts say).
  std::vector<std::string> node_paths, image_paths;
  for (const auto& p : paths) {
    bool is_image = false;
    for (const auto& rule : rules::LoadRulesPath(p, std::nullopt).rules) {
      for (const auto& v : rule.verdicts) is_image = is_image || rules::IsVerdict(v, rules::RuleSetKind::kImage);
    }
    (is_image ? image_paths : node_paths).push_back(p);
  }
  rules::RuleSetLoad loaded = rules::LoadRuleSet(node_paths);
  const rules::Rule* r = loaded.set.Find(id);
  rules::RuleSetLoad image;
  if (r == nullptr) {
    image = rules::LoadImageRuleSet(image_paths);
    r = image.set.Find(id);
  }
  // The cluster checks of `cvm-preflight report` (rules/cluster/) too.
  rules::RuleSet cluster;
  if (r == nullptr) {
    for (auto& c : rules::LoadClusterRules().rules) cluster.Upsert(std::move(c));
    r = cluster.Find(id);
  }
  if (r == nullptr) {
    err << "cvm-preflight: explain: no rule '" << id
        << "' (see 'cvm-preflight rules list')\n";
    return kExitFalse;
  }
  out << r->id << ": " << r->title << "\n\n";
  out << "Severity:  " << rules::SeverityName(r->severity);
  for (const auto& [p, sev] : r->profile_severity) {
    out << " (" << p << ": " << rules::SeverityName(sev) << ")";
  }
  out << "\nVerdicts:  " << Joined(r->verdicts) << "\n";
  out << "Profiles:  " << (r->profiles.empty() ? "all" : Joined(r->profiles)) << "\n";
  if (r->when) out << "Applies when: " << r->when->Text() << "\n";
  out << "Checks:    " << r->expect.Text() << "\n";
  if (!r->rationale.empty()) out << "\nWhy: " << r->rationale << "\n";
  if (!r->fix.empty()) out << "\nFix: " << r->fix << "\n";
  out << "\nSources:\n";
  for (const auto& s : r->sources) out << "  " << s << "\n";
  out << "\nDefined in " << r->file << ":" << r->line << "\n";
  return kExitOk;
}

int RunFacts(Args& args, std::ostream& out, std::ostream& err) {
  bool markdown = false;
  while (!args.Done()) {
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kFactsHelp;
      return kExitOk;
    }
    if (args.Flag("-V") || args.Flag("--version")) return PrintVersion(out);
    if (args.Flag("--markdown")) {
      markdown = true;
      continue;
    }
    return Usage(err, "facts: unknown option '" + std::string(args.Peek()) + "'");
  }
  if (markdown) {
    WriteFactsMarkdown(out);
  } else {
    WriteFactsList(out);
  }
  return kExitOk;
}

}  // namespace

double UnixNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool UseColor() {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

int ExitCodeOf(rules::Tri verdict) {
  switch (verdict) {
    case rules::Tri::kTrue: return kExitOk;
    case rules::Tri::kFalse: return kExitFalse;
    case rules::Tri::kUnknown: break;
  }
  return kExitUnknown;
}

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  if (argc < 2) {
    err << kMainHelp;
    return kExitUsage;
  }
  std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    out << kMainHelp;
    return kExitOk;
  }
  if (cmd == "-V" || cmd == "--version") {
    out << "cvm-preflight " << kVersion << "\n";
    return kExitOk;
  }
  Args args(argc, argv, 2);
  if (cmd == "scan") return RunScan(args, out, err);
  if (cmd == "image") return RunImageCommand(args, out, err);
  if (cmd == "agent") return RunAgentCommand(args, out, err);
  // Hidden: the agent's scan worker (exporter/scan_worker.h).
  if (cmd == "__scan-worker") return RunScanWorker();
  if (cmd == "report") return RunReportCommand(args, out, err);
  if (cmd == "prune") return RunPruneCommand(args, out, err);
  if (cmd == "facts") return RunFacts(args, out, err);
  if (cmd == "rules") return RunRules(args, out, err);
  if (cmd == "explain") return RunExplain(args, out, err);
  return Usage(err, "unknown command '" + std::string(cmd) + "'");
}

}  // namespace cvm::exporter
