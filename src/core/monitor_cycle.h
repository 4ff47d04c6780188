// A monitoring cycle: every monitor polled at once, each on its own lane, and the controller's
// reference points probed, all under one deadline. A cycle starts every `interval` (measured
// from the start of the last one, so the period is the interval whatever a tick took) and ends
// when every poll has answered or timed out. A monitor that did not answer in time, or that is
// still stuck in an earlier poll, counts as failed for the cycle: its sources are unknown, never
// down, and the other monitors' observations still count.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/calls.h"
#include "freezer/isolation.h"
#include "freezer/monitor.h"

namespace fdr::core {

class MonitorCycle {
 public:
  struct Result {
    TimePoint started;
    std::vector<Observation> observations;
    std::vector<bool> answered;       // per monitor, in order
    std::vector<std::string> errors;  // per monitor: why it did not answer, empty if it did
    // The isolation check's probe (empty when none is configured).
    std::vector<ReferencePointResult> reference_points;
  };

  // `interval` 0: a cycle at every step once the last one ended. `timeout` 0: the interval (or
  // 10 s when that is 0 too).
  MonitorCycle(Calls& calls, std::vector<Monitor*> monitors, IsolationCheck* isolation,
               std::shared_ptr<const std::vector<Node>> nodes, Duration interval, Duration timeout);

  // Starts a cycle when one is due; returns the cycle once every poll answered or timed out.
  // Never waits.
  std::optional<Result> step(TimePoint now);
  // When the next cycle starts (if the last one has ended by then).
  [[nodiscard]] TimePoint nextStart() const { return next_start_; }
  [[nodiscard]] bool running() const { return running_; }

 private:
  [[nodiscard]] static std::string pollKey(size_t i);

  Calls& calls_;
  std::vector<Monitor*> monitors_;
  IsolationCheck* isolation_;
  std::shared_ptr<const std::vector<Node>> nodes_;
  Duration interval_;
  Duration timeout_;
  bool running_ = false;
  TimePoint next_start_{};
  Result current_;
  std::vector<bool> in_;  // per monitor: its answer (or failure) is in
  bool isolation_in_ = true;
};

}  // namespace fdr::core
