#include "clients/http/json_fields.h"

namespace fdr::http {

Result<Json> parseJson(std::string_view body, std::string_view what) {
  if (body.empty()) {
    return fail(ErrorCode::kCorruption, std::string(what) + ": empty response body, expected JSON");
  }
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Size and a short prefix help tell a truncated body from an HTML error page. Callers
    // scrub messages before they leave the client.
    std::string prefix(body.substr(0, 60));
    for (char& c : prefix) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return fail(ErrorCode::kCorruption, std::string(what) + ": malformed JSON in the response (" +
                                            std::to_string(body.size()) + " bytes, starting '" +
                                            prefix + "')");
  }
  return doc;
}

Result<std::string> dumpJson(const Json& doc, std::string_view what) {
  try {
    return doc.dump();
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + ": cannot encode the request body as JSON: " + e.what());
  }
}

std::string_view typeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    case Json::value_t::binary: return "binary";
    case Json::value_t::discarded: return "invalid";
  }
  return "unknown";
}

FieldReader::FieldReader(const Json& object, std::string what, std::string path)
    : object_(object), what_(std::move(what)), path_(std::move(path)) {
  if (!object_.is_object()) {
    error_ =
        Error{ErrorCode::kCorruption,
              what_ + ": " + (path_.empty() ? std::string("the response") : "'" + path_ + "'") +
                  " has type " + std::string(typeName(object_)) + ", expected object",
              false};
  }
}

FieldReader readObject(const Json& value, std::string what, std::string path) {
  return FieldReader(value, std::move(what), std::move(path));
}

std::string FieldReader::fieldPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void FieldReader::fail(std::string_view key, std::string_view problem) {
  if (error_) return;
  error_ = Error{ErrorCode::kCorruption,
                 what_ + ": field '" + fieldPath(key) + "' " + std::string(problem), false};
}

const Json* FieldReader::member(std::string_view key, bool required) {
  if (error_) return nullptr;
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) {
    if (required) fail(key, it == object_.end() ? "is missing" : "is null");
    return nullptr;
  }
  return &*it;
}

namespace {
std::string wrongType(const Json& value, std::string_view expected) {
  return "has type " + std::string(typeName(value)) + ", expected " + std::string(expected);
}
}  // namespace

std::string FieldReader::string(std::string_view key) {
  return optStringImpl(key, true).value_or("");
}

std::optional<std::string> FieldReader::optString(std::string_view key) {
  return optStringImpl(key, false);
}

std::optional<std::string> FieldReader::optStringImpl(std::string_view key, bool required) {
  const Json* v = member(key, required);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    fail(key, wrongType(*v, "string"));
    return std::nullopt;
  }
  return v->get<std::string>();
}

int64_t FieldReader::integer(std::string_view key) {
  return optIntegerImpl(key, true).value_or(0);
}

std::optional<int64_t> FieldReader::optInteger(std::string_view key) {
  return optIntegerImpl(key, false);
}

std::optional<int64_t> FieldReader::optIntegerImpl(std::string_view key, bool required) {
  const Json* v = member(key, required);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_unsigned()) {
    const auto u = v->get<uint64_t>();
    if (u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(u);
  }
  fail(key, wrongType(*v, "integer"));
  return std::nullopt;
}

bool FieldReader::boolean(std::string_view key) {
  return optBooleanImpl(key, true).value_or(false);
}

std::optional<bool> FieldReader::optBoolean(std::string_view key) {
  return optBooleanImpl(key, false);
}

std::optional<bool> FieldReader::optBooleanImpl(std::string_view key, bool required) {
  const Json* v = member(key, required);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    fail(key, wrongType(*v, "boolean"));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::string FieldReader::idString(std::string_view key) {
  return optIdStringImpl(key, true).value_or("");
}

std::optional<std::string> FieldReader::optIdString(std::string_view key) {
  return optIdStringImpl(key, false);
}

std::optional<std::string> FieldReader::optIdStringImpl(std::string_view key, bool required) {
  const Json* v = member(key, required);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_number_unsigned()) return std::to_string(v->get<uint64_t>());
  fail(key, wrongType(*v, "string or integer"));
  return std::nullopt;
}

const Json* FieldReader::object(std::string_view key) {
  return typed(key, true, true);
}
const Json* FieldReader::optObject(std::string_view key) {
  return typed(key, false, true);
}
const Json* FieldReader::array(std::string_view key) {
  return typed(key, true, false);
}
const Json* FieldReader::optArray(std::string_view key) {
  return typed(key, false, false);
}

const Json* FieldReader::typed(std::string_view key, bool required, bool want_object) {
  const Json* v = member(key, required);
  if (v == nullptr) return nullptr;
  if (want_object ? !v->is_object() : !v->is_array()) {
    fail(key, wrongType(*v, want_object ? "object" : "array"));
    return nullptr;
  }
  return v;
}

std::map<std::string, std::string> FieldReader::optStringMap(std::string_view key) {
  std::map<std::string, std::string> out;
  const Json* v = optObject(key);
  if (v == nullptr) return out;
  for (const auto& [k, value] : v->items()) {
    if (!value.is_string()) {
      fail(std::string(key) + "." + k, wrongType(value, "string"));
      return {};
    }
    out.emplace(k, value.get<std::string>());
  }
  return out;
}

}  // namespace fdr::http
