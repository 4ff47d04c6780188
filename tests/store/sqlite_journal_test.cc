// What only the SQLite journal promises: durability across reopen, the actor lock, refusing
// files that are not journals, and corrupt rows reported as errors. The shared semantics are in
// journal_contract_test.cc.
#include "store/sqlite/sqlite_journal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/codec.h"
#include "store/sqlite/sqlite_db.h"

namespace fdr {
namespace {

using ::testing::HasSubstr;
using Mode = SqliteJournal::Mode;

TimePoint at(int64_t ms) {
  return fromMillis(1'700'000'000'000 + ms);
}

Incident makeIncident(const std::string& node, uint64_t revision) {
  Incident incident;
  incident.id = node + "@1700000000000";
  incident.node = node;
  incident.detected_at = at(0);
  incident.updated_at = at(0);
  incident.revision = revision;
  return incident;
}

JournalEntry makeEntry(const Incident& incident, EventPayload payload) {
  Notification n;
  n.incident_id = incident.id;
  n.node = incident.node;
  n.at = at(0);
  n.subject = "node failed";
  return JournalEntry{incident, Event{.at = at(0), .payload = std::move(payload)}, {n}};
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class SqliteJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "fdr-sqlite-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "journal.db").string();
  }

  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<SqliteJournal> mustOpen(Mode mode = Mode::kActor) {
    auto journal = SqliteJournal::open(path_, mode);
    EXPECT_TRUE(journal.has_value()) << journal.error().toString();
    return journal ? std::move(*journal) : nullptr;
  }

  // Runs SQL on the journal file behind the journal's back, through a connection of its own.
  void rawExec(const std::string& sql) {
    auto db = sqlite::Database::open(path_);
    ASSERT_TRUE(db.has_value()) << db.error().toString();
    auto s = db->exec(sql);
    ASSERT_TRUE(s.has_value()) << s.error().toString();
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteJournalTest, EverythingSurvivesCloseAndReopen) {
  Incident incident = makeIncident("compute-1", 1);
  InstanceRecord record;
  record.id = "i-1";
  record.name = "web";
  incident.instances.push_back(record);
  {
    auto journal = mustOpen();
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->commit(makeEntry(incident, events::Detected{}), {"email"}).has_value());
    ASSERT_TRUE(journal
                    ->enqueueCommand(OperatorCommand{.id = 0,
                                                     .kind = "pause",
                                                     .node = "",
                                                     .who = "alice",
                                                     .at = at(3),
                                                     .reason = "maintenance window"})
                    .has_value());
    ASSERT_TRUE(journal->setSetting("paused", "1").has_value());
  }
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  auto found = journal->incident(incident.id);
  ASSERT_TRUE(found.has_value()) << found.error().toString();
  EXPECT_EQ(*found, std::optional<Incident>(incident));
  auto events = journal->events(incident.id);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(events->size(), 1u);
  auto outbox = journal->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value());
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_EQ((*outbox)[0].notification.subject, "node failed");
  auto commands = journal->pendingCommands();
  ASSERT_TRUE(commands.has_value());
  ASSERT_EQ(commands->size(), 1u);
  EXPECT_EQ((*commands)[0].who, "alice");
  EXPECT_EQ((*commands)[0].reason, "maintenance window");
  auto paused = journal->setting("paused");
  ASSERT_TRUE(paused.has_value());
  EXPECT_EQ(*paused, std::optional<std::string>("1"));

  // The revision check holds across the reopen too.
  auto s = journal->commit(makeEntry(incident, events::Detected{}), {"email"});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
}

TEST_F(SqliteJournalTest, SecondActorIsRefusedWithTheHoldersPidButReadersAreNot) {
  auto actor = mustOpen();
  ASSERT_NE(actor, nullptr);
  EXPECT_EQ(readFile(path_ + ".lock"), std::to_string(::getpid()) + "\n");

  auto second = SqliteJournal::open(path_, Mode::kActor);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(second.error().message, "another freezer-dr (pid " + std::to_string(::getpid()) +
                                        ") is acting on journal " + path_ + " (lock " + path_ +
                                        ".lock)");

  auto reader = mustOpen(Mode::kReader);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(
      actor->commit(makeEntry(makeIncident("compute-1", 1), events::Detected{}), {}).has_value());
  auto open = reader->openIncidents();
  ASSERT_TRUE(open.has_value()) << open.error().toString();
  EXPECT_EQ(open->size(), 1u);
}

TEST_F(SqliteJournalTest, LockIsReleasedWhenTheJournalIsDestroyed) {
  auto first = mustOpen();
  ASSERT_NE(first, nullptr);
  first.reset();
  auto second = mustOpen();
  EXPECT_NE(second, nullptr);
}

TEST_F(SqliteJournalTest, AnotherProcessHoldingTheLockKeepsUsOutUntilItDies) {
  int ready[2];
  int release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    auto journal = SqliteJournal::open(path_, Mode::kActor);
    const char status = journal ? 'y' : 'n';
    if (::write(ready[1], &status, 1) != 1) ::_exit(2);
    char ignored;
    (void)::read(release[0], &ignored, 1);  // returns when the parent closes its end
    // _exit skips destructors, as a crash would: the kernel must release the flock.
    ::_exit(journal ? 0 : 1);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char status = 0;
  ASSERT_EQ(::read(ready[0], &status, 1), 1);
  ASSERT_EQ(status, 'y') << "the child could not open the journal";

  auto refused = SqliteJournal::open(path_, Mode::kActor);
  auto reader = SqliteJournal::open(path_, Mode::kReader);

  ::close(release[1]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ::close(ready[0]);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);

  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(refused.error().message, HasSubstr("(pid " + std::to_string(child) + ")"));
  EXPECT_THAT(refused.error().message, HasSubstr(path_ + ".lock"));
  EXPECT_TRUE(reader.has_value()) << reader.error().toString();

  auto after = SqliteJournal::open(path_, Mode::kActor);
  EXPECT_TRUE(after.has_value()) << after.error().toString();
}

TEST_F(SqliteJournalTest, ReaderMayEnqueueCommandsButNotActOnIncidents) {
  auto actor = mustOpen();
  auto reader = mustOpen(Mode::kReader);
  ASSERT_NE(actor, nullptr);
  ASSERT_NE(reader, nullptr);

  auto s = reader->commit(makeEntry(makeIncident("compute-1", 1), events::Detected{}), {});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(s.error().message, HasSubstr(path_));
  EXPECT_FALSE(reader->setSetting("paused", "1").has_value());
  EXPECT_FALSE(reader->markDelivered(1, at(0)).has_value());
  EXPECT_FALSE(reader->markAttemptFailed(1, "x", at(0)).has_value());
  EXPECT_FALSE(reader->markCommandDone(1, "x").has_value());
  Notification alert;
  alert.subject = "storm";
  s = reader->enqueue({alert}, {"email"});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);

  ASSERT_TRUE(reader
                  ->enqueueCommand(OperatorCommand{.id = 0,
                                                   .kind = "confirm-fenced",
                                                   .node = "compute-1",
                                                   .who = "alice",
                                                   .at = at(1),
                                                   .reason = ""})
                  .has_value());
  auto pending = actor->pendingCommands();
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].kind, "confirm-fenced");
  auto open = actor->openIncidents();
  ASSERT_TRUE(open.has_value());
  EXPECT_TRUE(open->empty());
}

TEST_F(SqliteJournalTest, CreatesMissingParentDirectoriesPrivate) {
  path_ = (dir_ / "var" / "lib" / "journal.db").string();
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  for (const auto& d : {dir_ / "var", dir_ / "var" / "lib"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 0077, 0u) << d << " is open to others";
  }
}

TEST_F(SqliteJournalTest, WalModeIsActive) {
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  ASSERT_TRUE(journal->setSetting("k", "v").has_value());
  auto db = sqlite::Database::open(path_);
  ASSERT_TRUE(db.has_value());
  auto mode = db->queryText("PRAGMA journal_mode");
  ASSERT_TRUE(mode.has_value()) << mode.error().toString();
  EXPECT_EQ(*mode, "wal");
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
  auto version = db->queryInt("PRAGMA user_version");
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ(*version, SqliteJournal::kSchemaVersion);
  auto application = db->queryInt("PRAGMA application_id");
  ASSERT_TRUE(application.has_value());
  EXPECT_EQ(*application, SqliteJournal::kApplicationId);
}

TEST_F(SqliteJournalTest, GarbageFileIsAnErrorNamingThePath) {
  {
    std::ofstream out(path_, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is not a database, it is a shopping list\n";
  }
  for (Mode mode : {Mode::kActor, Mode::kReader}) {
    auto journal = SqliteJournal::open(path_, mode);
    ASSERT_FALSE(journal.has_value());
    EXPECT_EQ(journal.error().code, ErrorCode::kCorruption);
    EXPECT_THAT(journal.error().message, HasSubstr(path_));
    EXPECT_THAT(journal.error().message, HasSubstr("not a database"));
  }
  // The failed actor open let go of the lock.
  auto again = SqliteJournal::open(path_, Mode::kActor);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kCorruption);
}

TEST_F(SqliteJournalTest, ForeignSqliteDatabaseIsRefused) {
  rawExec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
  auto journal = SqliteJournal::open(path_, Mode::kActor);
  ASSERT_FALSE(journal.has_value());
  EXPECT_EQ(journal.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(journal.error().message, HasSubstr(path_));
  EXPECT_THAT(journal.error().message, HasSubstr("not a freezer-dr journal"));
}

TEST_F(SqliteJournalTest, JournalFromANewerVersionIsRefused) {
  ASSERT_NE(mustOpen(), nullptr);
  rawExec("PRAGMA user_version = 99");
  auto journal = SqliteJournal::open(path_, Mode::kReader);
  ASSERT_FALSE(journal.has_value());
  EXPECT_EQ(journal.error().code, ErrorCode::kNotSupported);
  EXPECT_THAT(journal.error().message, HasSubstr("schema version 99"));
  EXPECT_THAT(journal.error().message, HasSubstr(path_));
}

TEST_F(SqliteJournalTest, VersionOneJournalIsMigratedKeepingPendingCommands) {
  ASSERT_NE(mustOpen(), nullptr);
  // Back to the version 1 layout: no `reason` column, one command pending.
  rawExec("ALTER TABLE commands DROP COLUMN reason");
  rawExec("INSERT INTO commands (kind, node, who, at) VALUES ('fence', 'compute-1', 'alice', 7)");
  rawExec("PRAGMA user_version = 1");
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  auto pending = journal->pendingCommands();
  ASSERT_TRUE(pending.has_value()) << pending.error().toString();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].who, "alice");
  EXPECT_EQ((*pending)[0].reason, "");
  ASSERT_TRUE(journal
                  ->enqueueCommand(OperatorCommand{
                      .id = 0, .kind = "pause", .node = "", .who = "bob", .at = {}, .reason = "r"})
                  .has_value());
  pending = journal->pendingCommands();
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[1].reason, "r");
}

TEST_F(SqliteJournalTest, EnqueuedAlertSurvivesCloseAndReopen) {
  Notification alert;
  alert.kind = NotificationKind::kGuardTripped;
  alert.node = "compute-2";
  alert.at = at(5);
  alert.subject = "storm guard";
  {
    auto journal = mustOpen();
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->enqueue({alert}, {"email"}).has_value());
  }
  auto journal = mustOpen(Mode::kReader);
  ASSERT_NE(journal, nullptr);
  auto outbox = journal->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value()) << outbox.error().toString();
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_EQ(toJson((*outbox)[0].notification), toJson(alert));
  EXPECT_EQ((*outbox)[0].notifier, "email");
}

// The schema of version 2 exactly as freezer-dr wrote it (migrations 1 and 2), with an outbox
// whose incident_id is NOT NULL.
constexpr const char* kVersionTwoSchema = R"sql(
CREATE TABLE incidents (
  id          TEXT PRIMARY KEY NOT NULL,
  node        TEXT NOT NULL,
  phase       TEXT NOT NULL,
  revision    INTEGER NOT NULL,
  detected_at INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  closed      INTEGER NOT NULL,
  json        TEXT NOT NULL
);
CREATE INDEX incidents_by_detected_at ON incidents (detected_at, id);
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  kind        TEXT NOT NULL,
  at          INTEGER NOT NULL,
  json        TEXT NOT NULL
);
CREATE INDEX events_by_incident ON events (incident_id, seq);
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id     TEXT NOT NULL REFERENCES incidents (id),
  notifier        TEXT NOT NULL,
  json            TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  delivered_at    INTEGER
);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;
CREATE TABLE commands (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  kind    TEXT NOT NULL,
  node    TEXT NOT NULL,
  who     TEXT NOT NULL,
  at      INTEGER NOT NULL,
  done_at INTEGER,
  outcome TEXT
);
CREATE INDEX commands_pending ON commands (id) WHERE done_at IS NULL;
CREATE TABLE settings (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);
ALTER TABLE commands ADD COLUMN reason TEXT NOT NULL DEFAULT '';
)sql";

TEST_F(SqliteJournalTest, VersionTwoJournalIsMigratedKeepingItsOutbox) {
  const Incident incident = makeIncident("compute-1", 1);
  Notification notice;
  notice.kind = NotificationKind::kFenceFailed;
  notice.incident_id = incident.id;
  notice.node = incident.node;
  notice.at = at(0);
  notice.subject = "fence failed";
  {
    // A version 2 journal written by the previous freezer-dr: one incident, three outbox rows
    // (delivered, failed twice, new), and the AUTOINCREMENT counter past them (rows 4 and 5
    // were used once: ids must never be reused).
    auto db = sqlite::Database::open(path_);
    ASSERT_TRUE(db.has_value()) << db.error().toString();
    ASSERT_TRUE(db->exec(kVersionTwoSchema).has_value());
    ASSERT_TRUE(db->exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = 2;",
                                     SqliteJournal::kApplicationId))
                    .has_value());
    auto insert_incident = db->prepare(
        "INSERT INTO incidents (id, node, phase, revision, detected_at, updated_at, closed, json)"
        " VALUES (?1, ?2, 'detected', 1, 0, 0, 0, ?3)");
    ASSERT_TRUE(insert_incident.has_value()) << insert_incident.error().toString();
    insert_incident->bind(1, incident.id)
        .bind(2, incident.node)
        .bind(3, dumpJson(toJson(incident)));
    ASSERT_TRUE(insert_incident->run().has_value());
    const std::string json = dumpJson(toJson(notice));
    const char* rows[] = {
        "INSERT INTO outbox (id, incident_id, notifier, json, attempts, next_attempt_at,"
        " last_error, delivered_at) VALUES (1, ?1, 'email', ?2, 0, 0, '', 5)",
        "INSERT INTO outbox (id, incident_id, notifier, json, attempts, next_attempt_at,"
        " last_error, delivered_at) VALUES (2, ?1, 'webhook', ?2, 2, 9000, '503', NULL)",
        "INSERT INTO outbox (id, incident_id, notifier, json, attempts, next_attempt_at,"
        " last_error, delivered_at) VALUES (3, ?1, 'file', ?2, 0, 0, '', NULL)",
    };
    for (const char* sql : rows) {
      auto insert = db->prepare(sql);
      ASSERT_TRUE(insert.has_value()) << insert.error().toString();
      insert->bind(1, incident.id).bind(2, json);
      ASSERT_TRUE(insert->run().has_value());
    }
    ASSERT_TRUE(db->exec("UPDATE sqlite_sequence SET seq = 5 WHERE name = 'outbox'").has_value());
  }

  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  auto outbox = journal->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value()) << outbox.error().toString();
  ASSERT_EQ(outbox->size(), 2u);
  EXPECT_EQ((*outbox)[0].id, 2);
  EXPECT_EQ((*outbox)[0].notifier, "webhook");
  EXPECT_EQ((*outbox)[0].attempts, 2);
  EXPECT_EQ((*outbox)[0].last_error, "503");
  EXPECT_EQ((*outbox)[0].next_attempt_at, fromMillis(9000));
  EXPECT_EQ(toJson((*outbox)[0].notification), toJson(notice));
  EXPECT_EQ((*outbox)[1].id, 3);
  EXPECT_EQ((*outbox)[1].notifier, "file");

  // Alerts without an incident can be queued now, after the old rows, with new ids.
  Notification alert;
  alert.kind = NotificationKind::kGuardTripped;
  alert.at = at(1);
  alert.subject = "paused";
  ASSERT_TRUE(journal->enqueue({alert}, {"email"}).has_value());
  outbox = journal->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value()) << outbox.error().toString();
  ASSERT_EQ(outbox->size(), 3u);
  EXPECT_EQ((*outbox)[2].id, 6);
  EXPECT_EQ((*outbox)[2].notification.subject, "paused");
  EXPECT_EQ((*outbox)[2].notification.incident_id, "");
  // The incident's own notifications still go with its commits, and its history is intact.
  Incident next = incident;
  next.revision = 2;
  ASSERT_TRUE(journal->commit(makeEntry(next, events::FenceFailed{}), {"email"}).has_value());
  outbox = journal->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value());
  ASSERT_EQ(outbox->size(), 4u);
  EXPECT_EQ((*outbox)[3].id, 7);
  journal.reset();

  auto db = sqlite::Database::open(path_);
  ASSERT_TRUE(db.has_value());
  EXPECT_EQ(db->queryInt("PRAGMA user_version").value_or(-1), SqliteJournal::kSchemaVersion);
  EXPECT_EQ(db->queryInt("SELECT count(*) FROM outbox").value_or(-1), 5);
  EXPECT_EQ(db->queryInt("SELECT count(*) FROM outbox WHERE incident_id IS NULL").value_or(-1), 1);
  EXPECT_EQ(db->queryInt("SELECT \"notnull\" FROM pragma_table_info('outbox')"
                         " WHERE name = 'incident_id'")
                .value_or(-1),
            0);
  EXPECT_EQ(db->queryInt("SELECT count(*) FROM sqlite_schema WHERE name = 'outbox_undelivered'")
                .value_or(-1),
            1);
  EXPECT_EQ(db->queryInt("SELECT count(*) FROM pragma_foreign_key_check").value_or(-1), 0);
}

TEST_F(SqliteJournalTest, VersionOneJournalIsMigratedToTheLatestSchema) {
  ASSERT_NE(mustOpen(), nullptr);
  // Back to version 1: no `reason` column, outbox.incident_id NOT NULL.
  rawExec(
      "ALTER TABLE commands DROP COLUMN reason; DROP TABLE outbox;"
      " CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " incident_id TEXT NOT NULL REFERENCES incidents (id), notifier TEXT NOT NULL,"
      " json TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
      " next_attempt_at INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',"
      " delivered_at INTEGER);"
      " CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;"
      " PRAGMA user_version = 1;");
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  Notification alert;
  alert.subject = "storm";
  ASSERT_TRUE(journal->enqueue({alert}, {"email"}).has_value());
  ASSERT_TRUE(journal
                  ->enqueueCommand(OperatorCommand{
                      .id = 0, .kind = "pause", .node = "", .who = "bob", .at = {}, .reason = "r"})
                  .has_value());
  auto outbox = journal->undeliveredOutbox();
  ASSERT_TRUE(outbox.has_value()) << outbox.error().toString();
  EXPECT_EQ(outbox->size(), 1u);
}

TEST_F(SqliteJournalTest, CorruptIncidentRowIsCorruptionNamingTableAndId) {
  const Incident incident = makeIncident("compute-1", 1);
  {
    auto journal = mustOpen();
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->commit(makeEntry(incident, events::Detected{}), {"email"}).has_value());
  }
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);

  // Valid JSON with a field of the wrong type: the field is named.
  rawExec("UPDATE incidents SET json = json_set(json, '$.phase', 7)");
  auto found = journal->incident(incident.id);
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().code, ErrorCode::kCorruption);
  EXPECT_THAT(found.error().message, HasSubstr("table incidents, id " + incident.id));
  EXPECT_THAT(found.error().message, HasSubstr("incident.phase: expected a string"));

  // Truncated JSON.
  rawExec("UPDATE incidents SET json = '{\"id\": ' WHERE id = '" + incident.id + "'");
  found = journal->incident(incident.id);
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().code, ErrorCode::kCorruption);
  EXPECT_THAT(found.error().message, HasSubstr("table incidents, id " + incident.id));
  EXPECT_THAT(found.error().message, HasSubstr("not valid JSON"));
  auto open = journal->openIncidents();
  ASSERT_FALSE(open.has_value());
  EXPECT_EQ(open.error().code, ErrorCode::kCorruption);
  auto recent = journal->recentIncidents(5);
  ASSERT_FALSE(recent.has_value());
  EXPECT_EQ(recent.error().code, ErrorCode::kCorruption);
}

TEST_F(SqliteJournalTest, SnapshotNotMatchingItsRowIsCorruption) {
  const Incident incident = makeIncident("compute-1", 1);
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  ASSERT_TRUE(journal->commit(makeEntry(incident, events::Detected{}), {}).has_value());
  rawExec("UPDATE incidents SET revision = 5");
  auto found = journal->incident(incident.id);
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().code, ErrorCode::kCorruption);
  EXPECT_THAT(found.error().message, HasSubstr("does not match its row"));
}

// Event rows as the code before per-kind payloads wrote them (every kind with every field of one
// shared field bag) load as their payloads; a row lacking a field its kind needs is corruption
// naming the row, the kind and the field.
TEST_F(SqliteJournalTest, EventRowsWrittenByOlderVersionsLoad) {
  const Incident incident = makeIncident("compute-1", 1);
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  ASSERT_TRUE(journal->commit(makeEntry(incident, events::Detected{}), {}).has_value());
  rawExec(
      "INSERT INTO events (incident_id, kind, at, json) VALUES "
      "('" +
      incident.id +
      "', 'power-off-requested', 1700000000010, "
      R"('{"at":1700000000010,"attempt":1,"attempt_deadline":1700000005010,"deadline":null,"detail":"","fence_deadline":1700000030010,"final":false,"host":"","instance_id":"","kind":"power-off-requested","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":"ipmi"}'),)"
      "('" +
      incident.id +
      "', 'power-off-requested', 1700000000020, "
      R"('{"at":1700000000020,"attempt":2,"attempt_deadline":1700000005020,"deadline":null,"detail":"","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"power-off-requested","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":"ipmi"}'),)"
      // Written before the unfence: no "deadline".
      "('" +
      incident.id +
      "', 'evacuation-rejected', 1700000000030, "
      R"('{"at":1700000000030,"attempt":0,"attempt_deadline":null,"detail":"409","fence_deadline":null,"final":true,"host":"","instance_id":"vm-1","kind":"evacuation-rejected","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":""}'))");
  auto events = journal->events(incident.id);
  ASSERT_TRUE(events.has_value()) << events.error().toString();
  ASSERT_EQ(events->size(), 4U);
  EXPECT_EQ((*events)[1],
            (Event{.at = at(10),
                   .payload = events::PowerOffRequested{.level = 0,
                                                        .attempt = 1,
                                                        .fencer = "ipmi",
                                                        .attempt_deadline = at(5010),
                                                        .fence_deadline = at(30'010)}}));
  EXPECT_EQ((*events)[2],
            (Event{.at = at(20),
                   .payload = events::PowerOffRequested{.level = 0,
                                                        .attempt = 2,
                                                        .fencer = "ipmi",
                                                        .attempt_deadline = at(5020),
                                                        .fence_deadline = std::nullopt}}));
  EXPECT_EQ((*events)[3], (Event{.at = at(30),
                                 .payload = events::EvacuationRejected{
                                     .instance_id = "vm-1", .final = true, .detail = "409"}}));

  rawExec("UPDATE events SET json = json_remove(json, '$.attempt_deadline') WHERE seq = 3");
  events = journal->events(incident.id);
  ASSERT_FALSE(events.has_value());
  EXPECT_EQ(events.error().code, ErrorCode::kCorruption);
  EXPECT_THAT(events.error().message,
              HasSubstr("table events, id 3: event.attempt_deadline: missing (event kind "
                        "'power-off-requested')"));
}

TEST_F(SqliteJournalTest, CorruptEventAndOutboxRowsAreCorruption) {
  const Incident incident = makeIncident("compute-1", 1);
  auto journal = mustOpen();
  ASSERT_NE(journal, nullptr);
  ASSERT_TRUE(journal->commit(makeEntry(incident, events::Detected{}), {"email"}).has_value());
  rawExec("UPDATE events SET json = 'null'; UPDATE outbox SET json = json_remove(json, '$.kind')");

  auto events = journal->events(incident.id);
  ASSERT_FALSE(events.has_value());
  EXPECT_EQ(events.error().code, ErrorCode::kCorruption);
  EXPECT_THAT(events.error().message, HasSubstr("table events, id 1"));

  auto outbox = journal->undeliveredOutbox();
  ASSERT_FALSE(outbox.has_value());
  EXPECT_EQ(outbox.error().code, ErrorCode::kCorruption);
  EXPECT_THAT(outbox.error().message, HasSubstr("table outbox, id 1: notification.kind: missing"));
  auto due = journal->dueOutbox(at(0), 10);
  ASSERT_FALSE(due.has_value());
  EXPECT_EQ(due.error().code, ErrorCode::kCorruption);
}

}  // namespace
}  // namespace fdr
