#pragma once
// The command line: `cvm-preflight COMMAND [OPTIONS]`. Thin shells around
// the one pipeline (ARCHITECTURE.md); output and errors go to the streams
// given, so tests run the real CLI in-process.

#include <ostream>

namespace cvm::exporter {

// Exit codes, shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;  // usage or fatal error

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace cvm::exporter
