// Collected problems found while reading config and inventory: every one is reported, not only
// the first, each with where it was found ("freezer-dr.conf:12 [fencer] retries").
#pragma once

#include <string>
#include <vector>

namespace fdr {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string where;  // "file:line", "file:line [section] key", or a source name
  std::string message;
};

class Diagnostics {
 public:
  void error(std::string where, std::string message);
  void warning(std::string where, std::string message);
  [[nodiscard]] bool hasErrors() const;
  [[nodiscard]] const std::vector<Diagnostic>& items() const { return items_; }
  // One line per item: "error: <where>: <message>".
  [[nodiscard]] std::string format() const;

 private:
  std::vector<Diagnostic> items_;
};

// The closest candidate by edit distance, or empty if none is close enough to suggest.
std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace fdr
