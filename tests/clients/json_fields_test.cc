#include "clients/http/json_fields.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fdr::http {
namespace {

TEST(JsonFieldsTest, ReadsFieldsOfTheRightType) {
  Json doc = Json::parse(R"({"s": "x", "i": 7, "b": true, "id": 42, "uuid": "u-1",
                             "o": {"k": "v"}, "a": [1], "n": null, "m": {"k": "v"}})");
  FieldReader r(doc, "GET /thing");
  EXPECT_EQ(r.string("s"), "x");
  EXPECT_EQ(r.integer("i"), 7);
  EXPECT_TRUE(r.boolean("b"));
  EXPECT_EQ(r.idString("id"), "42");
  EXPECT_EQ(r.idString("uuid"), "u-1");
  EXPECT_NE(r.object("o"), nullptr);
  EXPECT_NE(r.array("a"), nullptr);
  EXPECT_FALSE(r.optString("n"));
  EXPECT_FALSE(r.optString("absent"));
  EXPECT_EQ(r.optStringMap("m").at("k"), "v");
  EXPECT_TRUE(r.ok());
}

TEST(JsonFieldsTest, MissingFieldNamesTheFieldAndTheRequest) {
  Json doc = Json::parse(R"({"host": "c1"})");
  FieldReader r(doc, "nova GET /os-services", "services[3]");
  r.string("binary");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(r.error().message, "nova GET /os-services: field 'services[3].binary' is missing");
}

TEST(JsonFieldsTest, WrongTypeNamesBothTypes) {
  Json doc = Json::parse(R"({"state": 1})");
  FieldReader r(doc, "GET /x");
  r.string("state");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "GET /x: field 'state' has type integer, expected string");
}

TEST(JsonFieldsTest, NullForARequiredFieldIsAnError) {
  Json doc = Json::parse(R"({"id": null})");
  FieldReader r(doc, "GET /x");
  r.idString("id");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'id' is null"), std::string::npos);
}

TEST(JsonFieldsTest, KeepsTheFirstErrorAndReturnsEmptyValuesAfter) {
  Json doc = Json::parse(R"({"a": 1, "b": "x"})");
  FieldReader r(doc, "GET /x");
  r.string("a");
  EXPECT_EQ(r.string("b"), "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'a'"), std::string::npos);
}

TEST(JsonFieldsTest, NonObjectIsAnError) {
  Json doc = Json::parse(R"([1, 2])");
  FieldReader r(doc, "GET /x", "servers[0]");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "GET /x: 'servers[0]' has type array, expected object");
}

TEST(JsonFieldsTest, StringMapWithANonStringValue) {
  Json doc = Json::parse(R"({"metadata": {"a": "1", "b": 2}})");
  FieldReader r(doc, "GET /x", "server");
  r.optStringMap("metadata");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'server.metadata.b' has type integer"), std::string::npos)
      << r.error().message;
}

TEST(JsonFieldsTest, ParseJsonRejectsMalformedAndEmptyBodies) {
  auto bad = parseJson(R"({"servers": [)", "nova GET /servers/detail");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kCorruption);
  EXPECT_NE(bad.error().message.find("nova GET /servers/detail: malformed JSON"),
            std::string::npos);
  auto empty = parseJson("", "GET /x");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kCorruption);
  EXPECT_TRUE(parseJson(R"({"a": 1})", "GET /x"));
}

// forEachElement: the elements of one array of the root, each its own tree, in order.
struct Seen {
  std::vector<Json> elements;
  std::vector<size_t> indexes;
};

Status collect(const std::string& body, Seen& seen, size_t stop_at = SIZE_MAX) {
  return forEachElement(body, "nova GET /os-services", "services",
                        [&](const Json& element, size_t i) -> Status {
                          if (i == stop_at) {
                            return fail(ErrorCode::kCorruption, "element " + std::to_string(i));
                          }
                          seen.elements.push_back(element);
                          seen.indexes.push_back(i);
                          return {};
                        });
}

TEST(JsonFieldsTest, ForEachElementGivesEachElementOfTheArrayAsItsOwnTree) {
  Seen seen;
  const Status read = collect(R"({"before": {"services": [1, {"deep": [2]}], "x": null},
      "services": [{"host": "c1", "nested": {"a": [1, {"b": "two"}], "c": 1.5}},
                   {"host": "c2", "list": [[], {}], "t": true, "n": null}, 7, "s", null, []],
      "after": [{"services": 1}]})",
                              seen);
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_EQ(seen.elements.size(), 6U);
  EXPECT_EQ(seen.elements[0],
            Json::parse(R"({"host": "c1", "nested": {"a": [1, {"b": "two"}], "c": 1.5}})"));
  EXPECT_EQ(seen.elements[1],
            Json::parse(R"({"host": "c2", "list": [[], {}], "t": true, "n": null})"));
  EXPECT_EQ(seen.elements[2], Json(7));
  EXPECT_EQ(seen.elements[3], Json("s"));
  EXPECT_TRUE(seen.elements[4].is_null());
  EXPECT_EQ(seen.elements[5], Json::array());
  EXPECT_EQ(seen.indexes, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));

  Seen empty;
  ASSERT_TRUE(collect(R"({"services": []})", empty));
  EXPECT_TRUE(empty.elements.empty());
}

// The parser is kept per thread between calls; a call made from inside another's callback reads
// its own document with a parser of its own, and neither loses its place. Documents of very
// different sizes one after the other read right too (the kept parser grows and is reused).
TEST(JsonFieldsTest, ForEachElementCalledFromItsOwnCallbackReadsBothDocuments) {
  const std::string outer = R"({"services": [{"host": "a"}, {"host": "b"}]})";
  const std::string inner = R"({"services": [1, 2, 3]})";
  std::vector<std::string> hosts;
  std::vector<int64_t> numbers;
  const Status read =
      http::forEachElement(outer, "outer", "services", [&](const Json& element, size_t) -> Status {
        hosts.push_back(element.at("host").get<std::string>());
        return http::forEachElement(inner, "inner", "services",
                                    [&](const Json& number, size_t) -> Status {
                                      numbers.push_back(number.get<int64_t>());
                                      return {};
                                    });
      });
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(hosts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2, 3, 1, 2, 3}));

  std::string large = R"({"services": [)";
  for (int i = 0; i < 5000; ++i) large += (i == 0 ? "" : ",") + std::to_string(i);
  large += "]}";
  size_t count = 0;
  ASSERT_TRUE(http::forEachElement(large, "large", "services", [&](const Json&, size_t) -> Status {
    ++count;
    return {};
  }));
  EXPECT_EQ(count, 5000U);
  numbers.clear();
  ASSERT_TRUE(
      http::forEachElement(inner, "inner", "services", [&](const Json& n, size_t) -> Status {
        numbers.push_back(n.get<int64_t>());
        return {};
      }));
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2, 3}));
}

TEST(JsonFieldsTest, ForEachElementNamesWhatIsWrongWithTheDocument) {
  const auto message = [](const std::string& body) {
    Seen seen;
    const Status read = collect(body, seen);
    EXPECT_FALSE(read);
    return read ? std::string() : read.error().message;
  };
  EXPECT_EQ(message(R"({"other": []})"), "nova GET /os-services: field 'services' is missing");
  EXPECT_EQ(message(R"({"services": null})"), "nova GET /os-services: field 'services' is null");
  EXPECT_EQ(message(R"({"services": {"a": 1}})"),
            "nova GET /os-services: field 'services' has type object, expected array");
  EXPECT_EQ(message(R"({"services": "x"})"),
            "nova GET /os-services: field 'services' has type string, expected array");
  EXPECT_EQ(message(R"([{"services": []}])"),
            "nova GET /os-services: the response has type array, expected object");
  EXPECT_EQ(message("42"), "nova GET /os-services: the response has type integer, expected object");
  EXPECT_EQ(message(""), "nova GET /os-services: empty response body, expected JSON");
  EXPECT_EQ(message(R"({"services": [{"host": "c1"}, {"host": )"),
            "nova GET /os-services: malformed JSON in the response (39 bytes, starting "
            "'{\"services\": [{\"host\": \"c1\"}, {\"host\": ')");
  EXPECT_NE(message("<html>Bad Gateway</html>").find("malformed JSON"), std::string::npos);
  // The root's other members and what follows the root are checked too.
  EXPECT_NE(message(R"({"services": [], "links": [tru]})").find("malformed JSON"),
            std::string::npos);
  EXPECT_NE(message(R"({"links": {"a": 1,}, "services": []})").find("malformed JSON"),
            std::string::npos);
  EXPECT_NE(message(R"({"services": [{"a": 1}]} {"more": 1})").find("malformed JSON"),
            std::string::npos);
  EXPECT_NE(message(R"({"services": [{"a": "bad \x escape"}]})").find("malformed JSON"),
            std::string::npos);
}

TEST(JsonFieldsTest, ForEachElementStopsAtTheFirstErrorOfTheCallback) {
  Seen seen;
  const Status read = collect(R"({"services": [{"a": 1}, {"a": 2}, {"a": 3}]})", seen, 1);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "element 1");
  EXPECT_EQ(seen.elements.size(), 1U);
}

TEST(JsonFieldsTest, DumpJsonReportsInvalidUtf8InsteadOfThrowing) {
  Json doc = {{"reason", std::string("bad \xff byte")}};
  auto out = dumpJson(doc, "nova PUT /os-services/x");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(dumpJson(Json{{"a", 1}}, "x"));
}

}  // namespace
}  // namespace fdr::http
