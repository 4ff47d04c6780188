// The storm guard (docs/guards.md, Storm): more nodes failed recently than the limits allow, so
// fence nothing and alert. Pure, driven by the engine on its clock.
//
// What counts is every node down now (nodes still in their grace period included: a storm
// starts before anyone's grace is over) and every node that failed within the storm window
// (`[DEFAULT] storm-window`, default 10 min): an incident was opened for it, by the detector or
// by an operator's `freezer-dr fence`, and it has not been returned to service since. A rolling
// failure (a failing PDU, a bad kernel rolled out host by host, a spreading partition) is then
// held at the limit instead of being fenced one host after another onto fewer and fewer hosts,
// as Red Hat's InstanceHA counts the hosts it forced down in earlier cycles. A node fenced before
// the window and still off is old news: it does not count. A node vetoed (never fenced) that came
// back on its own was alive: it does not count either.
//
// Alerts are per storm episode, never per message text: an episode starts when the guard first
// vetoes a fence and ends when the count is back within the limits, however the count moves
// meanwhile (`status` keeps the current count).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "freezer/clock.h"

namespace fdr::core {

struct StormLimits {
  int max_nodes = 2;     // more nodes than this: storm
  int max_percent = 50;  // or more than this percentage of the inventory
  Duration window{std::chrono::minutes(10)};
};

// A failure that still counts toward the storm guard.
struct StormFailure {
  std::string node;
  TimePoint failed_at;
  TimePoint counts_until;
  friend bool operator==(const StormFailure&, const StormFailure&) = default;
};

struct StormVerdict {
  std::string why;                 // empty: no storm
  size_t counted = 0;              // nodes counted (down now or failed within the window)
  std::vector<std::string> nodes;  // the nodes counted, by name (filled only in a storm)
};

class StormGuard {
 public:
  explicit StormGuard(StormLimits limits) : limits_(limits) {}

  // An incident was opened for `node` at `at` (automatic or by hand), or one found in the
  // journal at start-up. A later failure of the same node moves its time on.
  void failed(const std::string& node, TimePoint at);
  // The node was returned to service (an unfence completed, or every source sees it up again):
  // its failure no longer counts.
  void backInService(const std::string& node);

  // The verdict for the nodes down now, against an inventory of `inventory` nodes. Drops the
  // failures older than the window.
  StormVerdict judge(TimePoint now, const std::set<std::string>& down, size_t inventory);

  // Failures within the window, by node name, each with until when it counts.
  [[nodiscard]] std::vector<StormFailure> recentFailures() const;

  // Episodes, for the alerts: true once per storm episode, at the first veto of the episode.
  // The episode ends at the first judge() with no storm.
  bool startEpisode();
  [[nodiscard]] std::optional<TimePoint> episodeSince() const { return episode_since_; }
  // Undoes startEpisode() when its alert could not be queued: asked again at the next tick.
  void alertNotQueued() { episode_alerted_ = false; }

  [[nodiscard]] const StormLimits& limits() const { return limits_; }

 private:
  StormLimits limits_;
  std::map<std::string, TimePoint> failures_;  // node → when it failed, within the window
  bool storm_ = false;
  bool episode_alerted_ = false;
  std::optional<TimePoint> episode_since_;
};

}  // namespace fdr::core
