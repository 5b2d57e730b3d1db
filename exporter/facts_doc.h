#pragma once
// docs/facts.md, generated from the fact catalog so that the list of facts
// is written once (probe/fact_catalog.cpp).

#include <ostream>

namespace cvm::exporter {

void WriteFactsMarkdown(std::ostream& out);
void WriteFactsList(std::ostream& out);

}  // namespace cvm::exporter
