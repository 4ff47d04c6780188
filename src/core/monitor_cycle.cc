#include "core/monitor_cycle.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace fdr::core {
namespace {
constexpr const char* kIsolationKey = "cycle|isolation";
}  // namespace

MonitorCycle::MonitorCycle(Calls& calls, std::vector<Monitor*> monitors, IsolationCheck* isolation,
                           std::shared_ptr<const std::vector<Node>> nodes, Duration interval,
                           Duration timeout)
    : calls_(calls),
      monitors_(std::move(monitors)),
      isolation_(isolation),
      nodes_(std::move(nodes)),
      interval_(interval),
      timeout_(timeout.count() > 0    ? timeout
               : interval.count() > 0 ? interval
                                      : Duration(std::chrono::seconds(10))) {}

std::string MonitorCycle::pollKey(size_t i) {
  return fmt::format("cycle|poll|{}", i);
}

std::optional<MonitorCycle::Result> MonitorCycle::step(TimePoint now) {
  if (!running_) {
    if (now < next_start_) return std::nullopt;
    running_ = true;
    current_ = Result{};
    current_.started = now;
    current_.answered.assign(monitors_.size(), false);
    current_.errors.assign(monitors_.size(), "");
    in_.assign(monitors_.size(), false);
    // The period is the interval, counted from when this cycle was due, not from when the tick
    // that started it ran: a slow tick does not stretch it. A late start (the previous cycle ran
    // past the interval) does not make the next one come twice as soon as due.
    next_start_ = std::max((next_start_ == TimePoint{} ? now : next_start_) + interval_, now);
    for (size_t i = 0; i < monitors_.size(); ++i) {
      const std::string key = pollKey(i);
      if (calls_.busy(key)) {
        current_.errors[i] = "still in an earlier poll that has not returned";
        in_[i] = true;
        continue;
      }
      Monitor* monitor = monitors_[i];
      calls_.start<std::vector<Observation>>(
          key, fmt::format("monitor:{}", i), timeout_,
          [monitor, nodes = nodes_] { return monitor->poll(*nodes); });
    }
    isolation_in_ = isolation_ == nullptr;
    if (isolation_ != nullptr) {
      if (calls_.busy(kIsolationKey)) {
        isolation_in_ = true;
        current_.reference_points.push_back(
            {.name = "reference points",
             .reachable = false,
             .detail = "the probe of an earlier cycle has not returned"});
      } else {
        calls_.start<std::vector<ReferencePointResult>>(
            kIsolationKey, "isolation", timeout_,
            [check = isolation_]() -> fdr::Result<std::vector<ReferencePointResult>> {
              return check->probe();
            });
      }
    }
  }
  for (size_t i = 0; i < monitors_.size(); ++i) {
    if (in_[i]) continue;
    auto polled = calls_.take<std::vector<Observation>>(pollKey(i));
    if (!polled) continue;
    in_[i] = true;
    if (!*polled) {
      current_.errors[i] = polled->error().message;
      continue;
    }
    current_.answered[i] = true;
    current_.observations.insert(current_.observations.end(),
                                 std::make_move_iterator((*polled)->begin()),
                                 std::make_move_iterator((*polled)->end()));
  }
  if (!isolation_in_) {
    if (auto probed = calls_.take<std::vector<ReferencePointResult>>(kIsolationKey)) {
      isolation_in_ = true;
      if (*probed) {
        current_.reference_points = std::move(**probed);
      } else {
        // No answer within the cycle: every point counts as unreachable.
        for (size_t i = 0; i < isolation_->size(); ++i) {
          current_.reference_points.push_back(
              {.name = fmt::format("reference point {}", i + 1),
               .reachable = false,
               .detail = "the probe did not finish: " + probed->error().message});
        }
      }
    }
  }
  if (!isolation_in_ || !std::all_of(in_.begin(), in_.end(), [](bool b) { return b; })) {
    return std::nullopt;
  }
  running_ = false;
  for (size_t i = 0; i < monitors_.size(); ++i) {
    if (!current_.answered[i]) {
      // Its sources become unknown (absent from this cycle), which never counts as down.
      spdlog::warn("monitor {} failed: {}", i + 1, current_.errors[i]);
    }
  }
  return std::move(current_);
}

}  // namespace fdr::core
