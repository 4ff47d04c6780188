#include "core/detector.h"

#include <algorithm>

namespace fdr::core {

Detector::NodeState& Detector::node(const std::string& name) {
  if (auto it = by_name_.find(name); it != by_name_.end()) return *it->second;
  auto [it, inserted] = nodes_.try_emplace(name);
  by_name_.emplace(it->first, &it->second);
  return it->second;
}

uint32_t Detector::sourceIndex(const std::string& source) {
  auto it = std::find(source_names_.begin(), source_names_.end(), source);
  if (it != source_names_.end()) return static_cast<uint32_t>(it - source_names_.begin());
  source_names_.push_back(source);
  return static_cast<uint32_t>(source_names_.size() - 1);
}

void Detector::update(TimePoint now, const std::vector<Observation>& observations) {
  const uint64_t update = ++updates_;
  for (const Observation& obs : observations) {
    const uint32_t source = sourceIndex(obs.source);
    std::vector<SourceState>& sources = node(obs.node).sources;
    auto state = std::find_if(sources.begin(), sources.end(),
                              [&](const SourceState& s) { return s.source == source; });
    if (state == sources.end()) {
      sources.push_back(SourceState{.source = source, .health = Health::kUnknown, .since = now});
      state = sources.end() - 1;
    }
    state->seen = update;
    if (state->health != obs.health) {
      state->health = obs.health;
      state->since = now;
    }
  }
  for (auto& [name, node] : nodes_) {
    // A (node, source) pair seen before and missing now is unknown.
    for (SourceState& state : node.sources) {
      if (state.seen != update && state.health != Health::kUnknown) {
        state.health = Health::kUnknown;
        state.since = now;
      }
    }
    std::erase_if(node.recoveries, [&](TimePoint at) { return now - at > policy_.flap_window; });
    const NodeVerdict verdict = judge(node, now);
    if (verdict.sources_down >= policy_.min_sources) {
      node.down = true;
    } else if (node.down && verdict.sources_known > 0 && verdict.sources_down == 0) {
      node.down = false;
      node.recoveries.push_back(now);
    }
    // Otherwise (some sources down, or none known) the node keeps its last state.
  }
}

int Detector::recoveriesWithin(const NodeState& node, TimePoint now) const {
  return static_cast<int>(
      std::count_if(node.recoveries.begin(), node.recoveries.end(),
                    [&](TimePoint at) { return now - at <= policy_.flap_window; }));
}

std::map<std::string, int> Detector::flappingNodes(TimePoint now) const {
  std::map<std::string, int> out;
  for (const auto& [name, node] : nodes_) {
    if (node.recoveries.empty()) continue;
    const int recoveries = recoveriesWithin(node, now);
    if (recoveries > policy_.flap_max_recoveries) out.emplace(name, recoveries);
  }
  return out;
}

NodeVerdict Detector::judge(const NodeState& node, TimePoint now) const {
  NodeVerdict verdict;
  for (const SourceState& state : node.sources) {
    if (state.health != Health::kUnknown) verdict.sources_known += 1;
    if (state.health != Health::kDown) continue;
    verdict.sources_down += 1;
    if (now - state.since >= policy_.grace) verdict.sources_confirmed += 1;
  }
  verdict.failed = verdict.sources_confirmed >= policy_.min_sources;
  return verdict;
}

std::optional<NodeVerdict> Detector::verdict(std::string_view name, TimePoint now) const {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return std::nullopt;
  NodeVerdict verdict = judge(it->second, now);
  verdict.node = it->first;
  return verdict;
}

std::set<std::string> Detector::failedNodes(TimePoint now) const {
  std::set<std::string> out;
  for (const auto& [name, node] : nodes_) {
    if (judge(node, now).failed) out.insert(out.end(), name);
  }
  return out;
}

std::set<std::string> Detector::downNodes(TimePoint now) const {
  std::set<std::string> out;
  for (const auto& [name, node] : nodes_) {
    if (judge(node, now).sources_down >= policy_.min_sources) out.insert(out.end(), name);
  }
  return out;
}

std::set<std::string> Detector::suspectNodes(TimePoint now) const {
  std::set<std::string> out;
  for (const auto& [name, node] : nodes_) {
    const NodeVerdict v = judge(node, now);
    if (v.sources_down > 0 && !v.failed) out.insert(out.end(), name);
  }
  return out;
}

}  // namespace fdr::core
