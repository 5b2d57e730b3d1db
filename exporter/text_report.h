#pragma once
// The report for people: facts grouped by subject, errors at the end with
// their paths. Colour only when asked (the CLI asks on a terminal without
// NO_COLOR).

#include <ostream>

#include "probe/facts.h"

namespace cvm::exporter {

struct TextOptions {
  bool color = false;
};

void WriteTextReport(const probe::Facts& facts, const TextOptions& options,
                     std::ostream& out);

// One fact value as text: lists joined with ", ", records as "k=v ...".
std::string FactValueText(const probe::FactValue& value);

}  // namespace cvm::exporter
