// The Journal contract (include/freezer/journal.h), run over every implementation. A new
// implementation (etcd, ...) joins by adding one line to INSTANTIATE_TEST_SUITE_P below.
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/codec.h"
#include "core/leadership_fixture.h"
#include "freezer/journal.h"
#include "store/etcd/etcd_journal.h"
#include "store/memory/memory_journal.h"
#include "store/sqlite/sqlite_journal.h"
#include "support/etcd_cluster.h"

namespace fdr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct JournalFactory {
  std::string name;
  std::function<Result<JournalPtr>(const std::filesystem::path& dir)> make;
};

std::ostream& operator<<(std::ostream& out, const JournalFactory& factory) {
  return out << factory.name;
}

TimePoint at(int64_t ms) {
  return fromMillis(1'700'000'000'000 + ms);
}

Incident makeIncident(const std::string& node, int64_t detected_ms, uint64_t revision,
                      Phase phase = Phase::kDetected) {
  Incident incident;
  incident.id = node + "@" + std::to_string(toMillis(at(detected_ms)));
  incident.node = node;
  incident.phase = phase;
  incident.detected_at = at(detected_ms);
  incident.updated_at = at(detected_ms);
  incident.revision = revision;
  return incident;
}

Event makeEvent(EventPayload payload, int64_t ms) {
  return Event{.at = at(ms), .payload = std::move(payload)};
}

Notification makeNotification(const Incident& incident, NotificationKind kind, int64_t ms) {
  Notification n;
  n.kind = kind;
  n.incident_id = incident.id;
  n.node = incident.node;
  n.at = at(ms);
  n.subject = std::string(toString(kind)) + " " + incident.node;
  return n;
}

std::vector<std::string> ids(const std::vector<Incident>& incidents) {
  std::vector<std::string> out;
  for (const auto& i : incidents) out.push_back(i.id);
  return out;
}

std::vector<std::string> subjects(const std::vector<OutboxItem>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.notification.subject + "/" + i.notifier);
  return out;
}

class JournalContractTest : public ::testing::TestWithParam<JournalFactory> {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "fdr-journal-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto journal = GetParam().make(dir_);
    if (!journal && journal.error().code == ErrorCode::kNotSupported) {
      GTEST_SKIP() << journal.error().message;
    }
    ASSERT_TRUE(journal.has_value()) << journal.error().toString();
    journal_ = std::move(*journal);
  }

  void TearDown() override {
    journal_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Commits `incident` with one event (`payload`) and, optionally, notifications.
  void commitOk(const Incident& incident, EventPayload payload,
                const std::vector<Notification>& outbox = {},
                const std::vector<std::string>& notifiers = {"email"}) {
    JournalEntry entry{incident, Event{.at = incident.updated_at, .payload = std::move(payload)},
                       outbox};
    auto s = journal_->commit(entry, notifiers);
    ASSERT_TRUE(s.has_value()) << s.error().toString();
  }

  Incident mustGet(const std::string& id) {
    auto found = journal_->incident(id);
    EXPECT_TRUE(found.has_value()) << found.error().toString();
    EXPECT_TRUE(found.value_or(std::nullopt).has_value()) << id << " not found";
    return found.value_or(std::nullopt).value_or(Incident{});
  }

  std::filesystem::path dir_;
  JournalPtr journal_;
};

TEST_P(JournalContractTest, CommitThenReadBack) {
  Incident incident = makeIncident("compute-1", 0, 1);
  incident.fence.deadline = at(60'000);
  InstanceRecord record;
  record.id = "i-1";
  record.name = "web";
  record.priority = 3;
  incident.instances.push_back(record);
  incident.problems = {"first problem"};
  commitOk(incident, events::Detected{});

  EXPECT_EQ(mustGet(incident.id), incident);
  auto events = journal_->events(incident.id);
  ASSERT_TRUE(events.has_value());
  EXPECT_THAT(*events, ElementsAre(makeEvent(events::Detected{}, 0)));
  auto open = journal_->openIncidents();
  ASSERT_TRUE(open.has_value());
  EXPECT_THAT(*open, ElementsAre(incident));
}

TEST_P(JournalContractTest, NextRevisionReplacesTheSnapshot) {
  Incident incident = makeIncident("compute-1", 0, 1);
  commitOk(incident, events::Detected{});
  incident.revision = 2;
  incident.phase = Phase::kFencing;
  incident.updated_at = at(5);
  incident.fence.off_requested_at = at(5);
  commitOk(incident, events::PowerOffRequested{});

  EXPECT_EQ(mustGet(incident.id), incident);
  auto recent = journal_->recentIncidents(10);
  ASSERT_TRUE(recent.has_value());
  EXPECT_THAT(*recent, ElementsAre(incident));
}

TEST_P(JournalContractTest, UnknownIncidentIsEmptyNotAnError) {
  auto found = journal_->incident("nobody@0");
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->has_value());
  auto events = journal_->events("nobody@0");
  ASSERT_TRUE(events.has_value());
  EXPECT_THAT(*events, IsEmpty());
}

TEST_P(JournalContractTest, RevisionConflictWritesNothing) {
  const Incident first = makeIncident("compute-1", 0, 1);
  commitOk(first, events::Detected{},
           {makeNotification(first, NotificationKind::kFailureConfirmed, 0)});

  // A stale writer (same revision again), a writer skipping ahead, and a writer going back.
  for (uint64_t revision : {uint64_t{1}, uint64_t{3}, uint64_t{0}}) {
    Incident stale = first;
    stale.revision = revision;
    stale.phase = Phase::kCancelled;
    JournalEntry entry{stale,
                       makeEvent(events::Cancelled{}, 9),
                       {makeNotification(stale, NotificationKind::kFenceFailed, 9)}};
    auto s = journal_->commit(entry, {"email", "webhook"});
    ASSERT_FALSE(s.has_value()) << "revision " << revision << " was accepted";
    EXPECT_EQ(s.error().code, ErrorCode::kConflict);
    EXPECT_THAT(s.error().message, HasSubstr(first.id));
  }

  EXPECT_EQ(mustGet(first.id), first);
  auto events = journal_->events(first.id);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(events->size(), 1u);
  auto outbox = journal_->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value());
  EXPECT_EQ(outbox->size(), 1u);
}

TEST_P(JournalContractTest, NewIncidentMustStartAtRevisionOne) {
  const Incident incident = makeIncident("compute-2", 0, 2);
  JournalEntry entry{incident, makeEvent(events::Detected{}, 0), {}};
  auto s = journal_->commit(entry, {});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);

  auto found = journal_->incident(incident.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->has_value());
  auto events = journal_->events(incident.id);
  ASSERT_TRUE(events.has_value());
  EXPECT_THAT(*events, IsEmpty());
}

TEST_P(JournalContractTest, IncidentWithoutIdIsRefused) {
  Incident incident = makeIncident("compute-1", 0, 1);
  incident.id.clear();
  auto s = journal_->commit(JournalEntry{incident, makeEvent(events::Detected{}, 0), {}}, {});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(JournalContractTest, OpenIncidentsExcludeTerminalPhasesAndRecentListsAll) {
  const Incident a = makeIncident("a", 1000, 1, Phase::kEvacuating);
  const Incident b = makeIncident("b", 2000, 1, Phase::kDone);
  const Incident c = makeIncident("c", 3000, 1, Phase::kCancelled);
  const Incident d = makeIncident("d", 4000, 1, Phase::kFenceFailed);  // waits for an operator
  // Committed out of order: the orders below come from detected_at, not from insertion.
  for (const Incident* i : {&c, &a, &d, &b}) commitOk(*i, events::Detected{});

  auto open = journal_->openIncidents();
  ASSERT_TRUE(open.has_value());
  EXPECT_THAT(ids(*open), ElementsAre(a.id, d.id));  // oldest first

  auto recent = journal_->recentIncidents(10);
  ASSERT_TRUE(recent.has_value());
  EXPECT_THAT(ids(*recent), ElementsAre(d.id, c.id, b.id, a.id));  // newest first
  recent = journal_->recentIncidents(2);
  ASSERT_TRUE(recent.has_value());
  EXPECT_THAT(ids(*recent), ElementsAre(d.id, c.id));
  recent = journal_->recentIncidents(0);
  ASSERT_TRUE(recent.has_value());
  EXPECT_THAT(*recent, IsEmpty());

  // Closing an open incident takes it out of the open list.
  Incident closed = a;
  closed.revision = 2;
  closed.phase = Phase::kDone;
  closed.closed_at = at(9000);
  commitOk(closed, events::Closed{});
  open = journal_->openIncidents();
  ASSERT_TRUE(open.has_value());
  EXPECT_THAT(ids(*open), ElementsAre(d.id));
}

TEST_P(JournalContractTest, EventsAreKeptInOrderPerIncident) {
  Incident one = makeIncident("one", 0, 1);
  Incident two = makeIncident("two", 0, 1);
  const EventPayload payloads[] = {
      events::Detected{.node = "one", .detail = "step 0"},
      events::PowerOffRequested{.level = 0,
                                .attempt = 1,
                                .fencer = "ipmi",
                                .attempt_deadline = at(5000),
                                .fence_deadline = at(30'000)},
      events::PowerObserved{
          .fencer = "ipmi", .power = PowerState::kOn, .next_check_at = at(220), .detail = "step 2"},
      events::FenceConfirmed{.fencer = "ipmi"},
      events::ForceDownRequested{},
  };
  std::vector<Event> expected;
  for (int i = 0; i < 5; ++i) {
    one.revision = static_cast<uint64_t>(i + 1);
    one.updated_at = at(i * 10);
    const Event event = makeEvent(payloads[i], i * 10);
    expected.push_back(event);
    auto s = journal_->commit(JournalEntry{one, event, {}}, {});
    ASSERT_TRUE(s.has_value()) << s.error().toString();
    two.revision = static_cast<uint64_t>(i + 1);
    s = journal_->commit(JournalEntry{two, makeEvent(events::PowerObserved{}, i), {}}, {});
    ASSERT_TRUE(s.has_value()) << s.error().toString();
  }
  auto events = journal_->events(one.id);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(*events, expected);
  events = journal_->events(two.id);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(events->size(), 5u);
}

// Every type of field an event's payload has comes back: records, optional times, enums,
// booleans, an optional string.
TEST_P(JournalContractTest, EventRecordsRoundTrip) {
  Incident incident = makeIncident("compute-1", 0, 1);
  InstanceRecord listed;
  listed.id = "i-1";
  listed.priority = 2;
  listed.former_status = "ACTIVE";
  InstanceRecord skipped;
  skipped.id = "i-2";
  skipped.phase = InstancePhase::kSkipped;
  skipped.reason = "opted out";
  const std::vector<Event> committed = {
      makeEvent(events::InstancesListed{.records = {listed, skipped}}, 7),
      makeEvent(events::PowerOffRequested{.level = 1,
                                          .attempt = 2,
                                          .fencer = "redfish",
                                          .attempt_deadline = at(98),
                                          .fence_deadline = at(99)},
                8),
      makeEvent(events::PowerObserved{.fencer = "redfish",
                                      .power = PowerState::kOff,
                                      .next_check_at = at(100),
                                      .detail = ""},
                9),
      makeEvent(events::EvacuationRejected{.instance_id = "i-1", .final = true, .detail = "409"},
                10),
      makeEvent(events::ReservedHostFull{.host = "spare-1", .instance_id = "i-1", .detail = ""},
                11),
      makeEvent(
          events::ReservedHostFull{
              .host = "spare-1", .instance_id = std::nullopt, .detail = "full"},
          12),
  };
  for (const Event& event : committed) {
    auto s = journal_->commit(JournalEntry{incident, event, {}}, {});
    ASSERT_TRUE(s.has_value()) << s.error().toString();
    incident.revision += 1;
  }
  auto events = journal_->events(incident.id);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(*events, committed);
}

TEST_P(JournalContractTest, OutboxQueuesOneItemPerNotifier) {
  const Incident incident = makeIncident("compute-1", 0, 1);
  Notification first = makeNotification(incident, NotificationKind::kFailureConfirmed, 0);
  Notification second = makeNotification(incident, NotificationKind::kEvacuationPartial, 0);
  second.audience = Audience::kProject;
  second.project_id = "p1";
  InstanceOutcome outcome;
  outcome.id = "i-1";
  outcome.reason = "no host";
  second.instances = {outcome};
  commitOk(incident, events::Detected{}, {first, second}, {"email", "webhook"});

  auto outbox = journal_->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value());
  EXPECT_THAT(
      subjects(*outbox),
      ElementsAre("failure-confirmed compute-1/email", "failure-confirmed compute-1/webhook",
                  "evacuation-partial compute-1/email", "evacuation-partial compute-1/webhook"));
  for (size_t i = 0; i < outbox->size(); ++i) {
    const OutboxItem& item = (*outbox)[i];
    EXPECT_EQ(item.attempts, 0);
    EXPECT_EQ(item.last_error, "");
    EXPECT_FALSE(item.delivered_at.has_value());
    EXPECT_EQ(item.next_attempt_at, at(0));
    if (i > 0) {
      EXPECT_GT(item.id, (*outbox)[i - 1].id);
    }
  }
  EXPECT_EQ(toJson((*outbox)[3].notification), toJson(second));
}

TEST_P(JournalContractTest, OutboxWithoutNotifiersQueuesNothing) {
  const Incident incident = makeIncident("compute-1", 0, 1);
  commitOk(incident, events::Detected{},
           {makeNotification(incident, NotificationKind::kFailureConfirmed, 0)}, {});
  auto outbox = journal_->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value());
  EXPECT_THAT(*outbox, IsEmpty());
}

TEST_P(JournalContractTest, DueOutboxIsWhatIsDueOldestFirst) {
  Incident incident = makeIncident("compute-1", 0, 1);
  commitOk(incident, events::Detected{},
           {makeNotification(incident, NotificationKind::kFailureConfirmed, 100)});
  incident.revision = 2;
  commitOk(incident, events::FenceFailed{},
           {makeNotification(incident, NotificationKind::kFenceFailed, 200)});
  incident.revision = 3;
  commitOk(incident, events::Cancelled{},
           {makeNotification(incident, NotificationKind::kNodeBackInService, 300)});

  auto due = journal_->dueOutbox(at(99), 10);
  ASSERT_TRUE(due.has_value());
  EXPECT_THAT(*due, IsEmpty());
  due = journal_->dueOutbox(at(150), 10);
  ASSERT_TRUE(due.has_value());
  EXPECT_THAT(subjects(*due), ElementsAre("failure-confirmed compute-1/email"));
  due = journal_->dueOutbox(at(300), 10);
  ASSERT_TRUE(due.has_value());
  EXPECT_THAT(subjects(*due),
              ElementsAre("failure-confirmed compute-1/email", "fence-failed compute-1/email",
                          "node-back-in-service compute-1/email"));
  due = journal_->dueOutbox(at(300), 2);
  ASSERT_TRUE(due.has_value());
  EXPECT_THAT(subjects(*due),
              ElementsAre("failure-confirmed compute-1/email", "fence-failed compute-1/email"));
}

TEST_P(JournalContractTest, FailedAttemptWaitsForItsNextAttempt) {
  const Incident incident = makeIncident("compute-1", 0, 1);
  commitOk(incident, events::Detected{},
           {makeNotification(incident, NotificationKind::kFailureConfirmed, 0),
            makeNotification(incident, NotificationKind::kGuardTripped, 0)});
  auto due = journal_->dueOutbox(at(0), 10);
  ASSERT_TRUE(due.has_value());
  ASSERT_EQ(due->size(), 2u);
  const int64_t id = (*due)[0].id;

  auto s = journal_->markAttemptFailed(id, "smtp: 451 try later", at(1000));
  ASSERT_TRUE(s.has_value()) << s.error().toString();
  s = journal_->markAttemptFailed(id, "smtp: 421 closing", at(2000));
  ASSERT_TRUE(s.has_value()) << s.error().toString();

  due = journal_->dueOutbox(at(1999), 10);
  ASSERT_TRUE(due.has_value());
  EXPECT_THAT(subjects(*due), ElementsAre("guard-tripped compute-1/email"));
  due = journal_->dueOutbox(at(2000), 10);
  ASSERT_TRUE(due.has_value());
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].id, id);
  EXPECT_EQ((*due)[0].attempts, 2);
  EXPECT_EQ((*due)[0].last_error, "smtp: 421 closing");
  EXPECT_EQ((*due)[0].next_attempt_at, at(2000));

  auto undelivered = journal_->undeliveredOutbox();
  ASSERT_TRUE(undelivered.has_value());
  EXPECT_EQ(undelivered->size(), 2u);
}

TEST_P(JournalContractTest, DeliveredItemsLeaveTheQueue) {
  const Incident incident = makeIncident("compute-1", 0, 1);
  commitOk(incident, events::Detected{},
           {makeNotification(incident, NotificationKind::kFailureConfirmed, 0)},
           {"email", "webhook"});
  auto due = journal_->dueOutbox(at(0), 10);
  ASSERT_TRUE(due.has_value());
  ASSERT_EQ(due->size(), 2u);
  const int64_t delivered = (*due)[0].id;
  auto count = journal_->undeliveredCount();
  ASSERT_TRUE(count.has_value()) << count.error().toString();
  EXPECT_EQ(*count, 2u);

  auto s = journal_->markDelivered(delivered, at(5));
  ASSERT_TRUE(s.has_value()) << s.error().toString();
  s = journal_->markDelivered(delivered, at(6));  // repeated after a crash: harmless
  ASSERT_TRUE(s.has_value()) << s.error().toString();

  due = journal_->dueOutbox(at(10), 10);
  ASSERT_TRUE(due.has_value());
  EXPECT_THAT(subjects(*due), ElementsAre("failure-confirmed compute-1/webhook"));
  auto undelivered = journal_->undeliveredOutbox();
  ASSERT_TRUE(undelivered.has_value());
  EXPECT_THAT(subjects(*undelivered), ElementsAre("failure-confirmed compute-1/webhook"));
  count = journal_->undeliveredCount();
  ASSERT_TRUE(count.has_value()) << count.error().toString();
  EXPECT_EQ(*count, 1u);

  s = journal_->markAttemptFailed(delivered, "late", at(100));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  s = journal_->markDelivered(987654, at(5));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  s = journal_->markAttemptFailed(987654, "x", at(5));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

Notification makeAdminAlert(const std::string& node, int64_t ms) {
  Notification n;
  n.kind = NotificationKind::kGuardTripped;
  n.node = node;
  n.at = at(ms);
  n.subject = "guard-tripped " + node;
  return n;
}

TEST_P(JournalContractTest, EnqueuedAlertsWithoutIncidentAreQueuedOnePerNotifier) {
  const Incident incident = makeIncident("compute-1", 0, 1);
  commitOk(incident, events::Detected{},
           {makeNotification(incident, NotificationKind::kFailureConfirmed, 0)});
  auto s = journal_->enqueue({makeAdminAlert("compute-2", 10), makeAdminAlert("", 20)},
                             {"email", "webhook"});
  ASSERT_TRUE(s.has_value()) << s.error().toString();

  auto outbox = journal_->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value()) << outbox.error().toString();
  EXPECT_THAT(subjects(*outbox),
              ElementsAre("failure-confirmed compute-1/email", "guard-tripped compute-2/email",
                          "guard-tripped compute-2/webhook", "guard-tripped /email",
                          "guard-tripped /webhook"));
  for (size_t i = 1; i < outbox->size(); ++i) {
    const OutboxItem& item = (*outbox)[i];
    EXPECT_GT(item.id, (*outbox)[i - 1].id);
    EXPECT_EQ(item.notification.incident_id, "");
    EXPECT_EQ(item.attempts, 0);
    EXPECT_FALSE(item.delivered_at.has_value());
  }
  EXPECT_EQ((*outbox)[1].next_attempt_at, at(10));
  EXPECT_EQ(toJson((*outbox)[3].notification), toJson(makeAdminAlert("", 20)));

  // Delivered and retried like an incident's notifications.
  auto due = journal_->dueOutbox(at(10), 10);
  ASSERT_TRUE(due.has_value());
  ASSERT_EQ(due->size(), 3u);
  ASSERT_TRUE(journal_->markAttemptFailed((*due)[1].id, "refused", at(500)).has_value());
  ASSERT_TRUE(journal_->markDelivered((*due)[2].id, at(11)).has_value());
  due = journal_->dueOutbox(at(499), 10);
  ASSERT_TRUE(due.has_value());
  EXPECT_THAT(subjects(*due), ElementsAre("failure-confirmed compute-1/email",
                                          "guard-tripped /email", "guard-tripped /webhook"));
  due = journal_->dueOutbox(at(500), 10);
  ASSERT_TRUE(due.has_value());
  ASSERT_EQ(due->size(), 4u);
  EXPECT_EQ((*due)[1].attempts, 1);
  EXPECT_EQ((*due)[1].last_error, "refused");
}

TEST_P(JournalContractTest, EnqueueRefusesAnIncidentsNotificationWritingNothing) {
  const Incident incident = makeIncident("compute-1", 0, 1);
  commitOk(incident, events::Detected{}, {}, {});
  auto s = journal_->enqueue({makeAdminAlert("compute-2", 0),
                              makeNotification(incident, NotificationKind::kFenceFailed, 0)},
                             {"email"});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.error().message, HasSubstr(incident.id));
  auto outbox = journal_->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value());
  EXPECT_THAT(*outbox, IsEmpty());
}

TEST_P(JournalContractTest, EnqueueWithoutNotifiersOrNotificationsQueuesNothing) {
  ASSERT_TRUE(journal_->enqueue({makeAdminAlert("compute-2", 0)}, {}).has_value());
  ASSERT_TRUE(journal_->enqueue({}, {"email"}).has_value());
  auto outbox = journal_->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value());
  EXPECT_THAT(*outbox, IsEmpty());
}

TEST_P(JournalContractTest, CommandsAreEnqueuedPendingThenDone) {
  auto pending = journal_->pendingCommands();
  ASSERT_TRUE(pending.has_value());
  EXPECT_THAT(*pending, IsEmpty());

  const OperatorCommand confirm{.id = 0,
                                .kind = "confirm-fenced",
                                .node = "compute-1",
                                .who = "alice",
                                .at = at(1),
                                .reason = ""};
  const OperatorCommand pause{.id = 0,
                              .kind = "pause",
                              .node = "",
                              .who = "bob",
                              .at = at(2),
                              .reason = "switch upgrade in rack 4"};
  ASSERT_TRUE(journal_->enqueueCommand(confirm).has_value());
  ASSERT_TRUE(journal_->enqueueCommand(pause).has_value());

  pending = journal_->pendingCommands();
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].kind, "confirm-fenced");
  EXPECT_EQ((*pending)[0].node, "compute-1");
  EXPECT_EQ((*pending)[0].who, "alice");
  EXPECT_EQ((*pending)[0].at, at(1));
  EXPECT_EQ((*pending)[1].kind, "pause");
  EXPECT_EQ((*pending)[1].who, "bob");
  EXPECT_EQ((*pending)[1].reason, "switch upgrade in rack 4");
  EXPECT_EQ((*pending)[0].reason, "");
  EXPECT_GT((*pending)[1].id, (*pending)[0].id);

  auto s = journal_->markCommandDone((*pending)[0].id, "ok: fence confirmed by alice");
  ASSERT_TRUE(s.has_value()) << s.error().toString();
  s = journal_->markCommandDone((*pending)[0].id, "again");  // repeated after a crash
  ASSERT_TRUE(s.has_value()) << s.error().toString();
  const int64_t remaining = (*pending)[1].id;
  pending = journal_->pendingCommands();
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, remaining);

  s = journal_->markCommandDone(987654, "x");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

TEST_P(JournalContractTest, SettingsAreSetReadAndReplaced) {
  auto value = journal_->setting("paused");
  ASSERT_TRUE(value.has_value());
  EXPECT_FALSE(value->has_value());

  ASSERT_TRUE(journal_->setSetting("paused", "1").has_value());
  ASSERT_TRUE(journal_->setSetting("leader", "ctl-1").has_value());
  value = journal_->setting("paused");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, std::optional<std::string>("1"));

  ASSERT_TRUE(journal_->setSetting("paused", "0").has_value());
  value = journal_->setting("paused");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, std::optional<std::string>("0"));
  value = journal_->setting("leader");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, std::optional<std::string>("ctl-1"));
}

// The etcd journal: one real etcd member for the whole binary, a key prefix per test, and a
// leadership that holds the prefix's leader key (its term: the key's create revision).
struct EtcdWorld {
  SystemClock clock;
  std::unique_ptr<testing::EtcdCluster> cluster;
  std::unique_ptr<etcd::EtcdClient> client;
  std::vector<std::unique_ptr<testing::ScriptedLeadership>> leaderships;
};

EtcdWorld& etcdWorld() {
  static EtcdWorld world;
  return world;
}

Result<JournalPtr> makeEtcdJournal(const std::filesystem::path& dir) {
  if (!testing::EtcdCluster::available()) {
    return fail(ErrorCode::kNotSupported, testing::EtcdCluster::whyUnavailable());
  }
  EtcdWorld& world = etcdWorld();
  if (!world.cluster) {
    world.cluster = std::make_unique<testing::EtcdCluster>(1);
    if (!world.cluster->ready()) return fail(ErrorCode::kUnavailable, world.cluster->error());
    etcd::EtcdOptions options;
    options.endpoints = world.cluster->endpoints();
    auto client = etcd::EtcdClient::create(std::move(options), world.clock);
    if (!client) return std::unexpected(client.error());
    world.client = std::move(*client);
  }
  const std::string prefix = "/contract/" + dir.filename().string() + "/";
  auto lease = world.client->grantLease(60);
  if (!lease) return std::unexpected(lease.error());
  etcd::Txn campaign;
  campaign.compare.push_back(etcd::Compare::createRevision(prefix + "leader", 0));
  campaign.success.push_back(etcd::Op::put(prefix + "leader", "test", lease->id));
  auto won = world.client->txn(campaign);
  if (!won) return std::unexpected(won.error());
  if (!won->succeeded) return fail(ErrorCode::kInternal, "the test's leader key is taken");
  world.leaderships.push_back(std::make_unique<testing::ScriptedLeadership>());
  world.leaderships.back()->lead(won->revision);
  return JournalPtr(
      std::make_unique<EtcdJournal>(*world.client, prefix, world.leaderships.back().get()));
}

INSTANTIATE_TEST_SUITE_P(
    AllJournals, JournalContractTest,
    ::testing::Values(JournalFactory{"Memory",
                                     [](const std::filesystem::path&) -> Result<JournalPtr> {
                                       return std::make_unique<MemoryJournal>();
                                     }},
                      JournalFactory{"Sqlite",
                                     [](const std::filesystem::path& dir) -> Result<JournalPtr> {
                                       auto journal =
                                           SqliteJournal::open((dir / "journal.db").string(),
                                                               SqliteJournal::Mode::kActor);
                                       if (!journal) return std::unexpected(journal.error());
                                       return JournalPtr(std::move(*journal));
                                     }},
                      JournalFactory{"Etcd", makeEtcdJournal}),
    [](const ::testing::TestParamInfo<JournalFactory>& p) { return p.param.name; });

// Safety invariant 3 in the journal: a write of a controller whose term no longer holds the
// leader key lands nowhere, and the controller is told it was deposed.
TEST(EtcdJournalTest, ADeposedLeadersWritesAreRefusedAndWriteNothing) {
  auto made = makeEtcdJournal("deposed-" + std::to_string(::getpid()));
  if (!made && made.error().code == ErrorCode::kNotSupported) GTEST_SKIP() << made.error().message;
  ASSERT_TRUE(made.has_value()) << made.error().toString();
  JournalPtr journal = std::move(*made);
  testing::ScriptedLeadership& leadership = *etcdWorld().leaderships.back();
  const int64_t term = leadership.term();
  Incident incident = makeIncident("compute-1", 0, 1);
  ASSERT_TRUE(journal->commit({incident, makeEvent(events::Detected{}, 0), {}}, {"email"}));

  // Another controller wins the key after ours went (its lease expired, say).
  const std::string prefix = "/contract/deposed-" + std::to_string(::getpid()) + "/";
  etcd::EtcdClient& client = *etcdWorld().client;
  etcd::Txn expire;
  expire.success.push_back(etcd::Op::erase(prefix + "leader"));
  ASSERT_TRUE(client.txn(expire).has_value());
  ASSERT_TRUE(client.put(prefix + "leader", "other").has_value());

  incident.revision = 2;
  incident.phase = Phase::kFencing;
  Notification n = makeNotification(incident, NotificationKind::kFailureConfirmed, 1);
  auto refused = journal->commit({incident, makeEvent(events::Detected{}, 1), {n}}, {"email"});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(refused.error().message, HasSubstr("term " + std::to_string(term)));
  EXPECT_THAT(refused.error().message, HasSubstr("other holds it"));
  EXPECT_EQ(leadership.term(), 0) << "the controller was not told it is deposed";
  EXPECT_EQ(journal->incident(incident.id)->value().revision, 1u);
  EXPECT_EQ(*journal->undeliveredCount(), 0u);
  EXPECT_EQ(journal->setSetting("paused", "1").error().code, ErrorCode::kPermissionDenied);
  EXPECT_FALSE(journal->setting("paused")->has_value());
}

TEST(EtcdJournalTest, AReaderReadsAndQueuesCommandsButWritesNothingElse) {
  auto made = makeEtcdJournal("reader-" + std::to_string(::getpid()));
  if (!made && made.error().code == ErrorCode::kNotSupported) GTEST_SKIP() << made.error().message;
  ASSERT_TRUE(made.has_value()) << made.error().toString();
  JournalPtr leader = std::move(*made);
  const Incident incident = makeIncident("compute-1", 0, 1);
  ASSERT_TRUE(leader->commit({incident, makeEvent(events::Detected{}, 0), {}}, {}));
  EtcdJournal reader(*etcdWorld().client, "/contract/reader-" + std::to_string(::getpid()) + "/",
                     nullptr);
  ASSERT_EQ(reader.openIncidents()->size(), 1u);
  OperatorCommand command;
  command.kind = "pause";
  command.who = "alice";
  ASSERT_TRUE(reader.enqueueCommand(command).has_value());
  ASSERT_TRUE(reader.enqueueCommand(command).has_value());
  const auto pending = leader->pendingCommands();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_LT(pending->at(0).id, pending->at(1).id);
  Incident next = incident;
  next.revision = 2;
  const auto refused = reader.commit({next, makeEvent(events::Detected{}, 1), {}}, {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(reader.markCommandDone(pending->at(0).id, "x").error().code,
            ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace fdr
