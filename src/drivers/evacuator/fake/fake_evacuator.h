// The fake evacuator: a small simulated cloud (compute services, instances, evacuation log),
// faithful to the Nova rules that matter for safety: an instance can only be evacuated once its
// host's compute service is forced down, and it goes through REBUILD before running again
// (in its former state: a SHUTOFF instance stays off). Compute services report a heartbeat
// (updated_at = now) unless the cloud file marks one "reporting": false; restore() clears
// forced-down and enables, enable() only enables. A service may hold at most "capacity"
// instances; an evacuation targeted at a host that is disabled, forced down or full ends, as in
// Nova from 2.29, with the instance in ERROR on its host and a NoValidHost fault. For the
// capacity check (Evacuator::room), a service may have a "room" ({"vcpus", "memory_mb",
// "disk_gb"}: what it holds in all) and an instance a "size" (the same keys); what is free on a
// host is its room less the sizes of the instances on it.
//
// The cloud is in memory, seeded with `instances-per-node` instances per inventory node, or in a
// JSON `cloud-file` shared across restarts (a crash test counts evacuations per instance there).
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerFakeEvacuator(Registry& registry);

}  // namespace fdr::drivers
