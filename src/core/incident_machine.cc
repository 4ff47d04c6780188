#include "core/incident_machine.h"

#include <algorithm>
#include <initializer_list>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

namespace fdr::core {
namespace {

bool in(Phase p, std::initializer_list<Phase> allowed) {
  return std::find(allowed.begin(), allowed.end(), p) != allowed.end();
}

bool in(InstancePhase p, std::initializer_list<InstancePhase> allowed) {
  return std::find(allowed.begin(), allowed.end(), p) != allowed.end();
}

bool in(UnfenceStep s, std::initializer_list<UnfenceStep> allowed) {
  return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
}

// The event (named by its payload's kind) is not allowed on `incident`.
template <class E>
std::unexpected<Error> refuse(const Incident& incident, const E& /*event*/,
                              const std::string& why = "") {
  return fail(
      ErrorCode::kInvalidArgument,
      fmt::format("incident {}: event '{}' is not allowed in phase '{}'{}", incident.id,
                  toString(kindOf<E>()), toString(incident.phase), why.empty() ? "" : ": " + why));
}

bool isFinal(InstancePhase p) {
  return in(p, {InstancePhase::kDone, InstancePhase::kFailed, InstancePhase::kSkipped,
                InstancePhase::kNoCapacity});
}

InstanceRecord* findMutable(Incident& incident, const std::string& id) {
  for (auto& record : incident.instances) {
    if (record.id == id) return &record;
  }
  return nullptr;
}

// Evacuating → Evacuated / PartlyEvacuated once every instance is final.
void finishIfAllFinal(Incident& incident, TimePoint at) {
  if (incident.phase != Phase::kEvacuating || !allInstancesFinal(incident)) return;
  const bool any_failed = std::any_of(
      incident.instances.begin(), incident.instances.end(), [](const InstanceRecord& r) {
        return r.phase == InstancePhase::kFailed || r.phase == InstancePhase::kNoCapacity;
      });
  incident.phase = any_failed ? Phase::kPartlyEvacuated : Phase::kEvacuated;
  incident.evacuated_at = at;
}

void problem(Incident& incident, const std::string& detail) {
  if (!detail.empty()) incident.problems.push_back(detail);
}

// One event applied to an incident that exists: `before` is the incident as it was (refusals
// name it), `next` the incident after the event, already at revision + 1 and updated_at = at.
// Each transition below takes its own payload type; a refusal leaves `next` to be dropped.
struct Step {
  const Incident& before;
  Incident& next;
  TimePoint at;
};

// Fencing.

Status on(const Step& s, const events::PowerOffRequested& e) {
  FenceProgress& fence = s.next.fence;
  if (!in(s.next.phase, {Phase::kDetected, Phase::kFencing})) return refuse(s.before, e);
  if (!fence.deadline && !e.fence_deadline) return refuse(s.before, e, "no fence deadline");
  s.next.phase = Phase::kFencing;
  fence.level = e.level;
  fence.attempt = e.attempt;
  fence.off_requested_at = s.at;
  fence.attempt_deadline = e.attempt_deadline;
  if (e.fence_deadline) fence.deadline = e.fence_deadline;  // first, or on resume
  fence.next_check_at = s.at;
  fence.checks = 0;
  fence.last_power = PowerState::kUnknown;
  return {};
}

Status on(const Step& s, const events::PowerOffFailed& e) {
  if (s.next.phase != Phase::kFencing) return refuse(s.before, e);
  s.next.fence.off_requested_at.reset();
  s.next.fence.next_check_at.reset();
  problem(s.next, e.detail);
  return {};
}

Status on(const Step& s, const events::PowerObserved& e) {
  FenceProgress& fence = s.next.fence;
  if (s.next.phase != Phase::kFencing) return refuse(s.before, e);
  fence.last_power = e.power;
  fence.checks += 1;
  fence.next_check_at = e.next_check_at;
  if (e.power != PowerState::kOff) problem(s.next, e.detail);
  return {};
}

Status on(const Step& s, const events::FenceConfirmed& e) {
  if (s.next.phase != Phase::kFencing) return refuse(s.before, e);
  if (s.next.fence.last_power != PowerState::kOff) {
    return refuse(s.before, e, "the power state was not read back as off");
  }
  if (e.fencer.empty()) return refuse(s.before, e, "no fencer named");
  s.next.phase = Phase::kFenced;
  s.next.fenced_at = s.at;
  s.next.fence.confirmed_by = "fencer:" + e.fencer;
  s.next.fence.confirmed_at = s.at;
  return {};
}

Status on(const Step& s, const events::FenceFailed& e) {
  if (!in(s.next.phase, {Phase::kDetected, Phase::kFencing})) return refuse(s.before, e);
  s.next.phase = Phase::kFenceFailed;
  problem(s.next, e.detail);
  return {};
}

Status on(const Step& s, const events::OperatorConfirmedFenced& e) {
  if (!in(s.next.phase, {Phase::kDetected, Phase::kFencing, Phase::kFenceFailed})) {
    return refuse(s.before, e);
  }
  if (e.who.empty()) return refuse(s.before, e, "no operator named");
  s.next.phase = Phase::kFenced;
  s.next.fenced_at = s.at;
  s.next.fence.confirmed_by = "operator:" + e.who;
  s.next.fence.confirmed_at = s.at;
  return {};
}

// Force-down.

Status on(const Step& s, const events::ForceDownRequested& e) {
  if (s.next.phase != Phase::kFenced) return refuse(s.before, e);
  s.next.force_down_attempts += 1;
  return {};
}

Status on(const Step& s, const events::ForceDownDone& e) {
  if (s.next.phase != Phase::kFenced) return refuse(s.before, e);
  s.next.phase = Phase::kComputeDown;
  s.next.compute_down_at = s.at;
  return {};
}

Status on(const Step& s, const events::ForceDownFailed& e) {
  if (s.next.phase != Phase::kFenced) return refuse(s.before, e);
  problem(s.next, e.detail);
  if (e.final) s.next.phase = Phase::kForceDownFailed;
  return {};
}

// Instances.

Status on(const Step& s, const events::InstancesListed& e) {
  if (s.next.phase != Phase::kComputeDown) return refuse(s.before, e);
  s.next.instances = e.records;
  s.next.phase = Phase::kEvacuating;
  problem(s.next, e.detail);
  finishIfAllFinal(s.next, s.at);
  return {};
}

Status on(const Step& s, const events::InstancesListFailed& e) {
  if (s.next.phase != Phase::kComputeDown) return refuse(s.before, e);
  problem(s.next, e.detail);
  return {};
}

// The record of the instance an instance event names, once the incident evacuates a node whose
// power-off was confirmed (invariant 1).
template <class E>
Result<InstanceRecord*> evacuating(const Step& s, const E& e, const std::string& instance_id) {
  if (s.next.phase != Phase::kEvacuating) return refuse(s.before, e);
  if (!s.next.fenced_at || s.next.fence.confirmed_by.empty()) {
    return refuse(s.before, e, "the node's power-off was never confirmed");
  }
  InstanceRecord* record = findMutable(s.next, instance_id);
  if (record == nullptr) {
    return refuse(s.before, e, "no instance " + instance_id + " in this incident");
  }
  return record;
}

void backToPendingOrFailed(InstanceRecord& record, const std::string& reason, bool final,
                           TimePoint at) {
  record.reason = reason;
  if (final) {
    record.phase = InstancePhase::kFailed;
    record.finished_at = at;
  } else {
    record.phase = InstancePhase::kPending;
  }
}

Status on(const Step& s, const events::EvacuationRequested& e) {
  auto found = evacuating(s, e, e.instance_id);
  if (!found) return std::unexpected(found.error());
  InstanceRecord& record = **found;
  if (!in(record.phase, {InstancePhase::kPending, InstancePhase::kRequested})) {
    return refuse(s.before, e,
                  "instance " + record.id + " is " + std::string(toString(record.phase)));
  }
  record.phase = InstancePhase::kRequested;
  record.attempts += 1;
  record.requested_at = s.at;
  record.target_host = e.host;
  return {};
}

Status on(const Step& s, const events::EvacuationAccepted& e) {
  auto found = evacuating(s, e, e.instance_id);
  if (!found) return std::unexpected(found.error());
  InstanceRecord& record = **found;
  if (record.phase != InstancePhase::kRequested) return refuse(s.before, e);
  record.phase = InstancePhase::kRebuilding;
  return {};
}

Status on(const Step& s, const events::EvacuationRejected& e) {
  auto found = evacuating(s, e, e.instance_id);
  if (!found) return std::unexpected(found.error());
  InstanceRecord& record = **found;
  if (!in(record.phase, {InstancePhase::kRequested, InstancePhase::kRebuilding})) {
    return refuse(s.before, e);
  }
  backToPendingOrFailed(record, e.detail, e.final, s.at);
  finishIfAllFinal(s.next, s.at);
  return {};
}

Status on(const Step& s, const events::InstanceObserved& e) {
  auto found = evacuating(s, e, e.instance_id);
  if (!found) return std::unexpected(found.error());
  InstanceRecord& record = **found;
  if (!in(record.phase, {InstancePhase::kRequested, InstancePhase::kRebuilding})) {
    return refuse(s.before, e);
  }
  const bool elsewhere = !e.host.empty() && e.host != s.next.node;
  if (e.status == "ERROR" && elsewhere) {
    // The rebuild failed on its new host. That host is up, so Nova would refuse another
    // evacuation: it needs an operator.
    record.phase = InstancePhase::kFailed;
    record.finished_at = s.at;
    record.reason = "rebuild failed: the instance is in ERROR on " + e.host;
  } else if (e.status == "ERROR") {
    backToPendingOrFailed(record, "the instance went to ERROR before leaving the failed host",
                          e.final, s.at);
  } else if (elsewhere && e.task_state.empty() &&
             e.status == expectedStatusAfterEvacuation(record.former_status)) {
    record.phase = InstancePhase::kDone;
    record.new_host = e.host;
    record.finished_at = s.at;
    record.reason.clear();
  } else if (elsewhere || e.task_state == "rebuilding" || e.status == "REBUILD") {
    record.phase = InstancePhase::kRebuilding;
  }
  finishIfAllFinal(s.next, s.at);
  return {};
}

Status on(const Step& s, const events::InstanceTimedOut& e) {
  auto found = evacuating(s, e, e.instance_id);
  if (!found) return std::unexpected(found.error());
  InstanceRecord& record = **found;
  if (!in(record.phase, {InstancePhase::kRequested, InstancePhase::kRebuilding})) {
    return refuse(s.before, e);
  }
  backToPendingOrFailed(record, e.detail.empty() ? "timed out" : e.detail, e.final, s.at);
  finishIfAllFinal(s.next, s.at);
  return {};
}

Status on(const Step& s, const events::NoTargetLeft& e) {
  auto found = evacuating(s, e, e.instance_id);
  if (!found) return std::unexpected(found.error());
  InstanceRecord& record = **found;
  // kRequested: resumed with no evacuation seen in the cloud, about to be asked again.
  if (!in(record.phase, {InstancePhase::kPending, InstancePhase::kRequested})) {
    return refuse(s.before, e);
  }
  record.phase = InstancePhase::kFailed;
  record.finished_at = s.at;
  record.reason = e.detail;
  finishIfAllFinal(s.next, s.at);
  return {};
}

// Reserved hosts: a host's use by this incident (Incident::reserved_hosts) goes enabling →
// enabled → full, or enabling → unusable (or enabled → unusable: it may fail during the
// incident). A full host's instance goes back to pending.

// The incident's use of the reserved host a reserved-host event names, once the incident
// evacuates a node whose power-off was confirmed; nullptr before the host's first event.
template <class E>
Result<ReservedHostUse*> reservedHost(const Step& s, const E& e, const std::string& host) {
  if (s.next.phase != Phase::kEvacuating) return refuse(s.before, e);
  if (!s.next.fenced_at || s.next.fence.confirmed_by.empty()) {
    return refuse(s.before, e, "the node's power-off was never confirmed");
  }
  if (host.empty()) return refuse(s.before, e, "no reserved host named");
  if (host == s.next.node) {
    return refuse(s.before, e, "the failed node cannot be its own reserved host");
  }
  auto it = std::find_if(s.next.reserved_hosts.begin(), s.next.reserved_hosts.end(),
                         [&](const ReservedHostUse& u) { return u.host == host; });
  return it == s.next.reserved_hosts.end() ? nullptr : &*it;
}

ReservedHostState stateOf(const ReservedHostUse* use) {
  return use != nullptr ? use->state : ReservedHostState::kEnabling;
}

template <class E>
std::unexpected<Error> refuseState(const Step& s, const E& e, const std::string& host,
                                   const ReservedHostUse* use) {
  return refuse(s.before, e,
                "reserved host " + host + " is " + std::string(toString(stateOf(use))));
}

// Sets the state of the host's use (`use`, or a new one on the host's first event).
void setState(const Step& s, ReservedHostUse* use, const std::string& host, ReservedHostState to,
              const std::string& reason) {
  if (use == nullptr) {
    ReservedHostUse added;
    added.host = host;
    s.next.reserved_hosts.push_back(std::move(added));
    use = &s.next.reserved_hosts.back();
  }
  use->state = to;
  use->reason = reason;
  use->at = s.at;
}

Status on(const Step& s, const events::ReservedHostEnabling& e) {
  auto use = reservedHost(s, e, e.host);
  if (!use) return std::unexpected(use.error());
  if (stateOf(*use) != ReservedHostState::kEnabling) return refuseState(s, e, e.host, *use);
  setState(s, *use, e.host, ReservedHostState::kEnabling, "");
  return {};
}

Status on(const Step& s, const events::ReservedHostEnabled& e) {
  auto use = reservedHost(s, e, e.host);
  if (!use) return std::unexpected(use.error());
  if (stateOf(*use) != ReservedHostState::kEnabling) return refuseState(s, e, e.host, *use);
  setState(s, *use, e.host, ReservedHostState::kEnabled, e.detail);
  return {};
}

Status on(const Step& s, const events::ReservedHostFull& e) {
  auto use = reservedHost(s, e, e.host);
  if (!use) return std::unexpected(use.error());
  // From unusable too: requests sent while it was enabled come back after it was found
  // unusable (it failed itself, say); they go back to pending all the same.
  const ReservedHostState state = stateOf(*use);
  if (*use == nullptr || state == ReservedHostState::kEnabling) {
    return refuseState(s, e, e.host, *use);
  }
  if (state == ReservedHostState::kEnabled) {
    setState(s, *use, e.host, ReservedHostState::kFull, e.detail);
    problem(s.next, e.detail);
  }
  if (!e.instance_id) return {};
  InstanceRecord* record = findMutable(s.next, *e.instance_id);
  if (record == nullptr) {
    return refuse(s.before, e, "no instance " + *e.instance_id + " in this incident");
  }
  if (!in(record->phase, {InstancePhase::kRequested, InstancePhase::kRebuilding}) ||
      record->target_host != e.host) {
    return refuse(s.before, e, "instance " + record->id + " is not being sent to " + e.host);
  }
  record->phase = InstancePhase::kPending;
  record->full_host_attempts += 1;
  record->reason = e.detail;
  return {};
}

Status on(const Step& s, const events::ReservedHostUnusable& e) {
  auto use = reservedHost(s, e, e.host);
  if (!use) return std::unexpected(use.error());
  const ReservedHostState state = stateOf(*use);
  if (state != ReservedHostState::kEnabling && state != ReservedHostState::kEnabled) {
    return refuseState(s, e, e.host, *use);
  }
  setState(s, *use, e.host, ReservedHostState::kUnusable, e.detail);
  problem(s.next, e.detail);
  return {};
}

// The end of an incident.

Status on(const Step& s, const events::NotificationsQueued& e) {
  if (!in(s.next.phase, {Phase::kEvacuated, Phase::kPartlyEvacuated})) return refuse(s.before, e);
  s.next.phase = Phase::kNotified;
  return {};
}

Status on(const Step& s, const events::Closed& e) {
  if (s.next.phase != Phase::kNotified) return refuse(s.before, e);
  s.next.phase = Phase::kDone;
  s.next.closed_at = s.at;
  return {};
}

Status on(const Step& s, const events::Cancelled& e) {
  if (e.who.empty()) return refuse(s.before, e, "no operator named");
  s.next.phase = Phase::kCancelled;
  s.next.closed_at = s.at;
  problem(s.next, e.detail);
  return {};
}

// The unfence of a closed incident's node. Never touches the recovery's own fields.

template <class E>
std::unexpected<Error> refuseStep(const Step& s, const E& e) {
  return refuse(s.before, e, "the unfence is " + std::string(toString(s.before.unfence.step)));
}

Status on(const Step& s, const events::UnfenceRequested& e) {
  UnfenceProgress& u = s.next.unfence;
  if (!in(u.step, {UnfenceStep::kNone, UnfenceStep::kAbandoned})) return refuseStep(s, e);
  if (e.who.empty()) return refuse(s.before, e, "no operator named");
  u = UnfenceProgress{};
  u.step = UnfenceStep::kRequested;
  u.who = e.who;
  u.requested_at = s.at;
  u.deadline = e.deadline;
  return {};
}

Status on(const Step& s, const events::PowerOnRequested& e) {
  UnfenceProgress& u = s.next.unfence;
  if (!in(u.step, {UnfenceStep::kRequested, UnfenceStep::kPoweringOn})) return refuseStep(s, e);
  u.step = UnfenceStep::kPoweringOn;
  u.power_on_attempts += 1;
  u.power_on_requested_at = s.at;
  return {};
}

Status on(const Step& s, const events::PowerOnDone& e) {
  UnfenceProgress& u = s.next.unfence;
  if (u.step != UnfenceStep::kPoweringOn) return refuseStep(s, e);
  if (e.fencer.empty()) return refuse(s.before, e, "no fencer named");
  u.step = UnfenceStep::kWaitingForCompute;
  u.powered_on_by = e.fencer;
  return {};
}

Status on(const Step& s, const events::PowerOnFailed& e) {
  UnfenceProgress& u = s.next.unfence;
  if (u.step != UnfenceStep::kPoweringOn) return refuseStep(s, e);
  u.step = UnfenceStep::kRequested;
  problem(s.next, e.detail);
  return {};
}

Status on(const Step& s, const events::RestoreRequested& e) {
  UnfenceProgress& u = s.next.unfence;
  if (!in(u.step, {UnfenceStep::kWaitingForCompute, UnfenceStep::kRestoring})) {
    return refuseStep(s, e);
  }
  u.step = UnfenceStep::kRestoring;
  return {};
}

Status on(const Step& s, const events::RestoreFailed& e) {
  UnfenceProgress& u = s.next.unfence;
  if (u.step != UnfenceStep::kRestoring) return refuseStep(s, e);
  u.step = UnfenceStep::kWaitingForCompute;
  problem(s.next, e.detail);
  return {};
}

Status on(const Step& s, const events::BackInService& e) {
  UnfenceProgress& u = s.next.unfence;
  if (u.step != UnfenceStep::kRestoring) return refuseStep(s, e);
  u.step = UnfenceStep::kDone;
  u.restored_at = s.at;
  return {};
}

Status on(const Step& s, const events::UnfenceAbandoned& e) {
  UnfenceProgress& u = s.next.unfence;
  if (!isUnfenceActive(u.step)) return refuseStep(s, e);
  u.step = UnfenceStep::kAbandoned;
  problem(s.next, e.detail);
  return {};
}

// The unfence events: only on a closed incident. Every other event but kDetected: only on an
// open one.
template <class E>
constexpr bool kIsUnfenceEvent =
    std::is_same_v<E, events::UnfenceRequested> || std::is_same_v<E, events::PowerOnRequested> ||
    std::is_same_v<E, events::PowerOnDone> || std::is_same_v<E, events::PowerOnFailed> ||
    std::is_same_v<E, events::RestoreRequested> || std::is_same_v<E, events::RestoreFailed> ||
    std::is_same_v<E, events::BackInService> || std::is_same_v<E, events::UnfenceAbandoned>;

// kDetected creates the incident.
Result<Incident> transition(const Incident& incident, TimePoint at, const events::Detected& e) {
  if (incident.revision != 0) return refuse(incident, e, "the incident already exists");
  if (e.node.empty()) return refuse(incident, e, "no node named");
  Incident created;
  created.node = e.node;
  created.id = fmt::format("{}@{}", e.node, toMillis(at));
  created.phase = Phase::kDetected;
  created.detected_at = at;
  created.updated_at = at;
  created.revision = 1;
  return created;
}

template <class E>
Result<Incident> transition(const Incident& incident, TimePoint at, const E& e) {
  if (incident.revision == 0) return refuse(incident, e, "no such incident yet");
  if constexpr (kIsUnfenceEvent<E>) {
    if (!isTerminal(incident.phase)) {
      return refuse(incident, e, "an unfence needs a closed incident");
    }
  } else {
    if (isTerminal(incident.phase)) return refuse(incident, e, "the incident is closed");
  }
  Incident next = incident;
  next.revision += 1;
  next.updated_at = at;
  if (Status done = on(Step{incident, next, at}, e); !done) return std::unexpected(done.error());
  return next;
}

}  // namespace

std::string expectedStatusAfterEvacuation(const std::string& former_status) {
  return former_status == "SHUTOFF" ? "SHUTOFF" : "ACTIVE";
}

bool allInstancesFinal(const Incident& incident) {
  return std::all_of(incident.instances.begin(), incident.instances.end(),
                     [](const InstanceRecord& r) { return isFinal(r.phase); });
}

const InstanceRecord* findInstance(const Incident& incident, const std::string& id) {
  for (const auto& record : incident.instances) {
    if (record.id == id) return &record;
  }
  return nullptr;
}

Result<Incident> apply(const Incident& incident, const Event& event) {
  return std::visit([&](const auto& payload) { return transition(incident, event.at, payload); },
                    event.payload);
}

}  // namespace fdr::core
