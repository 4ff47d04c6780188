// Keeps secrets out of text that leaves the client: log lines and error messages. Two layers:
// values registered at run time (passwords, application credential secrets, tokens) are replaced
// wherever they occur, and well-known secret-bearing shapes (JSON "password": "...", token
// headers, user:password@ in URLs) are masked even when the value was never registered.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>

#include "freezer/model.h"

namespace fdr::http {

inline constexpr std::string_view kRedacted = "***";

class Redactor {
 public:
  // Registers a value to mask from now on. Values shorter than 4 characters are ignored (they
  // would mask ordinary words); empty secrets are ignored. Keeps the newest kMaxValues values.
  void add(const Secret& secret);
  void add(std::string_view value);

  // `text` with every registered value and every secret-bearing pattern masked.
  [[nodiscard]] std::string scrub(std::string_view text) const;

  static constexpr size_t kMaxValues = 64;

 private:
  mutable std::mutex mutex_;
  std::deque<std::string> values_;
};

// Pattern-only masking (no registered values): JSON members whose key names a secret
// ("password", "secret", "adminPass", "token" ids in auth bodies...), X-Auth-Token /
// X-Subject-Token header lines, and the password of user:password@ in URLs.
[[nodiscard]] std::string scrubPatterns(std::string_view text);

}  // namespace fdr::http
