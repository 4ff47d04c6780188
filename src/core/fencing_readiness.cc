#include "core/fencing_readiness.h"

#include <algorithm>

namespace fdr::core {

FencingReadiness::FencingReadiness(ReadinessPolicy policy, const std::vector<std::string>& nodes,
                                   TimePoint start)
    : policy_(policy), start_(start), node_count_(nodes.size()) {
  policy_.concurrency = std::max<size_t>(policy_.concurrency, 1);
  if (policy_.interval <= Duration::zero()) return;
  for (size_t i = 0; i < nodes.size(); ++i) {
    State state;
    state.index = i;
    auto [it, inserted] = states_.emplace(nodes[i], std::move(state));
    if (inserted) schedule(nodes[i], it->second, start);
  }
}

TimePoint FencingReadiness::nextSlot(const State& state, TimePoint now) const {
  const auto interval = policy_.interval.count();
  const auto offset =
      static_cast<Duration::rep>(static_cast<double>(interval) * static_cast<double>(state.index) /
                                 static_cast<double>(std::max<size_t>(node_count_, 1)));
  const TimePoint earliest = std::max(now, state.last_checked + policy_.interval / 2);
  // The first k ≥ 1 with start + offset + k × interval > earliest.
  const auto since = (earliest - start_).count() - offset;
  const auto k = std::max<Duration::rep>(1, since / interval + 1);
  return start_ + Duration(offset + k * interval);
}

void FencingReadiness::schedule(const std::string& node, State& state, TimePoint at) {
  state.next = at;
  queue_.emplace(at, node);
}

std::vector<std::string> FencingReadiness::due(TimePoint now, size_t slots) {
  std::vector<std::string> out;
  while (out.size() < slots && !queue_.empty() && queue_.begin()->first <= now) {
    std::string node = queue_.begin()->second;
    queue_.erase(queue_.begin());
    checking_.insert(node);
    out.push_back(std::move(node));
  }
  return out;
}

void FencingReadiness::postponed(const std::string& node, TimePoint now) {
  auto it = states_.find(node);
  if (it == states_.end() || checking_.erase(node) == 0) return;
  schedule(node, it->second, nextSlot(it->second, now));
}

std::optional<ReadinessChange> FencingReadiness::checked(
    const std::string& node, TimePoint now,
    const std::optional<std::pair<std::string, std::string>>& failure) {
  auto it = states_.find(node);
  if (it == states_.end() || checking_.erase(node) == 0) return std::nullopt;
  State& state = it->second;
  state.last_checked = now;
  schedule(node, state, nextSlot(state, now));
  std::optional<ReadinessChange> change;
  if (!failure) {
    if (state.unprotected) ++version_;
    state.unprotected.reset();
    if (!state.reported_cause.empty()) {
      change = ReadinessChange{
          .kind = ReadinessChange::Kind::kProtectedAgain, .node = node, .reason = {}};
    }
    state.reported_cause.clear();
    return change;
  }
  const auto& [cause, reason] = *failure;
  if (!state.unprotected || state.unprotected->cause != cause) {
    state.unprotected = std::make_unique<UnprotectedNode>(
        UnprotectedNode{.node = node, .cause = cause, .reason = reason, .since = now});
    ++version_;
  } else if (state.unprotected->reason != reason) {
    state.unprotected->reason = reason;  // the latest words of the same cause
    ++version_;
  }
  if (state.reported_cause != cause) {
    change = ReadinessChange{
        .kind = ReadinessChange::Kind::kUnprotected, .node = node, .reason = reason};
    state.reported_cause = cause;
  }
  return change;
}

std::vector<ReadinessChange> FencingReadiness::notInInventory(const std::set<std::string>& hosts,
                                                              bool complete, TimePoint now) {
  std::vector<ReadinessChange> changes;
  for (const std::string& host : hosts) {
    if (states_.contains(host)) continue;  // in the inventory: its checks tell
    auto [it, added] = outside_.try_emplace(
        host, UnprotectedNode{
                  .node = host,
                  .cause = kNotInInventory,
                  .reason = "a compute host of the cloud with no entry in the inventory "
                            "(servers.yml): freezer-dr cannot fence it, nor evacuate it if it "
                            "fails",
                  .since = now});
    if (added) ++version_;
    if (outside_reported_.insert(host).second) {
      changes.push_back(ReadinessChange{
          .kind = ReadinessChange::Kind::kUnprotected, .node = host, .reason = it->second.reason});
    }
  }
  if (complete) {
    for (auto it = outside_.begin(); it != outside_.end();) {
      if (hosts.contains(it->first)) {
        ++it;
        continue;
      }
      outside_reported_.erase(it->first);
      it = outside_.erase(it);
      ++version_;
    }
  }
  return changes;
}

void FencingReadiness::alreadyReported(const UnprotectedNode& known) {
  ++version_;
  auto it = states_.find(known.node);
  if (it == states_.end()) {
    if (known.cause == kNotInInventory) {
      outside_[known.node] = known;
      outside_reported_.insert(known.node);
    }
    return;
  }
  it->second.unprotected = std::make_unique<UnprotectedNode>(known);
  it->second.reported_cause = known.cause;
}

std::vector<UnprotectedNode> FencingReadiness::unprotected() const {
  std::vector<UnprotectedNode> out;
  for (const auto& [node, state] : states_) {
    if (state.unprotected) out.push_back(*state.unprotected);
  }
  for (const auto& [host, u] : outside_) out.push_back(u);
  return out;
}

std::optional<TimePoint> FencingReadiness::nextDue() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first;
}

}  // namespace fdr::core
