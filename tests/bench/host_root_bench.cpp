// HostRoot resolution side by side: the userspace walk against the
// openat2(RESOLVE_IN_ROOT) fast path, on the paths a scan reads (a plain
// file, an absolute symlink as Ubuntu's /etc/os-release, a deep sysfs-like
// path), and one whole scan of a fixture. Prints figures; asserts nothing.
#include <benchmark/benchmark.h>

#include <string>

#include "probe/host_root.h"
#include "probe/registry.h"

namespace {

using cvm::probe::HostRoot;
using cvm::probe::Resolver;

std::string FixtureRoot() { return std::string(CVM_SOURCE_DIR) + "/fixtures/rhel-8/root"; }

void ReadFile(benchmark::State& state, Resolver resolver, const char* path) {
  if (resolver == Resolver::kOpenat2 && !HostRoot::KernelHasOpenat2()) {
    state.SkipWithError("no openat2 on this kernel");
    return;
  }
  auto root = HostRoot::Open(FixtureRoot(), resolver);
  if (!root) {
    state.SkipWithError(root.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    auto text = root->ReadFile(path);
    benchmark::DoNotOptimize(text);
  }
}

void BM_ReadOsReleaseViaLink_Walk(benchmark::State& s) {
  ReadFile(s, Resolver::kWalk, "/etc/os-release");
}
void BM_ReadOsReleaseViaLink_Openat2(benchmark::State& s) {
  ReadFile(s, Resolver::kOpenat2, "/etc/os-release");
}
void BM_ReadDeepFile_Walk(benchmark::State& s) {
  ReadFile(s, Resolver::kWalk, "/proc/sys/kernel/osrelease");
}
void BM_ReadDeepFile_Openat2(benchmark::State& s) {
  ReadFile(s, Resolver::kOpenat2, "/proc/sys/kernel/osrelease");
}
BENCHMARK(BM_ReadOsReleaseViaLink_Walk);
BENCHMARK(BM_ReadOsReleaseViaLink_Openat2);
BENCHMARK(BM_ReadDeepFile_Walk);
BENCHMARK(BM_ReadDeepFile_Openat2);

void BM_FullScanOfAFixture(benchmark::State& state) {
  auto root = HostRoot::Open(FixtureRoot());
  for (auto _ : state) {
    auto facts = cvm::probe::RunProbes(*root);
    benchmark::DoNotOptimize(facts);
  }
}
BENCHMARK(BM_FullScanOfAFixture)->Unit(benchmark::kMicrosecond);

void BM_FullScanOfThisMachine(benchmark::State& state) {
  auto root = HostRoot::Open("/");
  for (auto _ : state) {
    auto facts = cvm::probe::RunProbes(*root);
    benchmark::DoNotOptimize(facts);
  }
}
BENCHMARK(BM_FullScanOfThisMachine)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
