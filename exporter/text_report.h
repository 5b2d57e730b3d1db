#pragma once
// The report for people, read top-down: verdicts, failing and unknown
// checks with their fixes, warnings, passing checks one line each, facts
// on request, then what could not be read. Colour only when asked (the CLI
// asks on a terminal without NO_COLOR).

#include <ostream>
#include <string>

#include "probe/facts.h"
#include "rules/report.h"

namespace cvm::exporter {

struct TextOptions {
  bool color = false;
  bool facts = false;  // list every fact
  // What the first line calls the run: "scan" (a node) or "image check".
  std::string_view subject = "scan";
};

void WriteTextReport(const rules::Report& report, const TextOptions& options,
                     std::ostream& out);

// One fact value as text: lists joined with ", ", records as "k=v ...".
std::string FactValueText(const probe::FactValue& value);

}  // namespace cvm::exporter
