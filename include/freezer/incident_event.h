// Events: everything that happens to an incident. The journal stores them in order; the
// incident state machine (src/core/incident_machine.h) applies them. An event carries every
// value the transition needs (deadlines included), so replaying a journal is exact.
//
// Each kind has a payload type of its own (fdr::events), holding the fields that kind has and
// no others: an evacuation-requested event always names its instance, a power-off request always
// has its attempt deadline. A field is std::optional only where the kind may really lack it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "freezer/clock.h"
#include "freezer/incident.h"
#include "freezer/model.h"

namespace fdr {

// The kinds, in the order of EventPayload's alternatives. Their words (names.cc) are the
// journal's and the status output's.
enum class EventKind {
  kDetected,
  kPowerOffRequested,
  kPowerOffFailed,
  kPowerObserved,
  kFenceConfirmed,
  kFenceFailed,
  kOperatorConfirmedFenced,
  kForceDownRequested,
  kForceDownDone,
  kForceDownFailed,
  kInstancesListed,
  kInstancesListFailed,
  kEvacuationRequested,
  kEvacuationAccepted,
  kEvacuationRejected,
  kInstanceObserved,
  kInstanceTimedOut,
  kReservedHostEnabling,
  kReservedHostEnabled,
  kReservedHostFull,
  kReservedHostUnusable,
  kNoTargetLeft,
  kNotificationsQueued,
  kClosed,
  kCancelled,
  kUnfenceRequested,
  kPowerOnRequested,
  kPowerOnDone,
  kPowerOnFailed,
  kRestoreRequested,
  kRestoreFailed,
  kBackInService,
  kUnfenceAbandoned,
};
std::string_view toString(EventKind k);
std::optional<EventKind> eventKindFromString(std::string_view s);

// A `detail` is a sentence for the operator (the incident's problems, a reason); empty when
// there is nothing to say.
namespace events {

// Creates the incident.
struct Detected {
  std::string node;
  std::string detail;  // why it was opened
  friend bool operator==(const Detected&, const Detected&) = default;
};

// Fencing.

// Intent, journaled before the power-off call.
struct PowerOffRequested {
  int level = 0;  // index of the fencer level
  int attempt = 0;
  std::string fencer;
  TimePoint attempt_deadline;
  // The whole fence's deadline: set on the first request (and on resume); absent on a retry,
  // which keeps the deadline already set.
  std::optional<TimePoint> fence_deadline;
  friend bool operator==(const PowerOffRequested&, const PowerOffRequested&) = default;
};
// The fencer refused or erred.
struct PowerOffFailed {
  std::string detail;
  friend bool operator==(const PowerOffFailed&, const PowerOffFailed&) = default;
};
// A read of the power state.
struct PowerObserved {
  std::string fencer;
  PowerState power = PowerState::kUnknown;
  TimePoint next_check_at;
  std::string detail;  // a problem: the power is not off, or could not be read
  friend bool operator==(const PowerObserved&, const PowerObserved&) = default;
};
// The power read back OFF.
struct FenceConfirmed {
  std::string fencer;
  friend bool operator==(const FenceConfirmed&, const FenceConfirmed&) = default;
};
// The deadline passed or every level is exhausted.
struct FenceFailed {
  std::string detail;
  friend bool operator==(const FenceFailed&, const FenceFailed&) = default;
};
// An operator vouches the node is off.
struct OperatorConfirmedFenced {
  std::string who;
  std::string detail;
  friend bool operator==(const OperatorConfirmedFenced&, const OperatorConfirmedFenced&) = default;
};

// Force-down of the compute service.

// Intent, journaled before the call.
struct ForceDownRequested {
  friend bool operator==(const ForceDownRequested&, const ForceDownRequested&) = default;
};
struct ForceDownDone {
  friend bool operator==(const ForceDownDone&, const ForceDownDone&) = default;
};
struct ForceDownFailed {
  bool final = false;  // give up: the incident goes to the force-down-failed phase
  std::string detail;
  friend bool operator==(const ForceDownFailed&, const ForceDownFailed&) = default;
};

// Instances.

struct InstancesListed {
  std::vector<InstanceRecord> records;  // in recovery order; priorities and skips decided
  // The capacity check's finding when some instances do not fit (those are kNoCapacity) or
  // when it could not be made; empty otherwise. Journal key "detail", as the other kinds'.
  std::string detail = {};
  friend bool operator==(const InstancesListed&, const InstancesListed&) = default;
};
struct InstancesListFailed {
  std::string detail;
  friend bool operator==(const InstancesListFailed&, const InstancesListFailed&) = default;
};
// Intent, journaled before the evacuate call.
struct EvacuationRequested {
  std::string instance_id;
  std::string host;  // the target (a reserved host), or empty: the scheduler chooses
  friend bool operator==(const EvacuationRequested&, const EvacuationRequested&) = default;
};
struct EvacuationAccepted {
  std::string instance_id;
  friend bool operator==(const EvacuationAccepted&, const EvacuationAccepted&) = default;
};
struct EvacuationRejected {
  std::string instance_id;
  bool final = false;  // no retries left: the instance fails
  std::string detail;
  friend bool operator==(const EvacuationRejected&, const EvacuationRejected&) = default;
};
// What the cloud shows of an instance being evacuated.
struct InstanceObserved {
  std::string instance_id;
  std::string host;
  std::string status;
  std::string task_state;
  bool final = false;  // no retries left if this shows a failure
  friend bool operator==(const InstanceObserved&, const InstanceObserved&) = default;
};
struct InstanceTimedOut {
  std::string instance_id;
  bool final = false;  // no retries left: the instance fails
  std::string detail;  // empty: "timed out"
  friend bool operator==(const InstanceTimedOut&, const InstanceTimedOut&) = default;
};

// Reserved hosts (Incident::reserved_hosts), by host.

// Intent, journaled before the enable call.
struct ReservedHostEnabling {
  std::string host;
  friend bool operator==(const ReservedHostEnabling&, const ReservedHostEnabling&) = default;
};
struct ReservedHostEnabled {
  std::string host;
  std::string detail;  // how: enabled now, already enabled, by another incident
  friend bool operator==(const ReservedHostEnabled&, const ReservedHostEnabled&) = default;
};
struct ReservedHostFull {
  std::string host;
  // The instance whose request failed for capacity: it goes back to pending (not counted
  // against its retries).
  std::optional<std::string> instance_id;
  std::string detail;
  friend bool operator==(const ReservedHostFull&, const ReservedHostFull&) = default;
};
struct ReservedHostUnusable {
  std::string host;
  std::string detail;  // why it is not used
  friend bool operator==(const ReservedHostUnusable&, const ReservedHostUnusable&) = default;
};
// Every reserved host is full and there is no fallback: the instance fails.
struct NoTargetLeft {
  std::string instance_id;
  std::string detail;
  friend bool operator==(const NoTargetLeft&, const NoTargetLeft&) = default;
};

// The end of an incident.

// Users and admins told (outbox).
struct NotificationsQueued {
  friend bool operator==(const NotificationsQueued&, const NotificationsQueued&) = default;
};
struct Closed {
  friend bool operator==(const Closed&, const Closed&) = default;
};
struct Cancelled {
  std::string who;
  std::string detail;
  friend bool operator==(const Cancelled&, const Cancelled&) = default;
};

// Unfence, on a closed incident (see UnfenceProgress).

struct UnfenceRequested {
  std::string who;
  TimePoint deadline;
  friend bool operator==(const UnfenceRequested&, const UnfenceRequested&) = default;
};
// Intent, journaled before the power-on calls.
struct PowerOnRequested {
  friend bool operator==(const PowerOnRequested&, const PowerOnRequested&) = default;
};
struct PowerOnDone {
  std::string fencer;  // the one that accepted
  friend bool operator==(const PowerOnDone&, const PowerOnDone&) = default;
};
// Every level refused.
struct PowerOnFailed {
  std::string detail;
  friend bool operator==(const PowerOnFailed&, const PowerOnFailed&) = default;
};
// Intent, journaled before unforce + enable.
struct RestoreRequested {
  std::string detail;  // the heartbeat seen
  friend bool operator==(const RestoreRequested&, const RestoreRequested&) = default;
};
struct RestoreFailed {
  std::string detail;
  friend bool operator==(const RestoreFailed&, const RestoreFailed&) = default;
};
// The node is in service again (admins told).
struct BackInService {
  friend bool operator==(const BackInService&, const BackInService&) = default;
};
// The deadline passed, or the node failed again.
struct UnfenceAbandoned {
  std::string detail;
  friend bool operator==(const UnfenceAbandoned&, const UnfenceAbandoned&) = default;
};

}  // namespace events

// One alternative per EventKind, in the same order: the index is the kind.
using EventPayload = std::variant<
    events::Detected, events::PowerOffRequested, events::PowerOffFailed, events::PowerObserved,
    events::FenceConfirmed, events::FenceFailed, events::OperatorConfirmedFenced,
    events::ForceDownRequested, events::ForceDownDone, events::ForceDownFailed,
    events::InstancesListed, events::InstancesListFailed, events::EvacuationRequested,
    events::EvacuationAccepted, events::EvacuationRejected, events::InstanceObserved,
    events::InstanceTimedOut, events::ReservedHostEnabling, events::ReservedHostEnabled,
    events::ReservedHostFull, events::ReservedHostUnusable, events::NoTargetLeft,
    events::NotificationsQueued, events::Closed, events::Cancelled, events::UnfenceRequested,
    events::PowerOnRequested, events::PowerOnDone, events::PowerOnFailed, events::RestoreRequested,
    events::RestoreFailed, events::BackInService, events::UnfenceAbandoned>;

namespace event_internal {
template <class T, class... Ts>
consteval size_t alternativeIndex(const std::variant<Ts...>*) {
  constexpr bool kIs[] = {std::is_same_v<T, Ts>...};
  for (size_t i = 0; i < sizeof...(Ts); ++i) {
    if (kIs[i]) return i;
  }
  return sizeof...(Ts);
}
}  // namespace event_internal

// The kind of a payload type: kindOf<events::Closed>() == EventKind::kClosed.
template <class T>
consteval EventKind kindOf() {
  constexpr size_t index =
      event_internal::alternativeIndex<T>(static_cast<const EventPayload*>(nullptr));
  static_assert(index < std::variant_size_v<EventPayload>, "not an event payload type");
  return static_cast<EventKind>(index);
}

struct Event {
  TimePoint at;
  EventPayload payload;

  [[nodiscard]] EventKind kind() const { return static_cast<EventKind>(payload.index()); }
  // The payload if the event is of T's kind, else nullptr.
  template <class T>
  [[nodiscard]] const T* as() const {
    return std::get_if<T>(&payload);
  }

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace fdr
