#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr {

// A node's compute service as the cloud reports it.
struct ServiceState {
  // The cloud's verdict. Nova reports a forced-down service "down" whatever its heartbeat says,
  // so whether the service runs again is judged by updated_at, not by this.
  bool up = false;
  bool forced_down = false;
  bool disabled = false;
  std::string disabled_reason;
  std::optional<TimePoint> updated_at;  // the service's last heartbeat; none if never reported

  friend bool operator==(const ServiceState&, const ServiceState&) = default;
};

// A compute host evacuated instances could go to, with what is free on it (Placement's
// capacity, (total - reserved) x allocation ratio, minus what is used).
struct HostRoom {
  std::string host;      // the compute service's host
  bool enabled = false;  // false: disabled, as a reserved (spare) host is until it is used
  Resources free;

  friend bool operator==(const HostRoom&, const HostRoom&) = default;
};

struct EvacuationRequest {
  std::string instance_id;
  std::string source_host;
  // Empty: the cloud's scheduler picks. Set: that host (a reserved host), which the scheduler
  // still checks (never forced past it) where the cloud can.
  std::optional<std::string> target_host;
};

// Stage 3: takes a fenced node out of the cloud and moves its instances elsewhere.
// Implementations: Nova, fake.
//
// Calls are batched so that an implementation may run them in parallel within its own limits;
// results are index-aligned with the requests. The engine only calls evacuate() for a node whose
// power-off was confirmed and whose compute service was forced down, and restore() only for a
// node an operator unfenced whose compute service has reported since its power-on.
class Evacuator {
 public:
  virtual ~Evacuator() = default;
  // Marks the node's compute service forced down, then disabled with `reason`. Idempotent.
  [[nodiscard]] virtual Status forceDown(const Node& node, const std::string& reason) = 0;
  // Every instance on the node, across all projects.
  [[nodiscard]] virtual Result<std::vector<Instance>> listInstances(const Node& node) = 0;
  // Asks the cloud to rebuild each instance on another host. Success = request accepted.
  [[nodiscard]] virtual std::vector<Status> evacuate(
      std::span<const EvacuationRequest> requests) = 0;
  // Current state of each instance (host, status, task state).
  [[nodiscard]] virtual std::vector<Result<Instance>> show(std::span<const std::string> ids) = 0;
  // The node's compute service. kNotFound if the cloud has none for the node.
  [[nodiscard]] virtual Result<ServiceState> computeService(const Node& node) = 0;
  // Returns a node to service once it runs again: clears forced-down, then enables its compute
  // service (the reverse of forceDown()). Idempotent.
  [[nodiscard]] virtual Status restore(const Node& node) = 0;
  // The compute hosts other than `failed` that could take its instances, with what is free on
  // each: those whose compute service is up and not forced down, enabled or not. kNotSupported
  // when the cloud cannot say (the engine then evacuates without a capacity check).
  [[nodiscard]] virtual Result<std::vector<HostRoom>> room(const Node& failed) = 0;
  // Enables the node's compute service, nothing else (a reserved host taken into use: the
  // scheduler may place instances on it). Idempotent. kNotFound if the cloud has no service.
  [[nodiscard]] virtual Status enable(const Node& node) = 0;
};

using EvacuatorPtr = std::unique_ptr<Evacuator>;

}  // namespace fdr
