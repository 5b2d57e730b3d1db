#pragma once
// The command line: `cvm-preflight COMMAND [OPTIONS]`. Thin shells around
// the one pipeline (ARCHITECTURE.md); output and errors go to the streams
// given, so tests run the real CLI in-process.

#include <ostream>

namespace cvm::exporter {

// Exit codes, shared by every command.
inline constexpr int kExitOk = 0;       // the selected verdict is true
inline constexpr int kExitFalse = 1;    // the selected verdict is false
inline constexpr int kExitUsage = 2;    // usage or fatal error
inline constexpr int kExitUnknown = 3;  // the selected verdict is unknown

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace cvm::exporter
