#include "app/config/ini.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fdr::config {
namespace {

std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r\n\f\v");
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n\f\v");
  return text.substr(begin, end - begin + 1);
}

std::string_view rtrim(std::string_view text) {
  const size_t end = text.find_last_not_of(" \t\r\n\f\v");
  return end == std::string_view::npos ? std::string_view() : text.substr(0, end + 1);
}

class Parser {
 public:
  Parser(const std::string& path, Diagnostics& diag) : diag_(diag) { file_.path = path; }

  IniFile run(std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
    int number = 0;
    while (!text.empty() || number == 0) {
      const size_t newline = text.find('\n');
      const std::string_view raw = text.substr(0, newline);
      text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
      ++number;
      line(rtrim(raw), number);
      if (newline == std::string_view::npos) break;
    }
    flush();
    return std::move(file_);
  }

 private:
  void line(std::string_view text, int number) {
    if (text.empty()) {  // a blank line ends a multi-line value
      flush();
      return;
    }
    if (text.front() == ' ' || text.front() == '\t') {
      if (!pending_) {
        error(number,
              "continuation line with no option before it: '" + std::string(trim(text)) + "'");
      } else {
        pending_lines_.emplace_back(trim(text));
      }
      return;
    }
    flush();
    if (text.front() == '[') {
      if (text.back() != ']') {
        error(number, "section header without a closing ']': '" + std::string(text) + "'");
        section_ = kAfterBadHeader;  // its keys would land in the wrong section: drop them
        return;
      }
      const std::string_view name = trim(text.substr(1, text.size() - 2));
      if (name.empty()) {
        error(number, "empty section name '[]'");
        section_ = kAfterBadHeader;
        return;
      }
      openSection(std::string(name), number);
      return;
    }
    if (text.front() == '#' || text.front() == ';') return;

    const size_t colon = text.find(':');
    const size_t equal = text.find('=');
    if (colon == std::string_view::npos && equal == std::string_view::npos) {
      error(number, "expected 'key = value', got '" + std::string(text) + "'");
      return;
    }
    const size_t separator = std::min(colon, equal);
    const std::string_view key = trim(text.substr(0, separator));
    if (key.empty()) {
      error(number, "option with no name: '" + std::string(text) + "'");
      return;
    }
    if (section_ == kNoSection) {
      error(number, "option '" + std::string(key) + "' before any [section] header");
      return;
    }
    if (section_ == kAfterBadHeader) return;  // the header was reported
    pending_ = IniEntry{.key = std::string(key), .value = {}, .line = number, .earlier_lines = {}};
    pending_lines_.assign(1, std::string(trim(text.substr(separator + 1))));
  }

  void openSection(std::string name, int number) {
    for (size_t i = 0; i < file_.sections.size(); ++i) {
      if (file_.sections[i].name == name) {  // reopened: its keys merge, as in oslo.config
        section_ = static_cast<int>(i);
        return;
      }
    }
    file_.sections.push_back(IniSection{.name = std::move(name), .line = number, .entries = {}});
    section_ = static_cast<int>(file_.sections.size()) - 1;
  }

  // Stores the option being read, once its last continuation line is known.
  void flush() {
    if (!pending_) return;
    std::string value;
    for (size_t i = 0; i < pending_lines_.size(); ++i) {
      if (i > 0) value += '\n';
      value += pending_lines_[i];
    }
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    pending_->value = std::move(value);
    IniSection& section = file_.sections[static_cast<size_t>(section_)];
    bool repeated = false;
    for (IniEntry& entry : section.entries) {
      if (entry.key == pending_->key) {  // last wins; remember where it was set before
        entry.earlier_lines.push_back(entry.line);
        entry.value = std::move(pending_->value);
        entry.line = pending_->line;
        repeated = true;
        break;
      }
    }
    if (!repeated) section.entries.push_back(std::move(*pending_));
    pending_.reset();
    pending_lines_.clear();
  }

  void error(int number, std::string message) {
    diag_.error(file_.path + ":" + std::to_string(number), std::move(message));
  }

  Diagnostics& diag_;
  IniFile file_;
  static constexpr int kNoSection = -1;
  static constexpr int kAfterBadHeader = -2;
  int section_ = kNoSection;
  std::optional<IniEntry> pending_;
  std::vector<std::string> pending_lines_;
};

}  // namespace

const IniEntry* IniSection::find(std::string_view key) const {
  for (const IniEntry& entry : entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

const IniSection* IniFile::find(std::string_view name) const {
  for (const IniSection& section : sections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

IniFile parseIni(std::string_view text, const std::string& path, Diagnostics& diag) {
  return Parser(path, diag).run(text);
}

std::optional<IniFile> readIni(const std::string& path, Diagnostics& diag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int code = errno;
    diag.error(path, "cannot read config file '" + path + "': " + std::strerror(code));
    return std::nullopt;
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    diag.error(path, "cannot read config file '" + path + "': read error");
    return std::nullopt;
  }
  return parseIni(content.str(), path, diag);
}

}  // namespace fdr::config
