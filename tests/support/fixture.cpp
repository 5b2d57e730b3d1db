#include "tests/support/fixture.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "probe/registry.h"
#include "tests/support/data.h"

namespace fs = std::filesystem;

namespace cvm::testing {

std::vector<std::string> FixtureNames() {
  std::vector<std::string> out;
  for (const auto& name : ListNames(SourcePath("fixtures"), false)) {
    if (fs::is_directory(SourcePath("fixtures/" + name + "/root"))) out.push_back(name);
  }
  return out;
}

Fixture::Fixture(const std::string& name) {
  std::string dir = SourcePath("fixtures/" + name);
  root_ = dir + "/root";
  if (fs::exists(dir + "/overlays")) {
    copy_ = std::make_unique<TempTree>();
    copy_->CopyFrom(root_);
    std::istringstream in(ReadText(dir + "/overlays"));
    std::string from, to;
    while (in >> from >> to) {
      if (from.front() == '#') {
        std::getline(in, from);
        continue;
      }
      std::string src = std::string(CVM_TEST_CACHE) + "/" + from;
      if (!fs::exists(src)) {
        throw std::runtime_error(name + "/overlays: " + src +
                                 " is missing; its CTest setup has not run");
      }
      if (fs::is_character_file(src)) {  // a device node (made by a setup
        // step as root): made again at exactly `to`, same numbers and mode
        struct stat st {};
        fs::create_directories(fs::path(copy_->Abs(to)).parent_path());
        if (::stat(src.c_str(), &st) != 0 ||
            ::mknod(copy_->Abs(to).c_str(), st.st_mode, st.st_rdev) != 0) {
          throw std::runtime_error(name + "/overlays: cannot make the device node " +
                                   to + " from " + src + " (mknod needs root)");
        }
        continue;
      }
      if (fs::is_regular_file(src)) {  // one file: placed at exactly `to`
        fs::create_directories(fs::path(copy_->Abs(to)).parent_path());
        // A hard link where it can be (images of 300 MB; the scan only
        // reads them), a copy across filesystems.
        std::error_code ec;
        fs::remove(copy_->Abs(to), ec);
        fs::create_hard_link(src, copy_->Abs(to), ec);
        if (ec) fs::copy_file(src, copy_->Abs(to), fs::copy_options::overwrite_existing);
        continue;
      }
      fs::create_directories(copy_->Abs(to));
      fs::copy(src, copy_->Abs(to),
               fs::copy_options::recursive | fs::copy_options::copy_symlinks |
                   fs::copy_options::overwrite_existing);
    }
    root_ = copy_->path();
  }
  if (fs::exists(dir + "/node.json")) {
    auto j = nlohmann::json::parse(ReadText(dir + "/node.json"));
    probe::NodeInfo n;
    n.name = j.value("/metadata/name"_json_pointer, "");
    n.kubelet_version = j.value("/status/nodeInfo/kubeletVersion"_json_pointer, "");
    n.container_runtime_version =
        j.value("/status/nodeInfo/containerRuntimeVersion"_json_pointer, "");
    n.kernel_version = j.value("/status/nodeInfo/kernelVersion"_json_pointer, "");
    n.os_image = j.value("/status/nodeInfo/osImage"_json_pointer, "");
    n.provider_id = j.value("/spec/providerID"_json_pointer, "");
    node_ = n;
  }
}

probe::Facts ScanTree(const TempTree& tree, const probe::ProbeOptions& options) {
  auto root = probe::HostRoot::Open(tree.path());
  if (!root) throw std::runtime_error(root.error().message);
  return probe::RunProbes(*root, options);
}

probe::Facts Fixture::Scan(const probe::ProbeOptions& options) const {
  auto root = probe::HostRoot::Open(root_);
  if (!root) throw std::runtime_error(root.error().message);
  // node.json stands for the node object the agent reads.
  probe::ProbeOptions opts = options;
  if (node() != nullptr) opts.agent = true;
  probe::Facts facts = probe::RunProbes(*root, opts, node());
  return facts;
}

}  // namespace cvm::testing
