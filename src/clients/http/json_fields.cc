#include "clients/http/json_fields.h"

namespace fdr::http {

namespace {

Error malformed(std::string_view body, std::string_view what) {
  // Size and a short prefix help tell a truncated body from an HTML error page. Callers
  // scrub messages before they leave the client.
  std::string prefix(body.substr(0, 60));
  for (char& c : prefix) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return Error{ErrorCode::kCorruption,
               std::string(what) + ": malformed JSON in the response (" +
                   std::to_string(body.size()) + " bytes, starting '" + prefix + "')",
               false};
}

}  // namespace

Result<Json> parseJson(std::string_view body, std::string_view what) {
  if (body.empty()) {
    return fail(ErrorCode::kCorruption, std::string(what) + ": empty response body, expected JSON");
  }
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::unexpected(malformed(body, what));
  return doc;
}

namespace {

// nlohmann's SAX interface: the root object's members are skipped, except the array under
// `key_`, whose elements are each built as a small tree and handed to `each_`.
class ElementReader {
 public:
  ElementReader(std::string_view what, std::string_view key,
                const std::function<Status(const Json&, size_t)>& each)
      : what_(what), key_(key), each_(each) {}

  bool null() { return value(Json()); }
  bool boolean(bool v) { return value(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return value(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return value(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string& /*text*/) { return value(Json(v)); }
  bool string(std::string& v) { return value(Json(std::move(v))); }
  bool binary(Json::binary_t& /*v*/) { return value(Json()); }
  bool start_object(std::size_t /*size*/) { return open(Json::object()); }
  bool start_array(std::size_t /*size*/) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    if (depth_ == 1) {
      member_ = k == key_ ? Member::kArray : Member::kOther;
    } else if (!building_.empty()) {
      key_of_next_ = std::move(k);
    }
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*e*/) {
    syntax_error_ = true;
    return false;
  }

  [[nodiscard]] bool syntaxError() const { return syntax_error_; }
  [[nodiscard]] const std::optional<Error>& error() const { return error_; }
  [[nodiscard]] bool found() const { return found_; }

 private:
  enum class Member { kNone, kOther, kArray };

  std::string field() const { return "field '" + std::string(key_) + "' "; }

  bool failWith(std::string message) {
    error_ = Error{ErrorCode::kCorruption, std::string(what_) + ": " + std::move(message), false};
    return false;
  }

  // Where a value starts: the root, a member of the root, an element, or inside an element.
  bool value(Json v) {
    if (depth_ == 0)
      return failWith("the response has type " + std::string(typeName(v)) + ", expected object");
    if (depth_ == 1) {
      if (member_ != Member::kArray) return true;  // another member: skipped
      found_ = true;
      return failWith(
          field() +
          (v.is_null() ? "is null" : "has type " + std::string(typeName(v)) + ", expected array"));
    }
    if (in_array_ && depth_ == 2) return deliver(std::move(v));
    if (!building_.empty()) place(std::move(v));
    return true;
  }

  bool open(Json container) {
    const bool is_object = container.is_object();
    if (depth_ == 0 && !is_object) {
      return failWith("the response has type array, expected object");
    }
    if (depth_ == 1 && member_ == Member::kArray) {
      found_ = true;
      if (is_object) return failWith(field() + "has type object, expected array");
      in_array_ = true;
    } else if (in_array_ && depth_ == 2) {
      element_ = std::move(container);
      building_.push_back(&element_);
    } else if (!building_.empty()) {
      building_.push_back(place(std::move(container)));
    }
    ++depth_;
    return true;
  }

  bool close() {
    --depth_;
    if (!building_.empty()) {
      building_.pop_back();
      if (building_.empty()) return deliver(std::move(element_));
    } else if (in_array_ && depth_ == 1) {
      in_array_ = false;
      member_ = Member::kNone;
    }
    return true;
  }

  // Adds v to the container being built; returns where it now lives.
  Json* place(Json v) {
    Json& parent = *building_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    Json& slot = parent[key_of_next_];
    slot = std::move(v);
    return &slot;
  }

  bool deliver(Json element) {
    if (Status done = each_(element, index_++); !done) {
      error_ = done.error();
      return false;
    }
    return true;
  }

  std::string_view what_;
  std::string_view key_;
  const std::function<Status(const Json&, size_t)>& each_;
  int depth_ = 0;
  Member member_ = Member::kNone;
  bool in_array_ = false;
  bool found_ = false;
  bool syntax_error_ = false;
  std::vector<Json*> building_;  // the containers open inside the current element
  Json element_;
  std::string key_of_next_;
  size_t index_ = 0;
  std::optional<Error> error_;
};

}  // namespace

Status forEachElement(std::string_view body, std::string_view what, std::string_view key,
                      const std::function<Status(const Json&, size_t)>& each) {
  if (body.empty()) {
    return fail(ErrorCode::kCorruption, std::string(what) + ": empty response body, expected JSON");
  }
  ElementReader reader(what, key, each);
  const bool complete = Json::sax_parse(body.begin(), body.end(), &reader);
  if (reader.error()) return std::unexpected(*reader.error());
  if (!complete || reader.syntaxError()) return std::unexpected(malformed(body, what));
  if (!reader.found()) {
    return fail(ErrorCode::kCorruption,
                std::string(what) + ": field '" + std::string(key) + "' is missing");
  }
  return {};
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
