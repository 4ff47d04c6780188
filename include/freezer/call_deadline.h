// The deadline of the driver call running on this thread, set by whoever runs the call (the
// engine's workers, src/core/executor.h) and read by the code that does the I/O (the HTTP
// client, Keystone re-authentication, child processes): no call, retries and backoff included,
// outlives the step that made it (safety invariant 6).
//
// Scoped and thread-local, like a gRPC context's deadline: a CallDeadline on the stack bounds
// everything called below it on this thread; nested scopes keep the earliest deadline. Steady
// time: a deadline bounds real waiting, which wall-clock steps must not stretch or shrink.
#pragma once

#include <chrono>
#include <optional>

namespace fdr {

using SteadyTime = std::chrono::steady_clock::time_point;

class CallDeadline {
 public:
  explicit CallDeadline(SteadyTime deadline);
  ~CallDeadline();
  CallDeadline(const CallDeadline&) = delete;
  CallDeadline& operator=(const CallDeadline&) = delete;

  // The deadline in force on this thread, if any.
  [[nodiscard]] static std::optional<SteadyTime> current();
  // Time left before it (zero once past); nothing when no deadline is in force.
  [[nodiscard]] static std::optional<std::chrono::milliseconds> remaining();
  // `wanted`, shortened to what is left of the deadline in force (never below zero).
  [[nodiscard]] static std::chrono::milliseconds bound(std::chrono::milliseconds wanted);

 private:
  std::optional<SteadyTime> previous_;
};

}  // namespace fdr
