// The guards' alerts to the admins go through the journal's outbox (Journal::enqueue), on
// simulated time: queued when the guard trips, delivered by the outbox, retried with backoff
// while the notifier fails, delivered after a restart, never in the way of a fence; an alert the
// journal refuses is queued again at the next tick.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/engine.h"
#include "core/engine_fixture.h"
#include "core/guard_state.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

class GuardAlertsTest : public EngineHarness {
 protected:
  static int guardAlerts(const std::vector<Notification>& sent, const std::string& part) {
    return static_cast<int>(std::count_if(sent.begin(), sent.end(), [&](const Notification& n) {
      return n.kind == NotificationKind::kGuardTripped && n.subject.find(part) != std::string::npos;
    }));
  }

  std::vector<OutboxItem> undelivered() {
    auto items = journal_.undeliveredOutbox();
    EXPECT_TRUE(items.has_value());
    return items ? *items : std::vector<OutboxItem>{};
  }

  std::vector<Incident> incidents() {
    auto all = journal_.recentIncidents(100);
    EXPECT_TRUE(all.has_value());
    return all ? *all : std::vector<Incident>{};
  }

  void pauseBy(const std::string& who) {
    ASSERT_TRUE(journal_
                    .enqueueCommand(OperatorCommand{.id = 0,
                                                    .kind = "pause",
                                                    .node = "",
                                                    .who = who,
                                                    .at = clock_.now(),
                                                    .reason = "upgrade"})
                    .has_value());
  }
};

TEST_F(GuardAlertsTest, StormAlertIsQueuedRetriedWithBackoffThenDeliveredOnce) {
  notifier_.clock = &clock_;
  notifier_.failing = true;
  DyingJournal journal(journal_, world_, 1000);
  auto engine = makeEngine({Mode::kWorks}, journal);
  monitor_.down = {"compute-1", "compute-2", "compute-3"};  // 75 % of 4 nodes
  runFor(*engine, 5s);

  // Queued durably, one for the storm, and listed as undelivered (what `status` shows).
  EXPECT_EQ(journal.enqueued, 1);
  const std::vector<OutboxItem> queued = undelivered();
  ASSERT_EQ(queued.size(), 1u);
  for (const OutboxItem& item : queued) {
    EXPECT_EQ(item.notifier, "recorder");
    EXPECT_EQ(item.notification.kind, NotificationKind::kGuardTripped);
    EXPECT_EQ(item.notification.incident_id, "");
    EXPECT_NE(item.notification.subject.find("storm guard"), std::string::npos);
    EXPECT_GE(item.attempts, 1);
    EXPECT_EQ(item.last_error, "SMTP server unreachable");
  }
  EXPECT_TRUE(notifier_.sent.empty());

  runFor(*engine, 60s);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(fencers_[0]->off_calls, 0);
  // Each alert was tried again after 2, 4, 8 and 16 s (outbox_backoff_initial, doubling),
  // not at every tick.
  std::vector<TimePoint> tries;
  for (const auto& [when, n] : notifier_.attempts) {
    if (n.subject.find("storm guard") != std::string::npos) tries.push_back(when);
  }
  ASSERT_EQ(tries.size(), 5u);
  for (size_t i = 1; i < tries.size(); ++i) {
    const Duration expected = policy_.outbox_backoff_initial * (1 << (i - 1));
    EXPECT_GE(tries[i] - tries[i - 1], expected) << "attempt " << i + 1;
    EXPECT_LT(tries[i] - tries[i - 1], expected + 250ms) << "attempt " << i + 1;
  }

  notifier_.failing = false;
  runFor(*engine, 1min);
  EXPECT_TRUE(undelivered().empty());
  EXPECT_EQ(guardAlerts(notifier_.sent, "storm guard"), 1);  // once per storm, no more queued
  EXPECT_EQ(journal.enqueued, 1);
  EXPECT_EQ(guardAlerts(notifier_.sent, "failed: NOT fenced"), 0);  // not once per node
}

TEST_F(GuardAlertsTest, AHangingNotifierDoesNotDelayAFenceDecidedInTheSameTick) {
  // The mail server accepts and never answers: sent inline, the veto's alert would hold
  // compute-2's fence back for the notifier's whole timeout.
  notifier_.clock = &clock_;
  notifier_.blocks = true;
  policy_.maintenance = {"compute-1"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  const TimePoint down_at = clock_.now();
  monitor_.down = {"compute-1", "compute-2"};
  for (int i = 0; i < 100 && incidents().empty(); ++i) {
    settledTick(*engine, executor_);
    clock_.advance(250ms);
  }
  const std::vector<Incident> all = incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].node, "compute-2");
  EXPECT_LE(all[0].detected_at - down_at, policy_.detector.grace + 250ms);
  EXPECT_GE(fencers_[0]->off_calls, 1);
  // The maintenance alert was queued and tried only after the fence was asked for.
  ASSERT_FALSE(notifier_.attempts.empty());
  EXPECT_GE(notifier_.attempts.front().first, all[0].detected_at);
  const std::vector<OutboxItem> waiting = undelivered();
  EXPECT_TRUE(std::any_of(waiting.begin(), waiting.end(), [](const OutboxItem& item) {
    return item.notification.subject.find("compute-1 failed: NOT fenced (in maintenance)") !=
           std::string::npos;
  }));
}

TEST_F(GuardAlertsTest, AnUndeliveredAlertIsDeliveredAfterARestart) {
  notifier_.failing = true;
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1", "compute-2", "compute-3"};
  runFor(*engine, 10s);
  ASSERT_EQ(undelivered().size(), 1u);
  engine.reset();  // the daemon stops with its alerts undelivered

  // Back up while it was stopped: nothing new to alert about.
  monitor_.down.clear();
  notifier_.failing = false;
  auto restarted = makeEngine({Mode::kWorks}, journal_);
  runFor(*restarted, 1min);
  EXPECT_TRUE(undelivered().empty());
  EXPECT_EQ(guardAlerts(notifier_.sent, "storm guard"), 1);
  EXPECT_TRUE(incidents().empty());
}

TEST_F(GuardAlertsTest, AnAlertTheJournalRefusesIsQueuedAtTheNextTick) {
  DyingJournal journal(journal_, world_, 1000);
  journal.refuse_enqueue = true;
  auto engine = makeEngine({Mode::kWorks}, journal);
  monitor_.down = {"compute-1", "compute-2", "compute-3"};
  runFor(*engine, 10s);
  EXPECT_EQ(journal.enqueued, 0);
  EXPECT_TRUE(notifier_.sent.empty());
  EXPECT_TRUE(incidents().empty());  // the veto holds whatever happens to its alert

  journal.refuse_enqueue = false;
  runFor(*engine, 10s);
  EXPECT_EQ(journal.enqueued, 1);  // once for the storm, then not again
  EXPECT_EQ(guardAlerts(notifier_.sent, "storm guard"), 1);
}

TEST_F(GuardAlertsTest, AFlappingAlertTheJournalRefusedIsQueuedOnceItCanBe) {
  policy_.detector.flap_max_recoveries = 3;
  policy_.detector.flap_window = 60s;
  DyingJournal journal(journal_, world_, 1000);
  journal.refuse_enqueue = true;
  auto engine = makeEngine({Mode::kWorks}, journal);
  for (int i = 0; i < 5; ++i) {  // short blips, within the grace period
    monitor_.down = {"compute-1"};
    runFor(*engine, 1s);
    monitor_.down.clear();
    runFor(*engine, 1s);
  }
  EXPECT_EQ(journal.enqueued, 0);
  EXPECT_EQ(guardAlerts(notifier_.sent, "compute-1 is flapping"), 0);

  journal.refuse_enqueue = false;
  monitor_.down = {"compute-1"};
  runFor(*engine, 1s);
  monitor_.down.clear();
  runFor(*engine, 10s);  // still flapping: once per episode
  EXPECT_EQ(journal.enqueued, 1);
  EXPECT_EQ(guardAlerts(notifier_.sent, "compute-1 is flapping"), 1);
}

TEST_F(GuardAlertsTest, APauseWhoseAlertCannotBeQueuedStaysPendingUntilItIs) {
  DyingJournal journal(journal_, world_, 1000);
  journal.refuse_enqueue = true;
  auto engine = makeEngine({Mode::kWorks}, journal);
  pauseBy("alice");
  runFor(*engine, 2s);
  // The pause is in force, but the command is not done: its alert is not queued yet.
  EXPECT_EQ(journal_.setting(core::kPausedSetting).value_or(std::nullopt),
            std::optional<std::string>("1"));
  EXPECT_TRUE(journal.outcomes.empty());
  auto pending = journal_.pendingCommands();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->size(), 1u);
  monitor_.down = {"compute-2"};
  runFor(*engine, 5s);
  EXPECT_TRUE(incidents().empty());

  journal.refuse_enqueue = false;
  runFor(*engine, 2s);
  pending = journal_.pendingCommands();
  ASSERT_TRUE(pending.has_value());
  EXPECT_TRUE(pending->empty());
  ASSERT_EQ(journal.outcomes.size(), 1u);
  EXPECT_EQ(journal.outcomes.begin()->second.rfind("done: automatic fencing", 0), 0u)
      << journal.outcomes.begin()->second;
  EXPECT_EQ(guardAlerts(notifier_.sent, "automatic fencing paused by alice"), 1);
  EXPECT_TRUE(undelivered().empty());
}

}  // namespace
}  // namespace fdr::testing
