// The recovery engine on simulated time: no sleeps, no real drivers. Each test drives ticks
// with a FakeClock and asserts outcomes (what was fenced, evacuated, journaled, notified).
#include "core/engine.h"

#include <gtest/gtest.h>

#include "core/engine_fixture.h"
#include "core/incident_machine.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

class EngineTest : public EngineHarness {
 protected:
  EngineTest() {
    for (int i = 1; i <= 3; ++i) addInstance("vm" + std::to_string(i), "compute-1", "ACTIVE");
    addInstance("other", "compute-2", "ACTIVE");
  }

  void addInstance(const std::string& id, const std::string& host, const std::string& status,
                   int priority = 0, const std::string& project = "demo") {
    Instance vm;
    vm.id = id;
    vm.name = id;
    vm.host = host;
    vm.status = status;
    vm.project_id = project;
    if (priority != 0) vm.metadata["HA_Priority"] = std::to_string(priority);
    world_.instances.push_back(vm);
  }

  std::vector<Incident> incidents() {
    auto all = journal_.recentIncidents(100);
    EXPECT_TRUE(all.has_value());
    return all ? *all : std::vector<Incident>{};
  }

  int totalEvacuations() const {
    int n = 0;
    for (const auto& [id, count] : world_.evacuations) n += count;
    return n;
  }

  bool notified(NotificationKind kind) const {
    return std::any_of(notifier_.sent.begin(), notifier_.sent.end(),
                       [&](const Notification& n) { return n.kind == kind; });
  }
};

TEST_F(EngineTest, DeadNodeIsFencedEvacuatedAndEveryoneTold) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 2s);
  EXPECT_TRUE(incidents().empty());
  monitor_.down = {"compute-1"};
  runFor(*engine, 10s);

  auto all = incidents();
  ASSERT_EQ(all.size(), 1u);
  const Incident& incident = all[0];
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(incident.fence.confirmed_by, "fencer:level1");
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOff);
  EXPECT_TRUE(world_.forced_down["compute-1"]);
  ASSERT_EQ(incident.instances.size(), 3u);
  for (const auto& r : incident.instances) {
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id;
    EXPECT_NE(r.new_host, "compute-1");
    EXPECT_FALSE(r.new_host.empty());
    EXPECT_EQ(world_.evacuations[r.id], 1) << r.id;
  }
  EXPECT_EQ(world_.evacuations.count("other"), 0u);
  EXPECT_TRUE(notified(NotificationKind::kFailureConfirmed));
  int project_messages = 0;
  for (const auto& n : notifier_.sent) {
    if (n.audience == Audience::kProject) {
      project_messages += 1;
      EXPECT_EQ(n.project_id, "demo");
      EXPECT_EQ(n.instances.size(), 3u);  // one message per project, not one per instance
      EXPECT_EQ(n.kind, NotificationKind::kEvacuationFinished);
    }
  }
  EXPECT_EQ(project_messages, 1);
  EXPECT_TRUE(journal_.undeliveredOutbox()->empty());
}

TEST_F(EngineTest, NothingHappensBeforeTheGracePeriod) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 2750ms);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencers_[0]->off_calls, 0);
}

class FenceFailureTest : public EngineTest, public ::testing::WithParamInterface<Mode> {};

// Invariant 1: when the power-off cannot be confirmed, nothing is evacuated, whatever the
// fencer does (refuses, hangs, lies about success, cannot read the power state).
TEST_P(FenceFailureTest, NoEvacuationWithoutConfirmedPowerOff) {
  auto engine = makeEngine({GetParam()}, journal_);
  monitor_.down = {"compute-1"};
  const auto summary = runFor(*engine, 60s);

  auto all = incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].phase, Phase::kFenceFailed);
  EXPECT_FALSE(all[0].fenced_at.has_value());
  EXPECT_EQ(totalEvacuations(), 0);
  EXPECT_EQ(world_.force_down_calls, 0);
  EXPECT_TRUE(notified(NotificationKind::kFenceFailed));
  EXPECT_EQ(summary.waiting_for_operator, 1u);
  EXPECT_TRUE(summary.settled());
  // The journal never recorded a step past fencing.
  auto events = journal_.events(all[0].id);
  ASSERT_TRUE(events.has_value());
  for (const Event& e : *events) {
    EXPECT_NE(e.kind(), EventKind::kEvacuationRequested);
    EXPECT_NE(e.kind(), EventKind::kForceDownRequested);
  }
}

INSTANTIATE_TEST_SUITE_P(Fencers, FenceFailureTest,
                         ::testing::Values(Mode::kRefuses, Mode::kHangs, Mode::kLies,
                                           Mode::kBlind));

TEST_F(EngineTest, FallsBackToTheNextFencingLevel) {
  policy_.fence_retries = 2;
  auto engine = makeEngine({Mode::kRefuses, Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 15s);
  auto all = incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].phase, Phase::kDone);
  EXPECT_EQ(all[0].fence.confirmed_by, "fencer:level2");
  EXPECT_EQ(fencers_[0]->off_calls, 2);  // both attempts of level 1
  EXPECT_EQ(totalEvacuations(), 3);
}

TEST_F(EngineTest, OperatorConfirmationLetsAFailedFenceFinish) {
  auto engine = makeEngine({Mode::kRefuses}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 30s);
  ASSERT_EQ(incidents()[0].phase, Phase::kFenceFailed);
  ASSERT_EQ(totalEvacuations(), 0);

  OperatorCommand command;
  command.kind = "confirm-fenced";
  command.node = "compute-1";
  command.who = "alice";
  command.at = clock_.now();
  ASSERT_TRUE(journal_.enqueueCommand(command).has_value());
  runFor(*engine, 5s);

  auto all = incidents();
  EXPECT_EQ(all[0].phase, Phase::kDone);
  EXPECT_EQ(all[0].fence.confirmed_by, "operator:alice");
  EXPECT_EQ(totalEvacuations(), 3);
  EXPECT_TRUE(journal_.pendingCommands()->empty());
}

TEST_F(EngineTest, AnOperatorCanFenceAHealthyNodeByHand) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  OperatorCommand command;
  command.kind = "fence";
  command.node = "compute-2";
  command.who = "bob";
  ASSERT_TRUE(journal_.enqueueCommand(command).has_value());
  command.node = "compute-9";  // not in the inventory
  ASSERT_TRUE(journal_.enqueueCommand(command).has_value());
  runFor(*engine, 5s);
  auto all = incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].node, "compute-2");
  EXPECT_EQ(all[0].phase, Phase::kDone);
  EXPECT_EQ(world_.power["compute-2"], PowerState::kOff);
  EXPECT_EQ(world_.evacuations["other"], 1);
  EXPECT_TRUE(journal_.pendingCommands()->empty());
}

TEST_F(EngineTest, ConfirmFencedForANodeWithoutIncidentIsRefused) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  OperatorCommand command;
  command.kind = "confirm-fenced";
  command.node = "compute-3";
  command.who = "alice";
  ASSERT_TRUE(journal_.enqueueCommand(command).has_value());
  runFor(*engine, 1s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_TRUE(journal_.pendingCommands()->empty());
  EXPECT_EQ(totalEvacuations(), 0);
}

TEST_F(EngineTest, OneSourceAloneNeverFences) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.sources_down["compute-1"] = 1;  // of 2
  runFor(*engine, 120s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencers_[0]->off_calls, 0);
}

TEST_F(EngineTest, ANodeBackWithinTheGracePeriodIsNotFenced) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  for (int flap = 0; flap < 20; ++flap) {
    monitor_.down = {"compute-1"};
    runFor(*engine, 2s);
    monitor_.down.clear();
    runFor(*engine, 1s);
  }
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencers_[0]->off_calls, 0);
}

TEST_F(EngineTest, MonitorFailureCountsAsUnknownNotDown) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.unreachable = true;
  runFor(*engine, 30s);
  EXPECT_TRUE(incidents().empty());
}

TEST_F(EngineTest, StormGuardFencesNothingAndAlerts) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1", "compute-2", "compute-3"};  // 75 % of 4 nodes
  const auto summary = runFor(*engine, 30s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencers_[0]->off_calls, 0);
  EXPECT_EQ(totalEvacuations(), 0);
  EXPECT_EQ(summary.vetoes.size(), 3u);
  EXPECT_TRUE(notified(NotificationKind::kGuardTripped));
  // One alert for the storm, naming the nodes, not one per node nor one per tick.
  std::vector<Notification> alerts;
  std::copy_if(notifier_.sent.begin(), notifier_.sent.end(), std::back_inserter(alerts),
               [](const auto& n) { return n.kind == NotificationKind::kGuardTripped; });
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0].subject.find("storm guard"), std::string::npos) << alerts[0].subject;
  EXPECT_NE(alerts[0].summary.find("3 nodes down at once (limit 2)"), std::string::npos)
      << alerts[0].summary;
  EXPECT_NE(alerts[0].summary.find("compute-1, compute-2, compute-3"), std::string::npos)
      << alerts[0].summary;
}

TEST_F(EngineTest, StormGuardCountsNodesStillInTheirGracePeriod) {
  policy_.storm_max_nodes = 1;
  policy_.storm_max_percent = 100;
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 2s);
  monitor_.down.insert("compute-2");  // fails 2 s later: both are down within compute-1's grace
  runFor(*engine, 20s);
  EXPECT_TRUE(incidents().empty());
}

TEST_F(EngineTest, MaintenanceAndPauseVetoFencing) {
  policy_.maintenance = {"compute-1"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  ASSERT_TRUE(journal_.setSetting("paused", "1").has_value());
  monitor_.down = {"compute-1", "compute-2"};
  const auto summary = runFor(*engine, 20s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(summary.vetoes.size(), 2u);
  ASSERT_TRUE(journal_.setSetting("paused", "0").has_value());
  runFor(*engine, 10s);
  auto all = incidents();
  ASSERT_EQ(all.size(), 1u);  // compute-2 only: compute-1 stays in maintenance
  EXPECT_EQ(all[0].node, "compute-2");
}

TEST_F(EngineTest, AFencedNodeThatStaysDownIsNotFencedAgain) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  ASSERT_EQ(incidents().size(), 1u);
  // A restarted engine remembers it too.
  auto restarted = makeEngine({Mode::kWorks}, journal_);
  runFor(*restarted, 20s);
  EXPECT_EQ(incidents().size(), 1u);
  EXPECT_EQ(fencers_[0]->off_calls, 0);
  // Back up, then down again: a new incident.
  monitor_.down.clear();
  runFor(*restarted, 2s);
  monitor_.down = {"compute-1"};
  runFor(*restarted, 20s);
  EXPECT_EQ(incidents().size(), 2u);
}

TEST_F(EngineTest, HigherPriorityFirst) {
  policy_.evacuation_concurrency = 1;  // one request at a time: the order is the engine's
  world_.rebuild_polls = 3;
  world_.instances.clear();
  addInstance("low", "compute-1", "ACTIVE", 1);
  addInstance("high", "compute-1", "ACTIVE", 10);
  addInstance("mid", "compute-1", "ACTIVE", 5);
  addInstance("none-a", "compute-1", "ACTIVE");
  addInstance("none-b", "compute-1", "ACTIVE");
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 30s);
  EXPECT_EQ(incidents()[0].phase, Phase::kDone);
  EXPECT_EQ(world_.evacuation_order,
            (std::vector<std::string>{"high", "mid", "low", "none-a", "none-b"}));
}

TEST_F(EngineTest, EvacuationRequestsInFlightAreBoundedByTheConcurrency) {
  policy_.evacuation_concurrency = 2;
  world_.instances.clear();
  for (int i = 0; i < 5; ++i) addInstance("vm" + std::to_string(i), "compute-1", "ACTIVE");
  world_.evacuate_blocks = true;  // Nova takes the requests and never answers
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 15s);  // fenced, forced down, listed; less than the cloud call timeout (30 s)
  ASSERT_EQ(incidents().size(), 1u);
  ASSERT_EQ(incidents()[0].phase, Phase::kEvacuating);
  EXPECT_EQ(world_.evacuate_parked, 2);
  EXPECT_TRUE(world_.evacuation_order.empty());
}

TEST_F(EngineTest, RequestsDoNotWaitForEarlierRebuilds) {
  // Twelve instances, two requests in flight at a time, rebuilds that take longer than the test:
  // every instance is requested all the same (issue #12: the 11th no longer waits for the first).
  policy_.evacuation_concurrency = 2;
  world_.rebuild_polls = 1'000'000;
  world_.instances.clear();
  for (int i = 0; i < 12; ++i) addInstance("vm" + std::to_string(i), "compute-1", "ACTIVE");
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  EXPECT_EQ(world_.evacuation_order.size(), 12u);
  EXPECT_EQ(world_.rebuilding.size(), 12u);
  EXPECT_EQ(incidents()[0].phase, Phase::kEvacuating);
}

TEST_F(EngineTest, AStoppedInstanceStaysStopped) {
  world_.instances.clear();
  addInstance("stopped", "compute-1", "SHUTOFF");
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  auto incident = incidents()[0];
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(incident.instances[0].former_status, "SHUTOFF");
  EXPECT_EQ(incident.instances[0].phase, InstancePhase::kDone);
}

TEST_F(EngineTest, AnInstanceWhoseRebuildFailsIsReported) {
  world_.end_in_error = {"vm2"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 30s);
  auto incident = incidents()[0];
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_TRUE(incident.evacuated_at.has_value());
  const InstanceRecord* vm2 = core::findInstance(incident, "vm2");
  ASSERT_NE(vm2, nullptr);
  EXPECT_EQ(vm2->phase, InstancePhase::kFailed);
  // It is in ERROR on a live host: another evacuation would be refused, so none is asked.
  EXPECT_EQ(vm2->attempts, 1);
  EXPECT_NE(vm2->reason.find("ERROR"), std::string::npos);
  EXPECT_TRUE(notified(NotificationKind::kEvacuationPartial));
  EXPECT_FALSE(notified(NotificationKind::kEvacuationFinished));
}

TEST_F(EngineTest, ARefusedEvacuationIsRetriedUpToTheLimit) {
  policy_.evacuation_retries = 2;
  world_.refuse_evacuation = {"vm1"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  auto incident = incidents()[0];
  const InstanceRecord* vm1 = core::findInstance(incident, "vm1");
  ASSERT_NE(vm1, nullptr);
  EXPECT_EQ(vm1->phase, InstancePhase::kFailed);
  EXPECT_EQ(vm1->attempts, 3);
  EXPECT_NE(vm1->reason.find("refused"), std::string::npos);
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.evacuations["vm2"], 1);
}

TEST_F(EngineTest, ShelvedInstancesAreReportedNotDropped) {
  world_.instances.clear();
  addInstance("shelved", "compute-1", "SHELVED_OFFLOADED");
  addInstance("running", "compute-1", "ACTIVE");
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  auto incident = incidents()[0];
  const InstanceRecord* shelved = core::findInstance(incident, "shelved");
  ASSERT_NE(shelved, nullptr);
  EXPECT_EQ(shelved->phase, InstancePhase::kSkipped);
  EXPECT_EQ(world_.evacuations.count("shelved"), 0u);
  EXPECT_EQ(world_.evacuations["running"], 1);
}

TEST_F(EngineTest, OptInAndOptOutByMetadata) {
  world_.instances.clear();
  addInstance("plain", "compute-1", "ACTIVE");
  addInstance("in", "compute-1", "ACTIVE");
  addInstance("out", "compute-1", "ACTIVE");
  world_.instances[1].metadata["HA_Enabled"] = "True";
  world_.instances[2].metadata["HA_Enabled"] = "false";
  policy_.evacuate_all = false;
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  auto incident = incidents()[0];
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.evacuations, (std::map<std::string, int>{{"in", 1}}));
  EXPECT_EQ(core::findInstance(incident, "plain")->phase, InstancePhase::kSkipped);
  EXPECT_NE(core::findInstance(incident, "plain")->reason.find("not opted in"), std::string::npos);
  EXPECT_NE(core::findInstance(incident, "out")->reason.find("opted out"), std::string::npos);
}

TEST_F(EngineTest, EvacuateAllStillSkipsOptedOut) {
  world_.instances.clear();
  addInstance("plain", "compute-1", "ACTIVE");
  addInstance("out", "compute-1", "ACTIVE");
  world_.instances[1].metadata["HA_Enabled"] = "no";
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  EXPECT_EQ(world_.evacuations, (std::map<std::string, int>{{"plain", 1}}));
}

TEST_F(EngineTest, ForceDownIsRetriedThenAlerts) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  evacuator_->refuse_force_down = true;
  monitor_.down = {"compute-1"};
  runFor(*engine, 30s);
  auto incident = incidents()[0];
  EXPECT_EQ(incident.phase, Phase::kForceDownFailed);
  EXPECT_EQ(world_.force_down_calls, policy_.force_down_max_attempts);
  EXPECT_EQ(totalEvacuations(), 0);
  EXPECT_TRUE(notified(NotificationKind::kRecoveryStuck));
}

TEST_F(EngineTest, NotificationsSurviveAFailingNotifier) {
  notifier_.failing = true;
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 20s);
  EXPECT_EQ(incidents()[0].phase, Phase::kDone);  // recovery did not wait for the mail
  EXPECT_FALSE(journal_.undeliveredOutbox()->empty());
  notifier_.failing = false;
  runFor(*engine, 10min);
  EXPECT_TRUE(journal_.undeliveredOutbox()->empty());
  EXPECT_TRUE(notified(NotificationKind::kEvacuationFinished));
}

// Invariant 4: the process dies right after any one of its journal commits (before the side
// effect that commit announces); a new engine on the same journal finishes the recovery and no
// instance is evacuated twice.
TEST_F(EngineTest, CrashAfterEveryJournaledStepResumesWithoutDoubleEvacuation) {
  // How many commits a clean run makes.
  int clean_commits = 0;
  {
    World clean_world = world_;
    MemoryJournal clean_journal;
    std::swap(world_, clean_world);
    DyingJournal counting(clean_journal, world_, -1);
    auto engine = makeEngine({Mode::kWorks}, counting);
    monitor_.down = {"compute-1"};
    runFor(*engine, 20s);
    clean_commits = counting.commits;
    ASSERT_EQ(clean_journal.recentIncidents(10)->at(0).phase, Phase::kDone);
    std::swap(world_, clean_world);
    monitor_.down.clear();
  }
  ASSERT_GT(clean_commits, 10);
  const World pristine = world_;
  for (int die_after = 1; die_after <= clean_commits; ++die_after) {
    SCOPED_TRACE("killed after commit " + std::to_string(die_after));
    world_ = pristine;
    MemoryJournal journal;
    monitor_.down = {"compute-1"};
    {
      DyingJournal dying(journal, world_, die_after);
      auto engine = makeEngine({Mode::kWorks}, dying);
      runFor(*engine, 20s);
    }
    world_.dead = false;  // restart
    auto engine = makeEngine({Mode::kWorks}, journal);
    runFor(*engine, 30s);
    auto all = journal.recentIncidents(10);
    ASSERT_TRUE(all.has_value());
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ(all->at(0).phase, Phase::kDone);
    for (const std::string id : {"vm1", "vm2", "vm3"}) {
      EXPECT_EQ(world_.evacuations[id], 1) << id;
    }
  }
}

TEST_F(EngineTest, ALiveNodesClosedServiceIsNeverFencedAndStatusNamesItUntilItAnswers) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.service_down = {"compute-2"};  // both sources: up, the probed port refuses
  runFor(*engine, 30s);                   // ten grace periods
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(world_.power["compute-2"], PowerState::kOn);
  core::GuardState state = guards();
  ASSERT_EQ(state.services_down.size(), 2U);  // one per source
  EXPECT_EQ(state.services_down[0].node, "compute-2");
  EXPECT_EQ(state.services_down[0].source, "src0");
  EXPECT_NE(state.services_down[0].detail.find("connection refused"), std::string::npos);
  const TimePoint since = state.services_down[0].since;
  runFor(*engine, 5s);
  EXPECT_EQ(guards().services_down.at(0).since, since) << "since the first cycle that saw it";

  monitor_.service_down.clear();  // the service restarted
  runFor(*engine, 1s);
  EXPECT_TRUE(guards().services_down.empty());
}

// A service down on every node of a large cloud (libvirtd restarted everywhere): the guards'
// state lists the first 100 (by node and source) and says how many there are.
TEST_F(EngineTest, ServicesDownOnEveryNodeAreCountedAndTheFirstHundredListed) {
  nodes_ = makeNodes(120);
  cloud_hosts_.clear();
  for (const Node& n : nodes_) {
    cloud_hosts_.push_back(n.hostname);
    monitor_.service_down.insert(n.hostname);
  }
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 5s);
  EXPECT_TRUE(incidents().empty());
  core::GuardState state = guards();
  EXPECT_EQ(state.services_down_total, 240U);  // two sources
  ASSERT_EQ(state.services_down.size(), core::kListedServicesDown);
  EXPECT_EQ(state.services_down.front().node, "compute-1");

  monitor_.service_down.erase("compute-1");
  runFor(*engine, 1s);
  state = guards();
  EXPECT_EQ(state.services_down_total, 238U);
  EXPECT_EQ(state.services_down.front().node, "compute-10");
}

}  // namespace
}  // namespace fdr::testing
