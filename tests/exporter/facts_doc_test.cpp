// docs/facts.md is generated from the fact catalog and must be current.
#include "exporter/facts_doc.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "tests/support/data.h"

namespace cvm::exporter {
namespace {

TEST(FactsDoc, DocsFactsMdIsCurrent) {
  std::ostringstream want;
  WriteFactsMarkdown(want);
  std::string path = cvm::testing::SourcePath("docs/facts.md");
  const char* update = std::getenv("CVM_PREFLIGHT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::trunc) << want.str();
  }
  EXPECT_EQ(cvm::testing::ReadText(path), want.str())
      << "regenerate: ./build/cvm-preflight facts --markdown > docs/facts.md";
}

TEST(FactsDoc, ListsEveryFact) {
  std::ostringstream doc;
  WriteFactsMarkdown(doc);
  for (const auto& spec : probe::FactCatalog()) {
    EXPECT_NE(doc.str().find("| `" + std::string(spec.name) + "` |"), std::string::npos)
        << spec.name;
  }
}

}  // namespace
}  // namespace cvm::exporter
