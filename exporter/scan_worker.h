#pragma once
// The agent's scans run in a worker process: `cvm-preflight __scan-worker`,
// started with posix_spawn (safe from the agent, which has HTTP threads),
// single-threaded, so the probes' own forks (probe/child) are safe in it.
// One request line in, one answer line out, JSON:
//   request  {"root": DIR, "exec_versions": B, "coder_shiftfs_autoload": B,
//             "agent": B, "node": {NodeInfo's fields} (optional)}
//   answer   {"facts": <probe/facts_json.h object>} or {"error": TEXT}
// A worker that overruns its deadline is killed and a new one started for
// the next scan; a hung statvfs costs one worker, never the agent.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "probe/facts.h"
#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::exporter {

// The worker's main loop on stdin/stdout; returns its exit status.
int RunScanWorker();

struct ScanRequest {
  std::string root;
  probe::ProbeOptions options;
  std::optional<probe::NodeInfo> node;  // the node object's, when it was read
};

class ScanWorker {
 public:
  explicit ScanWorker(std::string exe) : exe_(std::move(exe)) {}
  ~ScanWorker();
  ScanWorker(const ScanWorker&) = delete;
  ScanWorker& operator=(const ScanWorker&) = delete;

  struct Outcome {
    bool overrun = false;  // the deadline passed; the worker was killed
    Result<probe::Facts> facts = MakeError("", "no scan");
  };
  // Starts the worker if none runs, sends the request and waits for the
  // answer until `deadline`. `interrupt_fd`, when >= 0, is polled too:
  // readable means stop waiting (shutdown); the worker is then killed.
  Outcome Scan(const ScanRequest& request, std::chrono::milliseconds deadline,
               int interrupt_fd = -1);
  pid_t pid() const { return pid_; }
  // Ends the worker (closes its stdin, then SIGKILL after 200 ms).
  void Stop();
  // The agent's reaper collected the worker (it died): forget it, so its
  // pid is never signalled again.
  void Reaped();

 private:
  Result<bool> Start();
  void Kill();

  std::string exe_;
  pid_t pid_ = -1;
  int to_ = -1;    // the worker's stdin
  int from_ = -1;  // the worker's stdout
  std::string pending_;  // bytes read after the last answer line
};

}  // namespace cvm::exporter
