// core/yaml_document: libyaml's events as a compact tree. What servers.yml and clouds.yaml rely
// on: nulls as in YAML's core schema, anchors and aliases, only the first document, and errors
// that name the line.
#include "core/yaml_document.h"

#include <gtest/gtest.h>

namespace fdr::yaml {
namespace {

TEST(YamlDocumentTest, PlainNullsAreNullQuotedAndTaggedOnesAreScalars) {
  auto doc = parse("a: ~\nb: null\nc:\nd: 'null'\ne: !!str null\nf: NULL\ng: nul\n");
  ASSERT_TRUE(doc) << doc.error().message;
  const Node root = doc->root();
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(root.size(), 14U);
  for (const char* key : {"a", "b", "c", "f"}) EXPECT_TRUE(root.find(key)->IsNull()) << key;
  for (const char* key : {"d", "e", "g"}) EXPECT_TRUE(root.find(key)->IsScalar()) << key;
  EXPECT_EQ(root.find("d")->Scalar(), "null");
  EXPECT_FALSE(root.find("missing"));
  EXPECT_EQ(root.find("g")->line(), 6);  // 0-based
}

TEST(YamlDocumentTest, AliasesShareTheAnchoredNodeAndAnUnknownOneIsNull) {
  auto doc = parse("base: &b {user: admin, port: 623}\nx: *b\ny: [*b, 1]\n");
  ASSERT_TRUE(doc) << doc.error().message;
  const Node root = doc->root();
  EXPECT_EQ(root.find("x")->find("user")->Scalar(), "admin");
  EXPECT_EQ(root.find("y")->child(0).find("port")->Scalar(), "623");
  EXPECT_EQ(root.find("y")->child(1).Scalar(), "1");
  // libyaml leaves undefined aliases to its loader; the tree reads them as nothing.
  auto unknown = parse("x: *nowhere\n");
  ASSERT_TRUE(unknown) << unknown.error().message;
  EXPECT_TRUE(unknown->root().find("x")->IsNull());
}

TEST(YamlDocumentTest, OnlyTheFirstDocumentIsReadAndAnEmptyStreamHasNoRoot) {
  auto doc = parse("a: 1\n---\n[broken\n");
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->root().find("a")->Scalar(), "1");
  auto empty = parse("");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_FALSE(empty->root().exists());
  EXPECT_TRUE(empty->root().IsNull());
  EXPECT_EQ(empty->root().Scalar(), "");
}

TEST(YamlDocumentTest, ASyntaxErrorNamesItsLineAndTheProblem) {
  auto doc = parse("servers:\n  - {id: 1, hostname: a}\n  - {id: 2, hostname: b\n  - x\n");
  ASSERT_FALSE(doc);
  EXPECT_GE(doc.error().line, 2);
  EXPECT_FALSE(doc.error().message.empty());
  auto tab = parse("a:\n\tb: 1\n");
  ASSERT_FALSE(tab);
  EXPECT_EQ(tab.error().line, 1);
}

}  // namespace
}  // namespace fdr::yaml
