// Controller HA in the engine (safety invariant 3): a standby polls its monitors and keeps its
// detector warm but fences, evacuates, alerts and journals nothing; a new leader resumes every
// open incident from the shared journal and acts at its first tick; a deposed leader never
// acts again. On simulated time with scripted drivers; the election itself is
// src/ha/etcd_election (tests/ha).
#include <gtest/gtest.h>

#include "core/engine.h"
#include "core/engine_fixture.h"
#include "core/leadership_fixture.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

class EngineLeadershipTest : public EngineHarness {
 protected:
  EngineLeadershipTest() {
    for (int i = 1; i <= 3; ++i) {
      Instance vm;
      vm.id = "vm" + std::to_string(i);
      vm.name = vm.id;
      vm.host = "compute-1";
      vm.status = "ACTIVE";
      vm.project_id = "demo";
      world_.instances.push_back(vm);
    }
  }

  // An engine of a controller that is told by `leadership` whether it leads. Not resumed: it
  // resumes at its first tick as leader, as the daemon's HA mode does.
  std::unique_ptr<core::Engine> makeHaEngine(ScriptedLeadership& leadership, Journal& journal) {
    core::EngineDrivers drivers;
    drivers.monitors = {&monitor_};
    fencers_.push_back(std::make_unique<ScriptedFencer>(world_, Mode::kWorks));
    drivers.fencers.push_back({"level1", fencers_.back().get()});
    evacuators_.push_back(std::make_unique<ScriptedEvacuator>(world_, cloud_hosts_));
    drivers.evacuator = evacuators_.back().get();
    drivers.notifiers = {{"recorder", &notifier_}};
    drivers.leadership = &leadership;
    return std::make_unique<core::Engine>(policy_, drivers, journal, clock_, nodes_, executor_);
  }

  // Ticks both engines every 250 ms of simulated time for `duration`.
  void runBoth(core::Engine& a, core::Engine& b, Duration duration) {
    const TimePoint end = clock_.now() + duration;
    while (clock_.now() < end) {
      settledTick(a, executor_);
      settledTick(b, executor_);
      clock_.advance(250ms);
    }
  }

  int powerOffs() const {
    int n = 0;
    for (const auto& fencer : fencers_) n += fencer->off_calls;
    return n;
  }

  std::vector<Incident> incidents() {
    auto all = journal_.recentIncidents(100);
    EXPECT_TRUE(all.has_value());
    return all ? *all : std::vector<Incident>{};
  }

  std::vector<std::unique_ptr<ScriptedEvacuator>> evacuators_;
};

TEST_F(EngineLeadershipTest, AStandbyObservesButNeverActsNorJournals) {
  ScriptedLeadership standby;
  standby.standBy("another controller leads");
  auto engine = makeHaEngine(standby, journal_);
  monitor_.down = {"compute-1"};
  const core::TickSummary summary = runFor(*engine, 10s);
  EXPECT_TRUE(summary.standby);
  EXPECT_FALSE(summary.deposed);
  EXPECT_TRUE(summary.failed.contains("compute-1")) << "the standby's detector is warm";
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(powerOffs(), 0);
  EXPECT_TRUE(notifier_.sent.empty());
  EXPECT_FALSE(journal_.setting(core::kGuardsSetting)->has_value()) << "a standby writes nothing";
  for (const std::string& lane : executor_.lanes()) {
    EXPECT_TRUE(lane.starts_with("monitor:")) << "a standby made a call on " << lane;
  }
}

TEST_F(EngineLeadershipTest, ANewLeaderActsAtItsFirstTickOnAWarmDetector) {
  ScriptedLeadership leadership;
  leadership.standBy("another controller leads");
  auto engine = makeHaEngine(leadership, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 10s);  // well past the grace period, as a standby
  ASSERT_TRUE(incidents().empty());
  leadership.lead(2);
  settledTick(*engine, executor_);  // one instant: no grace period waited again
  const auto all = incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].node, "compute-1");
  EXPECT_EQ(powerOffs(), 1) << "the power-off goes out at the new leader's first tick";
}

TEST_F(EngineLeadershipTest, AFailoverMidEvacuationEvacuatesEveryInstanceOnce) {
  ScriptedLeadership a;
  ScriptedLeadership b;
  a.lead(1);
  b.standBy("a leads");
  auto first = makeHaEngine(a, journal_);
  auto second = makeHaEngine(b, journal_);
  world_.rebuild_polls = 20;  // rebuilds take a while: the failover comes in the middle
  monitor_.down = {"compute-1"};
  const TimePoint give_up = clock_.now() + 60s;
  while (clock_.now() < give_up && world_.evacuations.size() < 3) runBoth(*first, *second, 250ms);
  ASSERT_EQ(world_.evacuations.size(), 3u) << "every instance asked for by the first leader";
  ASSERT_EQ(incidents().at(0).phase, Phase::kEvacuating);

  a.standBy("lease not renewed");
  b.lead(2);
  core::TickSummary deposed = settledTick(*first, executor_);
  EXPECT_TRUE(deposed.deposed);
  runBoth(*first, *second, 30s);

  const auto all = incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].phase, Phase::kDone) << "the new leader finished the incident";
  for (const auto& [id, count] : world_.evacuations) EXPECT_EQ(count, 1) << id;
  EXPECT_EQ(powerOffs(), 1);

  a.lead(3);  // even leading again, a deposed engine never acts: its process restarts
  EXPECT_TRUE(settledTick(*first, executor_).deposed);
}

TEST_F(EngineLeadershipTest, ANewLeaderReissuesAPowerOffTheOldOneJournaled) {
  ScriptedLeadership a;
  ScriptedLeadership b;
  a.lead(1);
  b.standBy("a leads");
  world_.bmc_blocks = {"compute-1"};  // the first leader's power-off never answers
  auto first = makeHaEngine(a, journal_);
  auto second = makeHaEngine(b, journal_);
  monitor_.down = {"compute-1"};
  runBoth(*first, *second, 4s);
  ASSERT_EQ(incidents().size(), 1u);
  ASSERT_EQ(incidents()[0].phase, Phase::kFencing);
  a.standBy("lease not renewed");
  b.lead(2);
  world_.bmc_blocks.clear();
  runBoth(*first, *second, 20s);
  EXPECT_EQ(incidents()[0].phase, Phase::kDone);
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOff);
  for (const auto& [id, count] : world_.evacuations) EXPECT_EQ(count, 1) << id;
}

}  // namespace
}  // namespace fdr::testing
