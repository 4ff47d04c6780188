#pragma once

#include <memory>

#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr {

// Stage 2: powers a node off and reads its power state back. Implementations: IPMI, Redfish,
// libvirt, ClusterLabs fence agents, fake.
//
// Every call is bounded by the driver's own timeout and returns an error rather than hang.
// powerOff() is a hard power-off and must be safe to repeat (a node already off stays off).
// Success of powerOff() only means the request was accepted: the engine confirms the fence by
// reading powerStatus() back as kOff. kUnknown never counts as off.
class Fencer {
 public:
  virtual ~Fencer() = default;
  [[nodiscard]] virtual Status powerOff(const Node& node) = 0;
  [[nodiscard]] virtual Status powerOn(const Node& node) = 0;
  [[nodiscard]] virtual Result<PowerState> powerStatus(const Node& node) = 0;
};

using FencerPtr = std::unique_ptr<Fencer>;

}  // namespace fdr
