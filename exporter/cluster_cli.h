#pragma once
// The cluster commands' command lines (exporter/cluster_cli.cpp).

#include <ostream>

#include "exporter/args.h"

namespace cvm::exporter {

int RunReportCommand(Args& args, std::ostream& out, std::ostream& err);
int RunPruneCommand(Args& args, std::ostream& out, std::ostream& err);

}  // namespace cvm::exporter
