#include "core/incident_machine.h"

#include <algorithm>
#include <initializer_list>
#include <iterator>

#include <fmt/format.h>

namespace fdr::core {
namespace {

bool in(Phase p, std::initializer_list<Phase> allowed) {
  return std::find(allowed.begin(), allowed.end(), p) != allowed.end();
}

bool in(InstancePhase p, std::initializer_list<InstancePhase> allowed) {
  return std::find(allowed.begin(), allowed.end(), p) != allowed.end();
}

std::unexpected<Error> refuse(const Incident& incident, const Event& event,
                              const std::string& why = "") {
  return fail(
      ErrorCode::kInvalidArgument,
      fmt::format("incident {}: event '{}' is not allowed in phase '{}'{}", incident.id,
                  toString(event.kind), toString(incident.phase), why.empty() ? "" : ": " + why));
}

bool isFinal(InstancePhase p) {
  return in(p, {InstancePhase::kDone, InstancePhase::kFailed, InstancePhase::kSkipped});
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
  const bool any_failed =
      std::any_of(incident.instances.begin(), incident.instances.end(),
                  [](const InstanceRecord& r) { return r.phase == InstancePhase::kFailed; });
  incident.phase = any_failed ? Phase::kPartlyEvacuated : Phase::kEvacuated;
  incident.evacuated_at = at;
}

void problem(Incident& incident, const Event& event) {
  if (!event.detail.empty()) incident.problems.push_back(event.detail);
}

Result<Incident> applyInstanceEvent(Incident next, const Event& event) {
  if (next.phase != Phase::kEvacuating) return refuse(next, event);
  if (!next.fenced_at || next.fence.confirmed_by.empty()) {
    return refuse(next, event, "the node's power-off was never confirmed");
  }
  InstanceRecord* record = findMutable(next, event.instance_id);
  if (record == nullptr) {
    return refuse(next, event, "no instance " + event.instance_id + " in this incident");
  }
  const auto back_to_pending_or_failed = [&](const std::string& reason) {
    record->reason = reason;
    if (event.final) {
      record->phase = InstancePhase::kFailed;
      record->finished_at = event.at;
    } else {
      record->phase = InstancePhase::kPending;
    }
  };
  switch (event.kind) {
    case EventKind::kEvacuationRequested:
      if (!in(record->phase, {InstancePhase::kPending, InstancePhase::kRequested})) {
        return refuse(next, event,
                      "instance " + record->id + " is " + std::string(toString(record->phase)));
      }
      record->phase = InstancePhase::kRequested;
      record->attempts += 1;
      record->requested_at = event.at;
      record->target_host = event.host;
      break;
    case EventKind::kEvacuationAccepted:
      if (record->phase != InstancePhase::kRequested) return refuse(next, event);
      record->phase = InstancePhase::kRebuilding;
      break;
    case EventKind::kEvacuationRejected:
      if (!in(record->phase, {InstancePhase::kRequested, InstancePhase::kRebuilding})) {
        return refuse(next, event);
      }
      back_to_pending_or_failed(event.detail);
      break;
    case EventKind::kInstanceObserved: {
      if (!in(record->phase, {InstancePhase::kRequested, InstancePhase::kRebuilding})) {
        return refuse(next, event);
      }
      const bool elsewhere = !event.host.empty() && event.host != next.node;
      if (event.status == "ERROR" && elsewhere) {
        // The rebuild failed on its new host. That host is up, so Nova would refuse another
        // evacuation: it needs an operator.
        record->phase = InstancePhase::kFailed;
        record->finished_at = event.at;
        record->reason = "rebuild failed: the instance is in ERROR on " + event.host;
      } else if (event.status == "ERROR") {
        back_to_pending_or_failed("the instance went to ERROR before leaving the failed host");
      } else if (elsewhere && event.task_state.empty() &&
                 event.status == expectedStatusAfterEvacuation(record->former_status)) {
        record->phase = InstancePhase::kDone;
        record->new_host = event.host;
        record->finished_at = event.at;
        record->reason.clear();
      } else if (elsewhere || event.task_state == "rebuilding" || event.status == "REBUILD") {
        record->phase = InstancePhase::kRebuilding;
      }
      break;
    }
    case EventKind::kInstanceTimedOut:
      if (!in(record->phase, {InstancePhase::kRequested, InstancePhase::kRebuilding})) {
        return refuse(next, event);
      }
      back_to_pending_or_failed(event.detail.empty() ? "timed out" : event.detail);
      break;
    case EventKind::kNoTargetLeft:
      // kRequested: resumed with no evacuation seen in the cloud, about to be asked again.
      if (!in(record->phase, {InstancePhase::kPending, InstancePhase::kRequested})) {
        return refuse(next, event);
      }
      record->phase = InstancePhase::kFailed;
      record->finished_at = event.at;
      record->reason = event.detail;
      break;
    default: return refuse(next, event);
  }
  finishIfAllFinal(next, event.at);
  return next;
}

// A reserved host's use by this incident (Incident::reserved_hosts): enabling → enabled → full,
// or enabling → unusable. A full host's instance (instance_id) goes back to pending.
Result<Incident> applyReservedHostEvent(Incident next, const Event& event) {
  if (next.phase != Phase::kEvacuating) return refuse(next, event);
  if (!next.fenced_at || next.fence.confirmed_by.empty()) {
    return refuse(next, event, "the node's power-off was never confirmed");
  }
  if (event.host.empty()) return refuse(next, event, "no reserved host named");
  if (event.host == next.node) {
    return refuse(next, event, "the failed node cannot be its own reserved host");
  }
  auto it = std::find_if(next.reserved_hosts.begin(), next.reserved_hosts.end(),
                         [&](const ReservedHostUse& u) { return u.host == event.host; });
  const bool known = it != next.reserved_hosts.end();
  const ReservedHostState state = known ? it->state : ReservedHostState::kEnabling;
  const auto refuse_state = [&] {
    return refuse(next, event,
                  "reserved host " + event.host + " is " + std::string(toString(state)));
  };
  const auto set = [&](ReservedHostState to) {
    if (!known) {
      ReservedHostUse use;
      use.host = event.host;
      next.reserved_hosts.push_back(std::move(use));
      it = std::prev(next.reserved_hosts.end());
    }
    it->state = to;
    it->reason = event.detail;
    it->at = event.at;
  };
  switch (event.kind) {
    case EventKind::kReservedHostUnusable:  // also once enabled: it may fail during the incident
      if (state != ReservedHostState::kEnabling && state != ReservedHostState::kEnabled) {
        return refuse_state();
      }
      set(ReservedHostState::kUnusable);
      problem(next, event);
      return next;
    case EventKind::kReservedHostEnabling:
    case EventKind::kReservedHostEnabled:
      if (state != ReservedHostState::kEnabling) return refuse_state();
      set(event.kind == EventKind::kReservedHostEnabling ? ReservedHostState::kEnabling
                                                         : ReservedHostState::kEnabled);
      return next;
    case EventKind::kReservedHostFull: {
      // From unusable too: requests sent while it was enabled come back after it was found
      // unusable (it failed itself, say); they go back to pending all the same.
      if (!known || state == ReservedHostState::kEnabling) return refuse_state();
      if (state == ReservedHostState::kEnabled) {
        set(ReservedHostState::kFull);
        problem(next, event);
      }
      if (event.instance_id.empty()) return next;
      InstanceRecord* record = findMutable(next, event.instance_id);
      if (record == nullptr) {
        return refuse(next, event, "no instance " + event.instance_id + " in this incident");
      }
      if (!in(record->phase, {InstancePhase::kRequested, InstancePhase::kRebuilding}) ||
          record->target_host != event.host) {
        return refuse(next, event,
                      "instance " + record->id + " is not being sent to " + event.host);
      }
      record->phase = InstancePhase::kPending;
      record->full_host_attempts += 1;
      record->reason = event.detail;
      return next;
    }
    default: return refuse(next, event);
  }
}

bool isUnfenceEvent(EventKind kind) {
  switch (kind) {
    case EventKind::kUnfenceRequested:
    case EventKind::kPowerOnRequested:
    case EventKind::kPowerOnDone:
    case EventKind::kPowerOnFailed:
    case EventKind::kRestoreRequested:
    case EventKind::kRestoreFailed:
    case EventKind::kBackInService:
    case EventKind::kUnfenceAbandoned: return true;
    default: return false;
  }
}

bool in(UnfenceStep s, std::initializer_list<UnfenceStep> allowed) {
  return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
}

// The unfence of a closed incident's node. Never touches the recovery's own fields.
Result<Incident> applyUnfenceEvent(const Incident& incident, const Event& event) {
  if (!isTerminal(incident.phase)) {
    return refuse(incident, event, "an unfence needs a closed incident");
  }
  Incident next = incident;
  next.revision += 1;
  next.updated_at = event.at;
  UnfenceProgress& u = next.unfence;
  const auto refuse_step = [&] {
    return refuse(incident, event,
                  "the unfence is " + std::string(toString(incident.unfence.step)));
  };
  switch (event.kind) {
    case EventKind::kUnfenceRequested:
      if (!in(u.step, {UnfenceStep::kNone, UnfenceStep::kAbandoned})) return refuse_step();
      if (event.who.empty()) return refuse(incident, event, "no operator named");
      if (!event.deadline) return refuse(incident, event, "no deadline");
      u = UnfenceProgress{};
      u.step = UnfenceStep::kRequested;
      u.who = event.who;
      u.requested_at = event.at;
      u.deadline = event.deadline;
      return next;
    case EventKind::kPowerOnRequested:
      if (!in(u.step, {UnfenceStep::kRequested, UnfenceStep::kPoweringOn})) return refuse_step();
      u.step = UnfenceStep::kPoweringOn;
      u.power_on_attempts += 1;
      u.power_on_requested_at = event.at;
      return next;
    case EventKind::kPowerOnDone:
      if (u.step != UnfenceStep::kPoweringOn) return refuse_step();
      if (event.who.empty()) return refuse(incident, event, "no fencer named");
      u.step = UnfenceStep::kWaitingForCompute;
      u.powered_on_by = event.who;
      return next;
    case EventKind::kPowerOnFailed:
      if (u.step != UnfenceStep::kPoweringOn) return refuse_step();
      u.step = UnfenceStep::kRequested;
      problem(next, event);
      return next;
    case EventKind::kRestoreRequested:
      if (!in(u.step, {UnfenceStep::kWaitingForCompute, UnfenceStep::kRestoring})) {
        return refuse_step();
      }
      u.step = UnfenceStep::kRestoring;
      return next;
    case EventKind::kRestoreFailed:
      if (u.step != UnfenceStep::kRestoring) return refuse_step();
      u.step = UnfenceStep::kWaitingForCompute;
      problem(next, event);
      return next;
    case EventKind::kBackInService:
      if (u.step != UnfenceStep::kRestoring) return refuse_step();
      u.step = UnfenceStep::kDone;
      u.restored_at = event.at;
      return next;
    case EventKind::kUnfenceAbandoned:
      if (!isUnfenceActive(u.step)) return refuse_step();
      u.step = UnfenceStep::kAbandoned;
      problem(next, event);
      return next;
    default: return refuse(incident, event);
  }
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
  if (event.kind == EventKind::kDetected) {
    if (incident.revision != 0) return refuse(incident, event, "the incident already exists");
    if (event.node.empty()) return refuse(incident, event, "no node named");
    Incident created;
    created.node = event.node;
    created.id = fmt::format("{}@{}", event.node, toMillis(event.at));
    created.phase = Phase::kDetected;
    created.detected_at = event.at;
    created.updated_at = event.at;
    created.revision = 1;
    return created;
  }
  if (incident.revision == 0) return refuse(incident, event, "no such incident yet");
  if (isUnfenceEvent(event.kind)) return applyUnfenceEvent(incident, event);
  if (isTerminal(incident.phase)) return refuse(incident, event, "the incident is closed");

  Incident next = incident;
  next.revision += 1;
  next.updated_at = event.at;
  FenceProgress& fence = next.fence;

  switch (event.kind) {
    case EventKind::kPowerOffRequested:
      if (!in(next.phase, {Phase::kDetected, Phase::kFencing})) return refuse(incident, event);
      if (!event.attempt_deadline) return refuse(incident, event, "no attempt deadline");
      if (!fence.deadline && !event.fence_deadline) {
        return refuse(incident, event, "no fence deadline");
      }
      next.phase = Phase::kFencing;
      fence.level = event.level;
      fence.attempt = event.attempt;
      fence.off_requested_at = event.at;
      fence.attempt_deadline = event.attempt_deadline;
      if (event.fence_deadline) fence.deadline = event.fence_deadline;  // first, or on resume
      fence.next_check_at = event.at;
      fence.checks = 0;
      fence.last_power = PowerState::kUnknown;
      return next;

    case EventKind::kPowerOffFailed:
      if (next.phase != Phase::kFencing) return refuse(incident, event);
      fence.off_requested_at.reset();
      fence.next_check_at.reset();
      problem(next, event);
      return next;

    case EventKind::kPowerObserved:
      if (next.phase != Phase::kFencing) return refuse(incident, event);
      fence.last_power = event.power;
      fence.checks += 1;
      fence.next_check_at = event.next_check_at;
      if (event.power != PowerState::kOff) problem(next, event);
      return next;

    case EventKind::kFenceConfirmed:
      if (next.phase != Phase::kFencing) return refuse(incident, event);
      if (fence.last_power != PowerState::kOff) {
        return refuse(incident, event, "the power state was not read back as off");
      }
      if (event.who.empty()) return refuse(incident, event, "no fencer named");
      next.phase = Phase::kFenced;
      next.fenced_at = event.at;
      fence.confirmed_by = "fencer:" + event.who;
      fence.confirmed_at = event.at;
      return next;

    case EventKind::kFenceFailed:
      if (!in(next.phase, {Phase::kDetected, Phase::kFencing})) return refuse(incident, event);
      next.phase = Phase::kFenceFailed;
      problem(next, event);
      return next;

    case EventKind::kOperatorConfirmedFenced:
      if (!in(next.phase, {Phase::kDetected, Phase::kFencing, Phase::kFenceFailed})) {
        return refuse(incident, event);
      }
      if (event.who.empty()) return refuse(incident, event, "no operator named");
      next.phase = Phase::kFenced;
      next.fenced_at = event.at;
      fence.confirmed_by = "operator:" + event.who;
      fence.confirmed_at = event.at;
      return next;

    case EventKind::kForceDownRequested:
      if (next.phase != Phase::kFenced) return refuse(incident, event);
      next.force_down_attempts += 1;
      return next;

    case EventKind::kForceDownDone:
      if (next.phase != Phase::kFenced) return refuse(incident, event);
      next.phase = Phase::kComputeDown;
      next.compute_down_at = event.at;
      return next;

    case EventKind::kForceDownFailed:
      if (next.phase != Phase::kFenced) return refuse(incident, event);
      problem(next, event);
      if (event.final) next.phase = Phase::kForceDownFailed;
      return next;

    case EventKind::kInstancesListed:
      if (next.phase != Phase::kComputeDown) return refuse(incident, event);
      next.instances = event.records;
      next.phase = Phase::kEvacuating;
      finishIfAllFinal(next, event.at);
      return next;

    case EventKind::kInstancesListFailed:
      if (next.phase != Phase::kComputeDown) return refuse(incident, event);
      problem(next, event);
      return next;

    case EventKind::kEvacuationRequested:
    case EventKind::kEvacuationAccepted:
    case EventKind::kEvacuationRejected:
    case EventKind::kInstanceObserved:
    case EventKind::kInstanceTimedOut:
    case EventKind::kNoTargetLeft: return applyInstanceEvent(std::move(next), event);

    case EventKind::kReservedHostEnabling:
    case EventKind::kReservedHostEnabled:
    case EventKind::kReservedHostFull:
    case EventKind::kReservedHostUnusable: return applyReservedHostEvent(std::move(next), event);

    case EventKind::kNotificationsQueued:
      if (!in(next.phase, {Phase::kEvacuated, Phase::kPartlyEvacuated})) {
        return refuse(incident, event);
      }
      next.phase = Phase::kNotified;
      return next;

    case EventKind::kClosed:
      if (next.phase != Phase::kNotified) return refuse(incident, event);
      next.phase = Phase::kDone;
      next.closed_at = event.at;
      return next;

    case EventKind::kCancelled:
      if (event.who.empty()) return refuse(incident, event, "no operator named");
      next.phase = Phase::kCancelled;
      next.closed_at = event.at;
      problem(next, event);
      return next;

    case EventKind::kDetected:  // handled above
    case EventKind::kUnfenceRequested:
    case EventKind::kPowerOnRequested:
    case EventKind::kPowerOnDone:
    case EventKind::kPowerOnFailed:
    case EventKind::kRestoreRequested:
    case EventKind::kRestoreFailed:
    case EventKind::kBackInService:
    case EventKind::kUnfenceAbandoned: break;
  }
  return refuse(incident, event);
}

}  // namespace fdr::core
