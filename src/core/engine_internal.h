// What the engine's source files (engine*.cc) share and nothing else uses.
#pragma once

#include <string>

#include <fmt/format.h>

#include "freezer/clock.h"

namespace fdr::core::engine_internal {

inline constexpr int kMaxStepsPerTick = 64;  // bounds one incident's progress in one tick
// Journal setting "node-up:<host>": when a recovered node was last seen up (ms).
inline constexpr const char* kNodeUpPrefix = "node-up:";

// Executor lanes (core/executor.h): fencers, the cloud's API (the evacuator).
inline constexpr const char* kFenceLane = "fence";
inline constexpr const char* kCloudLane = "cloud";
// Fencing readiness checks: a lane of their own, so a real fence never waits behind them.
inline constexpr const char* kReadinessLane = "fence-check";

// "0.25 s", "2 s", "60 s": to the millisecond, with no trailing zeros.
inline std::string seconds(Duration d) {
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

// Keys of the calls in flight (core/calls.h): "<incident id>|<what>" for an incident's calls,
// so that abandonCalls() finds them by prefix.
inline std::string callKey(const std::string& owner, const std::string& what) {
  return owner + "|" + what;
}

}  // namespace fdr::core::engine_internal
