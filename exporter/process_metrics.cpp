#include "exporter/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cvm::exporter {
namespace {

prometheus::MetricFamily One(std::string name, std::string help,
                             prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

std::string ReadSmall(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Seconds since the epoch at boot: /proc/stat's btime.
double BootTime() {
  std::istringstream in(ReadSmall("/proc/stat"));
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

Families ProcessFamilies() {
  using prometheus::MetricType;
  Families out;
  // /proc/self/stat: the command name (field 2) may hold spaces and ')'.
  std::string stat = ReadSmall("/proc/self/stat");
  std::size_t close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(stat.substr(close + 2));
    std::vector<std::string> f;  // f[0] is field 3 (state)
    for (std::string s; in >> s;) f.push_back(s);
    if (f.size() >= 22) {
      const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
      // utime 14, stime 15, cutime 16, cstime 17, starttime 22, vsize 23, rss 24
      double cpu = (std::stod(f[11]) + std::stod(f[12]) + std::stod(f[13]) +
                    std::stod(f[14])) / tick;
      out.push_back(One("process_cpu_seconds_total",
                        "User and system CPU time of the process and its reaped "
                        "children, in seconds",
                        MetricType::Counter, cpu));
      out.push_back(One("process_resident_memory_bytes", "Resident memory size in bytes",
                        MetricType::Gauge, std::stod(f[21]) * page));
      out.push_back(One("process_virtual_memory_bytes", "Virtual memory size in bytes",
                        MetricType::Gauge, std::stod(f[20])));
      double boot = BootTime();
      if (boot > 0) {
        out.push_back(One("process_start_time_seconds",
                          "Start time of the process since the epoch, in seconds",
                          MetricType::Gauge, boot + std::stod(f[19]) / tick));
      }
    }
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    out.push_back(One("process_open_fds", "Open file descriptors", MetricType::Gauge,
                      n - 1));  // not the one opendir holds
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.push_back(One("process_max_fds", "The soft limit of open file descriptors",
                      MetricType::Gauge, static_cast<double>(lim.rlim_cur)));
  }
  return out;
}

}  // namespace cvm::exporter
