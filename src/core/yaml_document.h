// A YAML document read with libyaml's event parser into a compact tree: a node is a kind, a
// line, a scalar and the indices of its children (a mapping's children alternate key, value).
// libyaml reads the 10,000-server inventory in ~25 ms where yaml-cpp took ~300 ms, and the tree
// costs a few dozen bytes per node where yaml-cpp's costs several KiB. Errors are values: a
// syntax error names its line and libyaml's words for the problem.
//
//   auto doc = yaml::parse(text);
//   if (!doc) return "servers.yml:" + std::to_string(doc.error().line + 1) + ": " + ...;
//   const yaml::Node root = doc->root();
//   if (auto servers = root.find("servers")) ...
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fdr::yaml {

enum class Kind : uint8_t { kNull, kScalar, kSequence, kMap };

struct Tree {
  struct Item {
    Kind kind = Kind::kNull;
    int line = -1;  // 0-based, -1 when unknown
    std::string scalar;
    std::vector<uint32_t> children;
  };
  std::vector<Item> items;
};

// A read-only view of one node of a tree (or of nothing: a missing node is null, line -1).
class Node {
 public:
  Node() = default;
  Node(const Tree* tree, std::optional<uint32_t> index) : tree_(tree), index_(index) {}
  [[nodiscard]] Kind kind() const { return index_ ? item().kind : Kind::kNull; }
  [[nodiscard]] bool IsNull() const { return kind() == Kind::kNull; }
  [[nodiscard]] bool IsScalar() const { return kind() == Kind::kScalar; }
  [[nodiscard]] bool IsSequence() const { return kind() == Kind::kSequence; }
  [[nodiscard]] bool IsMap() const { return kind() == Kind::kMap; }
  [[nodiscard]] bool exists() const { return index_.has_value(); }
  [[nodiscard]] int line() const { return index_ ? item().line : -1; }
  [[nodiscard]] const std::string& Scalar() const;
  [[nodiscard]] size_t size() const { return index_ ? item().children.size() : 0; }
  [[nodiscard]] Node child(size_t i) const { return {tree_, item().children[i]}; }
  // A mapping's value under the scalar key `key` (the first such key); nullopt when this is
  // not a mapping or has no such key.
  [[nodiscard]] std::optional<Node> find(std::string_view key) const;

 private:
  [[nodiscard]] const Tree::Item& item() const { return tree_->items[*index_]; }
  const Tree* tree_ = nullptr;
  std::optional<uint32_t> index_;
};

struct Document {
  Tree tree;
  std::optional<uint32_t> root_index;  // none: an empty stream
  [[nodiscard]] Node root() const { return {&tree, root_index}; }
};

struct ParseError {
  std::string message;  // libyaml's problem and its context
  int line = -1;        // 0-based, -1 when unknown
};

// The first document of `text` (as yaml-cpp's YAML::Load reads: what follows it is not read).
// Plain scalars `~`, `null`, `Null`, `NULL` and empty ones are null, as in YAML's core schema;
// quoted or tagged ones are scalars. Aliases share the anchored node; an alias to an unknown
// anchor is null.
[[nodiscard]] std::expected<Document, ParseError> parse(std::string_view text);

}  // namespace fdr::yaml
