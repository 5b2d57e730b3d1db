#include "exporter/cli.h"

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/facts_doc.h"
#include "exporter/report_json.h"
#include "exporter/text_report.h"
#include "exporter/version.h"
#include "probe/host_root.h"
#include "probe/registry.h"

namespace cvm::exporter {
namespace {

constexpr std::string_view kMainHelp =
    R"(Usage: cvm-preflight COMMAND [OPTIONS]

Checks whether a node can host Coder CVM workspaces (Sysbox).

Commands:
  scan      Scan a host root once and print the report
  facts     List every fact the probes can set

Options:
  -h, --help     Show this help (also after a command)
  -V, --version  Show the version

Run 'cvm-preflight COMMAND --help' for a command's options.
)";

constexpr std::string_view kScanHelp =
    R"(Usage: cvm-preflight scan [--root DIR] [--format text|json] [--exec-versions]

Scans a host root and prints what the probes found. Nothing on the host
is changed and nothing is executed unless --exec-versions is given.

Options:
  --root DIR        The host's root: / at a shell (default), /host in the
                    DaemonSet, or a folder (a fixture, an unpacked image)
  --format FORMAT   text (default, for people) or json (docs/report-format.md)
  --exec-versions   Run '<binary> --version' of container runtimes when no
                    package database or build information gives a version
  -h, --help        Show this help
  -V, --version     Show the version

Exit status: 0 when the scan ran, 2 on a usage or fatal error.
Colour is used on a terminal unless NO_COLOR is set.
)";

constexpr std::string_view kFactsHelp =
    R"(Usage: cvm-preflight facts [--markdown]

Lists every fact name with its type and meaning.

Options:
  --markdown   Print docs/facts.md
  -h, --help   Show this help
)";

// Walks the arguments of one command. Accepts "--opt VALUE" and
// "--opt=VALUE"; anything unknown is a usage error.
class Args {
 public:
  Args(int argc, char** argv, int start) {
    for (int i = start; i < argc; ++i) args_.emplace_back(argv[i]);
  }
  bool Done() const { return pos_ >= args_.size(); }
  std::string_view Peek() const { return args_[pos_]; }
  // True when the current argument is `name`; takes its value if needed.
  bool Flag(std::string_view name) {
    if (args_[pos_] != name) return false;
    ++pos_;
    return true;
  }
  std::optional<std::string> Option(std::string_view name, std::string& error) {
    std::string_view a = args_[pos_];
    if (a == name) {
      if (pos_ + 1 >= args_.size()) {
        error = std::string(name) + " needs a value";
        return std::nullopt;
      }
      pos_ += 2;
      return args_[pos_ - 1];
    }
    if (a.size() > name.size() && a.substr(0, name.size()) == name &&
        a[name.size()] == '=') {
      ++pos_;
      return std::string(a.substr(name.size() + 1));
    }
    return std::nullopt;
  }

 private:
  std::vector<std::string> args_;
  std::size_t pos_ = 0;
};

int Usage(std::ostream& err, const std::string& message) {
  err << "cvm-preflight: " << message
      << " (see 'cvm-preflight --help')\n";
  return kExitUsage;
}

bool UseColor() {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

int RunScan(Args& args, std::ostream& out, std::ostream& err) {
  std::string root = "/";
  std::string format = "text";
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
  if (format != "text" && format != "json") {
    return Usage(err, "scan: --format must be text or json, not '" + format + "'");
  }
  auto host = probe::HostRoot::Open(root);
  if (!host) {
    err << "cvm-preflight: scan: cannot open root " << host.error().message
        << "\n";
    return kExitUsage;
  }
  probe::Facts facts = probe::RunProbes(*host, options);
  if (format == "json") {
    out << ReportToJson(facts).dump(2) << "\n";
  } else {
    WriteTextReport(facts, TextOptions{UseColor()}, out);
  }
  return kExitOk;
}

int RunFacts(Args& args, std::ostream& out, std::ostream& err) {
  bool markdown = false;
  while (!args.Done()) {
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kFactsHelp;
      return kExitOk;
    }
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
  if (cmd == "facts") return RunFacts(args, out, err);
  return Usage(err, "unknown command '" + std::string(cmd) + "'");
}

}  // namespace cvm::exporter
