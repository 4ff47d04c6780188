#include "freezer/diagnostics.h"

#include <algorithm>
#include <utility>

namespace fdr {

void Diagnostics::error(std::string where, std::string message) {
  items_.push_back({Diagnostic::Severity::kError, std::move(where), std::move(message)});
}

void Diagnostics::warning(std::string where, std::string message) {
  items_.push_back({Diagnostic::Severity::kWarning, std::move(where), std::move(message)});
}

bool Diagnostics::hasErrors() const {
  return std::ranges::any_of(
      items_, [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::kError; });
}

std::string Diagnostics::format() const {
  std::string out;
  for (const Diagnostic& d : items_) {
    out += d.severity == Diagnostic::Severity::kError ? "error: " : "warning: ";
    if (!d.where.empty()) out += d.where + ": ";
    out += d.message;
    out += '\n';
  }
  return out;
}

namespace {

// Levenshtein distance with two rolling rows.
size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> previous(b.size() + 1);
  std::vector<size_t> current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates) {
  // Close enough to be a typo: at most 2 edits, or a third of the word for longer words.
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = editDistance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace fdr
