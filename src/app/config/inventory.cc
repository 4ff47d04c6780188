// servers.yml: the node inventory of the original freezer-dr (etc/servers.yml), read with
// yaml-cpp's event parser into a compact tree of our own (a node is a kind, a line, a scalar and
// child indices): yaml-cpp's own node tree costs several KiB per server, which at 10,000 servers
// was most of the daemon's memory and of `validate`'s time. yaml-cpp reports problems by
// exception: they are caught here, at the boundary, and become diagnostics naming the file and
// line.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <sys/stat.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/config/config.h"

namespace fdr::config {

// Shared with config.cc: warns when `path` holds a secret and group or others may read it.
void warnIfReadableByOthers(const std::string& path, const std::string& secret_where,
                            Diagnostics& diag);

namespace {

// The parsed document: nodes by index, children in order (a mapping's alternate key, value).
struct YamlTree {
  enum class Kind : uint8_t { kNull, kScalar, kSequence, kMap };
  struct Item {
    Kind kind = Kind::kNull;
    int line = -1;  // 0-based, -1 when unknown
    std::string scalar;
    std::vector<uint32_t> children;
  };
  std::vector<Item> items;
};

// A read-only view of one node, with the few calls the reader makes of yaml-cpp's YAML::Node.
class YamlNode {
 public:
  YamlNode(const YamlTree* tree, std::optional<uint32_t> index) : tree_(tree), index_(index) {}
  [[nodiscard]] YamlTree::Kind kind() const { return index_ ? item().kind : YamlTree::Kind::kNull; }
  [[nodiscard]] bool IsNull() const { return kind() == YamlTree::Kind::kNull; }
  [[nodiscard]] bool IsScalar() const { return kind() == YamlTree::Kind::kScalar; }
  [[nodiscard]] bool IsSequence() const { return kind() == YamlTree::Kind::kSequence; }
  [[nodiscard]] bool IsMap() const { return kind() == YamlTree::Kind::kMap; }
  [[nodiscard]] int line() const { return index_ ? item().line : -1; }
  [[nodiscard]] const std::string& Scalar() const { return item().scalar; }
  [[nodiscard]] size_t size() const { return index_ ? item().children.size() : 0; }
  [[nodiscard]] YamlNode child(size_t i) const { return {tree_, item().children[i]}; }

 private:
  [[nodiscard]] const YamlTree::Item& item() const { return tree_->items[*index_]; }
  const YamlTree* tree_;
  std::optional<uint32_t> index_;
};

// Builds a YamlTree from yaml-cpp's parse events. Aliases share the anchored node.
class YamlTreeBuilder final : public YAML::EventHandler {
 public:
  explicit YamlTreeBuilder(YamlTree& tree) : tree_(tree) {}
  [[nodiscard]] std::optional<uint32_t> root() const { return root_; }

  void OnDocumentStart(const YAML::Mark& /*mark*/) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    (void)add(YamlTree::Kind::kNull, mark, anchor, {});
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (auto it = anchors_.find(anchor); it != anchors_.end()) {
      attach(it->second);
    } else {
      (void)add(YamlTree::Kind::kNull, mark, YAML::NullAnchor, {});
    }
  }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                const std::string& value) override {
    (void)add(YamlTree::Kind::kScalar, mark, anchor, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    open_.push_back(add(YamlTree::Kind::kSequence, mark, anchor, {}));
  }
  void OnSequenceEnd() override { open_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    open_.push_back(add(YamlTree::Kind::kMap, mark, anchor, {}));
  }
  void OnMapEnd() override { open_.pop_back(); }

 private:
  uint32_t add(YamlTree::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor,
               std::string scalar) {
    const auto index = static_cast<uint32_t>(tree_.items.size());
    tree_.items.push_back({.kind = kind,
                           .line = mark.is_null() ? -1 : mark.line,
                           .scalar = std::move(scalar),
                           .children = {}});
    if (anchor != YAML::NullAnchor) anchors_[anchor] = index;
    attach(index);
    return index;
  }
  void attach(uint32_t index) {
    if (open_.empty()) {
      if (!root_) root_ = index;
      return;
    }
    tree_.items[open_.back()].children.push_back(index);
  }

  YamlTree& tree_;
  std::vector<uint32_t> open_;  // the sequences and mappings being read, innermost last
  std::optional<uint32_t> root_;
  std::map<YAML::anchor_t, uint32_t> anchors_;
};

std::string lineOf(const std::string& path, int line) {
  return line < 0 ? path : path + ":" + std::to_string(line + 1);
}

std::string lineOf(const std::string& path, const YAML::Mark& mark) {
  return lineOf(path, mark.is_null() ? -1 : mark.line);
}

std::string dashed(std::string key) {
  for (char& c : key) {
    if (c == '_') c = '-';
  }
  return key;
}

std::string kindOf(const YamlNode& node) {
  switch (node.kind()) {
    case YamlTree::Kind::kNull: return "nothing";
    case YamlTree::Kind::kScalar: return "a scalar";
    case YamlTree::Kind::kSequence: return "a list";
    case YamlTree::Kind::kMap: return "a mapping";
  }
  return "something else";
}

const std::vector<std::string>& knownKeys() {
  static const std::vector<std::string> keys = {
      "id",          "hostname",    "ip-addr",         "fencer-ip",
      "fencer-port", "fencer-user", "fencer-password", "domain-name"};
  return keys;
}

struct Seen {
  std::string value;
  std::string where;
};

class InventoryReader {
 public:
  InventoryReader(std::string path, Diagnostics& diag) : path_(std::move(path)), diag_(diag) {}

  std::vector<Node> read(const YamlNode& root) {
    std::vector<Node> nodes;
    if (!root.IsMap()) {
      diag_.error(lineOf(path_, root.line()),
                  "expected a mapping with a top-level 'servers:' list, found " + kindOf(root));
      return nodes;
    }
    std::optional<YamlNode> found;
    for (size_t i = 0; i + 1 < root.size(); i += 2) {
      const YamlNode key_node = root.child(i);
      const std::string key = key_node.IsScalar() ? key_node.Scalar() : "";
      if (key == "servers") {
        found = root.child(i + 1);
      } else {
        diag_.warning(lineOf(path_, key_node.line()),
                      "top-level key '" + key + "' is ignored (only 'servers' is read)");
      }
    }
    if (!found) {
      diag_.error(path_, "no top-level 'servers:' list");
      return nodes;
    }
    const YamlNode servers = *found;
    if (servers.IsNull()) {
      diag_.warning(lineOf(path_, servers.line()), "'servers' is empty: no node to fence");
      return nodes;
    }
    if (!servers.IsSequence()) {
      diag_.error(lineOf(path_, servers.line()),
                  "'servers' must be a list of nodes, found " + kindOf(servers));
      return nodes;
    }
    nodes.reserve(servers.size());
    for (size_t i = 0; i < servers.size(); ++i) {
      if (auto node = readNode(servers.child(i))) nodes.push_back(std::move(*node));
    }
    if (nodes.empty() && servers.size() == 0) {
      diag_.warning(lineOf(path_, servers.line()), "'servers' is empty: no node to fence");
    }
    return nodes;
  }

  // Where a secret was first seen, for the file-permission warning.
  [[nodiscard]] const std::string& secretWhere() const { return secret_where_; }

 private:
  std::optional<Node> readNode(const YamlNode& entry) {
    const std::string where = lineOf(path_, entry.line());
    if (!entry.IsMap()) {
      diag_.error(where, "each server must be a mapping of 'key: value', found " + kindOf(entry));
      return std::nullopt;
    }
    Node node;
    node.source = where;
    bool ok = true;
    std::map<std::string, std::string> keys_seen;  // dashed key -> where
    std::string id_where;
    std::string hostname_where;
    for (size_t i = 0; i + 1 < entry.size(); i += 2) {
      const YamlNode key_node = entry.child(i);
      const YamlNode value = entry.child(i + 1);
      const std::string key_where = lineOf(path_, key_node.line());
      if (!key_node.IsScalar()) {
        diag_.error(key_where, "a server's keys must be plain names");
        ok = false;
        continue;
      }
      const std::string key = key_node.Scalar();
      bool known = false;
      for (const std::string& k : knownKeys()) known = known || k == dashed(key);
      const std::string name = known ? dashed(key) : key;
      if (auto [previous, inserted] = keys_seen.emplace(name, key_where); !inserted) {
        diag_.error(key_where, "key '" + key + "' is repeated (first at " + previous->second + ")");
        ok = false;
        continue;
      }
      if (value.IsNull()) {  // "key:" with no value: unset
        continue;
      }
      if (!value.IsScalar()) {
        diag_.error(lineOf(path_, value.line()),
                    "'" + key + "' must be a single value, found " + kindOf(value));
        ok = false;
        continue;
      }
      const std::string text = value.Scalar();
      if (name == "id") {
        node.id = text;
        id_where = key_where;
      } else if (name == "hostname") {
        node.hostname = text;
        hostname_where = key_where;
      } else if (name == "ip-addr") {
        node.ip_addr = text;
      } else if (name == "fencer-ip") {
        node.fencer_ip = text;
      } else if (name == "fencer-port") {
        const auto port = parseInt(text);
        if (!port || *port < 1 || *port > 65535) {
          diag_.error(lineOf(path_, value.line()),
                      "'fencer-port' must be a port number (1-65535), got '" + text + "'");
          ok = false;
        } else {
          node.fencer_port = static_cast<int>(*port);
        }
      } else if (name == "fencer-user") {
        node.fencer_user = text;
      } else if (name == "fencer-password") {
        node.fencer_password = Secret(text);
        if (!text.empty() && secret_where_.empty()) secret_where_ = key_where;
      } else if (name == "domain-name") {
        node.domain_name = text;
      } else {
        node.extra[key] = text;
        if (!text.empty() && secret_where_.empty() &&
            (key.find("password") != std::string::npos ||
             key.find("secret") != std::string::npos)) {
          secret_where_ = key_where;
        }
      }
    }
    if (node.hostname.empty()) {
      diag_.error(where, "server" + (node.id.empty() ? std::string() : " '" + node.id + "'") +
                             " has no 'hostname' (required: the Nova compute host name)");
      return std::nullopt;
    }
    if (node.id.empty()) {  // optional: the hostname stands in
      node.id = node.hostname;
      id_where = hostname_where;
    }
    if (!unique(ids_, node.id, id_where, "id")) ok = false;
    if (!unique(hostnames_, node.hostname, hostname_where, "hostname")) ok = false;
    if (!ok) return std::nullopt;
    return node;
  }

  bool unique(std::map<std::string, std::string>& seen, const std::string& value,
              const std::string& where, const std::string& what) {
    const auto [it, inserted] = seen.emplace(value, where);
    if (inserted) return true;
    diag_.error(where,
                "duplicate " + what + " '" + value + "' (first defined at " + it->second + ")");
    return false;
  }

  std::string path_;
  Diagnostics& diag_;
  std::map<std::string, std::string> ids_;        // id -> where
  std::map<std::string, std::string> hostnames_;  // hostname -> where
  std::string secret_where_;
};

}  // namespace

std::optional<std::vector<Node>> loadInventory(const std::string& path, Diagnostics& diag) {
  size_t errors_before = 0;
  for (const Diagnostic& d : diag.items()) {
    if (d.severity == Diagnostic::Severity::kError) ++errors_before;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    diag.error(path, "cannot read inventory '" + path + "': it is a directory");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int code = errno;
    diag.error(path, "cannot read inventory '" + path + "': " + std::strerror(code));
    return std::nullopt;
  }
  std::ostringstream content;
  content << in.rdbuf();

  std::vector<Node> nodes;
  InventoryReader reader(path, diag);
  try {
    YamlTree tree;
    {
      std::istringstream text(content.str());
      content.str({});
      YAML::Parser parser(text);
      YamlTreeBuilder builder(tree);
      (void)parser.HandleNextDocument(builder);  // the first document, as YAML::Load reads
      nodes = reader.read(YamlNode(&tree, builder.root()));
    }
  } catch (const YAML::Exception& e) {
    // Syntax errors (ParserException) and anything else yaml-cpp refuses, with its position.
    diag.error(lineOf(path, e.mark),
               "YAML error in inventory: " + (e.msg.empty() ? std::string(e.what()) : e.msg));
    return std::nullopt;
  } catch (const std::exception& e) {
    diag.error(path, std::string("cannot read inventory: ") + e.what());
    return std::nullopt;
  }
  if (!reader.secretWhere().empty()) warnIfReadableByOthers(path, reader.secretWhere(), diag);

  size_t errors_after = 0;
  for (const Diagnostic& d : diag.items()) {
    if (d.severity == Diagnostic::Severity::kError) ++errors_after;
  }
  if (errors_after > errors_before) return std::nullopt;
  return nodes;
}

}  // namespace fdr::config
