// The incident state machine alone: pure (incident, event) → incident. These tests pin the
// safety rules that must hold whatever the engine does.
#include "core/incident_machine.h"

#include <type_traits>
#include <utility>
#include <variant>

#include <gtest/gtest.h>

namespace fdr::core {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = fromMillis(1'700'000'000'000);

Event at(EventPayload payload, Duration offset = 0ms) {
  return Event{.at = kT0 + offset, .payload = std::move(payload)};
}

Incident detected() {
  return *apply(Incident{}, at(events::Detected{.node = "compute-1", .detail = ""}));
}

Incident applyAll(Incident incident, const std::vector<Event>& events) {
  for (const Event& e : events) {
    auto next = apply(incident, e);
    EXPECT_TRUE(next.has_value()) << toString(e.kind()) << ": " << next.error().message;
    if (!next) return incident;
    incident = *next;
  }
  return incident;
}

Event powerOffRequested() {
  return at(events::PowerOffRequested{.level = 0,
                                      .attempt = 1,
                                      .fencer = "ipmi",
                                      .attempt_deadline = kT0 + 5s,
                                      .fence_deadline = kT0 + 30s},
            10ms);
}

Event observed(PowerState p) {
  return at(
      events::PowerObserved{
          .fencer = "ipmi", .power = p, .next_check_at = kT0 + 220ms, .detail = ""},
      20ms);
}

Event fenceConfirmed() {
  return at(events::FenceConfirmed{.fencer = "ipmi"}, 30ms);
}

Event listed(std::vector<std::string> ids, std::vector<std::string> statuses = {}) {
  events::InstancesListed e;
  for (size_t i = 0; i < ids.size(); ++i) {
    InstanceRecord r;
    r.id = ids[i];
    r.former_status = i < statuses.size() ? statuses[i] : "ACTIVE";
    e.records.push_back(r);
  }
  return at(e, 50ms);
}

// An instance event of kind E naming instance `id`, its other fields at their defaults.
template <class E>
Event forInstance(const std::string& id) {
  E e;
  e.instance_id = id;
  return at(e, 60ms);
}

// The event's payload, to change a field.
template <class E>
E& payload(Event& event) {
  return std::get<E>(event.payload);
}

Incident fencedAndDown() {
  return applyAll(detected(),
                  {powerOffRequested(), observed(PowerState::kOff), fenceConfirmed(),
                   at(events::ForceDownRequested{}, 40ms), at(events::ForceDownDone{}, 45ms)});
}

TEST(IncidentMachine, DetectedCreatesTheIncident) {
  const Incident i = detected();
  EXPECT_EQ(i.phase, Phase::kDetected);
  EXPECT_EQ(i.node, "compute-1");
  EXPECT_EQ(i.revision, 1u);
  EXPECT_EQ(i.id, "compute-1@1700000000000");
  EXPECT_FALSE(apply(i, at(events::Detected{})).has_value());  // only once
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
      applyAll(detected(), {powerOffRequested(), at(events::FenceFailed{}, 1s)}),
      applyAll(detected(), {powerOffRequested(), observed(PowerState::kOff), fenceConfirmed()}),
  };
  for (const Incident& incident : not_ready) {
    SCOPED_TRACE(std::string(toString(incident.phase)));
    EXPECT_FALSE(apply(incident, listed({"vm1"})).has_value());
    EXPECT_FALSE(apply(incident, forInstance<events::EvacuationRequested>("vm1")));
    EXPECT_FALSE(apply(incident, at(events::ForceDownDone{})).has_value() &&
                 incident.phase != Phase::kFenced);
  }
}

TEST(IncidentMachine, FenceFailedWaitsForAnOperator) {
  Incident failed = applyAll(detected(), {powerOffRequested()});
  Event fail_event = at(events::FenceFailed{.detail = "BMC does not answer"}, 30s);
  failed = applyAll(failed, {fail_event});
  EXPECT_EQ(failed.phase, Phase::kFenceFailed);
  EXPECT_EQ(failed.problems.back(), "BMC does not answer");
  EXPECT_FALSE(apply(failed, at(events::ForceDownRequested{})).has_value());
  Event nobody = at(events::OperatorConfirmedFenced{}, 60s);
  EXPECT_FALSE(apply(failed, nobody).has_value());  // an operator must be named
  Event alice = nobody;
  payload<events::OperatorConfirmedFenced>(alice).who = "alice";
  Incident vouched = applyAll(failed, {alice});
  EXPECT_EQ(vouched.phase, Phase::kFenced);
  EXPECT_EQ(vouched.fence.confirmed_by, "operator:alice");
}

TEST(IncidentMachine, InstancesAreFollowedToTheirFormerState) {
  Incident i = applyAll(fencedAndDown(), {listed({"vm1", "vm2"}, {"ACTIVE", "SHUTOFF"})});
  ASSERT_EQ(i.phase, Phase::kEvacuating);
  i = applyAll(i, {forInstance<events::EvacuationRequested>("vm1"),
                   forInstance<events::EvacuationAccepted>("vm1"),
                   forInstance<events::EvacuationRequested>("vm2"),
                   forInstance<events::EvacuationAccepted>("vm2")});
  Event vm1 = forInstance<events::InstanceObserved>("vm1");
  payload<events::InstanceObserved>(vm1).host = "compute-2";
  payload<events::InstanceObserved>(vm1).status = "ACTIVE";
  Event vm2 = forInstance<events::InstanceObserved>("vm2");
  payload<events::InstanceObserved>(vm2).host = "compute-3";
  payload<events::InstanceObserved>(vm2).status =
      "ACTIVE";  // a stopped instance that came back running is not "done"
  i = applyAll(i, {vm1, vm2});
  EXPECT_EQ(findInstance(i, "vm1")->phase, InstancePhase::kDone);
  EXPECT_EQ(findInstance(i, "vm1")->new_host, "compute-2");
  EXPECT_EQ(findInstance(i, "vm2")->phase, InstancePhase::kRebuilding);
  payload<events::InstanceObserved>(vm2).status = "SHUTOFF";
  i = applyAll(i, {vm2});
  EXPECT_EQ(findInstance(i, "vm2")->phase, InstancePhase::kDone);
  EXPECT_EQ(i.phase, Phase::kEvacuated);
  i = applyAll(i, {at(events::NotificationsQueued{}, 1s), at(events::Closed{}, 1s)});
  EXPECT_EQ(i.phase, Phase::kDone);
  EXPECT_FALSE(apply(i, at(events::Cancelled{})).has_value());  // closed for good
}

TEST(IncidentMachine, StillOnTheFailedHostIsNotDone) {
  Incident i =
      applyAll(fencedAndDown(), {listed({"vm1"}), forInstance<events::EvacuationRequested>("vm1")});
  Event same_host = forInstance<events::InstanceObserved>("vm1");
  payload<events::InstanceObserved>(same_host).host = "compute-1";
  payload<events::InstanceObserved>(same_host).status = "ACTIVE";
  i = applyAll(i, {same_host});
  EXPECT_EQ(findInstance(i, "vm1")->phase, InstancePhase::kRequested);
}

TEST(IncidentMachine, RejectionsRetryThenFailAndTheIncidentIsPartial) {
  Incident i =
      applyAll(fencedAndDown(), {listed({"vm1"}), forInstance<events::EvacuationRequested>("vm1")});
  Event rejected = forInstance<events::EvacuationRejected>("vm1");
  payload<events::EvacuationRejected>(rejected).detail = "409";
  i = applyAll(i, {rejected});
  EXPECT_EQ(findInstance(i, "vm1")->phase, InstancePhase::kPending);
  payload<events::EvacuationRejected>(rejected).final = true;
  i = applyAll(i, {forInstance<events::EvacuationRequested>("vm1"), rejected});
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
  EXPECT_FALSE(apply(i, forInstance<events::EvacuationRequested>("vm9")).has_value());
}

Incident closedIncident() {
  return applyAll(fencedAndDown(),
                  {listed({}), at(events::NotificationsQueued{}, 1s), at(events::Closed{}, 1s)});
}

Event unfenceRequested(const std::string& who = "alice") {
  return at(events::UnfenceRequested{.who = who, .deadline = kT0 + 10min}, 10s);
}

Event powerOnDone() {
  return at(events::PowerOnDone{.fencer = "ipmi"}, 11s);
}

// A reserved-host event of kind E for `host` (and, for a full host, `instance`), its detail (if
// it has one) "<kind> <host>".
template <class E>
Event reserved(const std::string& host, const std::string& instance = "") {
  E e;
  e.host = host;
  if constexpr (requires { e.detail; }) e.detail = std::string(toString(kindOf<E>())) + " " + host;
  if constexpr (std::is_same_v<E, events::ReservedHostFull>) {
    if (!instance.empty()) e.instance_id = instance;
  }
  return at(e, 70ms);
}

TEST(IncidentMachine, AReservedHostIsEnabledThenFullAndItsInstanceGoesBackToPending) {
  Incident i = applyAll(fencedAndDown(), {listed({"a"})});
  Event requested = forInstance<events::EvacuationRequested>("a");
  payload<events::EvacuationRequested>(requested).host = "spare-1";
  i = applyAll(i, {reserved<events::ReservedHostEnabling>("spare-1"),
                   reserved<events::ReservedHostEnabling>("spare-1"),  // asked again: resumed
                   reserved<events::ReservedHostEnabled>("spare-1"), requested,
                   forInstance<events::EvacuationAccepted>("a"),
                   reserved<events::ReservedHostFull>("spare-1", "a")});
  ASSERT_EQ(i.reserved_hosts.size(), 1U);
  EXPECT_EQ(i.reserved_hosts[0].state, ReservedHostState::kFull);
  EXPECT_EQ(i.reserved_hosts[0].reason, "reserved-host-full spare-1");
  EXPECT_EQ(i.instances[0].phase, InstancePhase::kPending);
  EXPECT_EQ(i.instances[0].target_host, "spare-1");
  EXPECT_EQ(i.instances[0].attempts, 1);
  EXPECT_EQ(i.instances[0].full_host_attempts, 1);
  // Full is final for the incident: not enabled again, and its instance is no longer sent there.
  EXPECT_FALSE(apply(i, reserved<events::ReservedHostEnabling>("spare-1")));
  EXPECT_FALSE(apply(i, reserved<events::ReservedHostFull>("spare-1", "a")));
  // None left: the pending instance fails with the reason.
  Event none = forInstance<events::NoTargetLeft>("a");
  payload<events::NoTargetLeft>(none).detail = "every reserved host is full";
  i = applyAll(i, {none});
  EXPECT_EQ(i.instances[0].phase, InstancePhase::kFailed);
  EXPECT_EQ(i.instances[0].reason, "every reserved host is full");
  EXPECT_EQ(i.phase, Phase::kPartlyEvacuated);
}

TEST(IncidentMachine, ReservedHostEventsNeedAnEvacuatingIncidentAndAnotherHost) {
  EXPECT_FALSE(apply(fencedAndDown(), reserved<events::ReservedHostEnabling>("spare-1")));
  const Incident evacuating = applyAll(fencedAndDown(), {listed({"a"})});
  EXPECT_FALSE(apply(evacuating, reserved<events::ReservedHostEnabling>("compute-1")));
  EXPECT_FALSE(apply(evacuating, reserved<events::ReservedHostEnabling>("")));
  // Full only once enabled; unusable from enabling or enabled.
  EXPECT_FALSE(apply(evacuating, reserved<events::ReservedHostFull>("spare-1")));
  const Incident unusable =
      applyAll(evacuating, {reserved<events::ReservedHostUnusable>("spare-2")});
  EXPECT_EQ(unusable.reserved_hosts[0].state, ReservedHostState::kUnusable);
  EXPECT_EQ(unusable.problems.back(), "reserved-host-unusable spare-2");
  EXPECT_FALSE(apply(unusable, reserved<events::ReservedHostEnabled>("spare-2")));
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
  EXPECT_FALSE(apply(i, at(events::RestoreRequested{}, 11s)).has_value());
  EXPECT_FALSE(apply(i, powerOnDone()).has_value());
  i = applyAll(i, {at(events::PowerOnRequested{}, 11s), at(events::PowerOnRequested{}, 12s)});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kPoweringOn);  // asked again after a resume
  EXPECT_EQ(i.unfence.power_on_attempts, 2);
  EXPECT_EQ(i.unfence.power_on_requested_at, kT0 + 12s);
  i = applyAll(i, {powerOnDone()});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kWaitingForCompute);
  EXPECT_EQ(i.unfence.powered_on_by, "ipmi");
  EXPECT_FALSE(apply(i, at(events::BackInService{}, 40s)).has_value());
  Event failed = at(events::RestoreFailed{.detail = "nova-api 503"}, 41s);
  i = applyAll(i, {at(events::RestoreRequested{}, 40s), failed});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kWaitingForCompute);
  EXPECT_EQ(i.problems.back(), "nova-api 503");
  i = applyAll(i, {at(events::RestoreRequested{}, 42s), at(events::BackInService{}, 42s)});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kDone);
  EXPECT_EQ(i.unfence.restored_at, kT0 + 42s);
  // The recovery itself is untouched, and the incident stays closed.
  EXPECT_EQ(i.phase, Phase::kDone);
  EXPECT_EQ(i.closed_at, closed.closed_at);
  EXPECT_EQ(i.fence, closed.fence);
  EXPECT_EQ(i.revision, closed.revision + 8);
  EXPECT_FALSE(apply(i, unfenceRequested("bob")).has_value());  // back in service already
  EXPECT_FALSE(apply(i, at(events::UnfenceAbandoned{}, 50s)).has_value());
}

TEST(IncidentMachine, AnAbandonedUnfenceMayBeAskedAgain) {
  Incident i = applyAll(closedIncident(), {unfenceRequested()});
  EXPECT_FALSE(apply(i, unfenceRequested("bob")).has_value());  // one at a time
  Event abandoned = at(events::UnfenceAbandoned{.detail = "no heartbeat"}, 11min);
  i = applyAll(i, {abandoned});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kAbandoned);
  i = applyAll(i, {unfenceRequested("bob")});
  EXPECT_EQ(i.unfence.step, UnfenceStep::kRequested);
  EXPECT_EQ(i.unfence.who, "bob");
  EXPECT_EQ(i.unfence.power_on_attempts, 0);
}

// The deadline cannot be left out (UnfenceRequested::deadline is no optional), and a journaled
// unfence-requested without one does not decode (codec_test: EventFieldsOfItsKindAreRequired).
TEST(IncidentMachine, AnUnfenceNeedsAnOperator) {
  Event nobody = unfenceRequested("");
  EXPECT_FALSE(apply(closedIncident(), nobody).has_value());
}

TEST(IncidentMachine, RevisionCountsEveryEvent) {
  Incident i = applyAll(detected(), {powerOffRequested(), observed(PowerState::kOff)});
  EXPECT_EQ(i.revision, 3u);
  EXPECT_EQ(i.updated_at, kT0 + 20ms);
}

}  // namespace
}  // namespace fdr::core
