#pragma once
// A fixture as the tests scan it: fixtures/<name>/root, plus what the test
// setup generated for it (fixtures/<name>/overlays: lines "<cache dir>
// <in-root dir>", copied from build/test-cache/ into a temporary copy of
// the root: depmod trees, mkfs images, unpacked packages; a cached file is
// copied to exactly the in-root path given, a cached character device made
// again there with mknod), plus the node
// object of agent mode (fixtures/<name>/node.json, a real `kubectl get node
// -o json` excerpt) when there is one.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/facts.h"
#include "probe/probe.h"
#include "tests/support/temp_tree.h"

namespace cvm::testing {

class Fixture {
 public:
  explicit Fixture(const std::string& name);
  const std::string& root() const { return root_; }
  const probe::NodeInfo* node() const { return node_ ? &*node_ : nullptr; }
  probe::Facts Scan(const probe::ProbeOptions& options = {}) const;

 private:
  std::string root_;
  std::unique_ptr<TempTree> copy_;
  std::optional<probe::NodeInfo> node_;
};

// A whole scan of a temporary tree, as a folder root.
probe::Facts ScanTree(const TempTree& tree, const probe::ProbeOptions& options = {});

// Every fixtures/<name> with a root/ folder, sorted.
std::vector<std::string> FixtureNames();

}  // namespace cvm::testing
