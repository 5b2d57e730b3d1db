// Whole-process cost of cvm-preflight's commands, side by side with what
// they replace (issue 19), in one run on this machine, as a user's `time`
// counts it: each command is spawned, and wait4(2)'s rusage gives its CPU
// (user + system, its reaped children included), and its peak RSS; wall time
// is measured around spawn and wait. Commands run interleaved (one of each,
// then again, `--runs` times), so a noisy neighbour hurts them alike; the
// table shows medians, and each scan's ratio to the shell equivalent of
// the same root (tests/bench/shell_equivalent.sh) from the same rounds.
//
//   ./build/tests/bench/scan_bench --cvm build/cvm-preflight
//       --shell tests/bench/shell_equivalent.sh [--runs 31]
//       [--fixture NAME]... [--validators BIN | --validators-missing WHY]
//
// tests/bench/scan_bench.sh runs it as one command. It also prints the
// median time of each probe inside the scans of / (from the JSON report:
// a regression points at its probe) and checks that the shell's answers
// are the scan's. Prints figures; asserts none (STYLE.md section 17): it
// exits 1 only when an answer differs or a command fails to run.
//
// Peak RSS: the spawn is a vfork, so a child's figure can be no lower than
// this harness's own resident size at the time (the "bare process" row).
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/fixture.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Sample {
  double cpu_ms = 0;
  double wall_ms = 0;
  double rss_kib = 0;
};

struct Case {
  std::string name;
  std::vector<std::string> argv;
  std::string group;     // root the scan/shell pair is about ("" = none)
  bool is_scan = false;  // the cvm-preflight scan of `group`
  bool is_shell = false; // the shell equivalent of `group`
  std::vector<Sample> samples;
  std::string last_output;
  int last_status = 0;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Spawns argv with stdout to `out_path` and stderr to /dev/null.
std::optional<Sample> RunOnce(Case& c, const std::string& out_path) {
  std::vector<char*> argv;
  for (auto& a : c.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  auto start = Clock::now();
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    std::fprintf(stderr, "scan_bench: cannot run %s: %s\n", argv[0], std::strerror(rc));
    return std::nullopt;
  }
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return std::nullopt;
  }
  auto wall = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  c.last_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return Sample{ms(ru.ru_utime) + ms(ru.ru_stime), wall, static_cast<double>(ru.ru_maxrss)};
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename F>
double MedianOf(const std::vector<Sample>& s, F f) {
  std::vector<double> v;
  for (const auto& x : s) v.push_back(f(x));
  return Median(v);
}

// The report's facts, flattened to dotted names ("hostpath.tmp.fstype").
void Flatten(const json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      Flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
  } else if (j.is_string()) {
    out[prefix] = j.get<std::string>();
  } else {
    out[prefix] = j.dump();
  }
}

// Compares the shell's "fact=value" lines with the scan's facts; prints
// each difference. Free space moves while other processes write, so
// free_bytes agree within 2%.
int CompareAnswers(const std::string& group, const std::string& shell_out,
                   const std::string& scan_out) {
  json report = json::parse(scan_out, nullptr, false);
  if (report.is_discarded() || !report.contains("facts")) {
    std::printf("answers (%s): the scan printed no JSON report\n", group.c_str());
    return 1;
  }
  std::map<std::string, std::string> facts;
  Flatten(report["facts"], "", facts);
  std::istringstream in(shell_out);
  std::string line;
  int same = 0, differ = 0;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), want = line.substr(eq + 1);
    auto it = facts.find(key);
    std::string got = it == facts.end() ? "" : it->second;
    bool ok = got == want;
    if (!ok && key.ends_with(".free_bytes") && !got.empty() && !want.empty()) {
      double a = std::atof(got.c_str()), b = std::atof(want.c_str());
      ok = std::fabs(a - b) <= 0.02 * std::max(a, b);
    }
    if (ok) {
      ++same;
    } else {
      ++differ;
      std::printf("answers (%s): %s: shell says '%s', the scan '%s'\n", group.c_str(),
                  key.c_str(), want.c_str(), got.c_str());
    }
  }
  std::printf("answers (%s): %d of %d the same\n", group.c_str(), same, same + differ);
  return differ == 0 && same > 0 ? 0 : 1;
}

std::string MachineLine() {
  std::string model;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s; %ld cores (%s); load average %.2f %.2f %.2f at start",
                date, ::sysconf(_SC_NPROCESSORS_ONLN), model.c_str(), load[0], load[1], load[2]);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cvm, shell, validators, validators_missing, baseline;
  std::vector<std::string> fixtures;
  int runs = 31;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "scan_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--cvm") cvm = next();
    else if (a == "--shell") shell = next();
    else if (a == "--runs") runs = std::atoi(next().c_str());
    else if (a == "--fixture") fixtures.push_back(next());
    else if (a == "--validators") validators = next();
    else if (a == "--validators-missing") validators_missing = next();
    else if (a == "--baseline") baseline = next();
    else {
      std::fprintf(stderr, "scan_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (cvm.empty() || shell.empty() || runs < 1) {
    std::fprintf(stderr, "usage: scan_bench --cvm BIN --shell SCRIPT [--runs N] [--fixture NAME]... "
                         "[--validators BIN | --validators-missing WHY] [--baseline BIN]\n");
    return 2;
  }
  // Fixture copies (with their overlays) live as long as the run.
  std::vector<std::unique_ptr<cvm::testing::Fixture>> copies;
  std::vector<Case> cases;
  cases.push_back({"bare process (/bin/true)", {"/bin/true"}, "", false, false, {}, {}, 0});
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"--version"}, {"facts"}, {"rules", "list"},
        {"explain", "selinux-not-enforcing"}}) {
    std::string name = "cvm-preflight";
    for (const auto& c : cmd) name += " " + c;
    cmd.insert(cmd.begin(), cvm);
    cases.push_back({name, cmd, "", false, false, {}, {}, 0});
  }
  // Another build of cvm-preflight (the tree before a change), in the same
  // rounds, so that a change is measured side by side.
  if (!baseline.empty()) {
    cases.push_back({"baseline --version", {baseline, "--version"}, "", false, false, {}, {}, 0});
    cases.push_back({"baseline scan --format json, /",
                     {baseline, "scan", "--format", "json", "--root", "/"}, "", false, false, {},
                     {}, 0});
  }
  auto add_root = [&](const std::string& label, const std::string& root) {
    cases.push_back({"scan --format json, " + label,
                     {cvm, "scan", "--format", "json", "--root", root},
                     label, true, false, {}, {}, 0});
    cases.push_back({"shell equivalent, " + label, {"/bin/bash", shell, root}, label, false, true,
                     {}, {}, 0});
  };
  add_root("/", "/");
  for (const auto& f : fixtures) {
    try {
      copies.push_back(std::make_unique<cvm::testing::Fixture>(f));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "scan_bench: fixture %s: %s\n", f.c_str(), e.what());
      return 2;
    }
    add_root("fixture " + f, copies.back()->root());
  }
  if (!validators.empty()) {
    cases.push_back({"k8s system-validators (os, kernel, cgroups)", {validators}, "", false,
                     false, {}, {}, 0});
  }
  char out_template[] = "/tmp/scan-bench-XXXXXX";
  int tmp_fd = ::mkstemp(out_template);
  if (tmp_fd < 0) return 2;
  ::close(tmp_fd);
  std::string out_path = out_template;

  std::map<std::string, std::vector<double>> probe_ms;  // scans of /
  int failed = 0;
  for (int r = 0; r < runs; ++r) {
    for (auto& c : cases) {
      auto s = RunOnce(c, out_path);
      if (!s) {
        ++failed;
        continue;
      }
      c.samples.push_back(*s);
      c.last_output = ReadAll(out_path);
      if (c.is_scan && c.group == "/") {
        json j = json::parse(c.last_output, nullptr, false);
        if (!j.is_discarded() && j.contains("probes")) {
          for (const auto& p : j["probes"]) {
            probe_ms[p.value("name", "?")].push_back(p.value("duration_seconds", 0.0) * 1e3);
          }
        }
      }
    }
  }
  ::unlink(out_path.c_str());

  std::printf("scan_bench: %d interleaved runs of each command; %s\n", runs, MachineLine().c_str());
  std::printf("CPU = user + system of the process and its reaped children (wait4 rusage)\n\n");
  std::printf("| command | CPU ms | wall ms | peak RSS MiB | shell/scan CPU | shell/scan wall |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  std::map<std::string, const Case*> shell_of;
  for (const auto& c : cases) {
    if (c.is_shell) shell_of[c.group] = &c;
  }
  auto cpu = [](const Sample& s) { return s.cpu_ms; };
  auto wall = [](const Sample& s) { return s.wall_ms; };
  auto rss = [](const Sample& s) { return s.rss_kib / 1024; };
  for (const auto& c : cases) {
    std::string ratio_cpu, ratio_wall;
    if (c.is_scan && shell_of.count(c.group)) {
      // Ratios of the medians of the same rounds.
      const Case& sh = *shell_of[c.group];
      char a[32], b[32];
      std::snprintf(a, sizeof a, "%.1fx", MedianOf(sh.samples, cpu) / MedianOf(c.samples, cpu));
      std::snprintf(b, sizeof b, "%.1fx", MedianOf(sh.samples, wall) / MedianOf(c.samples, wall));
      ratio_cpu = a;
      ratio_wall = b;
    }
    std::printf("| %s | %.2f | %.2f | %.1f | %s | %s |\n", c.name.c_str(), MedianOf(c.samples, cpu),
                MedianOf(c.samples, wall), MedianOf(c.samples, rss), ratio_cpu.c_str(),
                ratio_wall.c_str());
  }
  if (validators.empty() && !validators_missing.empty()) {
    std::printf("| k8s system-validators | not built: %s | | | | |\n", validators_missing.c_str());
  }
  std::printf("\nProbes inside the scans of / (wall ms, median of %d):\n\n", runs);
  std::printf("| probe | ms |\n|---|---:|\n");
  std::vector<std::pair<double, std::string>> by_cost;
  for (const auto& [name, v] : probe_ms) by_cost.emplace_back(Median(v), name);
  std::sort(by_cost.rbegin(), by_cost.rend());
  for (const auto& [ms, name] : by_cost) std::printf("| %s | %.3f |\n", name.c_str(), ms);
  std::printf("\n");
  int bad = failed;
  for (const auto& c : cases) {
    if (!c.is_scan || !shell_of.count(c.group)) continue;
    bad += CompareAnswers(c.group, shell_of[c.group]->last_output, c.last_output);
  }
  for (const auto& c : cases) {
    // scan: 0, 1 or 3 are verdicts; 2 (or a signal) is a failure.
    if (c.last_status == 2 || c.last_status >= 128 || (!c.is_scan && c.last_status != 0 &&
                                                       c.name.find("validators") == std::string::npos)) {
      std::printf("%s: exit status %d\n", c.name.c_str(), c.last_status);
      ++bad;
    }
  }
  return bad == 0 ? 0 : 1;
}
