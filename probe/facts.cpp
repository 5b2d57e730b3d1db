#include "probe/facts.h"

namespace cvm::probe {

void Facts::Set(std::string_view name, FactValue value,
                std::string_view source) {
  auto it = facts_.find(name);
  if (it == facts_.end()) {
    facts_.emplace(std::string(name), Fact{std::move(value), std::string(source)});
  } else {
    it->second = Fact{std::move(value), std::string(source)};
  }
}

const Fact* Facts::Find(std::string_view name) const {
  auto it = facts_.find(name);
  return it == facts_.end() ? nullptr : &it->second;
}

const std::string* Facts::GetString(std::string_view name) const {
  const Fact* f = Find(name);
  return f ? std::get_if<std::string>(&f->value) : nullptr;
}

std::optional<std::int64_t> Facts::GetInt(std::string_view name) const {
  const Fact* f = Find(name);
  if (f == nullptr) return std::nullopt;
  if (auto* v = std::get_if<std::int64_t>(&f->value)) return *v;
  return std::nullopt;
}

std::optional<bool> Facts::GetBool(std::string_view name) const {
  const Fact* f = Find(name);
  if (f == nullptr) return std::nullopt;
  if (auto* v = std::get_if<bool>(&f->value)) return *v;
  return std::nullopt;
}

const StringList* Facts::GetList(std::string_view name) const {
  const Fact* f = Find(name);
  return f ? std::get_if<StringList>(&f->value) : nullptr;
}

}  // namespace cvm::probe
