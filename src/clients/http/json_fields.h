// Defensive reading of JSON responses. A missing field or a field of the wrong type becomes an
// Error (kCorruption) naming the field path and the request, never an exception or a crash.
//
//   FieldReader r(doc, "GET /v2.1/os-services", "services[2]");
//   s.id = r.idString("id");            // string, or an integer rendered as a string
//   s.host = r.string("host");
//   s.reason = r.optString("disabled_reason").value_or("");
//   if (!r.ok()) return std::unexpected(r.error());
//
// After the first failure every getter returns an empty value and the first error is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "freezer/result.h"

namespace fdr::http {

using Json = nlohmann::json;

// The body parsed as JSON. Malformed or empty: kCorruption naming `what` (the request).
[[nodiscard]] Result<Json> parseJson(std::string_view body, std::string_view what);

// Reads the array under `key` of the body's root object one element at a time: `each` gets every
// element (parsed on its own, with its index) as soon as it is read, so a document of 10,000
// compute services never lives in memory as one tree. The root's other members are read
// (and so checked) without being kept. Errors as parseJson's and FieldReader's (kCorruption naming
// `what`: malformed JSON, a root that is not an object, `key` missing, null or not an array); the
// first error `each` returns stops the reading and is returned. Read with simdjson's On-Demand
// parser: in place when `body` has kBodyPadding spare bytes of capacity (the HTTP client's bodies
// do), else from one copy.
[[nodiscard]] Status forEachElement(const std::string& body, std::string_view what,
                                    std::string_view key,
                                    const std::function<Status(const Json&, size_t)>& each);

// Serialises `doc`; invalid UTF-8 in a string is an error (kInvalidArgument), not an exception.
[[nodiscard]] Result<std::string> dumpJson(const Json& doc, std::string_view what);

// The JSON type name of `value`, for messages: "string", "number", "null", ...
[[nodiscard]] std::string_view typeName(const Json& value);

class FieldReader {
 public:
  // `object` must outlive the reader. `what` names the request; `path` the object's place in
  // the document ("" for the root, "servers[3]", "token.catalog[0]").
  FieldReader(const Json& object, std::string what, std::string path = "");

  [[nodiscard]] bool ok() const { return !error_.has_value(); }
  [[nodiscard]] const Error& error() const { return *error_; }
  [[nodiscard]] std::string fieldPath(std::string_view key) const;

  // Required fields: missing, null or of another type is an error.
  std::string string(std::string_view key);
  int64_t integer(std::string_view key);
  bool boolean(std::string_view key);
  // A string, or an integer rendered in decimal (ids that changed type across API versions).
  std::string idString(std::string_view key);
  // The member, which must be an object / an array (nullptr after an error).
  const Json* object(std::string_view key);
  const Json* array(std::string_view key);

  // Optional fields: absent or null gives nullopt; present with another type is an error.
  std::optional<std::string> optString(std::string_view key);
  std::optional<int64_t> optInteger(std::string_view key);
  std::optional<bool> optBoolean(std::string_view key);
  std::optional<std::string> optIdString(std::string_view key);
  const Json* optObject(std::string_view key);
  const Json* optArray(std::string_view key);
  // An object whose values are all strings (metadata); absent or null gives an empty map.
  std::map<std::string, std::string> optStringMap(std::string_view key);

  // Records an error about `key` (for checks the getters cannot express). Keeps the first.
  void fail(std::string_view key, std::string_view problem);

  // The object itself (for nested readers).
  [[nodiscard]] const Json& json() const { return object_; }
  [[nodiscard]] const std::string& what() const { return what_; }

 private:
  const Json* member(std::string_view key, bool required);
  std::optional<std::string> optStringImpl(std::string_view key, bool required);
  std::optional<int64_t> optIntegerImpl(std::string_view key, bool required);
  std::optional<bool> optBooleanImpl(std::string_view key, bool required);
  std::optional<std::string> optIdStringImpl(std::string_view key, bool required);
  const Json* typed(std::string_view key, bool required, bool want_object);
  const Json& object_;
  std::string what_;
  std::string path_;
  std::optional<Error> error_;
};

// A reader for `value`, which must be an object; otherwise the returned reader is already
// failed with "<path> has type X, expected object".
FieldReader readObject(const Json& value, std::string what, std::string path);

}  // namespace fdr::http
