// The detector: turns observations into a verdict per node. Pure and clock-free: the caller
// passes the time.
//
// A node has failed when at least `min_sources` of its sources have reported it down,
// continuously, for at least `grace`. Unknown never counts as down; a source that stops
// reporting becomes unknown; a node that comes back within the grace period starts over.
//
// It also remembers when each node came back: a node is down while at least `min_sources`
// sources say so (grace elapsed or not) and up when every source that knows says up; a node
// that went from down to up more than `flap_max_recoveries` times within `flap_window` is
// flapping (a bad NIC, a crashing hypervisor, a switch port going on and off).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "freezer/clock.h"
#include "freezer/model.h"

namespace fdr::core {

struct DetectorPolicy {
  Duration grace{std::chrono::seconds(3)};
  int min_sources = 2;
  int flap_max_recoveries = 3;
  Duration flap_window{std::chrono::minutes(10)};
};

struct NodeVerdict {
  std::string node;
  int sources_down = 0;       // currently reporting down
  int sources_confirmed = 0;  // down for at least the grace period
  int sources_known = 0;      // reporting up or down
  bool failed = false;
};

class Detector {
 public:
  explicit Detector(DetectorPolicy policy) : policy_(policy) {}

  // `observations` is the complete picture of one poll of every monitor: a (node, source) pair
  // seen before and missing now becomes unknown.
  void update(TimePoint now, const std::vector<Observation>& observations);

  // One node's verdict; nullopt for a node no source has reported.
  [[nodiscard]] std::optional<NodeVerdict> verdict(std::string_view node, TimePoint now) const;
  [[nodiscard]] std::set<std::string> failedNodes(TimePoint now) const;
  // Nodes down by enough sources, grace elapsed or not: what the storm guard counts.
  [[nodiscard]] std::set<std::string> downNodes(TimePoint now) const;
  // Nodes with at least one source down that have not failed (yet).
  [[nodiscard]] std::set<std::string> suspectNodes(TimePoint now) const;
  // Flapping nodes → how many times each came back (down → up) within the flap window.
  [[nodiscard]] std::map<std::string, int> flappingNodes(TimePoint now) const;

 private:
  struct SourceState {
    uint32_t source = 0;  // its index in source_names_
    Health health = Health::kUnknown;
    TimePoint since;
    uint64_t seen = 0;  // the update that last reported it
  };
  // What the detector holds per node: a few sources each (a flat list, searched in order), and
  // its recoveries. Held compactly and updated in place, with no allocation per observation: at
  // 10,000 nodes an update takes 30,000 observations every second.
  struct NodeState {
    std::vector<SourceState> sources;
    bool down = false;                  // as of the last update
    std::vector<TimePoint> recoveries;  // down → up, within the flap window, oldest first
  };
  [[nodiscard]] int recoveriesWithin(const NodeState& node, TimePoint now) const;
  // Counts only: the name is left to the callers that need it (most do not).
  [[nodiscard]] NodeVerdict judge(const NodeState& node, TimePoint now) const;
  NodeState& node(const std::string& name);
  uint32_t sourceIndex(const std::string& source);

  DetectorPolicy policy_;
  std::map<std::string, NodeState, std::less<>> nodes_;       // sorted by name
  std::unordered_map<std::string_view, NodeState*> by_name_;  // keys view nodes_' keys
  std::vector<std::string> source_names_;  // the few source names, each held once
  uint64_t updates_ = 0;
};

}  // namespace fdr::core
