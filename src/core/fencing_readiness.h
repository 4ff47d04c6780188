// Fencing readiness, "protection armed" (docs/guards.md, Fencing readiness): every node's first
// fencing level is asked for the node's power state, read-only, at start-up and then once per
// check interval (`[fencer] check-interval`, default 10 min), so that a wrong BMC password or an
// unreachable BMC is found before the node fails, not at the moment it must be fenced. Pacemaker
// runs a monitor operation on its stonith devices for the same reason.
//
// Pure, driven by the engine on its clock: it says which nodes are due (at most `slots` at
// once: the engine bounds the checks in flight), takes each outcome, and keeps which nodes are
// unprotected, why and since when. Each node's periodic check falls at its own offset within
// the interval (its place in the inventory, spread evenly), so 10,000 nodes make an even trickle
// and never a burst; and a node is never checked again sooner than half an interval after its
// last check (a BMC is not polled faster than it tolerates).
//
// Alerts are once per node and cause: a node that turns unprotected is reported once, again only
// when the cause changes (wrong credentials, then unreachable), and once when it is protected
// again. The engine batches the changes of one tick into one alert.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "freezer/clock.h"

namespace fdr::core {

struct ReadinessPolicy {
  Duration interval{std::chrono::minutes(10)};  // 0: no checks
  size_t concurrency = 4;                       // checks in flight at once
};

// The cause of a host the cloud has that the inventory lacks.
inline constexpr const char* kNotInInventory = "inventory:missing";

struct UnprotectedNode {
  std::string node;
  std::string cause;   // what kind of failure: "fencer:code" (an alert per change of it)
  std::string reason;  // what the check said, for the operator
  TimePoint since;     // the first failed check of this cause
  friend bool operator==(const UnprotectedNode&, const UnprotectedNode&) = default;
};

// A change to tell the admins.
struct ReadinessChange {
  enum class Kind { kUnprotected, kProtectedAgain } kind = Kind::kUnprotected;
  std::string node;
  std::string reason;  // kUnprotected: why
};

class FencingReadiness {
 public:
  // `nodes` in inventory order; every one is due at `start` (the start-up check).
  FencingReadiness(ReadinessPolicy policy, const std::vector<std::string>& nodes, TimePoint start);

  [[nodiscard]] bool enabled() const {
    return policy_.interval > Duration::zero() && node_count_ > 0;
  }

  // The nodes whose check is due at `now`, earliest first, at most `slots`; each is then being
  // checked until checked() or postponed() is called for it.
  std::vector<std::string> due(TimePoint now, size_t slots);
  // The node could not be checked now (it is being fenced or unfenced: its BMC is busy with
  // that): its next check is at its next slot.
  void postponed(const std::string& node, TimePoint now);
  // The check's outcome: `failure` empty when the fencer read the power state (on or off);
  // otherwise its cause (a change of cause alerts again) and the reason shown. Returns the
  // change to tell, if any.
  std::optional<ReadinessChange> checked(
      const std::string& node, TimePoint now,
      const std::optional<std::pair<std::string, std::string>>& failure);

  // Hosts a monitor reports (a nova-compute service of the cloud) that have no entry in the
  // inventory: nothing can fence them, so they are unprotected (cause kNotInInventory), each
  // alerted once. `complete`: every monitor answered this cycle, so a host no longer among
  // `hosts` is gone (decommissioned, or in the inventory after a restart, where its checks
  // tell): dropped without an alert. Returns the changes to tell.
  std::vector<ReadinessChange> notInInventory(const std::set<std::string>& hosts, bool complete,
                                              TimePoint now);

  // A node already known unprotected for `cause` (from the journal at start-up): its alert was
  // sent, and it is not sent again while the cause holds.
  void alreadyReported(const UnprotectedNode& known);

  [[nodiscard]] std::vector<UnprotectedNode> unprotected() const;
  // Changes whenever unprotected() may give something else (a node turning unprotected or
  // protected again, a new reason, a host outside the inventory seen or gone): lets the engine
  // publish the guards' state only when it changed, not 10,000 entries at every tick.
  [[nodiscard]] uint64_t version() const { return version_; }
  [[nodiscard]] size_t checking() const { return checking_.size(); }
  [[nodiscard]] std::optional<TimePoint> nextDue() const;
  [[nodiscard]] const ReadinessPolicy& policy() const { return policy_; }

 private:
  struct State {
    size_t index = 0;          // place in the inventory: the offset of its slot
    TimePoint next;            // when its next check is due
    TimePoint last_checked{};  // when its last check ended
    // Held apart: at 10,000 nodes an optional in place was 1 MB for the few that are unprotected.
    std::unique_ptr<UnprotectedNode> unprotected;
    std::string reported_cause;  // the cause last alerted ("" : none, or protected again)
  };
  // The node's next slot after `now`: start + offset + k × interval, at least half an interval
  // after its last check.
  TimePoint nextSlot(const State& state, TimePoint now) const;
  void schedule(const std::string& node, State& state, TimePoint at);

  ReadinessPolicy policy_;
  TimePoint start_;
  size_t node_count_ = 0;  // the inventory's size: the slots' spacing
  std::map<std::string, State> states_;
  // Hosts with no inventory entry: unprotected, never checked.
  std::map<std::string, UnprotectedNode> outside_;
  std::set<std::string> outside_reported_;  // their alert is sent (or was, before a restart)
  std::set<std::pair<TimePoint, std::string>> queue_;  // (due, node), not being checked
  std::set<std::string> checking_;
  uint64_t version_ = 0;
};

}  // namespace fdr::core
