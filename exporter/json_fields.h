#pragma once
// Reading untrusted JSON (the Kubernetes API's answers): a field of
// another type is a field not there, never an exception.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cvm::exporter {

// obj[key] when obj is an object and obj[key] a string.
inline std::optional<std::string> StringAt(const nlohmann::json& obj, const std::string& key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// obj[key] as a string, else "".
inline std::string Str(const nlohmann::json& obj, const std::string& key) {
  return StringAt(obj, key).value_or("");
}

// obj[key], else {} (also when obj is not an object).
inline const nlohmann::json& Field(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it == obj.end() ? kEmpty : *it;
}

// obj[a][b] when it is an object, else {}.
inline const nlohmann::json& MapAt(const nlohmann::json& obj, const char* a, const char* b) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json& m = Field(Field(obj, a), b);
  return m.is_object() ? m : kEmpty;
}

}  // namespace cvm::exporter
