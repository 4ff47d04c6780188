// The guards on simulated time: operator pause and resume, the isolation check, every node down
// at once, the per-tick fence cap and flapping nodes. Each test asserts what was fenced (the
// fencer's power-off calls, the journaled incidents), what the admins were told and what
// `status` reads from the journal.
#include <gtest/gtest.h>

#include "core/engine.h"
#include "core/engine_fixture.h"
#include "core/guard_state.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

// Reference points whose answers the test sets.
class FakeIsolationCheck final : public IsolationCheck {
 public:
  explicit FakeIsolationCheck(int points) {
    for (int i = 1; i <= points; ++i) {
      results.push_back({"10.0.0." + std::to_string(i) + ":22", true, "connected"});
    }
  }
  std::vector<ReferencePointResult> probe() override {
    probes += 1;
    return results;
  }
  [[nodiscard]] size_t size() const override { return results.size(); }
  void reachable(int how_many) {
    for (size_t i = 0; i < results.size(); ++i) {
      results[i].reachable = static_cast<int>(i) < how_many;
      results[i].detail = results[i].reachable ? "connected" : "no answer within 1000 ms";
    }
  }
  std::vector<ReferencePointResult> results;
  int probes = 0;
};

// A monitor standing for an API (Nova): no opinion on any node, only whether its poll works.
class ApiMonitor final : public Monitor {
 public:
  Result<std::vector<Observation>> poll(std::span<const Node>) override {
    if (executor != nullptr) {  // black-holed: the connect never completes
      executor->block();
      return fail(ErrorCode::kUnavailable, "released at the end of the test");
    }
    if (!reachable) return fail(ErrorCode::kUnavailable, "nova-api: connection timed out", true);
    return std::vector<Observation>{};
  }
  bool reachable = true;
  TestExecutor* executor = nullptr;  // set: every poll hangs
};

// A monitor standing for Nova's view of compute services an operator disabled by hand.
class MaintenanceMonitor final : public Monitor {
 public:
  explicit MaintenanceMonitor(Clock& clock) : clock_(clock) {}
  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    std::vector<Observation> out;
    for (const Node& n : nodes) {
      Observation o;
      o.node = n.hostname;
      o.source = "nova/state";
      o.at = clock_.now();
      o.operator_maintenance = disabled.contains(n.hostname);
      o.health = o.operator_maintenance ? Health::kUnknown : Health::kUp;
      o.detail = o.operator_maintenance ? "disabled by an operator: disk swap" : "";
      out.push_back(o);
    }
    return out;
  }
  std::set<std::string> disabled;

 private:
  Clock& clock_;
};

class GuardsTest : public ::testing::Test {
 protected:
  GuardsTest() : nodes_(makeNodes(4)), monitor_(clock_) {
    policy_.detector.grace = 3s;
    policy_.detector.min_sources = 2;
    policy_.detector.flap_max_recoveries = 3;
    policy_.detector.flap_window = 60s;
    policy_.fence_attempt_timeout = 5s;
    policy_.fence_deadline = 20s;
    policy_.instance_timeout = 60s;
    policy_.poll_interval = 250ms;  // one monitoring cycle per runFor() step
    for (int n = 1; n <= 4; ++n) {
      Instance vm;
      vm.id = "vm-" + std::to_string(n);
      vm.name = vm.id;
      vm.host = "compute-" + std::to_string(n);
      vm.status = "ACTIVE";
      vm.project_id = "demo";
      world_.instances.push_back(vm);
    }
  }

  std::unique_ptr<core::Engine> makeEngine() {
    core::EngineDrivers drivers;
    drivers.monitors = {&monitor_};
    fencer_ = std::make_unique<ScriptedFencer>(world_, Mode::kWorks);
    drivers.fencers = {{"level1", fencer_.get()}};
    evacuator_ = std::make_unique<ScriptedEvacuator>(
        world_, std::vector<std::string>{"compute-1", "compute-2", "compute-3", "compute-4"});
    drivers.evacuator = evacuator_.get();
    drivers.notifiers = {{"recorder", &notifier_}};
    if (isolation_) drivers.isolation = isolation_.get();
    if (nova_) {
      drivers.monitors.push_back(nova_.get());
      drivers.reference_monitors = {{"nova API (monitor poll)", nova_.get()}};
    }
    auto engine =
        std::make_unique<core::Engine>(policy_, drivers, journal_, clock_, nodes_, executor_);
    EXPECT_TRUE(engine->resume().has_value());
    return engine;
  }

  // Ticks every 250 ms of simulated time for `duration`; returns the last summary.
  core::TickSummary runFor(core::Engine& engine, Duration duration) {
    core::TickSummary last;
    const TimePoint end = clock_.now() + duration;
    while (clock_.now() < end) {
      last = settledTick(engine, executor_);
      clock_.advance(250ms);
    }
    return last;
  }

  void command(const std::string& kind, const std::string& who, const std::string& reason = "",
               const std::string& node = "") {
    ASSERT_TRUE(journal_
                    .enqueueCommand(OperatorCommand{.id = 0,
                                                    .kind = kind,
                                                    .node = node,
                                                    .who = who,
                                                    .at = clock_.now(),
                                                    .reason = reason})
                    .has_value());
  }

  std::vector<Incident> incidents() {
    auto all = journal_.recentIncidents(100);
    EXPECT_TRUE(all.has_value());
    return all ? *all : std::vector<Incident>{};
  }

  // compute-1 goes down for `down` and comes back for `up`, `times` times.
  void flap(core::Engine& engine, int times, Duration down, Duration up) {
    for (int i = 0; i < times; ++i) {
      monitor_.down = {"compute-1"};
      runFor(engine, down);
      monitor_.down.clear();
      runFor(engine, up);
    }
  }

  int totalEvacuations() const {
    int n = 0;
    for (const auto& [id, count] : world_.evacuations) n += count;
    return n;
  }

  std::set<std::string> fencedNodes() {
    std::set<std::string> out;
    for (const Incident& i : incidents()) out.insert(i.node);
    return out;
  }

  int alerts(const std::string& subject_part) const {
    return static_cast<int>(
        std::count_if(notifier_.sent.begin(), notifier_.sent.end(), [&](const Notification& n) {
          return n.kind == NotificationKind::kGuardTripped &&
                 n.subject.find(subject_part) != std::string::npos;
        }));
  }

  // Guard alerts queued in the journal's outbox (delivered or not).
  int journalAlerts(const std::string& subject_part) {
    auto items = journal_.undeliveredOutbox();
    EXPECT_TRUE(items.has_value());
    int n = alerts(subject_part);
    if (!items) return n;
    for (const OutboxItem& item : *items) {
      if (item.notification.kind == NotificationKind::kGuardTripped &&
          item.notification.subject.find(subject_part) != std::string::npos) {
        n += 1;
      }
    }
    return n;
  }

  core::GuardState guards() {
    auto text = journal_.setting(core::kGuardsSetting);
    EXPECT_TRUE(text.has_value() && text->has_value());
    if (!text || !*text) return {};
    auto state = core::guardStateFromJson(**text);
    EXPECT_TRUE(state.has_value()) << state.error().message;
    return state ? *state : core::GuardState{};
  }

  static bool anyContains(const std::vector<std::string>& lines, const std::string& part) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(part) != std::string::npos; });
  }

  FakeClock clock_;
  std::vector<Node> nodes_;
  World world_;
  ScriptedMonitor monitor_;
  std::unique_ptr<ScriptedFencer> fencer_;
  std::unique_ptr<ScriptedEvacuator> evacuator_;
  std::unique_ptr<FakeIsolationCheck> isolation_;
  std::unique_ptr<ApiMonitor> nova_;
  RecordingNotifier notifier_;
  MemoryJournal journal_;
  core::EnginePolicy policy_;
  TestExecutor executor_;  // last: its workers return before the drivers go
};

// --- pause / resume

// The guards' state is written without building its tree (a list entry at a time): the same
// text as the tree's, read back whole. The summary leaves out only the per-node lists.
TEST(GuardStateTextTest, TheStreamedTextIsTheTreesTextAndReadsBack) {
  const TimePoint t0 = TimePoint{} + std::chrono::hours(24 * 365 * 50);
  core::GuardState state;
  state.isolation = "2 of 3 reference points unreachable: \"quoted\" ünïcode";
  state.isolated_since = t0;
  state.flapping = {{.node = "c1", .recoveries = 3, .since = t0 + 1s}};
  state.deferred = {"c2", "c3"};
  state.vetoes = {"c4: paused"};
  state.storm = "5 nodes failed within 10m (limit 3)";
  state.storm_since = t0 + 2s;
  state.storm_window = {{.node = "c5", .failed_at = t0, .counts_until = t0 + 600s}};
  for (int i = 0; i < 3; ++i) {
    const std::string node = "n" + std::to_string(i);
    state.unprotected.push_back(
        {.node = node, .cause = "bmc", .reason = "wrong password\n", .since = t0 + 3s});
    state.services_down.push_back(
        {.node = node, .source = "probe/mgmt", .detail = "refused", .since = t0 + 4s});
  }
  state.services_down_total = 7;  // more than are listed
  const std::string text = core::dumpGuardState(state);
  EXPECT_EQ(text, core::toJson(state).dump());
  auto back = core::guardStateFromJson(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, state);
  EXPECT_EQ(core::dumpGuardState(core::GuardState{}), core::toJson(core::GuardState{}).dump());

  const std::string summary = core::dumpGuardStateSummary(state);
  core::GuardState without_node_lists = state;
  without_node_lists.unprotected.clear();
  without_node_lists.services_down.clear();
  EXPECT_EQ(summary, core::toJson(without_node_lists).dump());
  core::GuardState other_flapping = state;
  other_flapping.flapping[0].recoveries = 4;
  EXPECT_NE(core::dumpGuardStateSummary(other_flapping), summary);
}

TEST_F(GuardsTest, PauseFencesNothingAlertsAndIsJournaledThenResumeFences) {
  auto engine = makeEngine();
  command("pause", "alice", "switch upgrade in rack 4");
  runFor(*engine, 1s);
  // Journaled: the flag the engine obeys, and who, when and why for `status`.
  auto paused = journal_.setting(core::kPausedSetting);
  ASSERT_TRUE(paused.has_value());
  EXPECT_EQ(paused->value_or(""), "1");
  auto pause_text = journal_.setting(core::kPauseSetting);
  ASSERT_TRUE(pause_text.has_value() && pause_text->has_value());
  auto pause = core::pauseStateFromJson(**pause_text);
  ASSERT_TRUE(pause.has_value()) << pause.error().message;
  EXPECT_TRUE(pause->paused);
  EXPECT_EQ(pause->by, "alice");
  EXPECT_EQ(pause->reason, "switch upgrade in rack 4");
  EXPECT_EQ(alerts("automatic fencing paused by alice"), 1);

  monitor_.down = {"compute-1"};
  const auto summary = runFor(*engine, 30s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencer_->off_calls, 0);
  ASSERT_EQ(summary.vetoes.size(), 1u);
  EXPECT_NE(summary.vetoes[0].find("paused"), std::string::npos) << summary.vetoes[0];
  EXPECT_EQ(alerts("compute-1 failed: NOT fenced"), 1);  // once, not at every tick
  EXPECT_TRUE(anyContains(guards().vetoes, "compute-1: automatic fencing is paused"));

  command("resume", "bob");
  runFor(*engine, 10s);
  EXPECT_EQ(journal_.setting(core::kPausedSetting)->value_or(""), "0");
  EXPECT_EQ(alerts("resumed"), 0);  // logged, not a guard notice
  ASSERT_EQ(incidents().size(), 1u);
  EXPECT_EQ(incidents()[0].node, "compute-1");
  EXPECT_EQ(incidents()[0].phase, Phase::kDone);
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOff);
  EXPECT_TRUE(guards().vetoes.empty());
}

TEST_F(GuardsTest, PauseLetsARecoveryUnderWayFinishAndAFenceByHandStillWorks) {
  world_.rebuild_polls = 40;  // evacuations take ~10 s of ticks
  auto engine = makeEngine();
  monitor_.down = {"compute-1"};
  runFor(*engine, 5s);
  ASSERT_EQ(incidents().size(), 1u);
  ASSERT_EQ(incidents()[0].phase, Phase::kEvacuating);
  command("pause", "alice");
  command("fence", "carol", "", "compute-3");  // by hand: no guard applies
  runFor(*engine, 30s);
  const auto all = incidents();
  ASSERT_EQ(all.size(), 2u);
  for (const Incident& i : all) EXPECT_EQ(i.phase, Phase::kDone) << i.node;
  EXPECT_EQ(fencedNodes(), (std::set<std::string>{"compute-1", "compute-3"}));
  EXPECT_EQ(world_.evacuations["vm-1"], 1);
  EXPECT_EQ(world_.evacuations["vm-3"], 1);
}

// --- isolation

TEST_F(GuardsTest, APartitionedControllerFencesNothingAndAlertsOnce) {
  isolation_ = std::make_unique<FakeIsolationCheck>(3);
  isolation_->reachable(1);
  auto engine = makeEngine();
  monitor_.down = {"compute-1"};
  const auto summary = runFor(*engine, 30s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencer_->off_calls, 0);
  EXPECT_EQ(totalEvacuations(), 0);
  EXPECT_NE(summary.isolation.find("reaches 1 of its 3 reference points (2 needed)"),
            std::string::npos)
      << summary.isolation;
  EXPECT_NE(summary.isolation.find("10.0.0.3:22 (no answer within 1000 ms)"), std::string::npos)
      << summary.isolation;
  EXPECT_EQ(alerts("the controller looks isolated"), 1);
  const core::GuardState state = guards();
  EXPECT_EQ(state.isolation, summary.isolation);
  EXPECT_TRUE(state.isolated_since.has_value());

  isolation_->reachable(2);  // a majority answers again
  runFor(*engine, 10s);
  ASSERT_EQ(incidents().size(), 1u);
  EXPECT_EQ(incidents()[0].node, "compute-1");
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOff);
  EXPECT_TRUE(guards().isolation.empty());
}

TEST_F(GuardsTest, TheReferencePointsAreProbedAtEveryPollCycle) {
  // Isolation is seen while it lasts (issue #12), not only when a fence is about to be made: one
  // check per monitoring cycle, with or without failed nodes.
  isolation_ = std::make_unique<FakeIsolationCheck>(1);
  auto engine = makeEngine();
  runFor(*engine, 20s);  // 80 cycles of 250 ms
  EXPECT_GE(isolation_->probes, 79);
  EXPECT_LE(isolation_->probes, 81);
  monitor_.down = {"compute-2"};
  runFor(*engine, 10s);
  EXPECT_GE(isolation_->probes, 119);
  EXPECT_LE(isolation_->probes, 121);
  EXPECT_EQ(fencedNodes(), std::set<std::string>{"compute-2"});
}

TEST_F(GuardsTest, AFailedNovaPollIsAnUnreachableReferencePoint) {
  isolation_ = std::make_unique<FakeIsolationCheck>(1);  // reachable
  nova_ = std::make_unique<ApiMonitor>();
  nova_->reachable = false;  // 1 of 2 points: a majority of 2 is 2
  auto engine = makeEngine();
  monitor_.down = {"compute-1"};
  const auto summary = runFor(*engine, 20s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_NE(summary.isolation.find("nova API (monitor poll) (its last poll failed)"),
            std::string::npos)
      << summary.isolation;
  nova_->reachable = true;
  runFor(*engine, 10s);
  EXPECT_EQ(fencedNodes(), std::set<std::string>{"compute-1"});
}

TEST_F(GuardsTest, EveryNodeDownAtOnceIsIsolationNotAStorm) {
  policy_.storm_max_nodes = 10;  // the storm guard alone would let it through
  policy_.storm_max_percent = 100;
  auto engine = makeEngine();
  monitor_.down = {"compute-1", "compute-2", "compute-3", "compute-4"};
  const auto summary = runFor(*engine, 30s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencer_->off_calls, 0);
  ASSERT_EQ(summary.vetoes.size(), 4u);
  for (const std::string& veto : summary.vetoes) {
    EXPECT_NE(veto.find("isolation"), std::string::npos) << veto;
    EXPECT_EQ(veto.find("storm"), std::string::npos) << veto;
  }
  EXPECT_NE(summary.isolation.find("all 4 nodes are down at once"), std::string::npos)
      << summary.isolation;
  EXPECT_EQ(alerts("the controller looks isolated"), 1);
}

TEST_F(GuardsTest, EveryNodeDownSaysIsolationEvenWhereTheStormGuardWouldVeto) {
  auto engine = makeEngine();  // default storm guard: at most 2 nodes
  monitor_.down = {"compute-1", "compute-2", "compute-3", "compute-4"};
  const auto summary = runFor(*engine, 10s);
  EXPECT_TRUE(incidents().empty());
  ASSERT_EQ(summary.vetoes.size(), 4u);
  EXPECT_NE(summary.vetoes[0].find("isolation"), std::string::npos) << summary.vetoes[0];
}

TEST_F(GuardsTest, AllButOneNodeDownIsNotIsolation) {
  policy_.storm_max_nodes = 10;
  policy_.storm_max_percent = 100;
  policy_.max_fences_per_tick = 3;
  auto engine = makeEngine();
  monitor_.down = {"compute-1", "compute-2", "compute-3"};
  const auto summary = runFor(*engine, 30s);
  EXPECT_TRUE(summary.isolation.empty()) << summary.isolation;
  EXPECT_EQ(fencedNodes(), (std::set<std::string>{"compute-1", "compute-2", "compute-3"}));
}

// --- fence cap

TEST_F(GuardsTest, TheFenceCapDelaysTheSecondFenceToTheNextTick) {
  policy_.max_fences_per_tick = 1;
  auto engine = makeEngine();
  monitor_.down = {"compute-1", "compute-2"};
  core::TickSummary summary;
  for (int tick = 0; tick < 40 && incidents().empty(); ++tick) {
    summary = settledTick(*engine, executor_);
    clock_.advance(250ms);
  }
  ASSERT_EQ(incidents().size(), 1u);
  EXPECT_EQ(incidents()[0].node, "compute-1");
  EXPECT_EQ(summary.deferred, std::set<std::string>{"compute-2"});
  EXPECT_FALSE(summary.settled());  // `check` keeps ticking for it
  EXPECT_EQ(guards().deferred, std::vector<std::string>{"compute-2"});
  EXPECT_TRUE(summary.vetoes.empty());  // waiting, not vetoed

  summary = settledTick(*engine, executor_);
  EXPECT_EQ(fencedNodes(), (std::set<std::string>{"compute-1", "compute-2"}));
  EXPECT_TRUE(summary.deferred.empty());
  runFor(*engine, 10s);
  for (const Incident& i : incidents()) EXPECT_EQ(i.phase, Phase::kDone) << i.node;
}

TEST_F(GuardsTest, ALargerFenceCapFencesBothInOneTick) {
  policy_.max_fences_per_tick = 2;
  auto engine = makeEngine();
  monitor_.down = {"compute-1", "compute-2"};
  core::TickSummary summary;
  for (int tick = 0; tick < 40 && incidents().empty(); ++tick) {
    summary = settledTick(*engine, executor_);
    clock_.advance(250ms);
  }
  EXPECT_EQ(fencedNodes(), (std::set<std::string>{"compute-1", "compute-2"}));
  EXPECT_TRUE(summary.deferred.empty());
}

// --- flapping

TEST_F(GuardsTest, AFlappingNodeIsNeverFencedAndTheAdminsAreToldOnce) {
  auto engine = makeEngine();
  flap(*engine, 4, 1s, 1s);  // short blips, within the grace period
  // Now it stays down longer than the grace period each time: a plain failure, but it flaps.
  flap(*engine, 8, 5s, 1s);
  monitor_.down = {"compute-1"};
  const auto summary = runFor(*engine, 5s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencer_->off_calls, 0);
  EXPECT_TRUE(summary.flapping.contains("compute-1"));
  ASSERT_EQ(summary.vetoes.size(), 1u);
  EXPECT_EQ(summary.vetoes[0], "compute-1: flapping");
  EXPECT_EQ(alerts("compute-1 is flapping"), 1);
  EXPECT_EQ(alerts("compute-1 failed: NOT fenced"), 0);  // the flapping alert said it
  const core::GuardState state = guards();
  ASSERT_EQ(state.flapping.size(), 1u);
  EXPECT_EQ(state.flapping[0].node, "compute-1");
  EXPECT_GT(state.flapping[0].recoveries, 3);
}

TEST_F(GuardsTest, WithoutTheFlapsBeforeTheSameFailureIsFenced) {
  auto engine = makeEngine();
  flap(*engine, 1, 5s, 1s);
  EXPECT_EQ(fencedNodes(), std::set<std::string>{"compute-1"});
  EXPECT_EQ(alerts("is flapping"), 0);
}

TEST_F(GuardsTest, AFlappingNodeThatStaysDownIsFencedOnceItsFlapsAreOld) {
  auto engine = makeEngine();
  flap(*engine, 4, 1s, 1s);
  monitor_.down = {"compute-1"};
  runFor(*engine, 30s);
  EXPECT_TRUE(incidents().empty());  // still within the 60 s window
  runFor(*engine, 40s);
  EXPECT_EQ(fencedNodes(), std::set<std::string>{"compute-1"});
  EXPECT_TRUE(guards().flapping.empty());
}

// A node an operator took out of service in Nova (disabled by hand) is never fenced, even when
// two other sources see it down; once the operator enables it again, a failure is fenced.
TEST_F(GuardsTest, ANodeAnOperatorDisabledIsNeverFenced) {
  MaintenanceMonitor nova(clock_);
  nova.disabled = {"compute-1"};
  auto engine = makeEngine();
  core::EngineDrivers drivers;
  drivers.monitors = {&monitor_, &nova};
  drivers.fencers = {{"level1", fencer_.get()}};
  drivers.evacuator = evacuator_.get();
  drivers.notifiers = {{"recorder", &notifier_}};
  engine = std::make_unique<core::Engine>(policy_, drivers, journal_, clock_, nodes_, executor_);
  ASSERT_TRUE(engine->resume().has_value());

  monitor_.down = {"compute-1"};
  const core::TickSummary summary = runFor(*engine, 20s);
  EXPECT_TRUE(summary.failed.contains("compute-1"));  // the detector says so...
  EXPECT_TRUE(fencedNodes().empty());                 // ...but nothing is fenced
  EXPECT_EQ(world_.power["compute-1"], PowerState::kOn);
  EXPECT_EQ(alerts("taken out of service by an operator"), 1);

  nova.disabled.clear();  // back from maintenance, and still down: now it is a failure
  runFor(*engine, 20s);
  EXPECT_EQ(fencedNodes(), (std::set<std::string>{"compute-1"}));
}

TEST_F(GuardsTest, ACutOffControllerAlertsWithinTwoPollsWhileTheCutLasts) {
  // Every dependency black-holed: the Nova poll never answers (it hangs, as a connect to a
  // dropped address does) and no reference point answers. No node has failed: the alert must
  // not wait for a fence to be at stake, nor for the path to come back (issue #12, item 6).
  isolation_ = std::make_unique<FakeIsolationCheck>(3);
  nova_ = std::make_unique<ApiMonitor>();
  auto engine = makeEngine();
  runFor(*engine, 2s);
  ASSERT_EQ(alerts("the controller looks isolated"), 0);
  isolation_->reachable(0);
  nova_->executor = &executor_;
  const TimePoint cut_at = clock_.now();
  while (journalAlerts("the controller looks isolated") == 0 && clock_.now() - cut_at <= 2s) {
    settledTick(*engine, executor_);
    clock_.advance(250ms);
  }
  EXPECT_EQ(journalAlerts("the controller looks isolated"), 1);
  // Queued at the tick of the second cycle that saw the cut: two poll intervals after it.
  EXPECT_LE(clock_.now() - cut_at, 2 * policy_.poll_interval + 250ms);
  EXPECT_EQ(fencer_->off_calls, 0);
}

}  // namespace
}  // namespace fdr::testing
