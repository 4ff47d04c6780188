// The storm guard's window (core/storm_guard.h, docs/guards.md Storm), on simulated time: a node
// freezer-dr fenced keeps counting toward the storm guard for the storm window after its
// failure, so a rolling failure is held at the limit; a fence by hand counts; the window
// survives a restart; a node back in service stops counting; one alert per storm episode.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "core/engine.h"
#include "core/engine_fixture.h"
#include "core/guard_state.h"
#include "core/storm_guard.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;
using core::StormGuard;
using core::StormLimits;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);

TEST(StormGuardTest, CountsTheNodesDownNowAndThoseFailedWithinTheWindowOnce) {
  StormGuard guard(StormLimits{.max_nodes = 2, .max_percent = 100, .window = 10min});
  guard.failed("a", kT0);
  guard.failed("b", kT0 + 1min);
  auto verdict = guard.judge(kT0 + 2min, {"b", "c"}, 10);
  EXPECT_EQ(verdict.counted, 3u);  // a (window), b (window and down), c (down)
  EXPECT_EQ(verdict.why, "storm guard: 3 nodes down or failed within 10 min (limit 2)");
  EXPECT_EQ(verdict.nodes, (std::vector<std::string>{"a", "b", "c"}));

  // a's failure counts until kT0 + 10 min, b's until kT0 + 11 min.
  verdict = guard.judge(kT0 + 10min, {"c"}, 10);
  EXPECT_EQ(verdict.counted, 2u);
  EXPECT_TRUE(verdict.why.empty());
  EXPECT_TRUE(verdict.nodes.empty());
  ASSERT_EQ(guard.recentFailures().size(), 1u);
  EXPECT_EQ(
      guard.recentFailures()[0],
      (core::StormFailure{.node = "b", .failed_at = kT0 + 1min, .counts_until = kT0 + 11min}));
}

TEST(StormGuardTest, TheLimitIsAPercentageOfTheInventoryToo) {
  StormGuard guard(StormLimits{.max_nodes = 100, .max_percent = 50, .window = 10min});
  EXPECT_TRUE(guard.judge(kT0, {"a", "b"}, 4).why.empty());  // 50 % is within the limit
  guard.failed("c", kT0);
  EXPECT_EQ(guard.judge(kT0, {"a", "b"}, 4).why,
            "storm guard: 3 of 4 nodes down or failed within 10 min (limit 50%)");
  EXPECT_EQ(guard.judge(kT0, {"a", "b", "c"}, 5).why.find("3 of 5 nodes"), 13u);
}

TEST(StormGuardTest, ANodeBackInServiceNoLongerCounts) {
  StormGuard guard(StormLimits{.max_nodes = 1, .max_percent = 100, .window = 10min});
  guard.failed("a", kT0);
  EXPECT_FALSE(guard.judge(kT0 + 1min, {"b"}, 10).why.empty());
  guard.backInService("a");
  EXPECT_TRUE(guard.judge(kT0 + 1min, {"b"}, 10).why.empty());
}

TEST(StormGuardTest, AZeroWindowCountsOnlyTheNodesDownNow) {
  StormGuard guard(StormLimits{.max_nodes = 1, .max_percent = 100, .window = 0s});
  guard.failed("a", kT0);
  const auto verdict = guard.judge(kT0, {"b"}, 10);
  EXPECT_EQ(verdict.counted, 1u);
  EXPECT_TRUE(verdict.why.empty());
}

TEST(StormGuardTest, OneEpisodeWhateverTheCountUntilItIsBackWithinTheLimits) {
  StormGuard guard(StormLimits{.max_nodes = 1, .max_percent = 100, .window = 0s});
  EXPECT_FALSE(guard.startEpisode());  // no storm, no episode
  (void)guard.judge(kT0, {"a", "b"}, 10);
  EXPECT_EQ(guard.episodeSince(), kT0);
  EXPECT_TRUE(guard.startEpisode());
  (void)guard.judge(kT0 + 1s, {"a", "b", "c"}, 10);  // the count moves: the same episode
  EXPECT_FALSE(guard.startEpisode());
  EXPECT_EQ(guard.episodeSince(), kT0);
  (void)guard.judge(kT0 + 2s, {"a"}, 10);  // over
  EXPECT_FALSE(guard.episodeSince());
  (void)guard.judge(kT0 + 3s, {"a", "d"}, 10);  // a new storm
  EXPECT_TRUE(guard.startEpisode());
  guard.alertNotQueued();  // the journal refused it: asked again
  EXPECT_TRUE(guard.startEpisode());
  EXPECT_EQ(guard.episodeSince(), kT0 + 3s);
}

class StormWindowTest : public EngineHarness {
 protected:
  StormWindowTest() {
    // The fixture's 4 nodes; a third of a 3-node lab: more than one node failed at once or
    // within the window is a storm.
    policy_.storm_max_nodes = 1;
    policy_.storm_max_percent = 100;
    policy_.storm_window = 10min;
  }

  std::vector<Incident> incidents(Journal& journal) {
    auto all = journal.recentIncidents(100);
    EXPECT_TRUE(all.has_value());
    return all ? *all : std::vector<Incident>{};
  }

  // `host` fails, is fenced and evacuated; it stays off (one source still says down, so it is
  // never seen up).
  void recover(core::Engine& engine, const std::string& host) {
    monitor_.down.insert(host);
    runFor(engine, 20s);
    const auto all = incidents(journal_);
    ASSERT_FALSE(all.empty());
    ASSERT_EQ(all.front().node, host);
    ASSERT_EQ(all.front().phase, Phase::kDone);
    monitor_.down.erase(host);
    monitor_.sources_down[host] = 1;
  }

  int stormAlerts() const {
    return static_cast<int>(
        std::count_if(notifier_.sent.begin(), notifier_.sent.end(), [](const Notification& n) {
          return n.kind == NotificationKind::kGuardTripped &&
                 n.subject.find("storm guard") != std::string::npos;
        }));
  }
};

TEST_F(StormWindowTest, ARollingFailureIsHeldUntilTheFirstFailureIsOutOfTheWindow) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  recover(*engine, "compute-1");
  const TimePoint first_failed = incidents(journal_).front().detected_at;
  ASSERT_EQ(fencers_[0]->off_calls, 1);

  runFor(*engine, 30s);
  monitor_.down.insert("compute-2");  // 30 s later, a second host
  core::TickSummary summary = runFor(*engine, 30s);
  EXPECT_EQ(incidents(journal_).size(), 1u);
  EXPECT_EQ(fencers_[0]->off_calls, 1);  // compute-2 is not fenced
  ASSERT_EQ(summary.vetoes.size(), 1u);
  EXPECT_EQ(summary.vetoes[0],
            "compute-2: storm guard: 2 nodes down or failed within 10 min (limit 1)");
  EXPECT_EQ(stormAlerts(), 1);
  const auto alert = std::find_if(notifier_.sent.begin(), notifier_.sent.end(), [](auto& n) {
    return n.subject.find("storm guard") != std::string::npos;
  });
  EXPECT_NE(alert->summary.find("compute-1, compute-2"), std::string::npos) << alert->summary;

  // `status` shows what counts and until when.
  const core::GuardState state = guards();
  EXPECT_EQ(state.storm, "storm guard: 2 nodes down or failed within 10 min (limit 1)");
  ASSERT_EQ(state.storm_window.size(), 1u);
  EXPECT_EQ(state.storm_window[0].node, "compute-1");
  EXPECT_EQ(state.storm_window[0].counts_until, first_failed + 10min);

  // Held, with no more alerts, until compute-1's failure leaves the window; then fenced.
  while (clock_.now() < first_failed + 10min - 1s) {
    summary = runFor(*engine, 1s);
    ASSERT_EQ(fencers_[0]->off_calls, 1) << "fenced at " << formatTime(clock_.now())
                                         << ", first failure at " << formatTime(first_failed);
  }
  runFor(*engine, 20s);
  const auto all = incidents(journal_);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.front().node, "compute-2");
  EXPECT_GE(all.front().detected_at, first_failed + 10min);
  EXPECT_EQ(stormAlerts(), 1);
}

// A storm over a large cloud whose count moves at every tick (one more node down each time) is
// one storm alert for the whole episode, never one per count: alerts are de-duplicated by guard
// and episode, not by their text. The count stays current in the guards' state (`status`).
TEST_F(StormWindowTest, AStormWhoseCountMovesEveryTickIsOneAlertWithTheCountCurrentInStatus) {
  nodes_ = makeNodes(400);
  policy_.storm_max_nodes = 5;
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 5s);
  for (int i = 1; i <= 200; ++i) {
    monitor_.down.insert("compute-" + std::to_string(i));
    runFor(*engine, 250ms);  // one tick
    if (i > 5) {
      const std::string storm = guards().storm;
      EXPECT_EQ(storm.rfind(fmt::format("storm guard: {} nodes down", i), 0), 0U)
          << "tick " << i << ": " << storm;
    }
  }
  runFor(*engine, 10s);
  EXPECT_EQ(fencers_[0]->off_calls, 0);
  EXPECT_EQ(stormAlerts(), 1);
  const auto guard_notices = std::count_if(
      notifier_.sent.begin(), notifier_.sent.end(),
      [](const Notification& n) { return n.kind == NotificationKind::kGuardTripped; });
  EXPECT_EQ(guard_notices, 1) << "every guard notice: " << notifier_.sent.size();
  EXPECT_EQ(guards().storm.rfind("storm guard: 200 nodes down", 0), 0U) << guards().storm;
}

TEST_F(StormWindowTest, TheWindowSurvivesARestart) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  recover(*engine, "compute-1");
  engine.reset();  // the daemon restarts 30 s later
  clock_.advance(30s);

  auto restarted = makeEngine({Mode::kWorks}, journal_);
  monitor_.down.insert("compute-2");
  const core::TickSummary summary = runFor(*restarted, 30s);
  EXPECT_EQ(incidents(journal_).size(), 1u);
  ASSERT_EQ(summary.vetoes.size(), 1u);
  EXPECT_NE(summary.vetoes[0].find("failed within 10 min"), std::string::npos);
}

TEST_F(StormWindowTest, AFenceByHandCounts) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.sources_down["compute-1"] = 1;  // once off, one source sees it down: not seen up
  OperatorCommand fence;
  fence.kind = "fence";
  fence.node = "compute-1";
  fence.who = "alice";
  fence.at = clock_.now();
  ASSERT_TRUE(journal_.enqueueCommand(fence).has_value());
  runFor(*engine, 20s);
  ASSERT_EQ(incidents(journal_).size(), 1u);

  monitor_.down.insert("compute-2");
  const core::TickSummary summary = runFor(*engine, 30s);
  EXPECT_EQ(incidents(journal_).size(), 1u);
  EXPECT_EQ(fencers_[0]->off_calls, 1);
  EXPECT_EQ(summary.vetoes.size(), 1u);
}

TEST_F(StormWindowTest, ANodeSeenUpAgainNoLongerCounts) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  recover(*engine, "compute-1");
  monitor_.sources_down.erase("compute-1");  // every source sees it up: returned to service
  runFor(*engine, 5s);
  EXPECT_TRUE(guards().storm_window.empty());

  monitor_.down.insert("compute-2");
  runFor(*engine, 20s);
  const auto all = incidents(journal_);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.front().node, "compute-2");
  EXPECT_EQ(stormAlerts(), 0);
}

TEST_F(StormWindowTest, ANodeVetoedThatCameBackDoesNotCount) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1", "compute-2"};  // a storm: neither is fenced
  runFor(*engine, 20s);
  EXPECT_TRUE(incidents(journal_).empty());
  monitor_.down.clear();  // both come back on their own: they were alive
  runFor(*engine, 5s);
  EXPECT_TRUE(guards().storm.empty());

  monitor_.down = {"compute-3"};
  runFor(*engine, 20s);
  ASSERT_EQ(incidents(journal_).size(), 1u);
  EXPECT_EQ(stormAlerts(), 1);  // the first storm's, and no other
}

TEST_F(StormWindowTest, OneStormAlertPerEpisodeHoweverTheCountMoves) {
  policy_.storm_window = 0s;  // only the nodes down at once
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1", "compute-2"};
  runFor(*engine, 10s);
  monitor_.down.insert("compute-3");
  runFor(*engine, 10s);
  monitor_.down.erase("compute-1");
  runFor(*engine, 10s);
  EXPECT_EQ(stormAlerts(), 1);
  EXPECT_EQ(guards().storm, "storm guard: 2 nodes down at once (limit 1)");
  EXPECT_TRUE(incidents(journal_).empty());

  monitor_.down.clear();  // over
  runFor(*engine, 5s);
  EXPECT_TRUE(guards().storm.empty());
  monitor_.down = {"compute-1", "compute-4"};  // a second storm
  runFor(*engine, 10s);
  EXPECT_EQ(stormAlerts(), 2);
}

}  // namespace
}  // namespace fdr::testing
