// One incident per failed node: the data the recovery state machine works on and the journal
// stores. The transitions themselves live in src/core/incident_machine.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freezer/clock.h"
#include "freezer/model.h"

namespace fdr {

enum class Phase {
  kDetected,         // failure confirmed by the detector; nothing done yet
  kFencing,          // power-off requested, waiting to read it back OFF
  kFenced,           // power-off confirmed (or vouched for by an operator)
  kComputeDown,      // compute service forced down and disabled
  kEvacuating,       // one record per instance, bounded in parallel
  kEvacuated,        // every instance confirmed running elsewhere (or skipped by rule)
  kPartlyEvacuated,  // some instances failed for good
  kNotified,         // users and admins told
  kDone,             // closed
  // Failure states: alert, never evacuate. They wait for an operator.
  kFenceFailed,      // power-off could not be confirmed
  kForceDownFailed,  // the node is off but the cloud refused to mark it down
  kCancelled,        // closed by an operator without recovery
};
std::string_view toString(Phase p);
std::optional<Phase> phaseFromString(std::string_view s);
bool isTerminal(Phase p);      // kDone, kCancelled
bool isFailurePhase(Phase p);  // kFenceFailed, kForceDownFailed

enum class InstancePhase {
  kPending,     // not asked yet
  kRequested,   // journaled as about to be asked; the request may or may not have gone out
  kRebuilding,  // the cloud accepted; following it until it runs elsewhere
  kDone,        // running on another host
  kFailed,      // gave up after the retry limit, or it cannot be evacuated
  kSkipped,     // excluded by rule (opted out); reported, never silently dropped
  // Not asked: the capacity check found no room for it on the other hosts (docs/evacuation.md,
  // Capacity). Final, as kFailed: the recovery is partial and the admins were told the numbers.
  kNoCapacity,
};
std::string_view toString(InstancePhase p);
std::optional<InstancePhase> instancePhaseFromString(std::string_view s);

struct InstanceRecord {
  std::string id;
  std::string name;
  std::string project_id;
  std::string user_id;
  int priority = 0;           // higher first
  std::string former_status;  // status on the failed host: ACTIVE, SHUTOFF, ...
  InstancePhase phase = InstancePhase::kPending;
  int attempts = 0;  // evacuate requests made
  std::optional<TimePoint> requested_at;
  std::optional<TimePoint> finished_at;
  std::string new_host;
  std::string reason;  // last failure or skip reason
  // Storage, as the cloud reported it when the instance was listed, and what an evacuation does
  // to its disk in words (see diskNote() in src/core/engine.cc): kept or rebuilt from its image.
  bool boot_from_volume = false;
  // Default-initialised (as every field added later) so that designated initialisers written
  // before them may leave them out.
  std::string image_id = {};  // empty when booted from volume
  std::string disk = {};
  // The host the latest evacuate request asked for: a reserved host, or empty (the scheduler).
  std::string target_host = {};
  // Requests that ended because their reserved host was full: not counted against the retries.
  int full_host_attempts = 0;

  friend bool operator==(const InstanceRecord&, const InstanceRecord&) = default;
};

// A reserved (spare) host as one incident used it (as Masakari's reserved_host): kept disabled
// by the operators so the scheduler places nothing there, enabled by freezer-dr before the
// first evacuation targeted at it.
enum class ReservedHostState {
  kEnabling,  // enable journaled as about to be asked; it may or may not have gone out
  kEnabled,   // enabled (by this incident, another one, or already): evacuations target it
  kFull,      // an evacuation towards it failed for capacity (NoValidHost): not asked again
  kUnusable,  // no compute service, down, forced down, failed itself, or the enable failed
};
std::string_view toString(ReservedHostState s);
std::optional<ReservedHostState> reservedHostStateFromString(std::string_view s);

struct ReservedHostUse {
  std::string host;
  ReservedHostState state = ReservedHostState::kEnabling;
  std::string reason;           // why it is full or unusable, or how it was enabled
  std::optional<TimePoint> at;  // of the latest change

  friend bool operator==(const ReservedHostUse&, const ReservedHostUse&) = default;
};

struct FenceProgress {
  int level = 0;    // index into the node's fencer levels
  int attempt = 0;  // attempts made at this level
  std::optional<TimePoint> off_requested_at;
  std::optional<TimePoint> next_check_at;
  std::optional<TimePoint> attempt_deadline;
  std::optional<TimePoint> deadline;  // of the whole fence
  int checks = 0;                     // status reads since the last power-off request
  PowerState last_power = PowerState::kUnknown;
  std::string confirmed_by;  // "fencer:<driver>" or "operator:<who>"
  std::optional<TimePoint> confirmed_at;

  friend bool operator==(const FenceProgress&, const FenceProgress&) = default;
};

// An operator's "unfence": the node of a closed incident is powered on again and, once its
// compute service reports, returned to service. Carried by that closed incident, so every step
// is journaled (with its notifications) like the recovery itself.
enum class UnfenceStep {
  kNone,               // never asked
  kRequested,          // asked by an operator; the power-on comes next
  kPoweringOn,         // power-on journaled as about to be asked; it may or may not have gone out
  kWaitingForCompute,  // a fencer accepted the power-on; waiting for a compute heartbeat after it
  kRestoring,          // unforce + enable journaled as about to be asked
  kDone,               // back in service
  kAbandoned,          // not back before the deadline; admins alerted, the node left as it is
};
std::string_view toString(UnfenceStep s);
std::optional<UnfenceStep> unfenceStepFromString(std::string_view s);
bool isUnfenceActive(UnfenceStep s);  // kRequested .. kRestoring

struct UnfenceProgress {
  UnfenceStep step = UnfenceStep::kNone;
  std::string who;  // the operator who asked
  std::optional<TimePoint> requested_at;
  std::optional<TimePoint> deadline;  // given up (and alerted) after this
  int power_on_attempts = 0;
  std::optional<TimePoint> power_on_requested_at;  // the latest power-on request
  std::string powered_on_by;                       // fencer that accepted
  std::optional<TimePoint> restored_at;

  friend bool operator==(const UnfenceProgress&, const UnfenceProgress&) = default;
};

struct Incident {
  std::string id;    // "<hostname>@<detected_at ms>"
  std::string node;  // hostname
  Phase phase = Phase::kDetected;
  TimePoint detected_at;
  TimePoint updated_at;
  std::optional<TimePoint> fenced_at;
  std::optional<TimePoint> compute_down_at;
  std::optional<TimePoint> evacuated_at;
  std::optional<TimePoint> closed_at;
  FenceProgress fence;
  int force_down_attempts = 0;
  std::vector<InstanceRecord> instances;
  std::vector<std::string> problems;                 // human-readable, newest last
  UnfenceProgress unfence;                           // only once the incident is closed
  uint64_t revision = 0;                             // bumped by every applied event
  std::vector<ReservedHostUse> reserved_hosts = {};  // in the order this incident took them up

  friend bool operator==(const Incident&, const Incident&) = default;
};

}  // namespace fdr
