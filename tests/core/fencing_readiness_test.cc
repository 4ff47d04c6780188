// Fencing readiness (core/fencing_readiness.h, docs/guards.md Fencing readiness), on simulated
// time: every node's first fencing level is asked for the power state at start-up and once per
// check interval, spread over it and bounded; a node whose check fails is unprotected in
// `status` with the reason and since when; the admins are told once per node and cause, and
// once when it is protected again; a hanging BMC holds only its own slot; a restart does not
// tell again what was told.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/engine.h"
#include "core/engine_fixture.h"
#include "core/fencing_readiness.h"
#include "core/guard_state.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;
using core::FencingReadiness;
using core::ReadinessChange;
using core::ReadinessPolicy;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);
const std::pair<std::string, std::string> kBadPassword{"ipmi:credentials", "wrong password"};

TEST(FencingReadinessTest, EveryNodeIsDueAtStartUpAtMostSlotsAtATime) {
  FencingReadiness r(ReadinessPolicy{.interval = 4min, .concurrency = 2}, {"a", "b", "c"}, kT0);
  EXPECT_EQ(r.due(kT0, 2), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.checking(), 2u);
  EXPECT_EQ(r.due(kT0, 2), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(r.due(kT0 + 1h, 5).empty()) << "being checked: not due again";
}

TEST(FencingReadinessTest, PeriodicChecksFallAtEachNodesOwnOffsetWithinTheInterval) {
  FencingReadiness r(ReadinessPolicy{.interval = 4min, .concurrency = 4}, {"a", "b", "c", "d"},
                     kT0);
  for (const std::string& n : r.due(kT0, 4)) EXPECT_FALSE(r.checked(n, kT0 + 1s, std::nullopt));
  // a at +4 min, b at +5, c at +6, d at +7: an even trickle, not a burst every 4 min.
  EXPECT_EQ(r.nextDue(), kT0 + 4min);
  EXPECT_TRUE(r.due(kT0 + 4min - 1ms, 4).empty());
  EXPECT_EQ(r.due(kT0 + 4min, 4), (std::vector<std::string>{"a"}));
  EXPECT_EQ(r.due(kT0 + 5min, 4), (std::vector<std::string>{"b"}));
  EXPECT_EQ(r.due(kT0 + 7min, 4), (std::vector<std::string>{"c", "d"}));
  // Its check ended late (at +7 min): its slot at +8 min is too soon after (less than half an
  // interval), so the next is at +12.
  EXPECT_FALSE(r.checked("a", kT0 + 7min, std::nullopt));
  EXPECT_TRUE(r.due(kT0 + 11min, 4).empty());
  EXPECT_EQ(r.due(kT0 + 12min, 4), (std::vector<std::string>{"a"}));
}

TEST(FencingReadinessTest, ANodeIsNeverCheckedAgainWithinHalfAnInterval) {
  FencingReadiness r(ReadinessPolicy{.interval = 4min, .concurrency = 4}, {"a", "b"}, kT0);
  (void)r.due(kT0, 4);
  // b's slot is at +2 min; its start-up check took until +1 min 59 s.
  (void)r.checked("a", kT0 + 1s, std::nullopt);
  (void)r.checked("b", kT0 + 119s, std::nullopt);
  EXPECT_TRUE(r.due(kT0 + 2min, 4).empty());
  EXPECT_EQ(r.due(kT0 + 4min, 4), (std::vector<std::string>{"a"}));
  EXPECT_EQ(r.due(kT0 + 6min, 4), (std::vector<std::string>{"b"}));  // +2 min + one interval
}

TEST(FencingReadinessTest, TellsOncePerNodeAndCauseAndOnceWhenProtectedAgain) {
  FencingReadiness r(ReadinessPolicy{.interval = 1min, .concurrency = 1}, {"a"}, kT0);
  TimePoint t = kT0;
  const auto check = [&](const std::optional<std::pair<std::string, std::string>>& failure) {
    const auto due = r.due(t, 1);
    EXPECT_EQ(due.size(), 1u);
    auto change = r.checked("a", t, failure);
    t += 1min;
    return change;
  };
  auto change = check(kBadPassword);
  ASSERT_TRUE(change);
  EXPECT_EQ(change->kind, ReadinessChange::Kind::kUnprotected);
  EXPECT_EQ(change->reason, "wrong password");
  ASSERT_EQ(r.unprotected().size(), 1u);
  EXPECT_EQ(r.unprotected()[0].since, kT0);
  EXPECT_FALSE(check(std::pair<std::string, std::string>{"ipmi:credentials", "still wrong"}));
  EXPECT_EQ(r.unprotected()[0].reason, "still wrong");
  EXPECT_EQ(r.unprotected()[0].since, kT0) << "the same cause: since its first check";
  change = check(std::pair<std::string, std::string>{"ipmi:unreachable", "no answer"});
  ASSERT_TRUE(change) << "another cause is told again";
  EXPECT_EQ(r.unprotected()[0].since, kT0 + 2min);
  change = check(std::nullopt);
  ASSERT_TRUE(change);
  EXPECT_EQ(change->kind, ReadinessChange::Kind::kProtectedAgain);
  EXPECT_TRUE(r.unprotected().empty());
  EXPECT_FALSE(check(std::nullopt));
}

TEST(FencingReadinessTest, AZeroIntervalChecksNothing) {
  FencingReadiness r(ReadinessPolicy{.interval = Duration::zero()}, {"a"}, kT0);
  EXPECT_FALSE(r.enabled());
  EXPECT_TRUE(r.due(kT0 + 1h, 4).empty());
  EXPECT_FALSE(r.nextDue());
}

TEST(FencingReadinessTest, AHostOutsideTheInventoryIsUnprotectedAndToldOnce) {
  FencingReadiness r({.interval = 10min, .concurrency = 4}, {"n1", "n2"}, kT0);
  auto changes = r.notInInventory({"spare", "n1"}, true, kT0);
  ASSERT_EQ(changes.size(), 1u) << "n1 is in the inventory: its checks tell";
  EXPECT_EQ(changes[0].node, "spare");
  EXPECT_EQ(changes[0].kind, ReadinessChange::Kind::kUnprotected);
  ASSERT_EQ(r.unprotected().size(), 1u);
  EXPECT_EQ(r.unprotected()[0].cause, core::kNotInInventory);
  EXPECT_NE(r.unprotected()[0].reason.find("no entry in the inventory"), std::string::npos);
  EXPECT_EQ(r.unprotected()[0].since, kT0);
  EXPECT_TRUE(r.notInInventory({"spare"}, true, kT0 + 1min).empty()) << "told once";
  // A cycle in which a monitor did not answer says nothing of the hosts it did not list.
  EXPECT_TRUE(r.notInInventory({}, false, kT0 + 2min).empty());
  EXPECT_EQ(r.unprotected().size(), 1u);
  // A complete cycle without it: gone (decommissioned), dropped without an alert.
  EXPECT_TRUE(r.notInInventory({}, true, kT0 + 3min).empty());
  EXPECT_TRUE(r.unprotected().empty());
  // Known from the journal at start-up: not told again.
  FencingReadiness restarted({.interval = 10min, .concurrency = 4}, {"n1", "n2"}, kT0);
  restarted.alreadyReported({.node = "spare",
                             .cause = core::kNotInInventory,
                             .reason = "no entry in the inventory",
                             .since = kT0});
  EXPECT_TRUE(restarted.notInInventory({"spare"}, true, kT0 + 1min).empty());
  ASSERT_EQ(restarted.unprotected().size(), 1u);
  EXPECT_EQ(restarted.unprotected()[0].since, kT0);
}

class ReadinessEngineTest : public EngineHarness {
 protected:
  ReadinessEngineTest() {
    policy_.readiness = {.interval = 1min, .concurrency = 2};
    world_.clock = &clock_;
  }

  std::vector<Notification> readinessAlerts() const {
    std::vector<Notification> out;
    for (const Notification& n : notifier_.sent) {
      if (n.kind == NotificationKind::kGuardTripped &&
          (n.subject.find("UNPROTECTED") != std::string::npos ||
           n.subject.find("protected again") != std::string::npos)) {
        out.push_back(n);
      }
    }
    return out;
  }
};

TEST_F(ReadinessEngineTest, AWrongBmcPasswordIsFoundAtStartUpAndToldOnce) {
  world_.status_errors["compute-2"] =
      Error{ErrorCode::kPermissionDenied, "BMC refused the password", false};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  const TimePoint start = clock_.now();
  runFor(*engine, 2s);
  for (const std::string host : {"compute-1", "compute-2", "compute-3", "compute-4"}) {
    EXPECT_EQ(world_.status_reads[host].size(), 1u) << host << ": the start-up check";
  }
  auto state = guards();
  ASSERT_EQ(state.unprotected.size(), 1u);
  EXPECT_EQ(state.unprotected[0].node, "compute-2");
  EXPECT_EQ(state.unprotected[0].cause, "level1:credentials");
  EXPECT_NE(state.unprotected[0].reason.find("BMC refused the password"), std::string::npos)
      << state.unprotected[0].reason;
  EXPECT_GE(state.unprotected[0].since, start);
  EXPECT_LE(state.unprotected[0].since, start + 1s) << "found at start-up";
  auto alerts = readinessAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].subject, "[freezer-dr] compute-2 is UNPROTECTED: fencing it would fail");
  EXPECT_EQ(alerts[0].node, "compute-2");
  EXPECT_NE(alerts[0].summary.find("UNPROTECTED compute-2: level1 cannot read its power state"),
            std::string::npos)
      << alerts[0].summary;

  // Five intervals later: checked about once a minute each, never told again.
  runFor(*engine, 5min);
  for (const auto& [host, reads] : world_.status_reads) {
    EXPECT_GE(reads.size(), 5u) << host;
    EXPECT_LE(reads.size(), 7u) << host;
    for (size_t i = 1; i < reads.size(); ++i) {
      EXPECT_GE(reads[i] - reads[i - 1], 30s) << host << ": checked again too soon";
    }
  }
  EXPECT_EQ(readinessAlerts().size(), 1u);
  EXPECT_EQ(guards().unprotected.size(), 1u);

  // The password is fixed: protected again, told once.
  world_.status_errors.clear();
  runFor(*engine, 2min);
  EXPECT_TRUE(guards().unprotected.empty());
  alerts = readinessAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].subject, "[freezer-dr] compute-2 is protected again");
  runFor(*engine, 3min);
  EXPECT_EQ(readinessAlerts().size(), 2u);
}

TEST_F(ReadinessEngineTest, AnUnknownPowerStateIsUnprotectedToo) {
  policy_.readiness.concurrency = 4;
  auto engine = makeEngine({Mode::kBlind}, journal_);
  runFor(*engine, 2s);
  auto state = guards();
  ASSERT_EQ(state.unprotected.size(), 4u);
  EXPECT_EQ(state.unprotected[0].cause, "level1:unknown");
  // One alert for the four of them.
  auto alerts = readinessAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].subject, "[freezer-dr] 4 nodes are UNPROTECTED: fencing them would fail");
  EXPECT_EQ(alerts[0].node, "");
}

TEST_F(ReadinessEngineTest, AHangingBmcHoldsOnlyItsOwnSlot) {
  // compute-1's BMC never answers; its check's worker stays parked on the executor. The other
  // slot checks the other nodes, each within its own deadline, and they stay protected.
  world_.bmc_blocks.insert("compute-1");
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 3min);
  auto state = guards();
  ASSERT_EQ(state.unprotected.size(), 1u);
  EXPECT_EQ(state.unprotected[0].node, "compute-1");
  EXPECT_EQ(state.unprotected[0].cause, "level1:unreachable");
  for (const std::string host : {"compute-2", "compute-3", "compute-4"}) {
    EXPECT_GE(world_.status_reads[host].size(), 3u) << host;
  }
  EXPECT_EQ(readinessAlerts().size(), 1u);
}

TEST_F(ReadinessEngineTest, ChangesAreToldAtMostOnceAMinuteInOneAlert) {
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 2s);
  EXPECT_TRUE(readinessAlerts().empty()) << "every node is protected: nothing to tell";
  world_.status_errors["compute-1"] = Error{ErrorCode::kUnavailable, "no route to the BMC", true};
  world_.status_errors["compute-3"] = Error{ErrorCode::kUnavailable, "no route to the BMC", true};
  world_.status_errors["compute-4"] = Error{ErrorCode::kUnavailable, "no route to the BMC", true};
  // compute-1 is checked at +1 min: told at once; compute-3 at +1.5, compute-4 at +1.75: told
  // together, a minute after the first.
  runFor(*engine, 1min);
  auto alerts = readinessAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].subject, "[freezer-dr] compute-1 is UNPROTECTED: fencing it would fail");
  runFor(*engine, 50s);
  EXPECT_EQ(readinessAlerts().size(), 1u) << "within a minute of the last alert";
  EXPECT_EQ(guards().unprotected.size(), 3u) << "status shows them at once";
  runFor(*engine, 20s);
  alerts = readinessAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].subject, "[freezer-dr] 2 nodes are UNPROTECTED: fencing them would fail");
  EXPECT_NE(alerts[1].summary.find("UNPROTECTED compute-3"), std::string::npos);
  EXPECT_NE(alerts[1].summary.find("UNPROTECTED compute-4"), std::string::npos);
}

TEST_F(ReadinessEngineTest, AComputeHostTheInventoryLacksIsReportedUnprotectedOnce) {
  monitor_.outside = {"compute-9"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 2s);
  auto state = guards();
  ASSERT_EQ(state.unprotected.size(), 1u);
  EXPECT_EQ(state.unprotected[0].node, "compute-9");
  EXPECT_EQ(state.unprotected[0].cause, "inventory:missing");
  auto alerts = readinessAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].subject, "[freezer-dr] compute-9 is UNPROTECTED: fencing it would fail");
  EXPECT_NE(alerts[0].summary.find("no entry in the inventory"), std::string::npos)
      << alerts[0].summary;
  EXPECT_TRUE(world_.status_reads["compute-9"].empty()) << "nothing to check it with";
  runFor(*engine, 3min);
  EXPECT_EQ(readinessAlerts().size(), 1u);
  // Gone from the cloud: no longer listed, no alert.
  monitor_.outside.clear();
  runFor(*engine, 2s);
  EXPECT_TRUE(guards().unprotected.empty());
  EXPECT_EQ(readinessAlerts().size(), 1u);
}

TEST_F(ReadinessEngineTest, ARestartDoesNotTellAgainWhatWasTold) {
  world_.status_errors["compute-2"] =
      Error{ErrorCode::kPermissionDenied, "BMC refused the password", false};
  {
    auto engine = makeEngine({Mode::kWorks}, journal_);
    runFor(*engine, 2s);
  }
  ASSERT_EQ(readinessAlerts().size(), 1u);
  const TimePoint since = guards().unprotected.at(0).since;
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 2s);
  EXPECT_EQ(readinessAlerts().size(), 1u) << "told before the restart";
  ASSERT_EQ(guards().unprotected.size(), 1u);
  EXPECT_EQ(guards().unprotected[0].since, since);
}

TEST_F(ReadinessEngineTest, ANodeBeingFencedIsNotCheckedMeanwhile) {
  policy_.readiness.interval = 1s;  // due at every tick or so
  auto engine = makeEngine({Mode::kWorks}, journal_);
  runFor(*engine, 2s);
  monitor_.down.insert("compute-3");
  runFor(*engine, 20s);
  const auto all = journal_.recentIncidents(10);
  ASSERT_TRUE(all && !all->empty());
  const Incident& incident = all->front();
  ASSERT_EQ(incident.phase, Phase::kDone);
  // compute-3's reads between its incident's opening and its close: the fence's own (after the
  // power-off), none of the readiness checks (which would come every second).
  const TimePoint opened = incident.detected_at;
  const TimePoint closed = incident.closed_at.value_or(clock_.now());
  const auto& reads = world_.status_reads["compute-3"];
  const auto during = std::count_if(reads.begin(), reads.end(),
                                    [&](TimePoint t) { return t > opened + 1s && t < closed; });
  EXPECT_LE(during, 2) << "readiness checks during the fence";
  EXPECT_GE(world_.status_reads["compute-1"].size(), 10u);
}

}  // namespace
}  // namespace fdr::testing
