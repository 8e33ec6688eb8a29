#pragma once
// Typed access to members of untrusted event JSON. A member of the wrong type, or a missing
// required one, throws FieldError naming its path ("content.info.size"); the mapping turns it
// into a kInvalidArgument Error at the module boundary. JSON null counts as absent for
// optional members (the spec allows it for some, e.g. m.room.member displayname).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace coibridge::connectors::matrix::json_fields {

using nlohmann::json;

struct FieldError : std::runtime_error {
  FieldError(std::string path, const std::string& message)
      : std::runtime_error(message), field(std::move(path)) {}
  std::string field;
};

// A string member, "" when `obj` is no object or the member is absent or not a string: for
// fields whose absence is itself the answer. Never throws.
inline std::string text_or_empty(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

inline std::string join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

// The member `key` of the object `obj` (itself at `path`), or nullptr when absent or null.
inline const json* find(const json& obj, std::string_view path, std::string_view key) {
  if (!obj.is_object()) throw FieldError(std::string(path), "must be an object");
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

inline const json& required(const json& obj, std::string_view path, std::string_view key) {
  const json* v = find(obj, path, key);
  if (v == nullptr) throw FieldError(join(path, key), "is required");
  return *v;
}

inline const std::string& required_string(const json& obj, std::string_view path,
                                          std::string_view key) {
  const json& v = required(obj, path, key);
  if (!v.is_string()) throw FieldError(join(path, key), "must be a string");
  return v.get_ref<const std::string&>();
}

inline const std::string* optional_string(const json& obj, std::string_view path,
                                          std::string_view key) {
  const json* v = find(obj, path, key);
  if (v == nullptr) return nullptr;
  if (!v->is_string()) throw FieldError(join(path, key), "must be a string");
  return &v->get_ref<const std::string&>();
}

inline const json& required_object(const json& obj, std::string_view path, std::string_view key) {
  const json& v = required(obj, path, key);
  if (!v.is_object()) throw FieldError(join(path, key), "must be an object");
  return v;
}

inline const json* optional_object(const json& obj, std::string_view path, std::string_view key) {
  const json* v = find(obj, path, key);
  if (v != nullptr && !v->is_object()) throw FieldError(join(path, key), "must be an object");
  return v;
}

inline std::optional<bool> optional_bool(const json& obj, std::string_view path,
                                         std::string_view key) {
  const json* v = find(obj, path, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) throw FieldError(join(path, key), "must be a boolean");
  return v->get<bool>();
}

// A non-negative integer (the spec's integers are at most 2^53 - 1; this takes any uint64).
inline std::optional<std::uint64_t> optional_count(const json& obj, std::string_view path,
                                                   std::string_view key) {
  const json* v = find(obj, path, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<std::uint64_t>();
  if (v->is_number_integer() && v->get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(v->get<std::int64_t>());
  throw FieldError(join(path, key), "must be a non-negative integer");
}

}  // namespace coibridge::connectors::matrix::json_fields
