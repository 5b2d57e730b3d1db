// Runs a libFuzzer target without libFuzzer, so every build (g++ in CI)
// exercises it: each seed file named on the command line (files, or
// directories of them), then deterministic mutations of each seed
// (truncations, byte flips, insertions, splices). Fails only by crashing,
// which CTest reports; ASan/UBSan builds turn bad accesses into crashes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
        // A fixture may hold a symlink loop (hostile-hostpath-links): a
        // seed that cannot be stat'ed is skipped, not a crash.
        std::error_code ec;
        if (e.is_regular_file(ec)) seeds.push_back(Read(e.path()));
      }
    } else if (std::filesystem::is_regular_file(p)) {
      seeds.push_back(Read(p));
    }
  }
  seeds.push_back("");
  std::mt19937 rng(20261123);
  std::size_t runs = 0;
  for (const auto& seed : seeds) {
    Run(seed);
    ++runs;
    for (int m = 0; m < 200; ++m) {
      std::string s = seed;
      switch (rng() % 5) {
        case 0: s.resize(s.empty() ? 0 : rng() % s.size()); break;
        case 1: if (!s.empty()) s[rng() % s.size()] ^= static_cast<char>(1u << (rng() % 8)); break;
        case 2: s.insert(s.empty() ? 0 : rng() % s.size(), 1, static_cast<char>(rng())); break;
        case 3: s += seeds[rng() % seeds.size()]; break;
        case 4: if (!s.empty()) s.insert(rng() % s.size(), s.substr(rng() % s.size(), 64)); break;
      }
      Run(s);
      ++runs;
    }
  }
  std::printf("replayed %zu inputs from %zu seeds\n", runs, seeds.size() - 1);
  return 0;
}
