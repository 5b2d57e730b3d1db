#pragma once
// The command line: `cvm-preflight COMMAND [OPTIONS]`. Thin shells around
// the one pipeline (ARCHITECTURE.md); output and errors go to the streams
// given, so tests run the real CLI in-process.

#include <ostream>

#include "rules/engine.h"

namespace cvm::exporter {

// Exit codes, shared by every command.
inline constexpr int kExitOk = 0;       // the selected verdict is true
inline constexpr int kExitFalse = 1;    // the selected verdict is false
inline constexpr int kExitUsage = 2;    // usage or fatal error
inline constexpr int kExitUnknown = 3;  // the selected verdict is unknown

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err);

// Shared by the commands that print a report (scan, image).
// The exit code of a selected verdict: 0 true, 1 false, 3 unknown.
int ExitCodeOf(rules::Tri verdict);
// Colour on a terminal unless NO_COLOR is set.
bool UseColor();
// Now, seconds since the epoch (the report's scan end).
double UnixNow();

}  // namespace cvm::exporter
