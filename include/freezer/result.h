// Errors as values: every driver, client and store boundary returns Result<T> or Status.
// No exception crosses these boundaries (see docs/adr/0001-errors-as-values.md).
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace fdr {

enum class ErrorCode {
  kInvalidArgument,   // bad config, bad input, refused transition
  kNotFound,          // the thing asked for does not exist
  kUnavailable,       // a peer could not be reached (network, BMC, API down)
  kTimedOut,          // a bounded call ran past its time
  kPermissionDenied,  // auth refused, lock held by another process
  kConflict,          // the peer refused because of its current state (HTTP 409)
  kCorruption,        // stored or received data cannot be parsed
  kNotSupported,      // a feature or driver not available in this build
  kInternal,          // a bug: an invariant did not hold
};

std::string_view toString(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // True when the same call may succeed if repeated later (connection refused, 5xx, timeout).
  bool retryable = false;

  [[nodiscard]] std::string toString() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

[[nodiscard]] inline std::unexpected<Error> fail(ErrorCode code, std::string message,
                                                 bool retryable = false) {
  return std::unexpected<Error>(Error{code, std::move(message), retryable});
}

// Prefixes an error's message with context ("fencer ipmi: ..."), keeping code and retryable.
[[nodiscard]] inline std::unexpected<Error> withContext(Error error, std::string_view context) {
  error.message = std::string(context) + ": " + error.message;
  return std::unexpected<Error>(std::move(error));
}

}  // namespace fdr
