#include "core/storm_guard.h"

#include <algorithm>

#include <fmt/format.h>

namespace fdr::core {
namespace {

std::string describe(Duration window) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(window).count();
  if (s % 60 == 0) return fmt::format("{} min", s / 60);
  return fmt::format("{} s", s);
}

}  // namespace

void StormGuard::failed(const std::string& node, TimePoint at) {
  auto [it, inserted] = failures_.emplace(node, at);
  if (!inserted) it->second = std::max(it->second, at);
}

void StormGuard::backInService(const std::string& node) {
  failures_.erase(node);
}

StormVerdict StormGuard::judge(TimePoint now, const std::set<std::string>& down, size_t inventory) {
  std::erase_if(failures_, [&](const auto& entry) { return entry.second + limits_.window <= now; });
  StormVerdict verdict;
  verdict.counted = down.size();
  for (const auto& [node, at] : failures_) {
    if (!down.contains(node)) verdict.counted += 1;
  }
  const size_t total = std::max<size_t>(inventory, 1);
  const std::string what =
      failures_.empty() ? "down at once" : "down or failed within " + describe(limits_.window);
  if (static_cast<int64_t>(verdict.counted) > limits_.max_nodes) {
    verdict.why = fmt::format("storm guard: {} nodes {} (limit {})", verdict.counted, what,
                              limits_.max_nodes);
  } else if (verdict.counted * 100 > static_cast<size_t>(limits_.max_percent) * total) {
    verdict.why = fmt::format("storm guard: {} of {} nodes {} (limit {}%)", verdict.counted, total,
                              what, limits_.max_percent);
  }
  const bool storm = !verdict.why.empty();
  if (storm) {  // named in the alert; only then, as a storm over 10,000 nodes is rare
    std::set<std::string> all = down;
    for (const auto& [node, at] : failures_) all.insert(node);
    verdict.nodes.assign(all.begin(), all.end());
  }
  if (storm && !storm_) episode_since_ = now;
  if (!storm) {
    episode_since_.reset();
    episode_alerted_ = false;
  }
  storm_ = storm;
  return verdict;
}

std::vector<StormFailure> StormGuard::recentFailures() const {
  std::vector<StormFailure> out;
  out.reserve(failures_.size());
  for (const auto& [node, at] : failures_) {
    out.push_back({.node = node, .failed_at = at, .counts_until = at + limits_.window});
  }
  return out;
}

bool StormGuard::startEpisode() {
  if (!storm_ || episode_alerted_) return false;
  episode_alerted_ = true;
  return true;
}

}  // namespace fdr::core
