#pragma once

#include <memory>
#include <span>
#include <vector>

#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr {

// Stage 1: reports what it sees of the nodes. A monitor never decides that a node failed: the
// Detector does, from the observations of every source.
//
// poll() returns one observation per (node, source) it has an opinion on. A source that cannot
// tell reports Health::kUnknown, never kDown. An error means the monitor itself could not run
// (its API is unreachable): all its sources count as unknown for that poll.
class Monitor {
 public:
  virtual ~Monitor() = default;
  [[nodiscard]] virtual Result<std::vector<Observation>> poll(std::span<const Node> nodes) = 0;
};

using MonitorPtr = std::unique_ptr<Monitor>;

}  // namespace fdr
