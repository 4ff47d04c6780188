#include "core/yaml_document.h"

#include <yaml.h>

#include <map>
#include <memory>
#include <utility>

namespace fdr::yaml {

const std::string& Node::Scalar() const {
  static const std::string kEmpty;
  return index_ ? item().scalar : kEmpty;
}

std::optional<Node> Node::find(std::string_view key) const {
  if (!IsMap()) return std::nullopt;
  for (size_t i = 0; i + 1 < size(); i += 2) {
    const Node k = child(i);
    if (k.IsScalar() && k.Scalar() == key) return child(i + 1);
  }
  return std::nullopt;
}

namespace {

bool isNull(const yaml_event_t& event) {
  const auto& s = event.data.scalar;
  if (s.style != YAML_PLAIN_SCALAR_STYLE || s.tag != nullptr) return false;
  const std::string_view v(reinterpret_cast<const char*>(s.value), s.length);
  return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

std::string text(const yaml_char_t* chars) {
  return chars == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(chars));
}

class Builder {
 public:
  explicit Builder(Document& doc) : doc_(doc) {}

  // One event; false when the first document is complete.
  bool on(const yaml_event_t& event) {
    const int line = static_cast<int>(event.start_mark.line);
    switch (event.type) {
      case YAML_DOCUMENT_END_EVENT: return false;
      case YAML_SCALAR_EVENT: {
        if (isNull(event)) {
          (void)add(Kind::kNull, line, event.data.scalar.anchor, {});
        } else {
          (void)add(Kind::kScalar, line, event.data.scalar.anchor,
                    std::string(reinterpret_cast<const char*>(event.data.scalar.value),
                                event.data.scalar.length));
        }
        return true;
      }
      case YAML_ALIAS_EVENT: {
        if (auto it = anchors_.find(text(event.data.alias.anchor)); it != anchors_.end()) {
          attach(it->second);
        } else {
          (void)add(Kind::kNull, line, nullptr, {});
        }
        return true;
      }
      case YAML_SEQUENCE_START_EVENT:
        open_.push_back(add(Kind::kSequence, line, event.data.sequence_start.anchor, {}));
        return true;
      case YAML_MAPPING_START_EVENT:
        open_.push_back(add(Kind::kMap, line, event.data.mapping_start.anchor, {}));
        return true;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (!open_.empty()) open_.pop_back();
        return true;
      case YAML_STREAM_END_EVENT: return false;
      default: return true;  // stream and document start, nothing
    }
  }

 private:
  uint32_t add(Kind kind, int line, const yaml_char_t* anchor, std::string scalar) {
    const auto index = static_cast<uint32_t>(doc_.tree.items.size());
    doc_.tree.items.push_back(
        {.kind = kind, .line = line, .scalar = std::move(scalar), .children = {}});
    if (anchor != nullptr) anchors_[text(anchor)] = index;
    attach(index);
    return index;
  }
  void attach(uint32_t index) {
    if (open_.empty()) {
      if (!doc_.root_index) doc_.root_index = index;
      return;
    }
    doc_.tree.items[open_.back()].children.push_back(index);
  }

  Document& doc_;
  std::vector<uint32_t> open_;  // the sequences and mappings being read, innermost last
  std::map<std::string, uint32_t> anchors_;
};

struct ParserDeleter {
  void operator()(yaml_parser_t* parser) const {
    yaml_parser_delete(parser);
    delete parser;
  }
};

}  // namespace

std::expected<Document, ParseError> parse(std::string_view input) {
  std::unique_ptr<yaml_parser_t, ParserDeleter> parser(new yaml_parser_t{});
  if (yaml_parser_initialize(parser.get()) == 0) {
    return std::unexpected(ParseError{"cannot start the YAML parser (out of memory)", -1});
  }
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(input.data()),
                               input.size());
  Document doc;
  // About one node per 10 bytes in an inventory: one allocation instead of ~20 doublings.
  doc.tree.items.reserve(input.size() / 10 + 16);
  Builder builder(doc);
  while (true) {
    yaml_event_t event;
    if (yaml_parser_parse(parser.get(), &event) == 0) {
      std::string message = parser->problem != nullptr ? parser->problem : "invalid YAML";
      if (parser->context != nullptr) message += " " + std::string(parser->context);
      const bool has_mark = parser->problem != nullptr;
      return std::unexpected(ParseError{
          std::move(message), has_mark ? static_cast<int>(parser->problem_mark.line) : -1});
    }
    const bool more = builder.on(event);
    yaml_event_delete(&event);
    if (!more) break;
  }
  return doc;
}

}  // namespace fdr::yaml
