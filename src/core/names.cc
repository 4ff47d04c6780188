// String forms of the model's enums: the journal, the CLI and the logs use these exact words.
#include <array>
#include <utility>
#include <variant>

#include "freezer/incident.h"
#include "freezer/incident_event.h"
#include "freezer/model.h"
#include "freezer/notifier.h"

namespace fdr {
namespace {

template <class E, size_t N>
std::string_view nameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "?";
}

template <class E, size_t N>
std::optional<E> valueOf(const std::array<std::pair<E, std::string_view>, N>& table,
                         std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<Phase, std::string_view>, 12> kPhases{{
    {Phase::kDetected, "detected"},
    {Phase::kFencing, "fencing"},
    {Phase::kFenced, "fenced"},
    {Phase::kComputeDown, "compute-down"},
    {Phase::kEvacuating, "evacuating"},
    {Phase::kEvacuated, "evacuated"},
    {Phase::kPartlyEvacuated, "partly-evacuated"},
    {Phase::kNotified, "notified"},
    {Phase::kDone, "done"},
    {Phase::kFenceFailed, "fence-failed"},
    {Phase::kForceDownFailed, "force-down-failed"},
    {Phase::kCancelled, "cancelled"},
}};

constexpr std::array<std::pair<InstancePhase, std::string_view>, 7> kInstancePhases{{
    {InstancePhase::kPending, "pending"},
    {InstancePhase::kRequested, "requested"},
    {InstancePhase::kRebuilding, "rebuilding"},
    {InstancePhase::kDone, "done"},
    {InstancePhase::kFailed, "failed"},
    {InstancePhase::kSkipped, "skipped"},
    {InstancePhase::kNoCapacity, "no-capacity"},
}};

constexpr std::array<std::pair<EventKind, std::string_view>, 33> kEvents{{
    {EventKind::kDetected, "detected"},
    {EventKind::kPowerOffRequested, "power-off-requested"},
    {EventKind::kPowerOffFailed, "power-off-failed"},
    {EventKind::kPowerObserved, "power-observed"},
    {EventKind::kFenceConfirmed, "fence-confirmed"},
    {EventKind::kFenceFailed, "fence-failed"},
    {EventKind::kOperatorConfirmedFenced, "operator-confirmed-fenced"},
    {EventKind::kForceDownRequested, "force-down-requested"},
    {EventKind::kForceDownDone, "force-down-done"},
    {EventKind::kForceDownFailed, "force-down-failed"},
    {EventKind::kInstancesListed, "instances-listed"},
    {EventKind::kInstancesListFailed, "instances-list-failed"},
    {EventKind::kEvacuationRequested, "evacuation-requested"},
    {EventKind::kEvacuationAccepted, "evacuation-accepted"},
    {EventKind::kEvacuationRejected, "evacuation-rejected"},
    {EventKind::kInstanceObserved, "instance-observed"},
    {EventKind::kInstanceTimedOut, "instance-timed-out"},
    {EventKind::kReservedHostEnabling, "reserved-host-enabling"},
    {EventKind::kReservedHostEnabled, "reserved-host-enabled"},
    {EventKind::kReservedHostFull, "reserved-host-full"},
    {EventKind::kReservedHostUnusable, "reserved-host-unusable"},
    {EventKind::kNoTargetLeft, "no-target-left"},
    {EventKind::kNotificationsQueued, "notifications-queued"},
    {EventKind::kClosed, "closed"},
    {EventKind::kCancelled, "cancelled"},
    {EventKind::kUnfenceRequested, "unfence-requested"},
    {EventKind::kPowerOnRequested, "power-on-requested"},
    {EventKind::kPowerOnDone, "power-on-done"},
    {EventKind::kPowerOnFailed, "power-on-failed"},
    {EventKind::kRestoreRequested, "restore-requested"},
    {EventKind::kRestoreFailed, "restore-failed"},
    {EventKind::kBackInService, "back-in-service"},
    {EventKind::kUnfenceAbandoned, "unfence-abandoned"},
}};

// EventPayload's alternatives are in EventKind's order (Event::kind() is the index).
static_assert(std::variant_size_v<EventPayload> == kEvents.size());
static_assert(kindOf<events::Detected>() == EventKind::kDetected);
static_assert(kindOf<events::PowerOffRequested>() == EventKind::kPowerOffRequested);
static_assert(kindOf<events::PowerOffFailed>() == EventKind::kPowerOffFailed);
static_assert(kindOf<events::PowerObserved>() == EventKind::kPowerObserved);
static_assert(kindOf<events::FenceConfirmed>() == EventKind::kFenceConfirmed);
static_assert(kindOf<events::FenceFailed>() == EventKind::kFenceFailed);
static_assert(kindOf<events::OperatorConfirmedFenced>() == EventKind::kOperatorConfirmedFenced);
static_assert(kindOf<events::ForceDownRequested>() == EventKind::kForceDownRequested);
static_assert(kindOf<events::ForceDownDone>() == EventKind::kForceDownDone);
static_assert(kindOf<events::ForceDownFailed>() == EventKind::kForceDownFailed);
static_assert(kindOf<events::InstancesListed>() == EventKind::kInstancesListed);
static_assert(kindOf<events::InstancesListFailed>() == EventKind::kInstancesListFailed);
static_assert(kindOf<events::EvacuationRequested>() == EventKind::kEvacuationRequested);
static_assert(kindOf<events::EvacuationAccepted>() == EventKind::kEvacuationAccepted);
static_assert(kindOf<events::EvacuationRejected>() == EventKind::kEvacuationRejected);
static_assert(kindOf<events::InstanceObserved>() == EventKind::kInstanceObserved);
static_assert(kindOf<events::InstanceTimedOut>() == EventKind::kInstanceTimedOut);
static_assert(kindOf<events::ReservedHostEnabling>() == EventKind::kReservedHostEnabling);
static_assert(kindOf<events::ReservedHostEnabled>() == EventKind::kReservedHostEnabled);
static_assert(kindOf<events::ReservedHostFull>() == EventKind::kReservedHostFull);
static_assert(kindOf<events::ReservedHostUnusable>() == EventKind::kReservedHostUnusable);
static_assert(kindOf<events::NoTargetLeft>() == EventKind::kNoTargetLeft);
static_assert(kindOf<events::NotificationsQueued>() == EventKind::kNotificationsQueued);
static_assert(kindOf<events::Closed>() == EventKind::kClosed);
static_assert(kindOf<events::Cancelled>() == EventKind::kCancelled);
static_assert(kindOf<events::UnfenceRequested>() == EventKind::kUnfenceRequested);
static_assert(kindOf<events::PowerOnRequested>() == EventKind::kPowerOnRequested);
static_assert(kindOf<events::PowerOnDone>() == EventKind::kPowerOnDone);
static_assert(kindOf<events::PowerOnFailed>() == EventKind::kPowerOnFailed);
static_assert(kindOf<events::RestoreRequested>() == EventKind::kRestoreRequested);
static_assert(kindOf<events::RestoreFailed>() == EventKind::kRestoreFailed);
static_assert(kindOf<events::BackInService>() == EventKind::kBackInService);
static_assert(kindOf<events::UnfenceAbandoned>() == EventKind::kUnfenceAbandoned);

constexpr std::array<std::pair<ReservedHostState, std::string_view>, 4> kReservedHostStates{{
    {ReservedHostState::kEnabling, "enabling"},
    {ReservedHostState::kEnabled, "enabled"},
    {ReservedHostState::kFull, "full"},
    {ReservedHostState::kUnusable, "unusable"},
}};

constexpr std::array<std::pair<UnfenceStep, std::string_view>, 7> kUnfenceSteps{{
    {UnfenceStep::kNone, "none"},
    {UnfenceStep::kRequested, "requested"},
    {UnfenceStep::kPoweringOn, "powering-on"},
    {UnfenceStep::kWaitingForCompute, "waiting-for-compute"},
    {UnfenceStep::kRestoring, "restoring"},
    {UnfenceStep::kDone, "done"},
    {UnfenceStep::kAbandoned, "abandoned"},
}};

constexpr std::array<std::pair<NotificationKind, std::string_view>, 8> kNotificationKinds{{
    {NotificationKind::kFailureConfirmed, "failure-confirmed"},
    {NotificationKind::kFenceFailed, "fence-failed"},
    {NotificationKind::kGuardTripped, "guard-tripped"},
    {NotificationKind::kEvacuationFinished, "evacuation-finished"},
    {NotificationKind::kEvacuationPartial, "evacuation-partial"},
    {NotificationKind::kNodeBackInService, "node-back-in-service"},
    {NotificationKind::kRecoveryStuck, "recovery-stuck"},
    {NotificationKind::kUnfenceFailed, "unfence-failed"},
}};

}  // namespace

std::string_view toString(Phase p) {
  return nameOf(kPhases, p);
}
std::optional<Phase> phaseFromString(std::string_view s) {
  return valueOf(kPhases, s);
}
bool isTerminal(Phase p) {
  return p == Phase::kDone || p == Phase::kCancelled;
}
bool isFailurePhase(Phase p) {
  return p == Phase::kFenceFailed || p == Phase::kForceDownFailed;
}

std::string_view toString(InstancePhase p) {
  return nameOf(kInstancePhases, p);
}
std::optional<InstancePhase> instancePhaseFromString(std::string_view s) {
  return valueOf(kInstancePhases, s);
}

std::string_view toString(ReservedHostState s) {
  return nameOf(kReservedHostStates, s);
}
std::optional<ReservedHostState> reservedHostStateFromString(std::string_view s) {
  return valueOf(kReservedHostStates, s);
}

std::string_view toString(UnfenceStep s) {
  return nameOf(kUnfenceSteps, s);
}
std::optional<UnfenceStep> unfenceStepFromString(std::string_view s) {
  return valueOf(kUnfenceSteps, s);
}
bool isUnfenceActive(UnfenceStep s) {
  return s == UnfenceStep::kRequested || s == UnfenceStep::kPoweringOn ||
         s == UnfenceStep::kWaitingForCompute || s == UnfenceStep::kRestoring;
}

std::string_view toString(EventKind k) {
  return nameOf(kEvents, k);
}
std::optional<EventKind> eventKindFromString(std::string_view s) {
  return valueOf(kEvents, s);
}

std::string_view toString(NotificationKind k) {
  return nameOf(kNotificationKinds, k);
}
std::optional<NotificationKind> notificationKindFromString(std::string_view s) {
  return valueOf(kNotificationKinds, s);
}

std::string_view toString(Health h) {
  switch (h) {
    case Health::kUp: return "up";
    case Health::kDown: return "down";
    case Health::kUnknown: return "unknown";
  }
  return "?";
}

std::string_view toString(PowerState p) {
  switch (p) {
    case PowerState::kOn: return "on";
    case PowerState::kOff: return "off";
    case PowerState::kUnknown: return "unknown";
  }
  return "?";
}

}  // namespace fdr
