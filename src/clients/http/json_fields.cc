#include "clients/http/json_fields.h"

#include <simdjson.h>

#include "clients/http/http_client.h"

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
namespace od = simdjson::ondemand;

static_assert(kBodyPadding >= simdjson::SIMDJSON_PADDING,
              "the HTTP client's spare bytes let simdjson read "
              "a response in place");

// Calls each(name, value) for every member of an object, each(value) for every element of an
// array, in order; stops at the first error, simdjson's or each's.
template <typename Each>
simdjson::error_code forEachMember(od::object& object, Each&& each) {
  for (auto member : object) {
    od::field field;
    if (auto e = std::move(member).get(field)) return e;
    std::string_view name;
    if (auto e = field.unescaped_key().get(name)) return e;
    od::value value = field.value();
    if (auto e = each(name, value)) return e;
  }
  return simdjson::SUCCESS;
}

template <typename Each>
simdjson::error_code forEachItem(od::array& array, Each&& each) {
  for (auto item : array) {
    od::value value;
    if (auto e = std::move(item).get(value)) return e;
    if (auto e = each(value)) return e;
  }
  return simdjson::SUCCESS;
}

// Reads one root member's array through simdjson's On-Demand API, element by element: each
// element is built as its own small tree for `each` (the readers of fields take nlohmann trees),
// every other member is read too and dropped, so the whole document is still checked.
class ElementReader {
 public:
  ElementReader(std::string_view what, std::string_view key,
                const std::function<Status(const Json&, size_t)>& each)
      : what_(what), key_(key), each_(each) {}

  // The first simdjson error is malformed JSON; ours are kept in error_.
  simdjson::error_code read(od::document& doc) {
    od::json_type type{};
    if (auto e = doc.type().get(type)) return e;
    if (type != od::json_type::object) {
      std::string name;
      if (auto e = scalarOrContainerName(doc, type, name)) return e;
      failWith("the response has type " + name + ", expected object");
      return simdjson::SUCCESS;
    }
    od::object root;
    if (auto e = doc.get_object().get(root)) return e;
    if (auto e = forEachMember(root, [&](std::string_view name, od::value& value) {
          return name == key_ ? readArray(value) : skip(value);
        })) {
      return e;
    }
    // Anything after the root object (the location is in bounds) is not JSON.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
      return simdjson::TRAILING_CONTENT;
    }
    return simdjson::SUCCESS;
  }

  [[nodiscard]] const std::optional<Error>& error() const { return error_; }
  [[nodiscard]] bool found() const { return found_; }

 private:
  // The member under key_: each element to each_. Our own error (not an array, each_'s) stops
  // the reading as a simdjson error would, and is kept in error_.
  simdjson::error_code readArray(od::value& value) {
    found_ = true;
    od::json_type type{};
    if (auto e = value.type().get(type)) return e;
    if (type != od::json_type::array) {
      std::string kind = "is null";
      if (type != od::json_type::null) {
        if (auto e = scalarOrContainerName(value, type, kind)) return e;
        kind = "has type " + kind + ", expected array";
      }
      failWith("field '" + std::string(key_) + "' " + kind);
      return simdjson::INCORRECT_TYPE;
    }
    od::array array;
    if (auto e = value.get_array().get(array)) return e;
    return forEachItem(array, [&](od::value& element) {
      Json tree;
      if (auto e = build(element, tree)) return e;
      if (Status done = each_(tree, index_++); !done) {
        error_ = done.error();
        return simdjson::INCORRECT_TYPE;
      }
      return simdjson::SUCCESS;
    });
  }

  // Any other member: read (and so checked) into a tree that is dropped.
  static simdjson::error_code skip(od::value& value) {
    Json ignored;
    return build(value, ignored);
  }

  void failWith(std::string message) {
    error_ = Error{ErrorCode::kCorruption, std::string(what_) + ": " + std::move(message), false};
  }

  // The type name typeName() gives for the same value ("integer" or "number" for numbers).
  template <typename V>
  static simdjson::error_code scalarOrContainerName(V& value, od::json_type type,
                                                    std::string& name) {
    switch (type) {
      case od::json_type::array: name = "array"; return simdjson::SUCCESS;
      case od::json_type::object: name = "object"; return simdjson::SUCCESS;
      case od::json_type::string: name = "string"; return simdjson::SUCCESS;
      case od::json_type::boolean: name = "boolean"; return simdjson::SUCCESS;
      case od::json_type::null: name = "null"; return simdjson::SUCCESS;
      case od::json_type::number: {
        od::number_type number{};
        if (auto e = value.get_number_type().get(number)) return e;
        name = number == od::number_type::floating_point_number ? "number" : "integer";
        return simdjson::SUCCESS;
      }
    }
    return simdjson::INCORRECT_TYPE;
  }

  // The value as an nlohmann tree (numbers as nlohmann would read them: signed, unsigned or
  // floating point).
  static simdjson::error_code build(od::value& value, Json& out) {
    od::json_type type{};
    if (auto e = value.type().get(type)) return e;
    switch (type) {
      case od::json_type::object: {
        out = Json::object();
        od::object object;
        if (auto e = value.get_object().get(object)) return e;
        return forEachMember(object, [&](std::string_view name, od::value& member) {
          return build(member, out[std::string(name)]);
        });
      }
      case od::json_type::array: {
        out = Json::array();
        od::array array;
        if (auto e = value.get_array().get(array)) return e;
        return forEachItem(array, [&](od::value& element) {
          out.push_back(Json());
          return build(element, out.back());
        });
      }
      case od::json_type::string: {
        std::string_view text;
        if (auto e = value.get_string().get(text)) return e;
        out = std::string(text);
        return simdjson::SUCCESS;
      }
      case od::json_type::boolean: {
        bool flag = false;
        if (auto e = value.get_bool().get(flag)) return e;
        out = flag;
        return simdjson::SUCCESS;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = value.is_null().get(is_null)) return e;
        if (!is_null) return simdjson::N_ATOM_ERROR;
        out = nullptr;
        return simdjson::SUCCESS;
      }
      case od::json_type::number: return number(value, out);
    }
    return simdjson::INCORRECT_TYPE;
  }

  static simdjson::error_code number(od::value& value, Json& out) {
    od::number_type kind{};
    if (auto e = value.get_number_type().get(kind)) return e;
    switch (kind) {
      case od::number_type::signed_integer: {
        int64_t n = 0;
        if (auto e = value.get_int64().get(n)) return e;
        out = n;
        return simdjson::SUCCESS;
      }
      case od::number_type::unsigned_integer: {
        uint64_t n = 0;
        if (auto e = value.get_uint64().get(n)) return e;
        out = n;
        return simdjson::SUCCESS;
      }
      case od::number_type::floating_point_number: {
        double n = 0;
        if (auto e = value.get_double().get(n)) return e;
        out = n;
        return simdjson::SUCCESS;
      }
    }
    return simdjson::NUMBER_ERROR;
  }

  std::string_view what_;
  std::string_view key_;
  const std::function<Status(const Json&, size_t)>& each_;
  bool found_ = false;
  size_t index_ = 0;
  std::optional<Error> error_;
};

}  // namespace

Status forEachElement(const std::string& body, std::string_view what, std::string_view key,
                      const std::function<Status(const Json&, size_t)>& each) {
  if (body.empty()) {
    return fail(ErrorCode::kCorruption, std::string(what) + ": empty response body, expected JSON");
  }
  // simdjson reads past the end in blocks: a body with the HTTP client's spare bytes is read in
  // place, any other is copied once.
  std::optional<simdjson::padded_string> copy;
  simdjson::padded_string_view input(body.data(), body.size(), body.capacity());
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    copy.emplace(body);
    input = simdjson::padded_string_view(copy->data(), copy->size(),
                                         copy->size() + simdjson::SIMDJSON_PADDING);
  }
  // One parser per thread, kept: its index and string buffers are sized to the largest document
  // it read (13.7 MB for a 2.3 MB os-services), and allocating them at every poll left that much
  // churning through the heap. A call from inside `each` (none does) gets a parser of its own.
  thread_local od::parser kept;
  thread_local bool kept_in_use = false;
  std::optional<od::parser> nested;
  od::parser& parser = kept_in_use ? nested.emplace() : kept;
  const bool owns_kept = !kept_in_use;
  kept_in_use = true;
  const struct Release {
    bool owns;
    ~Release() {
      if (owns) kept_in_use = false;
    }
  } release{owns_kept};
  od::document doc;
  ElementReader reader(what, key, each);
  simdjson::error_code error = parser.iterate(input).get(doc);
  if (error == simdjson::SUCCESS) error = reader.read(doc);
  if (reader.error()) return std::unexpected(*reader.error());
  if (error != simdjson::SUCCESS) return std::unexpected(malformed(body, what));
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
