// A small reader for INI files in oslo.config's dialect, the format of freezer-dr.conf.
//
// Hand-written because no INI library packaged in Debian reports the line number of each key,
// and every config error must name its file and line. The dialect follows
// oslo_config/iniparser.py: `[section]` headers; `key = value` or `key: value` (whichever
// separator comes first); `#` and `;` comment lines; a line starting with a space or a tab
// continues the previous value (joined with a newline); a blank line ends a value; surrounding
// matching quotes are removed; a section may be opened more than once (its keys merge); a key
// repeated in a section keeps its last value, and the earlier lines are recorded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freezer/diagnostics.h"

namespace fdr::config {

struct IniEntry {
  std::string key;
  std::string value;
  int line = 0;                    // of the key (a continued value starts there)
  std::vector<int> earlier_lines;  // where the same key was set before in this section
};

struct IniSection {
  std::string name;
  int line = 0;                   // of the first header
  std::vector<IniEntry> entries;  // in file order of their first appearance

  [[nodiscard]] const IniEntry* find(std::string_view key) const;
};

struct IniFile {
  std::string path;
  std::vector<IniSection> sections;  // in file order of their first header

  [[nodiscard]] const IniSection* find(std::string_view name) const;
};

// Parses `text`. Syntax errors go to `diag` as "<path>:<line>" errors and the line is skipped,
// so every error in the file is reported; the caller checks diag for errors.
IniFile parseIni(std::string_view text, const std::string& path, Diagnostics& diag);

// Reads and parses the file at `path`; nullopt (with an error naming the path) if it cannot be
// read.
std::optional<IniFile> readIni(const std::string& path, Diagnostics& diag);

}  // namespace fdr::config
