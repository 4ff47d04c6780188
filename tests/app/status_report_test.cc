// What `freezer-dr status` says about notifications not delivered yet: an incident's and an
// admin alert that belongs to no incident (the guards'), in text and in --json.
#include "app/status_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace fdr::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<OutboxItem> undelivered() {
  OutboxItem incident_notice;
  incident_notice.id = 3;
  incident_notice.notifier = "email";
  incident_notice.notification.kind = NotificationKind::kFenceFailed;
  incident_notice.notification.incident_id = "compute-1@1700000000000";
  incident_notice.notification.node = "compute-1";
  incident_notice.notification.subject = "[freezer-dr] compute-1: fencing FAILED";
  incident_notice.attempts = 2;
  incident_notice.next_attempt_at = fromMillis(1'700'000'010'000);
  incident_notice.last_error = "smtp: 451 try later";

  OutboxItem storm;
  storm.id = 4;
  storm.notifier = "webhook";
  storm.notification.kind = NotificationKind::kGuardTripped;
  storm.notification.node = "compute-2";
  storm.notification.subject = "[freezer-dr] compute-2 failed: NOT fenced (storm guard)";
  storm.attempts = 1;
  storm.next_attempt_at = fromMillis(1'700'000'004'000);
  storm.last_error = "HTTP 503";

  OutboxItem paused;
  paused.id = 5;
  paused.notifier = "webhook";
  paused.notification.kind = NotificationKind::kGuardTripped;
  paused.notification.subject = "[freezer-dr] automatic fencing paused by alice";
  return {incident_notice, storm, paused};
}

TEST(StatusReportTest, UndeliveredAdminAlertsAreShownAsSuchWithTheirSubject) {
  std::ostringstream out;
  printStatus(out, {}, {}, undelivered(), GuardsReport{});
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("undelivered notifications: 3\n"));
  EXPECT_THAT(text, HasSubstr("  #3 fence-failed (incident compute-1@1700000000000) via email: 2 "
                              "attempt(s), next 2023-11-14T22:13:30.000Z, last error: smtp: 451 "
                              "try later\n    [freezer-dr] compute-1: fencing FAILED\n"));
  EXPECT_THAT(text, HasSubstr("  #4 guard-tripped (admin alert, node compute-2) via webhook: 1 "
                              "attempt(s), next 2023-11-14T22:13:24.000Z, last error: HTTP 503\n"
                              "    [freezer-dr] compute-2 failed: NOT fenced (storm guard)\n"));
  EXPECT_THAT(text, HasSubstr("  #5 guard-tripped (admin alert) via webhook: 0 attempt(s)"));
  EXPECT_THAT(text, HasSubstr("    [freezer-dr] automatic fencing paused by alice\n"));
  EXPECT_THAT(text, Not(HasSubstr("incident )")));
}

TEST(StatusReportTest, UndeliveredJsonHasANullIncidentForAdminAlerts) {
  const nlohmann::json items = undeliveredJson(undelivered());
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0]["incident_id"], "compute-1@1700000000000");
  EXPECT_EQ(items[0]["admin_alert"], false);
  EXPECT_EQ(items[0]["notifier"], "email");
  EXPECT_EQ(items[0]["attempts"], 2);
  EXPECT_EQ(items[0]["last_error"], "smtp: 451 try later");
  EXPECT_TRUE(items[1]["incident_id"].is_null());
  EXPECT_EQ(items[1]["admin_alert"], true);
  EXPECT_EQ(items[1]["notification"]["kind"], "guard-tripped");
  EXPECT_EQ(items[1]["notification"]["node"], "compute-2");
  EXPECT_TRUE(items[2]["incident_id"].is_null());
  EXPECT_TRUE(undeliveredJson({}).is_array());
  EXPECT_TRUE(undeliveredJson({}).empty());
}

// An unfence in progress, then finished, on the closed incident of its node.
TEST(StatusReportTest, TheTextShowsAnUnfenceAsItGoes) {
  Incident closed;
  closed.id = "compute-1@1700000000000";
  closed.node = "compute-1";
  closed.phase = Phase::kDone;
  closed.detected_at = fromMillis(1'700'000'000'000);
  closed.closed_at = fromMillis(1'700'000'030'000);
  closed.unfence.step = UnfenceStep::kWaitingForCompute;
  closed.unfence.who = "alice";
  closed.unfence.requested_at = fromMillis(1'700'000'100'000);
  closed.unfence.deadline = fromMillis(1'700'000'700'000);
  closed.unfence.power_on_attempts = 2;
  closed.unfence.power_on_requested_at = fromMillis(1'700'000'102'500);
  closed.unfence.powered_on_by = "ipmi";

  std::ostringstream waiting;
  printStatus(waiting, {}, {closed}, {}, GuardsReport{});
  EXPECT_THAT(waiting.str(),
              HasSubstr("  unfence: waiting-for-compute (asked by alice at "
                        "2023-11-14T22:15:00.000Z); power-on accepted by ipmi +2.5s (2 attempts); "
                        "gives up at 2023-11-14T22:25:00.000Z\n"));

  closed.unfence.step = UnfenceStep::kDone;
  closed.unfence.restored_at = fromMillis(1'700'000'140'000);
  std::ostringstream done;
  printStatus(done, {}, {closed}, {}, GuardsReport{});
  EXPECT_THAT(done.str(), HasSubstr("  unfence: done (asked by alice at 2023-11-14T22:15:00.000Z); "
                                    "power-on accepted by ipmi +2.5s (2 attempts); back in "
                                    "service +40.0s\n"));
  EXPECT_THAT(done.str(), Not(HasSubstr("gives up")));

  closed.unfence = UnfenceProgress{};
  std::ostringstream never;
  printStatus(never, {}, {closed}, {}, GuardsReport{});
  EXPECT_THAT(never.str(), Not(HasSubstr("unfence")));
}

// The storm guard's state: the episode, and every failure that still counts and until when.
TEST(StatusReportTest, TheStormAndTheFailuresThatCountAreShownWithTheirTimes) {
  core::GuardState state;
  state.storm = "storm guard: 2 nodes down or failed within 10 min (limit 1)";
  state.storm_since = fromMillis(1'700'000'030'000);
  state.storm_window.push_back(
      {"compute-1", fromMillis(1'700'000'000'000), fromMillis(1'700'000'600'000)});
  GuardsReport report;
  report.guards = state;

  std::ostringstream text;
  printGuards(text, report);
  EXPECT_THAT(text.str(), HasSubstr("STORM since 2023-11-14T22:13:50.000Z: storm guard: 2 nodes "
                                    "down or failed within 10 min (limit 1); fencing nothing\n"));
  EXPECT_THAT(text.str(), HasSubstr("counts toward the storm guard until 2023-11-14T22:23:20.000Z: "
                                    "compute-1 (failed at 2023-11-14T22:13:20.000Z)\n"));

  nlohmann::json doc;
  addGuardsJson(doc, report);
  EXPECT_EQ(doc["storm"], state.storm);
  EXPECT_EQ(doc["storm_since"], 1'700'000'030'000);
  ASSERT_EQ(doc["storm_window"].size(), 1U);
  EXPECT_EQ(doc["storm_window"][0]["node"], "compute-1");

  std::ostringstream calm;
  printGuards(calm, GuardsReport{});
  EXPECT_THAT(calm.str(), Not(HasSubstr("storm")));
}

TEST(StatusReportTest, UnprotectedNodesAreShownWithTheReasonAndSinceWhen) {
  core::GuardState state;
  state.unprotected.push_back({.node = "compute-2",
                               .cause = "ipmi:credentials",
                               .reason = "ipmi cannot read its power state: password refused",
                               .since = fromMillis(1'700'000'000'000)});
  // What the engine writes is what status reads back.
  auto back = core::guardStateFromJson(core::toJson(state).dump());
  ASSERT_TRUE(back) << back.error().toString();
  EXPECT_EQ(*back, state);
  GuardsReport report;
  report.guards = *back;

  std::ostringstream text;
  printGuards(text, report);
  EXPECT_THAT(text.str(),
              HasSubstr("UNPROTECTED since 2023-11-14T22:13:20.000Z: compute-2: fencing it would "
                        "fail (ipmi cannot read its power state: password refused)\n"));
  nlohmann::json doc;
  addGuardsJson(doc, report);
  ASSERT_EQ(doc["unprotected"].size(), 1U);
  EXPECT_EQ(doc["unprotected"][0]["node"], "compute-2");
  EXPECT_EQ(doc["unprotected"][0]["cause"], "ipmi:credentials");

  std::ostringstream calm;
  printGuards(calm, GuardsReport{});
  EXPECT_THAT(calm.str(), Not(HasSubstr("UNPROTECTED")));
}

TEST(StatusReportTest, ALiveNodesClosedServiceIsShownWithTheSourceAndSinceWhen) {
  core::GuardState state;
  state.services_down.push_back(
      {.node = "compute-3",
       .source = "probe/mgmt",
       .detail = "127.0.1.3:22: the node answered but its service does not (connection refused)",
       .since = fromMillis(1'700'000'000'000)});
  state.services_down_total = 1;
  auto back = core::guardStateFromJson(core::toJson(state).dump());
  ASSERT_TRUE(back) << back.error().toString();
  EXPECT_EQ(*back, state);
  GuardsReport report;
  report.guards = *back;
  std::ostringstream text;
  printGuards(text, report);
  EXPECT_THAT(text.str(),
              HasSubstr("SERVICE DOWN since 2023-11-14T22:13:20.000Z: compute-3 (probe/mgmt): "
                        "127.0.1.3:22: the node answered but its service does not (connection "
                        "refused); the node answers, so it is up\n"));
  nlohmann::json doc;
  addGuardsJson(doc, report);
  ASSERT_EQ(doc["services_down"].size(), 1U);
  EXPECT_EQ(doc["services_down"][0]["node"], "compute-3");
  EXPECT_EQ(doc["services_down"][0]["source"], "probe/mgmt");
  EXPECT_EQ(doc["services_down"][0]["since"], 1'700'000'000'000);
  EXPECT_EQ(doc["services_down_total"], 1);
  EXPECT_THAT(text.str(), Not(HasSubstr("more (the first")));
  // Past the first 100 the state only counts them.
  report.guards->services_down_total = 250;
  std::ostringstream many;
  printGuards(many, report);
  EXPECT_THAT(many.str(), HasSubstr("SERVICE DOWN: 249 more (the first 1 are listed)\n"));
  // An older engine's state (no services_down) reads as none.
  auto old = core::guardStateFromJson(R"({"isolation": "", "vetoes": []})");
  ASSERT_TRUE(old) << old.error().toString();
  EXPECT_TRUE(old->services_down.empty());
  // A bad one is an error naming the field.
  auto bad = core::guardStateFromJson(
      R"({"isolation": "", "vetoes": [], "services_down": [{"node": "x"}]})");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("guards.services_down[]"));
}

}  // namespace
}  // namespace fdr::app
