// Fencing readiness ("protection armed", core/fencing_readiness.h): a read-only power-status
// query through each node's first fencing level, at start-up and once per check interval, on a
// lane of its own (kReadinessLane) with at most `concurrency` checks whose worker may still run,
// so a hanging BMC never makes the other checks queue past their deadline. A node whose check
// fails is unprotected: `status` shows it with the reason and since when (the guards' state),
// and the admins are told once per node and cause, and once when it is protected again, in one
// alert per kReadinessAlertSpacing at most however many nodes change.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/engine.h"
#include "core/engine_internal.h"

namespace fdr::core {

using namespace engine_internal;

namespace {

// At most one readiness alert per minute: a BMC network lost over 10,000 nodes shows up check by
// check over the interval, and is told in a few alerts, not thousands.
constexpr Duration kReadinessAlertSpacing = std::chrono::minutes(1);
constexpr size_t kNamed = 50;  // nodes named in one alert

std::string readinessKey(const std::string& node) {
  return "fence-check|" + node;
}

// The kind of failure, so a BMC that answers "timed out" at one check and "unreachable" at the
// next is one cause (one alert), and a wrong password after that is another.
std::string causeOf(const std::string& fencer, ErrorCode code) {
  switch (code) {
    case ErrorCode::kTimedOut:
    case ErrorCode::kUnavailable: return fencer + ":unreachable";
    case ErrorCode::kPermissionDenied: return fencer + ":credentials";
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound: return fencer + ":configuration";
    default: return fencer + ":" + std::string(toString(code));
  }
}

}  // namespace

void Engine::checkReadiness() {
  if (!readiness_.enabled()) return;
  const TimePoint now = clock_.now();
  const std::string& fencer = drivers_.fencers.front().name;
  for (auto it = readiness_calls_.begin(); it != readiness_calls_.end();) {
    const std::string key = readinessKey(*it);
    if (auto answer = calls_.take<PowerState>(key)) {
      std::optional<std::pair<std::string, std::string>> failure;
      if (!*answer) {
        failure.emplace(
            causeOf(fencer, answer->error().code),
            fmt::format("{} cannot read its power state: {}", fencer, answer->error().message));
      } else if (**answer == PowerState::kUnknown) {
        failure.emplace(fencer + ":unknown",
                        fmt::format("{} reads its power state as unknown", fencer));
      }
      if (failure) {
        spdlog::warn("node {} is unprotected: {}", *it, failure->second);
      } else {
        spdlog::debug("node {}: {} reads its power state", *it, fencer);
      }
      if (auto change = readiness_.checked(*it, now, failure)) {
        readiness_pending_.push_back(std::move(*change));
      }
    }
    // Kept while a worker still runs it (in flight, or timed out and not returned yet).
    it = calls_.busy(key) || calls_.started(key) ? std::next(it) : readiness_calls_.erase(it);
  }

  const size_t limit = readiness_.policy().concurrency;
  if (readiness_calls_.size() < limit) {
    for (const std::string& hostname : readiness_.due(now, limit - readiness_calls_.size())) {
      const bool busy = unfencing_.contains(hostname) ||
                        std::any_of(open_.begin(), open_.end(), [&](const auto& entry) {
                          return entry.second.node == hostname;
                        });
      const Node* n = node(hostname);
      if (busy || n == nullptr) {  // its fence (or power-on) reads the BMC meanwhile
        readiness_.postponed(hostname, now);
        continue;
      }
      const bool started = calls_.start<PowerState>(
          readinessKey(hostname), kReadinessLane, policy_.fence_attempt_timeout,
          [f = drivers_.fencers.front().fencer, copy = *n] { return f->powerStatus(copy); });
      if (!started) {
        readiness_.postponed(hostname, now);
        continue;
      }
      readiness_calls_.insert(hostname);
    }
  }
  alertReadiness();
}

void Engine::alertReadiness() {
  if (readiness_pending_.empty()) return;
  const TimePoint now = clock_.now();
  if (readiness_alerted_at_ && now - *readiness_alerted_at_ < kReadinessAlertSpacing) return;
  std::vector<const ReadinessChange*> lost;
  std::vector<const ReadinessChange*> back;
  for (const ReadinessChange& c : readiness_pending_) {
    (c.kind == ReadinessChange::Kind::kUnprotected ? lost : back).push_back(&c);
  }
  std::string subject;
  if (!lost.empty()) {
    subject = lost.size() == 1
                  ? fmt::format("[freezer-dr] {} is UNPROTECTED: fencing it would fail",
                                lost.front()->node)
                  : fmt::format("[freezer-dr] {} nodes are UNPROTECTED: fencing them would fail",
                                lost.size());
    if (!back.empty()) subject += fmt::format("; {} protected again", back.size());
  } else {
    subject = back.size() == 1
                  ? fmt::format("[freezer-dr] {} is protected again", back.front()->node)
                  : fmt::format("[freezer-dr] {} nodes are protected again", back.size());
  }
  std::string text;
  if (!lost.empty()) {
    text += fmt::format(
        "Fencing would fail for {} node(s): the read-only power-status check of their first "
        "fencing level failed, or they have no entry in the inventory. If one of them fails now "
        "it cannot be fenced, and its instances are not evacuated until an operator confirms it "
        "is off (`freezer-dr confirm-fenced HOST`). Fix the BMC's address or credentials in the "
        "inventory, or its network, or add the host to the inventory; `freezer-dr status` lists "
        "the unprotected nodes.\n",
        lost.size());
    for (size_t i = 0; i < lost.size() && i < kNamed; ++i) {
      text += fmt::format("  UNPROTECTED {}: {}\n", lost[i]->node, lost[i]->reason);
    }
    if (lost.size() > kNamed) text += fmt::format("  and {} more\n", lost.size() - kNamed);
  }
  if (!back.empty()) {
    text += "The power-status check works again (fencing should work) for:\n";
    for (size_t i = 0; i < back.size() && i < kNamed; ++i) {
      text += fmt::format("  protected again: {}\n", back[i]->node);
    }
    if (back.size() > kNamed) text += fmt::format("  and {} more\n", back.size() - kNamed);
  }
  const std::string& about = lost.size() + back.size() == 1 ? readiness_pending_.front().node : "";
  if (!alertAdmins(about, subject, text)) return;  // kept: again at the next tick
  readiness_pending_.clear();
  readiness_alerted_at_ = now;
}

}  // namespace fdr::core
