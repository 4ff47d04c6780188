// The capacity check before an evacuation (as vSphere HA's admission control), pure: whether the
// failed host's instances fit in what the other hosts have free (docs/evacuation.md, Capacity).
//
// The instances are taken in recovery order (highest priority first); each is placed, on paper,
// on the candidate host where it fits most tightly (least memory left, then fewest vCPUs), and
// what it takes is subtracted there. An instance that fits on no host is "no-capacity"; the
// next, smaller one may still fit. Packing tightly is the optimistic estimate: an instance is
// left out only when it cannot fit even if the ones before it are packed as close as they go
// (the scheduler spreads them, so it fits no more). The scheduler stays the final judge of
// what does fit: a NoValidHost is handled as before.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "freezer/evacuator.h"
#include "freezer/incident.h"

namespace fdr::core {

struct CapacityPlan {
  // Indexes into the records given: those that fit nowhere, in recovery order.
  std::vector<size_t> no_capacity;
  // Indexes of the records whose size the cloud did not report: never left out.
  std::vector<size_t> unsized;
  Resources needed;    // of the records checked (pending, sized)
  Resources free;      // over every candidate host
  size_t checked = 0;  // records checked
  size_t hosts = 0;    // candidate hosts
  // For the incident's problems and the admins' alert; empty when everything fits.
  std::string summary;
};

// `records`: the incident's instance records in recovery order; only kPending ones are checked.
// `sizes`: instance id → its size. `candidates`: the hosts the instances may go to.
[[nodiscard]] CapacityPlan planCapacity(const std::vector<InstanceRecord>& records,
                                        const std::map<std::string, Resources>& sizes,
                                        std::vector<HostRoom> candidates,
                                        const std::string& failed_host);

// Which hosts of `room` the instances may go to: the reserved hosts (in `reserved`, enabled or
// not) and, when there are none or `fallback` is set, every enabled host.
[[nodiscard]] std::vector<HostRoom> capacityCandidates(const std::vector<HostRoom>& room,
                                                       const std::vector<std::string>& reserved,
                                                       bool fallback);

// "2 vCPU, 4096 MB RAM, 20 GB disk".
[[nodiscard]] std::string describe(const Resources& r);

}  // namespace fdr::core
