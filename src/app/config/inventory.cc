// servers.yml: the node inventory of the original freezer-dr (etc/servers.yml), read with
// libyaml's event parser into a compact tree (core/yaml_document.h): yaml-cpp's own node tree
// cost several KiB per server, and its parser ~300 ms at 10,000 servers, most of `validate`'s
// time. Syntax errors become diagnostics naming the file and line.
#include <sys/stat.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/config/config.h"
#include "core/yaml_document.h"

namespace fdr::config {

// Shared with config.cc: warns when `path` holds a secret and group or others may read it.
void warnIfReadableByOthers(const std::string& path, const std::string& secret_where,
                            Diagnostics& diag);

namespace {

using YamlNode = yaml::Node;
using YamlKind = yaml::Kind;

std::string lineOf(const std::string& path, int line) {
  return line < 0 ? path : path + ":" + std::to_string(line + 1);
}

std::string dashed(std::string key) {
  for (char& c : key) {
    if (c == '_') c = '-';
  }
  return key;
}

std::string kindOf(const YamlNode& node) {
  switch (node.kind()) {
    case YamlKind::kNull: return "nothing";
    case YamlKind::kScalar: return "a scalar";
    case YamlKind::kSequence: return "a list";
    case YamlKind::kMap: return "a mapping";
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
  auto doc = yaml::parse(content.view());
  content.str({});
  if (!doc) {
    diag.error(lineOf(path, doc.error().line), "YAML error in inventory: " + doc.error().message);
    return std::nullopt;
  }
  nodes = reader.read(doc->root());
  if (!reader.secretWhere().empty()) warnIfReadableByOthers(path, reader.secretWhere(), diag);

  size_t errors_after = 0;
  for (const Diagnostic& d : diag.items()) {
    if (d.severity == Diagnostic::Severity::kError) ++errors_after;
  }
  if (errors_after > errors_before) return std::nullopt;
  return nodes;
}

}  // namespace fdr::config
