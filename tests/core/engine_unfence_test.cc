// `freezer-dr unfence HOST` on simulated time: the node of a closed incident is powered on
// through its fencing levels, its compute service must report a heartbeat after the power-on,
// then it is unforced and enabled and the admins are told. Every step is journaled first.
#include <gtest/gtest.h>

#include "core/engine.h"
#include "core/engine_fixture.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

class EngineUnfenceTest : public EngineHarness {
 protected:
  EngineUnfenceTest() {
    policy_.unfence_deadline = 120s;
    policy_.unfence_poll = 1s;
    world_.clock = &clock_;
    world_.compute_boot = 30s;
    for (int i = 1; i <= 2; ++i) addInstance("vm" + std::to_string(i), "compute-1");
  }

  void addInstance(const std::string& id, const std::string& host) {
    Instance vm;
    vm.id = id;
    vm.name = id;
    vm.host = host;
    vm.status = "ACTIVE";
    vm.project_id = "demo";
    vm.user_id = "owner-" + id;
    world_.instances.push_back(vm);
  }

  // compute-1 fails, is fenced and evacuated; it stays off (one monitor source still says down,
  // so it is never seen up: the engine keeps it as "recovered").
  void recoverComputeOne(core::Engine& engine, Journal& journal) {
    monitor_.down = {"compute-1"};
    runFor(engine, 20s);
    auto all = journal.recentIncidents(10);
    ASSERT_TRUE(all.has_value());
    ASSERT_EQ(all->size(), 1u);
    ASSERT_EQ(all->at(0).phase, Phase::kDone);
    monitor_.down.clear();
    monitor_.sources_down["compute-1"] = 1;
  }

  void askUnfence(Journal& journal, const std::string& host, const std::string& who = "alice") {
    OperatorCommand command;
    command.kind = "unfence";
    command.node = host;
    command.who = who;
    command.at = clock_.now();
    ASSERT_TRUE(journal.enqueueCommand(command).has_value());
  }

  Incident last(Journal& journal) {
    auto all = journal.recentIncidents(10);
    EXPECT_TRUE(all.has_value() && !all->empty());
    return all && !all->empty() ? all->front() : Incident{};
  }

  std::vector<EventKind> unfenceEvents(Journal& journal, const std::string& incident_id) {
    std::vector<EventKind> kinds;
    auto events = journal.events(incident_id);
    EXPECT_TRUE(events.has_value());
    bool started = false;
    for (const Event& e : events ? *events : std::vector<Event>{}) {
      started = started || e.kind() == EventKind::kUnfenceRequested;
      if (started) kinds.push_back(e.kind());
    }
    return kinds;
  }

  int sent(NotificationKind kind) const {
    return static_cast<int>(std::count_if(notifier_.sent.begin(), notifier_.sent.end(),
                                          [&](const Notification& n) { return n.kind == kind; }));
  }

  int totalEvacuations() const {
    int n = 0;
    for (const auto& [id, count] : world_.evacuations) n += count;
    return n;
  }
};

TEST_F(EngineUnfenceTest, PowersOnWaitsForTheHeartbeatThenRestoresAndTellsTheAdmins) {
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  recoverComputeOne(*engine, journal);
  ASSERT_EQ(world_.power["compute-1"], PowerState::kOff);
  ASSERT_TRUE(world_.forced_down["compute-1"]);

  askUnfence(journal, "compute-1");
  const TimePoint asked = clock_.now();
  // Until the compute service reports (30 s after the power-on), nothing is restored and no
  // one is told; the engine keeps ticking (no sleep) and is not settled.
  while (clock_.now() < asked + 29s) {
    const core::TickSummary summary = settledTick(*engine, executor_);
    EXPECT_EQ(summary.unfencing, 1u);
    EXPECT_FALSE(summary.settled());
    EXPECT_EQ(world_.restore_calls, 0);
    EXPECT_EQ(sent(NotificationKind::kNodeBackInService), 0);
    clock_.advance(250ms);
  }
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOn);
  EXPECT_EQ(world_.power_on_calls, 1);
  EXPECT_EQ(engine->unfencing().at("compute-1").unfence.step, UnfenceStep::kWaitingForCompute);
  EXPECT_TRUE(journal.outcomes.at(1).starts_with("done: unfencing compute-1"))
      << journal.outcomes[1];

  const core::TickSummary summary = runFor(*engine, 5s);
  EXPECT_EQ(summary.unfencing, 0u);
  EXPECT_EQ(world_.restore_calls, 1);
  EXPECT_EQ(world_.service_log,
            (std::vector<std::string>{"unforce compute-1", "enable compute-1"}));
  EXPECT_FALSE(world_.forced_down["compute-1"]);
  EXPECT_FALSE(world_.disabled["compute-1"]);
  ASSERT_EQ(sent(NotificationKind::kNodeBackInService), 1);
  const Incident incident = last(journal);
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(incident.unfence.step, UnfenceStep::kDone);
  EXPECT_EQ(incident.unfence.who, "alice");
  EXPECT_EQ(incident.unfence.powered_on_by, "level1");
  EXPECT_EQ(unfenceEvents(journal, incident.id),
            (std::vector<EventKind>{EventKind::kUnfenceRequested, EventKind::kPowerOnRequested,
                                    EventKind::kPowerOnDone, EventKind::kRestoreRequested,
                                    EventKind::kBackInService}));
  EXPECT_TRUE(journal_.undeliveredOutbox()->empty());
  auto up = journal_.setting("node-up:compute-1");
  ASSERT_TRUE(up.has_value() && up->has_value());
  EXPECT_EQ(totalEvacuations(), 2);  // nothing evacuated again

  // Back in service, the node is watched again: a new failure opens a new incident at once
  // (it is not left alone as "already recovered").
  monitor_.sources_down.clear();
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  auto all = journal.recentIncidents(10);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOff);
}

TEST_F(EngineUnfenceTest, NoBackInServiceNoticeBeforeTheRestoreSucceeded) {
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  recoverComputeOne(*engine, journal);
  evacuator_->refuse_restore = true;
  askUnfence(journal, "compute-1");
  runFor(*engine, 40s);
  EXPECT_GT(world_.restore_calls, 1);  // retried
  EXPECT_EQ(sent(NotificationKind::kNodeBackInService), 0);
  EXPECT_TRUE(journal_.undeliveredOutbox()->empty());
  EXPECT_EQ(last(journal).unfence.step, UnfenceStep::kWaitingForCompute);
  EXPECT_TRUE(world_.forced_down["compute-1"]);

  evacuator_->refuse_restore = false;
  runFor(*engine, 3s);
  EXPECT_EQ(last(journal).unfence.step, UnfenceStep::kDone);
  EXPECT_EQ(sent(NotificationKind::kNodeBackInService), 1);
  EXPECT_EQ(world_.power_on_calls, 1);
}

TEST_F(EngineUnfenceTest, PowersOnThroughTheFirstLevelThatAccepts) {
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kRefuses, Mode::kWorks}, journal);
  recoverComputeOne(*engine, journal);
  askUnfence(journal, "compute-1");
  runFor(*engine, 40s);
  const Incident incident = last(journal);
  EXPECT_EQ(incident.unfence.step, UnfenceStep::kDone);
  EXPECT_EQ(incident.unfence.powered_on_by, "level2");
  EXPECT_EQ(fencers_[0]->on_calls, 1);
  EXPECT_EQ(fencers_[1]->on_calls, 1);
}

TEST_F(EngineUnfenceTest, RefusedWhileItsIncidentHasEvacuationsUnfinished) {
  world_.rebuild_polls = 1000;  // the evacuations never finish within the test
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  monitor_.down = {"compute-1"};
  runFor(*engine, 10s);
  ASSERT_EQ(last(journal).phase, Phase::kEvacuating);
  askUnfence(journal, "compute-1");
  runFor(*engine, 5s);
  const std::string& outcome = journal.outcomes.at(1);
  EXPECT_TRUE(outcome.starts_with("refused: incident compute-1@")) << outcome;
  EXPECT_NE(outcome.find("evacuations are not finished"), std::string::npos) << outcome;
  EXPECT_EQ(world_.power_on_calls, 0);
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOff);
  EXPECT_TRUE(engine->unfencing().empty());
  EXPECT_EQ(last(journal).unfence.step, UnfenceStep::kNone);
}

TEST_F(EngineUnfenceTest, RefusedForAHostNotInTheInventoryOrNeverFenced) {
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  askUnfence(journal, "compute-9");
  askUnfence(journal, "compute-2");
  runFor(*engine, 2s);
  EXPECT_EQ(journal.outcomes.at(1), "refused: compute-9 is not in the inventory");
  EXPECT_TRUE(
      journal.outcomes.at(2).starts_with("refused: freezer-dr has no incident of compute-2"))
      << journal.outcomes.at(2);
  EXPECT_EQ(world_.power_on_calls, 0);
  EXPECT_TRUE(journal_.recentIncidents(10)->empty());
}

TEST_F(EngineUnfenceTest, ASecondUnfenceOfTheSameNodeIsRefused) {
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  recoverComputeOne(*engine, journal);
  askUnfence(journal, "compute-1");
  askUnfence(journal, "compute-1", "bob");
  runFor(*engine, 40s);
  EXPECT_EQ(journal.outcomes.at(2), "refused: compute-1 is already being unfenced");
  askUnfence(journal, "compute-1", "carol");
  runFor(*engine, 1s);
  EXPECT_TRUE(journal.outcomes.at(3).starts_with("refused: compute-1 is back in service already"))
      << journal.outcomes.at(3);
  EXPECT_EQ(world_.power_on_calls, 1);
  EXPECT_EQ(world_.restore_calls, 1);
}

TEST_F(EngineUnfenceTest, ANodeThatNeverReportsIsAbandonedAtTheDeadlineAndAlerted) {
  world_.compute_never_reports = {"compute-1"};
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  recoverComputeOne(*engine, journal);
  askUnfence(journal, "compute-1");
  runFor(*engine, policy_.unfence_deadline - 1s);
  EXPECT_EQ(sent(NotificationKind::kUnfenceFailed), 0);
  EXPECT_EQ(engine->unfencing().size(), 1u);
  const core::TickSummary summary = runFor(*engine, 2s);
  EXPECT_EQ(summary.unfencing, 0u);
  ASSERT_EQ(sent(NotificationKind::kUnfenceFailed), 1);
  for (const Notification& n : notifier_.sent) {
    if (n.kind != NotificationKind::kUnfenceFailed) continue;
    EXPECT_EQ(n.audience, Audience::kAdmins);
    EXPECT_EQ(n.node, "compute-1");
    EXPECT_NE(n.summary.find("freezer-dr unfence compute-1"), std::string::npos) << n.summary;
  }
  const Incident incident = last(journal);
  EXPECT_EQ(incident.unfence.step, UnfenceStep::kAbandoned);
  EXPECT_EQ(world_.restore_calls, 0);
  EXPECT_TRUE(world_.forced_down["compute-1"]);
  EXPECT_EQ(sent(NotificationKind::kNodeBackInService), 0);

  // Once the operator has fixed it, a new unfence may be asked.
  world_.compute_never_reports.clear();
  askUnfence(journal, "compute-1", "bob");
  runFor(*engine, 40s);
  EXPECT_EQ(last(journal).unfence.step, UnfenceStep::kDone);
  EXPECT_EQ(last(journal).unfence.who, "bob");
}

TEST_F(EngineUnfenceTest, APowerOnRefusedEverywhereIsRetriedUntilTheDeadline) {
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  recoverComputeOne(*engine, journal);
  // Restarted with a refusing fencer: the BMC password changed since the fence.
  engine.reset();
  auto refusing = makeEngine({Mode::kRefuses}, journal);
  askUnfence(journal, "compute-1");
  runFor(*refusing, policy_.unfence_deadline + 1s);
  EXPECT_GT(fencers_[0]->on_calls, 10);
  EXPECT_LT(fencers_[0]->on_calls, 200);  // paced by unfence_poll, not every tick
  EXPECT_EQ(last(journal).unfence.step, UnfenceStep::kAbandoned);
  EXPECT_EQ(sent(NotificationKind::kUnfenceFailed), 1);
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOff);
}

TEST_F(EngineUnfenceTest, AnUnfenceInProgressResumesAfterARestart) {
  DyingJournal journal(journal_, world_, -1);
  auto engine = makeEngine({Mode::kWorks}, journal);
  recoverComputeOne(*engine, journal);
  askUnfence(journal, "compute-1");
  runFor(*engine, 5s);
  ASSERT_EQ(engine->unfencing().size(), 1u);
  engine.reset();
  auto restarted = makeEngine({Mode::kWorks}, journal);
  ASSERT_EQ(restarted->unfencing().size(), 1u);
  runFor(*restarted, 40s);
  EXPECT_EQ(last(journal).unfence.step, UnfenceStep::kDone);
  EXPECT_EQ(world_.power_on_calls, 1);  // waiting for the heartbeat needs no second power-on
  EXPECT_EQ(world_.restore_calls, 1);
}

// Invariant 4: the process dies right after each journal commit of the unfence (before the side
// effect it announces); a new engine on the same journal finishes the unfence. Only the power-on
// (idempotent) may be asked twice; the service is restored once and nothing is evacuated again.
TEST_F(EngineUnfenceTest, CrashAfterEveryJournaledStepResumesAndCompletes) {
  const World pristine = world_;
  const TimePoint start = clock_.now();
  for (int die_after = 1; die_after <= 5; ++die_after) {
    SCOPED_TRACE("killed after unfence commit " + std::to_string(die_after));
    world_ = pristine;
    world_.clock = &clock_;
    clock_.set(start);
    monitor_.sources_down.clear();
    notifier_.sent.clear();
    MemoryJournal journal;
    {
      auto engine = makeEngine({Mode::kWorks}, journal);
      recoverComputeOne(*engine, journal);
    }
    const int evacuations = totalEvacuations();
    const int force_downs = world_.force_down_calls;
    askUnfence(journal, "compute-1");
    {
      DyingJournal dying(journal, world_, die_after);
      auto engine = makeEngine({Mode::kWorks}, dying);
      runFor(*engine, 60s);
      ASSERT_TRUE(world_.dead) << "fewer unfence commits than expected";
    }
    world_.dead = false;  // restart
    auto engine = makeEngine({Mode::kWorks}, journal);
    runFor(*engine, 60s);
    const Incident incident = last(journal);
    EXPECT_EQ(incident.unfence.step, UnfenceStep::kDone);
    EXPECT_LE(world_.power_on_calls, 2);
    EXPECT_EQ(world_.service_log,
              (std::vector<std::string>{"unforce compute-1", "enable compute-1"}));
    EXPECT_FALSE(world_.forced_down["compute-1"]);
    EXPECT_GE(sent(NotificationKind::kNodeBackInService), 1);
    EXPECT_TRUE(journal.undeliveredOutbox()->empty());
    EXPECT_EQ(totalEvacuations(), evacuations);
    EXPECT_EQ(world_.force_down_calls, force_downs);
    EXPECT_EQ(journal.recentIncidents(10)->size(), 1u);
  }
}

}  // namespace
}  // namespace fdr::testing
