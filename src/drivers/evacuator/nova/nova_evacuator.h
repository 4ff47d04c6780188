// The Nova evacuator: stage 3 against a real OpenStack compute API, through the process's one
// Nova client (DriverContext::nova, built from [keystone_authtoken]).
//
//   forceDown      forces the host's nova-compute service down, then disables it with the
//                  reason (Nova Train and later refuse to evacuate from a host that is only
//                  disabled; the order matters). Both calls are idempotent in Nova.
//   listInstances  every server whose OS-EXT-SRV-ATTR:host is exactly the node, all projects.
//   evacuate/show  run on at most `api-concurrency` worker threads per batch, every Nova call
//                  paced by `max-calls-per-second` (a token bucket on the driver's Clock).
//   show           reports task_state "rebuilding" for a server Nova's os-migrations shows an
//                  evacuation in progress for, even before the server itself says so: the engine
//                  asks again only when it sees no evacuation, so this keeps crash-resume from
//                  evacuating twice.
//   computeService the host's nova-compute service (os-services); updated_at is Nova's UTC
//                  heartbeat time.
//   restore        clears forced-down, then enables the service: the reverse order of
//                  forceDown, so the scheduler never sees an enabled service still forced down.
//   enable         enables the service only (a reserved host taken into use).
//   room           the capacity check's figures: every hypervisor (os-hypervisors/detail) whose
//                  service is up, other than the failed host's, with what Placement's allocation
//                  candidates say is free on its resource provider (named after the
//                  hypervisor_hostname). A hypervisor Placement lists no room on (nothing free)
//                  is left out. A resource class a provider has no inventory of (disk on a
//                  sharing provider) is not counted (kUnbounded).
//   evacuate       with a target host (a reserved host) sends "host" and never "force": from
//                  compute API 2.29 the scheduler checks the target (capacity, filters) and a
//                  full one ends in NoValidHost (the server in ERROR with that fault); before
//                  2.29 Nova sends the instance there unchecked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "clients/nova/nova_client.h"
#include "clients/placement/placement_client.h"
#include "freezer/clock.h"
#include "freezer/evacuator.h"
#include "freezer/registry.h"

namespace fdr::drivers {

struct NovaEvacuatorSettings {
  int api_concurrency = 8;           // worker threads per batch (>= 1)
  int64_t max_calls_per_second = 0;  // 0: no pacing
  bool shared_storage = false;       // onSharedStorage, sent before compute API 2.14 only
};

// Paces calls to at most `rate` per second (a token bucket holding one token: calls are spaced
// by 1/rate). Thread-safe. rate 0: acquire() never waits.
class CallPacer {
 public:
  CallPacer(Clock& clock, int64_t rate) : clock_(clock), rate_(rate) {}
  // Waits for this call's slot. False if `stop` was requested first.
  bool acquire(const std::stop_token& stop = {});

 private:
  Clock& clock_;
  int64_t rate_;
  std::mutex mutex_;
  int64_t next_us_ = 0;  // earliest start of the next call, microseconds since the epoch
};

class NovaEvacuator final : public Evacuator {
 public:
  // `placement` may be null: room() is then kNotSupported (no capacity check).
  NovaEvacuator(nova::NovaClient& nova, placement::PlacementClient* placement, Clock& clock,
                NovaEvacuatorSettings settings);

  [[nodiscard]] Status forceDown(const Node& node, const std::string& reason) override;
  [[nodiscard]] Result<std::vector<Instance>> listInstances(const Node& node) override;
  [[nodiscard]] std::vector<Status> evacuate(std::span<const EvacuationRequest> requests) override;
  [[nodiscard]] std::vector<Result<Instance>> show(std::span<const std::string> ids) override;
  [[nodiscard]] Result<ServiceState> computeService(const Node& node) override;
  [[nodiscard]] Status restore(const Node& node) override;
  [[nodiscard]] Status enable(const Node& node) override;
  [[nodiscard]] Result<std::vector<HostRoom>> room(const Node& failed) override;

 private:
  Result<Instance> showOne(const std::string& id);
  std::optional<std::string> sourceOf(const std::string& id);

  nova::NovaClient& nova_;
  placement::PlacementClient* placement_;
  NovaEvacuatorSettings settings_;
  CallPacer pacer_;
  std::mutex mutex_;
  std::map<std::string, std::string> source_host_;  // instance id → host it is evacuated from
};

Status registerNovaEvacuator(Registry& registry);

}  // namespace fdr::drivers
