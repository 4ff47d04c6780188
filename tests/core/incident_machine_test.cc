// The incident state machine alone: pure (incident, event) → incident. These tests pin the
// safety rules that must hold whatever the engine does.
#include "core/incident_machine.h"

#include <gtest/gtest.h>

namespace fdr::core {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = fromMillis(1'700'000'000'000);

Event at(EventKind kind, Duration offset = 0ms) {
  Event e;
  e.kind = kind;
  e.at = kT0 + offset;
  return e;
}

Incident detected() {
  Event e = at(EventKind::kDetected);
  e.node = "compute-1";
  return *apply(Incident{}, e);
}

Incident applyAll(Incident incident, const std::vector<Event>& events) {
  for (const Event& e : events) {
    auto next = apply(incident, e);
    EXPECT_TRUE(next.has_value()) << toString(e.kind) << ": " << next.error().message;
    if (!next) return incident;
    incident = *next;
  }
  return incident;
}

Event powerOffRequested() {
  Event e = at(EventKind::kPowerOffRequested, 10ms);
  e.attempt = 1;
  e.attempt_deadline = kT0 + 5s;
  e.fence_deadline = kT0 + 30s;
  return e;
}

Event observed(PowerState p) {
  Event e = at(EventKind::kPowerObserved, 20ms);
  e.power = p;
  e.next_check_at = kT0 + 220ms;
  return e;
}

Event fenceConfirmed() {
  Event e = at(EventKind::kFenceConfirmed, 30ms);
  e.who = "ipmi";
  return e;
}

Event listed(std::vector<std::string> ids, std::vector<std::string> statuses = {}) {
  Event e = at(EventKind::kInstancesListed, 50ms);
  for (size_t i = 0; i < ids.size(); ++i) {
    InstanceRecord r;
    r.id = ids[i];
    r.former_status = i < statuses.size() ? statuses[i] : "ACTIVE";
    e.records.push_back(r);
  }
  return e;
}

Event forInstance(EventKind kind, const std::string& id) {
  Event e = at(kind, 60ms);
  e.instance_id = id;
  return e;
}

Incident fencedAndDown() {
  return applyAll(detected(),
                  {powerOffRequested(), observed(PowerState::kOff), fenceConfirmed(),
                   at(EventKind::kForceDownRequested, 40ms), at(EventKind::kForceDownDone, 45ms)});
}

TEST(IncidentMachine, DetectedCreatesTheIncident) {
  const Incident i = detected();
  EXPECT_EQ(i.phase, Phase::kDetected);
  EXPECT_EQ(i.node, "compute-1");
  EXPECT_EQ(i.revision, 1u);
  EXPECT_EQ(i.id, "compute-1@1700000000000");
  EXPECT_FALSE(apply(i, at(EventKind::kDetected)).has_value());  // only once
}

TEST(IncidentMachine, FenceIsConfirmedOnlyAfterPowerReadBackOff) {
  Incident fencing = applyAll(detected(), {powerOffRequested()});
  EXPECT_EQ(fencing.phase, Phase::kFencing);
  // No read-back yet, or a read-back of on / unknown: refused.
  EXPECT_FALSE(apply(fencing, fenceConfirmed()).has_value());
  for (PowerState p : {PowerState::kOn, PowerState::kUnknown}) {
    Incident after = applyAll(fencing, {observed(p)});
    EXPECT_FALSE(apply(after, fenceConfirmed()).has_value()) << toString(p);
  }
  Incident off = applyAll(fencing, {observed(PowerState::kOff), fenceConfirmed()});
  EXPECT_EQ(off.phase, Phase::kFenced);
  EXPECT_EQ(off.fence.confirmed_by, "fencer:ipmi");
  ASSERT_TRUE(off.fenced_at.has_value());
}

TEST(IncidentMachine, NoEvacuationEventBeforeTheNodeIsFencedAndDown) {
  const std::vector<Incident> not_ready = {
      detected(),
      applyAll(detected(), {powerOffRequested()}),
      applyAll(detected(), {powerOffRequested(), observed(PowerState::kOn)}),
      applyAll(detected(), {powerOffRequested(), at(EventKind::kFenceFailed, 1s)}),
      applyAll(detected(), {powerOffRequested(), observed(PowerState::kOff), fenceConfirmed()}),
  };
  for (const Incident& incident : not_ready) {
    SCOPED_TRACE(std::string(toString(incident.phase)));
    EXPECT_FALSE(apply(incident, listed({"vm1"})).has_value());
    EXPECT_FALSE(apply(incident, forInstance(EventKind::kEvacuationRequested, "vm1")));
    EXPECT_FALSE(apply(incident, at(EventKind::kForceDownDone)).has_value() &&
                 incident.phase != Phase::kFenced);
  }
}

TEST(IncidentMachine, FenceFailedWaitsForAnOperator) {
  Incident failed = applyAll(detected(), {powerOffRequested()});
  Event fail_event = at(EventKind::kFenceFailed, 30s);
  fail_event.detail = "BMC does not answer";
  failed = applyAll(failed, {fail_event});
  EXPECT_EQ(failed.phase, Phase::kFenceFailed);
  EXPECT_EQ(failed.problems.back(), "BMC does not answer");
  EXPECT_FALSE(apply(failed, at(EventKind::kForceDownRequested)).has_value());
  Event nobody = at(EventKind::kOperatorConfirmedFenced, 60s);
  EXPECT_FALSE(apply(failed, nobody).has_value());  // an operator must be named
  Event alice = nobody;
  alice.who = "alice";
  Incident vouched = applyAll(failed, {alice});
  EXPECT_EQ(vouched.phase, Phase::kFenced);
  EXPECT_EQ(vouched.fence.confirmed_by, "operator:alice");
}

TEST(IncidentMachine, InstancesAreFollowedToTheirFormerState) {
  Incident i = applyAll(fencedAndDown(), {listed({"vm1", "vm2"}, {"ACTIVE", "SHUTOFF"})});
  ASSERT_EQ(i.phase, Phase::kEvacuating);
  i = applyAll(i, {forInstance(EventKind::kEvacuationRequested, "vm1"),
                   forInstance(EventKind::kEvacuationAccepted, "vm1"),
                   forInstance(EventKind::kEvacuationRequested, "vm2"),
                   forInstance(EventKind::kEvacuationAccepted, "vm2")});
  Event vm1 = forInstance(EventKind::kInstanceObserved, "vm1");
  vm1.host = "compute-2";
  vm1.status = "ACTIVE";
  Event vm2 = forInstance(EventKind::kInstanceObserved, "vm2");
  vm2.host = "compute-3";
  vm2.status = "ACTIVE";  // a stopped instance that came back running is not "done"
  i = applyAll(i, {vm1, vm2});
  EXPECT_EQ(findInstance(i, "vm1")->phase, InstancePhase::kDone);
  EXPECT_EQ(findInstance(i, "vm1")->new_host, "compute-2");
  EXPECT_EQ(findInstance(i, "vm2")->phase, InstancePhase::kRebuilding);
  vm2.status = "SHUTOFF";
  i = applyAll(i, {vm2});
  EXPECT_EQ(findInstance(i, "vm2")->phase, InstancePhase::kDone);
  EXPECT_EQ(i.phase, Phase::kEvacuated);
  i = applyAll(i, {at(EventKind::kNotificationsQueued, 1s), at(EventKind::kClosed, 1s)});
  EXPECT_EQ(i.phase, Phase::kDone);
  EXPECT_FALSE(apply(i, at(EventKind::kCancelled)).has_value());  // closed for good
}

TEST(IncidentMachine, StillOnTheFailedHostIsNotDone) {
  Incident i = applyAll(fencedAndDown(),
                        {listed({"vm1"}), forInstance(EventKind::kEvacuationRequested, "vm1")});
  Event same_host = forInstance(EventKind::kInstanceObserved, "vm1");
  same_host.host = "compute-1";
  same_host.status = "ACTIVE";
  i = applyAll(i, {same_host});
  EXPECT_EQ(findInstance(i, "vm1")->phase, InstancePhase::kRequested);
}

TEST(IncidentMachine, RejectionsRetryThenFailAndTheIncidentIsPartial) {
  Incident i = applyAll(fencedAndDown(),
                        {listed({"vm1"}), forInstance(EventKind::kEvacuationRequested, "vm1")});
  Event rejected = forInstance(EventKind::kEvacuationRejected, "vm1");
  rejected.detail = "409";
  i = applyAll(i, {rejected});
  EXPECT_EQ(findInstance(i, "vm1")->phase, InstancePhase::kPending);
  rejected.final = true;
  i = applyAll(i, {forInstance(EventKind::kEvacuationRequested, "vm1"), rejected});
  EXPECT_EQ(findInstance(i, "vm1")->phase, InstancePhase::kFailed);
  EXPECT_EQ(findInstance(i, "vm1")->attempts, 2);
  EXPECT_EQ(i.phase, Phase::kPartlyEvacuated);
}

TEST(IncidentMachine, NoInstancesMeansEvacuatedAtOnce) {
  Incident i = applyAll(fencedAndDown(), {listed({})});
  EXPECT_EQ(i.phase, Phase::kEvacuated);
}

TEST(IncidentMachine, UnknownInstanceIsRefused) {
  Incident i = applyAll(fencedAndDown(), {listed({"vm1"})});
  EXPECT_FALSE(apply(i, forInstance(EventKind::kEvacuationRequested, "vm9")).has_value());
}

Incident closedIncident() {
  return applyAll(fencedAndDown(), {listed({}), at(EventKind::kNotificationsQueued, 1s),
                                    at(EventKind::kClosed, 1s)});
}

Event unfenceRequested(const std::string& who = "alice") {
  Event e = at(EventKind::kUnfenceRequested, 10s);
  e.who = who;
  e.deadline = kT0 + 10min;
  return e;
}

Event powerOnDone() {
  Event e = at(EventKind::kPowerOnDone, 11s);
  e.who = "ipmi";
  return e;
}

Event reserved(EventKind kind, const std::string& host, const std::string& instance = "") {
  Event e = at(kind, 70ms);
  e.host = host;
  e.instance_id = instance;
  e.detail = std::string(toString(kind)) + " " + host;
  return e;
}

TEST(IncidentMachine, AReservedHostIsEnabledThenFullAndItsInstanceGoesBackToPending) {
  Incident i = applyAll(fencedAndDown(), {listed({"a"})});
  Event requested = forInstance(EventKind::kEvacuationRequested, "a");
  requested.host = "spare-1";
  i = applyAll(i, {reserved(EventKind::kReservedHostEnabling, "spare-1"),
                   reserved(EventKind::kReservedHostEnabling, "spare-1"),  // asked again: resumed
                   reserved(EventKind::kReservedHostEnabled, "spare-1"), requested,
                   forInstance(EventKind::kEvacuationAccepted, "a"),
                   reserved(EventKind::kReservedHostFull, "spare-1", "a")});
  ASSERT_EQ(i.reserved_hosts.size(), 1U);
  EXPECT_EQ(i.reserved_hosts[0].state, ReservedHostState::kFull);
  EXPECT_EQ(i.reserved_hosts[0].reason, "reserved-host-full spare-1");
  EXPECT_EQ(i.instances[0].phase, InstancePhase::kPending);
  EXPECT_EQ(i.instances[0].target_host, "spare-1");
  EXPECT_EQ(i.instances[0].attempts, 1);
  EXPECT_EQ(i.instances[0].full_host_attempts, 1);
  // Full is final for the incident: not enabled again, and its instance is no longer sent there.
  EXPECT_FALSE(apply(i, reserved(EventKind::kReservedHostEnabling, "spare-1")));
  EXPECT_FALSE(apply(i, reserved(EventKind::kReservedHostFull, "spare-1", "a")));
  // None left: the pending instance fails with the reason.
  Event none = forInstance(EventKind::kNoTargetLeft, "a");
  none.detail = "every reserved host is full";
  i = applyAll(i, {none});
  EXPECT_EQ(i.instances[0].phase, InstancePhase::kFailed);
  EXPECT_EQ(i.instances[0].reason, "every reserved host is full");
  EXPECT_EQ(i.phase, Phase::kPartlyEvacuated);
}

TEST(IncidentMachine, ReservedHostEventsNeedAnEvacuatingIncidentAndAnotherHost) {
  EXPECT_FALSE(apply(fencedAndDown(), reserved(EventKind::kReservedHostEnabling, "spare-1")));
  const Incident evacuating = applyAll(fencedAndDown(), {listed({"a"})});
  EXPECT_FALSE(apply(evacuating, reserved(EventKind::kReservedHostEnabling, "compute-1")));
  EXPECT_FALSE(apply(evacuating, reserved(EventKind::kReservedHostEnabling, "")));
  // Full only once enabled; unusable from enabling or enabled.
  EXPECT_FALSE(apply(evacuating, reserved(EventKind::kReservedHostFull, "spare-1")));
  const Incident unusable =
      applyAll(evacuating, {reserved(EventKind::kReservedHostUnusable, "spare-2")});
  EXPECT_EQ(unusable.reserved_hosts[0].state, ReservedHostState::kUnusable);
  EXPECT_EQ(unusable.problems.back(), "reserved-host-unusable spare-2");
  EXPECT_FALSE(apply(unusable, reserved(EventKind::kReservedHostEnabled, "spare-2")));
}

TEST(IncidentMachine, UnfenceWalksItsStepsOnAClosedIncidentOnly) {
  // Never on an open incident: its node may still be needed off.
  EXPECT_FALSE(apply(fencedAndDown(), unfenceRequested()).has_value());
  EXPECT_FALSE(apply(detected(), unfenceRequested()).has_value());

  const Incident closed = closedIncident();
  ASSERT_EQ(closed.phase, Phase::kDone);
  Incident i = applyAll(closed, {unfenceRequested()});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kRequested);
  EXPECT_EQ(i.unfence.who, "alice");
  EXPECT_EQ(i.unfence.deadline, kT0 + 10min);
  // The restore needs a power-on accepted first.
  EXPECT_FALSE(apply(i, at(EventKind::kRestoreRequested, 11s)).has_value());
  EXPECT_FALSE(apply(i, powerOnDone()).has_value());
  i = applyAll(i, {at(EventKind::kPowerOnRequested, 11s), at(EventKind::kPowerOnRequested, 12s)});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kPoweringOn);  // asked again after a resume
  EXPECT_EQ(i.unfence.power_on_attempts, 2);
  EXPECT_EQ(i.unfence.power_on_requested_at, kT0 + 12s);
  i = applyAll(i, {powerOnDone()});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kWaitingForCompute);
  EXPECT_EQ(i.unfence.powered_on_by, "ipmi");
  EXPECT_FALSE(apply(i, at(EventKind::kBackInService, 40s)).has_value());
  Event failed = at(EventKind::kRestoreFailed, 41s);
  failed.detail = "nova-api 503";
  i = applyAll(i, {at(EventKind::kRestoreRequested, 40s), failed});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kWaitingForCompute);
  EXPECT_EQ(i.problems.back(), "nova-api 503");
  i = applyAll(i, {at(EventKind::kRestoreRequested, 42s), at(EventKind::kBackInService, 42s)});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kDone);
  EXPECT_EQ(i.unfence.restored_at, kT0 + 42s);
  // The recovery itself is untouched, and the incident stays closed.
  EXPECT_EQ(i.phase, Phase::kDone);
  EXPECT_EQ(i.closed_at, closed.closed_at);
  EXPECT_EQ(i.fence, closed.fence);
  EXPECT_EQ(i.revision, closed.revision + 8);
  EXPECT_FALSE(apply(i, unfenceRequested("bob")).has_value());  // back in service already
  EXPECT_FALSE(apply(i, at(EventKind::kUnfenceAbandoned, 50s)).has_value());
}

TEST(IncidentMachine, AnAbandonedUnfenceMayBeAskedAgain) {
  Incident i = applyAll(closedIncident(), {unfenceRequested()});
  EXPECT_FALSE(apply(i, unfenceRequested("bob")).has_value());  // one at a time
  Event abandoned = at(EventKind::kUnfenceAbandoned, 11min);
  abandoned.detail = "no heartbeat";
  i = applyAll(i, {abandoned});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kAbandoned);
  i = applyAll(i, {unfenceRequested("bob")});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kRequested);
  EXPECT_EQ(i.unfence.who, "bob");
  EXPECT_EQ(i.unfence.power_on_attempts, 0);
}

TEST(IncidentMachine, AnUnfenceNeedsAnOperatorAndADeadline) {
  Event nobody = unfenceRequested("");
  EXPECT_FALSE(apply(closedIncident(), nobody).has_value());
  Event no_deadline = unfenceRequested();
  no_deadline.deadline.reset();
  EXPECT_FALSE(apply(closedIncident(), no_deadline).has_value());
}

TEST(IncidentMachine, RevisionCountsEveryEvent) {
  Incident i = applyAll(detected(), {powerOffRequested(), observed(PowerState::kOff)});
  EXPECT_EQ(i.revision, 3u);
  EXPECT_EQ(i.updated_at, kT0 + 20ms);
}

}  // namespace
}  // namespace fdr::core
