#include "core/detector.h"

#include <algorithm>

namespace fdr::core {

void Detector::update(TimePoint now, const std::vector<Observation>& observations) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const Observation& obs : observations) {
    seen.emplace(obs.node, obs.source);
    SourceState& state = nodes_[obs.node][obs.source];
    if (state.health != obs.health) {
      state.health = obs.health;
      state.since = now;
    }
  }
  for (auto& [node, sources] : nodes_) {
    for (auto& [source, state] : sources) {
      if (!seen.contains({node, source}) && state.health != Health::kUnknown) {
        state.health = Health::kUnknown;
        state.since = now;
      }
    }
  }
  for (const NodeVerdict& verdict : verdicts(now)) {
    NodeHistory& history = history_[verdict.node];
    while (!history.recoveries.empty() && now - history.recoveries.front() > policy_.flap_window) {
      history.recoveries.pop_front();
    }
    if (verdict.sources_down >= policy_.min_sources) {
      history.down = true;
    } else if (history.down && verdict.sources_known > 0 && verdict.sources_down == 0) {
      history.down = false;
      history.recoveries.push_back(now);
    }
    // Otherwise (some sources down, or none known) the node keeps its last state.
  }
}

int Detector::recoveriesWithin(const NodeHistory& history, TimePoint now) const {
  return static_cast<int>(
      std::count_if(history.recoveries.begin(), history.recoveries.end(),
                    [&](TimePoint at) { return now - at <= policy_.flap_window; }));
}

std::map<std::string, int> Detector::flappingNodes(TimePoint now) const {
  std::map<std::string, int> out;
  for (const auto& [node, history] : history_) {
    const int recoveries = recoveriesWithin(history, now);
    if (recoveries > policy_.flap_max_recoveries) out.emplace(node, recoveries);
  }
  return out;
}

std::vector<NodeVerdict> Detector::verdicts(TimePoint now) const {
  std::vector<NodeVerdict> out;
  for (const auto& [node, sources] : nodes_) {
    NodeVerdict verdict;
    verdict.node = node;
    for (const auto& [source, state] : sources) {
      if (state.health != Health::kUnknown) verdict.sources_known += 1;
      if (state.health != Health::kDown) continue;
      verdict.sources_down += 1;
      if (now - state.since >= policy_.grace) verdict.sources_confirmed += 1;
    }
    verdict.failed = verdict.sources_confirmed >= policy_.min_sources;
    out.push_back(std::move(verdict));
  }
  return out;
}

std::set<std::string> Detector::failedNodes(TimePoint now) const {
  std::set<std::string> out;
  for (const auto& v : verdicts(now)) {
    if (v.failed) out.insert(v.node);
  }
  return out;
}

std::set<std::string> Detector::downNodes(TimePoint now) const {
  std::set<std::string> out;
  for (const auto& v : verdicts(now)) {
    if (v.sources_down >= policy_.min_sources) out.insert(v.node);
  }
  return out;
}

std::set<std::string> Detector::suspectNodes(TimePoint now) const {
  std::set<std::string> out;
  for (const auto& v : verdicts(now)) {
    if (v.sources_down > 0 && !v.failed) out.insert(v.node);
  }
  return out;
}

}  // namespace fdr::core
