// The isolation check: before it fences anything on its own, the controller makes sure it is not
// the one cut off. A controller on the wrong side of a network partition sees every node down
// and, unchecked, would power off healthy hosts it merely cannot see.
//
// An IsolationCheck probes the controller's reference points (gateways, the Nova API, anything
// configured that should always answer) and reports, per point, whether it answered. The engine
// fences only when at least the configured number of points answered (a majority by default).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace fdr {

struct ReferencePointResult {
  std::string name;  // as configured, e.g. "10.0.0.1:22"
  bool reachable = false;
  std::string detail;  // why not, or how it answered: for the admins' alert and the log
};

class IsolationCheck {
 public:
  virtual ~IsolationCheck() = default;
  // Probes every reference point once, in configuration order; one result per point. Blocks for
  // at most the implementation's timeout. Never fails as a whole: a point that cannot be probed
  // is unreachable, with the reason in `detail`.
  [[nodiscard]] virtual std::vector<ReferencePointResult> probe() = 0;
  // How many points probe() reports.
  [[nodiscard]] virtual size_t size() const = 0;
};

using IsolationCheckPtr = std::unique_ptr<IsolationCheck>;

}  // namespace fdr
