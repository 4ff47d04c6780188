// What the guards tell `freezer-dr status`: the acting engine writes them to the journal's
// settings, a `status` process reads them. JSON, as src/core/codec.h encodes records (times in
// milliseconds since the epoch; unknown fields ignored; a bad document is kCorruption).
//
//   "paused"  "1" or "0": the flag the engine obeys (kept as it always was)
//   "pause"   PauseState: who paused or resumed last, when, why
//   "guards"  GuardState: the guards' verdicts of the engine's last tick that changed them
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fencing_readiness.h"
#include "core/storm_guard.h"
#include "freezer/clock.h"
#include "freezer/result.h"

namespace fdr::core {

inline constexpr const char* kPausedSetting = "paused";
inline constexpr const char* kPauseSetting = "pause";
inline constexpr const char* kGuardsSetting = "guards";

struct PauseState {
  bool paused = false;
  std::string by;  // the operator who paused (or resumed)
  TimePoint at;
  std::string reason;
  friend bool operator==(const PauseState&, const PauseState&) = default;
};

struct FlappingNode {
  std::string node;
  int recoveries = 0;  // down → up changes within the flap window
  TimePoint since;     // when the engine first saw it flapping
  friend bool operator==(const FlappingNode&, const FlappingNode&) = default;
};

// A live node whose checked service does not answer (Observation::service_down), by source.
struct ServiceDown {
  std::string node;
  std::string source;
  std::string detail;
  TimePoint since;  // the first cycle that saw it
  friend bool operator==(const ServiceDown&, const ServiceDown&) = default;
};

inline constexpr size_t kListedServicesDown = 100;

struct GuardState {
  // Why the controller thinks it is cut off (isolation check or every node down); empty: not.
  std::string isolation;
  std::optional<TimePoint> isolated_since;
  std::vector<FlappingNode> flapping;
  std::vector<std::string> deferred;  // failed nodes waiting for the per-tick fence cap
  std::vector<std::string> vetoes;    // "node: why it is not fenced"
  // Why the storm guard holds (with the current count); empty: it does not. Since when.
  std::string storm;
  std::optional<TimePoint> storm_since;
  // The failures that count toward the storm guard, each until when.
  std::vector<StormFailure> storm_window;
  // Nodes whose fencing readiness check fails: fencing them would fail (why, since when).
  std::vector<UnprotectedNode> unprotected;
  // Live nodes whose service a source checks does not answer: not a failure (never fenced for
  // it), told so the operator sees the closed port.
  // The first kListedServicesDown of them (by node and source): a service down on every node of
  // a large cloud (libvirtd restarted everywhere) would otherwise rewrite megabytes at each
  // tick. How many there are in all.
  std::vector<ServiceDown> services_down;
  size_t services_down_total = 0;
  friend bool operator==(const GuardState&, const GuardState&) = default;
};

nlohmann::json toJson(const PauseState& pause);
nlohmann::json toJson(const GuardState& guards);
// toJson(guards).dump(), without building the tree: written one list entry at a time (with a
// service down on each of 10,000 nodes, the tree took 17 MB to write 4 MB of text).
[[nodiscard]] std::string dumpGuardState(const GuardState& guards);
// The same with the two lists that can hold an entry for every node (unprotected, services
// down) left empty: the engine compares it, and those lists' versions, to tell cheaply whether
// anything changed.
[[nodiscard]] std::string dumpGuardStateSummary(const GuardState& guards);
[[nodiscard]] Result<PauseState> pauseStateFromJson(std::string_view text);
[[nodiscard]] Result<GuardState> guardStateFromJson(std::string_view text);

}  // namespace fdr::core
