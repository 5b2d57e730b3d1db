#include "probe/runtime_config.h"

#include "probe/detail/toml.h"

namespace cvm::probe {
namespace {

Result<toml::table> ParseToml(std::string_view text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return MakeError("", "TOML syntax error at line " + std::to_string(at.line) +
                             ", column " + std::to_string(at.column) + ": " +
                             std::string(e.description()));
  }
}

void AppendKeys(const toml::node_view<const toml::node>& runtimes,
                std::vector<std::string>& out) {
  const toml::table* t = runtimes.as_table();
  if (t == nullptr) return;
  for (const auto& [key, value] : *t) {
    if (!value.is_table()) continue;
    std::string name(key.str());
    bool seen = false;
    for (const auto& h : out) seen = seen || h == name;
    if (!seen) out.push_back(std::move(name));
  }
}

}  // namespace

Result<ContainerdConfig> ParseContainerdConfig(std::string_view text) {
  auto parsed = ParseToml(text);
  if (!parsed) return parsed.error();
  const toml::table& t = *parsed;
  ContainerdConfig out;
  if (auto v = t["version"].value<std::int64_t>()) out.version = *v;
  if (const auto* imports = t["imports"].as_array()) {
    for (const auto& item : *imports) {
      if (auto s = item.value<std::string>()) out.imports.push_back(*s);
    }
  }
  const toml::node_view<const toml::node> plugins = t["plugins"];
  for (std::string_view plugin :
       {"cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"}) {
    AppendKeys(plugins[plugin]["containerd"]["runtimes"], out.handlers);
  }
  return out;
}

Result<std::vector<std::string>> ParseCrioRuntimes(std::string_view text) {
  auto parsed = ParseToml(text);
  if (!parsed) return parsed.error();
  std::vector<std::string> out;
  const toml::table& t = *parsed;
  AppendKeys(t["crio"]["runtime"]["runtimes"], out);
  return out;
}

}  // namespace cvm::probe
