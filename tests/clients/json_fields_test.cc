#include "clients/http/json_fields.h"

#include <gtest/gtest.h>

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

TEST(JsonFieldsTest, DumpJsonReportsInvalidUtf8InsteadOfThrowing) {
  Json doc = {{"reason", std::string("bad \xff byte")}};
  auto out = dumpJson(doc, "nova PUT /os-services/x");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(dumpJson(Json{{"a", 1}}, "x"));
}

}  // namespace
}  // namespace fdr::http
