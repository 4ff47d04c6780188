#include "freezer/call_deadline.h"

#include <algorithm>

namespace fdr {
namespace {
thread_local std::optional<SteadyTime> tls_deadline;
}  // namespace

CallDeadline::CallDeadline(SteadyTime deadline) : previous_(tls_deadline) {
  tls_deadline = previous_ ? std::min(*previous_, deadline) : deadline;
}

CallDeadline::~CallDeadline() {
  tls_deadline = previous_;
}

std::optional<SteadyTime> CallDeadline::current() {
  return tls_deadline;
}

std::optional<std::chrono::milliseconds> CallDeadline::remaining() {
  if (!tls_deadline) return std::nullopt;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      *tls_deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

std::chrono::milliseconds CallDeadline::bound(std::chrono::milliseconds wanted) {
  auto left = remaining();
  return left ? std::min(wanted, *left) : wanted;
}

}  // namespace fdr
