#include "freezer/result.h"

namespace fdr {

std::string_view toString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimedOut: return "timed out";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kCorruption: return "corruption";
    case ErrorCode::kNotSupported: return "not supported";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Error::toString() const {
  return message + " [" + std::string(fdr::toString(code)) + "]";
}

}  // namespace fdr
