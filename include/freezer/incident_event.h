// Events: everything that happens to an incident. The journal stores them in order; the
// incident state machine (src/core/incident_machine.h) applies them. An event carries every
// value the transition needs (deadlines included), so replaying a journal is exact.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freezer/clock.h"
#include "freezer/incident.h"
#include "freezer/model.h"

namespace fdr {

enum class EventKind {
  kDetected,                 // node; creates the incident
  kPowerOffRequested,        // intent, journaled before the call: level, attempt, deadlines
  kPowerOffFailed,           // the fencer refused or erred: detail
  kPowerObserved,            // a status read: power, next_check_at
  kFenceConfirmed,           // power read back OFF: who (fencer name)
  kFenceFailed,              // deadline passed or every level exhausted: detail
  kOperatorConfirmedFenced,  // an operator vouches the node is off: who
  kForceDownRequested,       // intent, journaled before the call
  kForceDownDone,
  kForceDownFailed,      // detail; final = give up (kForceDownFailed phase)
  kInstancesListed,      // records: the instances on the node, in recovery order
  kInstancesListFailed,  // detail
  kEvacuationRequested,  // intent for instance_id, journaled before the call; host: the target
                         // (a reserved host) or empty (the scheduler)
  kEvacuationAccepted,   // instance_id
  kEvacuationRejected,   // instance_id, detail, final
  kInstanceObserved,     // instance_id, host, status, task_state
  kInstanceTimedOut,     // instance_id
  // Reserved hosts (Incident::reserved_hosts), by host.
  kReservedHostEnabling,  // intent, journaled before the enable call
  kReservedHostEnabled,   // detail: how (enabled now, already enabled, by another incident)
  kReservedHostFull,      // detail; with instance_id: that instance's request failed for capacity
                          // and goes back to pending (not counted against its retries)
  kReservedHostUnusable,  // detail: why it is not used
  kNoTargetLeft,          // instance_id, detail: every reserved host is full, no fallback: failed
  kNotificationsQueued,   // users and admins told (outbox)
  kClosed,
  kCancelled,  // who, detail
  // Unfence, on a closed incident (see UnfenceProgress).
  kUnfenceRequested,  // who, deadline
  kPowerOnRequested,  // intent, journaled before the power-on calls
  kPowerOnDone,       // who (the fencer that accepted)
  kPowerOnFailed,     // detail: every level refused
  kRestoreRequested,  // intent, journaled before unforce + enable; detail: the heartbeat seen
  kRestoreFailed,     // detail
  kBackInService,     // the node is in service again (admins told)
  kUnfenceAbandoned,  // detail: deadline passed, or the node failed again
};
std::string_view toString(EventKind k);
std::optional<EventKind> eventKindFromString(std::string_view s);

struct Event {
  EventKind kind = EventKind::kDetected;
  TimePoint at;
  std::string node;  // kDetected
  // Fencing.
  int level = 0;
  int attempt = 0;
  std::optional<TimePoint> attempt_deadline;
  std::optional<TimePoint> fence_deadline;
  std::optional<TimePoint> next_check_at;
  std::optional<TimePoint> deadline;  // kUnfenceRequested
  PowerState power = PowerState::kUnknown;
  std::string who;  // fencer name or operator
  // Instances.
  std::string instance_id;
  std::string host;
  std::string status;
  std::string task_state;
  std::vector<InstanceRecord> records;  // kInstancesListed: priority and skips already decided
  bool final = false;
  std::string detail;

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace fdr
