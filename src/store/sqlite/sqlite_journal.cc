#include "store/sqlite/sqlite_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "core/codec.h"

namespace fdr {
namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;
using sqlite::Use;

// Each migration takes the schema from version - 1 to version. Append, never edit: a journal
// written by an older freezer-dr is brought up to date by running the ones it has not seen.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
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
)sql"},
    // An operator command's free text (the reason given to `freezer-dr pause`).
    {2, R"sql(
ALTER TABLE commands ADD COLUMN reason TEXT NOT NULL DEFAULT '';
)sql"},
    // Admin alerts that belong to no incident (Journal::enqueue): outbox.incident_id becomes
    // nullable. SQLite cannot drop NOT NULL in place, so the table is rebuilt (new table, copy,
    // drop, rename) inside the migration's transaction, keeping every row, its id and the
    // AUTOINCREMENT counter, so that ids are never reused. Nothing refers to the outbox, so the
    // foreign keys stay valid throughout.
    {3, R"sql(
CREATE TABLE outbox_v3 (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id     TEXT REFERENCES incidents (id),
  notifier        TEXT NOT NULL,
  json            TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  delivered_at    INTEGER
);
INSERT INTO outbox_v3 (id, incident_id, notifier, json, attempts, next_attempt_at, last_error,
                       delivered_at)
  SELECT id, incident_id, notifier, json, attempts, next_attempt_at, last_error, delivered_at
  FROM outbox ORDER BY id;
DELETE FROM sqlite_sequence WHERE name = 'outbox_v3';
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'outbox_v3', seq FROM sqlite_sequence WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;
)sql"},
};

static_assert(std::size(kMigrations) == SqliteJournal::kSchemaVersion,
              "one migration per schema version");

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kIncidentColumns = "id, revision, json";
constexpr const char* kOutboxColumns =
    "id, notifier, json, attempts, next_attempt_at, last_error, delivered_at";

int64_t toSqlLimit(size_t limit) {
  constexpr auto kMax = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(limit > kMax ? kMax : limit);
}

// Creates the missing directories above `path`, each with mode 0700.
Status makeParentDirectories(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::filesystem::path current;
  for (const auto& part : parent) {
    current /= part;
    struct stat st {};
    if (::stat(current.c_str(), &st) == 0) continue;
    if (::mkdir(current.c_str(), 0700) != 0 && errno != EEXIST) {
      const int err = errno;
      return fail(err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                  fmt::format("journal {}: cannot create directory {}: {}", path, current.string(),
                              std::strerror(err)));
    }
  }
  return {};
}

std::string readHolderPid(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) return "unknown";
  std::string pid(buffer, static_cast<size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return pid;
}

}  // namespace

// The prepared statements, made once at open and reused by every call.
struct SqliteJournal::Statements {
  Statement select_revision;
  Statement upsert_incident;
  Statement insert_event;
  Statement insert_outbox;
  Statement select_open;
  Statement select_recent;
  Statement select_incident;
  Statement select_events;
  Statement select_due;
  Statement select_undelivered;
  Statement count_undelivered;
  Statement mark_delivered;
  Statement mark_failed;
  Statement insert_command;
  Statement select_pending;
  Statement mark_done;
  Statement upsert_setting;
  Statement select_setting;

  static Result<std::unique_ptr<Statements>> prepare(Database& db) {
    auto s = std::make_unique<Statements>();
    const std::pair<Statement*, std::string> all[] = {
        {&s->select_revision, "SELECT revision FROM incidents WHERE id = ?1"},
        {&s->upsert_incident,
         "INSERT INTO incidents (id, node, phase, revision, detected_at, updated_at, closed, json)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
         " ON CONFLICT (id) DO UPDATE SET node = excluded.node, phase = excluded.phase,"
         " revision = excluded.revision, detected_at = excluded.detected_at,"
         " updated_at = excluded.updated_at, closed = excluded.closed, json = excluded.json"},
        {&s->insert_event,
         "INSERT INTO events (incident_id, kind, at, json) VALUES (?1, ?2, ?3, ?4)"},
        {&s->insert_outbox,
         "INSERT INTO outbox (incident_id, notifier, json, next_attempt_at)"
         " VALUES (?1, ?2, ?3, ?4)"},
        {&s->select_open, fmt::format("SELECT {} FROM incidents WHERE closed = 0"
                                      " ORDER BY detected_at, id",
                                      kIncidentColumns)},
        {&s->select_recent,
         fmt::format("SELECT {} FROM incidents ORDER BY detected_at DESC, id DESC LIMIT ?1",
                     kIncidentColumns)},
        {&s->select_incident,
         fmt::format("SELECT {} FROM incidents WHERE id = ?1", kIncidentColumns)},
        {&s->select_events,
         "SELECT seq, kind, json FROM events WHERE incident_id = ?1 ORDER BY seq"},
        {&s->select_due, fmt::format("SELECT {} FROM outbox WHERE delivered_at IS NULL"
                                     " AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
                                     kOutboxColumns)},
        {&s->select_undelivered,
         fmt::format("SELECT {} FROM outbox WHERE delivered_at IS NULL ORDER BY id",
                     kOutboxColumns)},
        {&s->count_undelivered, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"},
        {&s->mark_delivered,
         "UPDATE outbox SET delivered_at = coalesce(delivered_at, ?2) WHERE id = ?1"},
        {&s->mark_failed,
         "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3"
         " WHERE id = ?1 AND delivered_at IS NULL"},
        {&s->insert_command,
         "INSERT INTO commands (kind, node, who, at, reason) VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&s->select_pending,
         "SELECT id, kind, node, who, at, reason FROM commands WHERE done_at IS NULL ORDER BY id"},
        {&s->mark_done,
         "UPDATE commands SET done_at = coalesce(done_at, ?2), outcome = coalesce(outcome, ?3)"
         " WHERE id = ?1"},
        {&s->upsert_setting,
         "INSERT INTO settings (key, value) VALUES (?1, ?2)"
         " ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
        {&s->select_setting, "SELECT value FROM settings WHERE key = ?1"},
    };
    for (const auto& [statement, sql] : all) {
      auto prepared = db.prepare(sql);
      if (!prepared) return withContext(prepared.error(), "preparing \"" + sql + "\"");
      *statement = std::move(*prepared);
    }
    return s;
  }
};

SqliteJournal::LockFd::~LockFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// Takes the exclusive lock on "<path>.lock" without waiting, and writes our pid into it.
Result<int> acquireLock(const std::string& path) {
  const std::string lock_path = path + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    return fail(err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                fmt::format("journal {}: cannot open lock file {}: {}", path, lock_path,
                            std::strerror(err)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const std::string holder = readHolderPid(fd);
      ::close(fd);
      return fail(ErrorCode::kPermissionDenied,
                  fmt::format("another freezer-dr (pid {}) is acting on journal {} (lock {})",
                              holder, path, lock_path));
    }
    ::close(fd);
    return fail(ErrorCode::kUnavailable,
                fmt::format("journal {}: cannot lock {}: {}", path, lock_path, std::strerror(err)));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    return fail(ErrorCode::kUnavailable, fmt::format("journal {}: cannot write pid to {}: {}", path,
                                                     lock_path, std::strerror(err)));
  }
  return fd;
}

// Brings the schema to SqliteJournal::kSchemaVersion, refusing files that are not journals.
// One IMMEDIATE transaction, so two processes opening a new journal at once cannot both migrate.
Status migrate(Database& db, const std::string& path) {
  const std::string context = "journal " + path;
  auto tx = Transaction::begin(db);
  if (!tx) return withContext(tx.error(), context);
  auto application_id = db.queryInt("PRAGMA application_id");
  if (!application_id) return withContext(application_id.error(), context);
  auto version = db.queryInt("PRAGMA user_version");
  if (!version) return withContext(version.error(), context);
  auto objects = db.queryInt("SELECT count(*) FROM sqlite_schema");
  if (!objects) return withContext(objects.error(), context);

  const bool empty = *version == 0 && *application_id == 0 && *objects == 0;
  if (!empty && *application_id != SqliteJournal::kApplicationId) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is a SQLite database but not a freezer-dr journal "
                            "(application_id {:#x})",
                            path, *application_id));
  }
  if (*version > SqliteJournal::kSchemaVersion) {
    return fail(ErrorCode::kNotSupported,
                fmt::format("{} has schema version {}, newer than this freezer-dr supports "
                            "({}): upgrade freezer-dr",
                            context, *version, SqliteJournal::kSchemaVersion));
  }
  if (*version == SqliteJournal::kSchemaVersion) {
    if (auto s = tx->commit(); !s) return withContext(s.error(), context);
    return {};
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= *version) continue;
    if (auto s = db.exec(m.sql); !s) {
      return withContext(s.error(),
                         fmt::format("{}: migrating to schema version {}", context, m.version));
    }
  }
  if (auto s = db.exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {};",
                                   SqliteJournal::kApplicationId, SqliteJournal::kSchemaVersion));
      !s) {
    return withContext(s.error(), context);
  }
  if (auto s = tx->commit(); !s) return withContext(s.error(), context);
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteJournal>> SqliteJournal::open(const std::string& path, Mode mode) {
  if (path.empty()) return fail(ErrorCode::kInvalidArgument, "journal path is empty");
  if (auto s = makeParentDirectories(path); !s) return std::unexpected(s.error());

  int lock_fd = -1;
  if (mode == Mode::kActor) {
    auto fd = acquireLock(path);
    if (!fd) return std::unexpected(fd.error());
    lock_fd = *fd;
  }
  LockFd lock(lock_fd);  // from here on, every return releases the lock

  const std::string context = "journal " + path;
  auto db = Database::open(path);
  if (!db) return withContext(db.error(), context);

  if (auto s = db->exec(fmt::format("PRAGMA busy_timeout = {}", kBusyTimeoutMs)); !s) {
    return withContext(s.error(), context);
  }
  // The first statement that reads the file: a file that is not a database fails here.
  auto journal_mode = db->queryText("PRAGMA journal_mode = WAL");
  if (!journal_mode) return withContext(journal_mode.error(), context);
  if (*journal_mode != "wal") {
    return fail(ErrorCode::kNotSupported,
                fmt::format("{}: cannot use WAL mode (SQLite kept '{}')", context, *journal_mode));
  }
  if (auto s = db->exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"); !s) {
    return withContext(s.error(), context);
  }
  if (auto s = migrate(*db, path); !s) return std::unexpected(s.error());
  auto statements = Statements::prepare(*db);
  if (!statements) return withContext(statements.error(), context);

  return std::unique_ptr<SqliteJournal>(
      new SqliteJournal(path, mode, std::move(lock), std::move(*db), std::move(*statements)));
}

SqliteJournal::SqliteJournal(std::string path, Mode mode, LockFd lock, Database db,
                             std::unique_ptr<Statements> statements)
    : path_(std::move(path)),
      mode_(mode),
      lock_(std::move(lock)),
      db_(std::move(db)),
      statements_(std::move(statements)) {}

SqliteJournal::~SqliteJournal() = default;

Status SqliteJournal::requireActor(std::string_view what) const {
  if (mode_ == Mode::kActor) return {};
  return fail(ErrorCode::kPermissionDenied,
              fmt::format("journal {} is open as a reader: {} is only for the acting freezer-dr",
                          path_, what));
}

Error SqliteJournal::sqlError(const Error& error, std::string_view what) const {
  Error e = error;
  e.message = fmt::format("journal {}: {}: {}", path_, what, error.message);
  return e;
}

namespace {

Error rowCorruption(const std::string& path, std::string_view table, std::string_view id,
                    std::string_view detail) {
  return Error{ErrorCode::kCorruption,
               fmt::format("journal {}: table {}, id {}: {}", path, table, id, detail)};
}

}  // namespace

Status SqliteJournal::commit(const JournalEntry& entry, const std::vector<std::string>& notifiers) {
  if (auto s = requireActor("commit"); !s) return s;
  const Incident& incident = entry.incident;
  if (incident.id.empty()) {
    return fail(ErrorCode::kInvalidArgument, "journal commit: the incident has no id");
  }
  std::lock_guard lock(mutex_);
  Statements& st = *statements_;

  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(sqlError(tx.error(), "beginning a commit"));

  uint64_t stored = 0;
  {
    Use use(st.select_revision);
    use->bind(1, incident.id);
    auto row = use->step();
    if (!row) return std::unexpected(sqlError(row.error(), "reading revision"));
    if (*row) stored = static_cast<uint64_t>(use->int64At(0));
  }
  if (incident.revision != stored + 1) {
    return fail(ErrorCode::kConflict,
                fmt::format("journal {}: incident {} at revision {} does not follow the stored "
                            "revision {}: a stale or second writer",
                            path_, incident.id, incident.revision, stored));
  }
  {
    Use use(st.upsert_incident);
    use->bind(1, incident.id)
        .bind(2, incident.node)
        .bind(3, toString(incident.phase))
        .bind(4, static_cast<int64_t>(incident.revision))
        .bind(5, toMillis(incident.detected_at))
        .bind(6, toMillis(incident.updated_at))
        .bind(7, int64_t{isTerminal(incident.phase) ? 1 : 0})
        .bind(8, dumpJson(toJson(incident)));
    if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "writing incident"));
  }
  {
    Use use(st.insert_event);
    use->bind(1, incident.id)
        .bind(2, toString(entry.event.kind()))
        .bind(3, toMillis(entry.event.at))
        .bind(4, dumpJson(toJson(entry.event)));
    if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "writing event"));
  }
  if (auto s = queueOutbox(entry.outbox, incident.id, notifiers); !s) return s;
  if (auto s = tx->commit(); !s) return std::unexpected(sqlError(s.error(), "committing"));
  return {};
}

Status SqliteJournal::enqueue(const std::vector<Notification>& notifications,
                              const std::vector<std::string>& notifiers) {
  if (auto s = requireActor("enqueue"); !s) return s;
  for (const Notification& notification : notifications) {
    if (!notification.incident_id.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("journal {}: enqueue: notification '{}' belongs to incident {}: "
                              "it goes with the incident's commit",
                              path_, notification.subject, notification.incident_id));
    }
  }
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(sqlError(tx.error(), "beginning to queue notifications"));
  if (auto s = queueOutbox(notifications, "", notifiers); !s) return s;
  if (auto s = tx->commit(); !s) return std::unexpected(sqlError(s.error(), "committing"));
  return {};
}

Status SqliteJournal::queueOutbox(const std::vector<Notification>& notifications,
                                  const std::string& incident_id,
                                  const std::vector<std::string>& notifiers) {
  for (const Notification& notification : notifications) {
    const std::string json = dumpJson(toJson(notification));
    for (const std::string& notifier : notifiers) {
      Use use(statements_->insert_outbox);
      if (incident_id.empty()) {
        use->bindNull(1);
      } else {
        use->bind(1, incident_id);
      }
      use->bind(2, notifier).bind(3, json).bind(4, toMillis(notification.at));
      if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "queueing outbox"));
    }
  }
  return {};
}

Result<std::vector<Incident>> SqliteJournal::readIncidents(Statement& statement) {
  std::vector<Incident> incidents;
  for (;;) {
    auto row = statement.step();
    if (!row) return std::unexpected(sqlError(row.error(), "reading incidents"));
    if (!*row) return incidents;
    const std::string id = statement.textAt(0);
    const int64_t revision = statement.int64At(1);
    auto json = parseJson(statement.textAt(2));
    if (!json) return std::unexpected(rowCorruption(path_, "incidents", id, json.error().message));
    auto incident = incidentFromJson(*json);
    if (!incident) {
      return std::unexpected(rowCorruption(path_, "incidents", id, incident.error().message));
    }
    if (incident->id != id || static_cast<int64_t>(incident->revision) != revision) {
      return std::unexpected(rowCorruption(
          path_, "incidents", id,
          fmt::format("the snapshot (id {}, revision {}) does not match its row (revision {})",
                      incident->id, incident->revision, revision)));
    }
    incidents.push_back(std::move(*incident));
  }
}

Result<std::vector<Incident>> SqliteJournal::openIncidents() {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_open);
  return readIncidents(*use);
}

Result<std::vector<Incident>> SqliteJournal::recentIncidents(size_t limit) {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_recent);
  use->bind(1, toSqlLimit(limit));
  return readIncidents(*use);
}

Result<std::optional<Incident>> SqliteJournal::incident(const std::string& id) {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_incident);
  use->bind(1, id);
  auto incidents = readIncidents(*use);
  if (!incidents) return std::unexpected(incidents.error());
  if (incidents->empty()) return std::optional<Incident>();
  return std::optional<Incident>(std::move(incidents->front()));
}

Result<std::vector<Event>> SqliteJournal::events(const std::string& incident_id) {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_events);
  use->bind(1, incident_id);
  std::vector<Event> events;
  for (;;) {
    auto row = use->step();
    if (!row) return std::unexpected(sqlError(row.error(), "reading events"));
    if (!*row) return events;
    const std::string seq = std::to_string(use->int64At(0));
    const std::string kind = use->textAt(1);
    auto json = parseJson(use->textAt(2));
    if (!json) return std::unexpected(rowCorruption(path_, "events", seq, json.error().message));
    auto event = eventFromJson(*json);
    if (!event) return std::unexpected(rowCorruption(path_, "events", seq, event.error().message));
    if (toString(event->kind()) != kind) {
      return std::unexpected(
          rowCorruption(path_, "events", seq,
                        fmt::format("the event's kind {} does not match its row ({})",
                                    toString(event->kind()), kind)));
    }
    events.push_back(std::move(*event));
  }
}

Result<std::vector<OutboxItem>> SqliteJournal::readOutbox(Statement& statement) {
  std::vector<OutboxItem> items;
  for (;;) {
    auto row = statement.step();
    if (!row) return std::unexpected(sqlError(row.error(), "reading outbox"));
    if (!*row) return items;
    OutboxItem item;
    item.id = statement.int64At(0);
    const std::string id = std::to_string(item.id);
    item.notifier = statement.textAt(1);
    auto json = parseJson(statement.textAt(2));
    if (!json) return std::unexpected(rowCorruption(path_, "outbox", id, json.error().message));
    auto notification = notificationFromJson(*json);
    if (!notification) {
      return std::unexpected(rowCorruption(path_, "outbox", id, notification.error().message));
    }
    item.notification = std::move(*notification);
    const int64_t attempts = statement.int64At(3);
    if (attempts < 0 || attempts > std::numeric_limits<int>::max()) {
      return std::unexpected(
          rowCorruption(path_, "outbox", id, fmt::format("attempts out of range: {}", attempts)));
    }
    item.attempts = static_cast<int>(attempts);
    item.next_attempt_at = fromMillis(statement.int64At(4));
    item.last_error = statement.textAt(5);
    if (const auto delivered = statement.optionalInt64At(6)) {
      item.delivered_at = fromMillis(*delivered);
    }
    items.push_back(std::move(item));
  }
}

Result<std::vector<OutboxItem>> SqliteJournal::dueOutbox(TimePoint now, size_t limit) {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_due);
  use->bind(1, toMillis(now)).bind(2, toSqlLimit(limit));
  return readOutbox(*use);
}

Result<std::vector<OutboxItem>> SqliteJournal::undeliveredOutbox() {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_undelivered);
  return readOutbox(*use);
}

Result<size_t> SqliteJournal::undeliveredCount() {
  std::lock_guard lock(mutex_);
  Use use(statements_->count_undelivered);
  auto row = use->step();
  if (!row) return std::unexpected(sqlError(row.error(), "counting the undelivered outbox"));
  if (!*row) return fail(ErrorCode::kInternal, "journal " + path_ + ": count(*) returned no row");
  return static_cast<size_t>(use->int64At(0));
}

Status SqliteJournal::markDelivered(int64_t id, TimePoint at) {
  if (auto s = requireActor("markDelivered"); !s) return s;
  std::lock_guard lock(mutex_);
  Use use(statements_->mark_delivered);
  use->bind(1, id).bind(2, toMillis(at));
  if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "marking delivered"));
  if (db_.changes() == 0) {
    return fail(ErrorCode::kNotFound, fmt::format("journal {}: no outbox item {}", path_, id));
  }
  return {};
}

Status SqliteJournal::markAttemptFailed(int64_t id, const std::string& error,
                                        TimePoint next_attempt_at) {
  if (auto s = requireActor("markAttemptFailed"); !s) return s;
  std::lock_guard lock(mutex_);
  Use use(statements_->mark_failed);
  use->bind(1, id).bind(2, error).bind(3, toMillis(next_attempt_at));
  if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "marking failed"));
  if (db_.changes() == 0) {
    return fail(ErrorCode::kNotFound,
                fmt::format("journal {}: no undelivered outbox item {}", path_, id));
  }
  return {};
}

Status SqliteJournal::enqueueCommand(const OperatorCommand& command) {
  std::lock_guard lock(mutex_);
  Use use(statements_->insert_command);
  use->bind(1, command.kind)
      .bind(2, command.node)
      .bind(3, command.who)
      .bind(4, toMillis(command.at))
      .bind(5, command.reason);
  if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "enqueueing command"));
  return {};
}

Result<std::vector<OperatorCommand>> SqliteJournal::pendingCommands() {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_pending);
  std::vector<OperatorCommand> commands;
  for (;;) {
    auto row = use->step();
    if (!row) return std::unexpected(sqlError(row.error(), "reading commands"));
    if (!*row) return commands;
    commands.push_back(OperatorCommand{.id = use->int64At(0),
                                       .kind = use->textAt(1),
                                       .node = use->textAt(2),
                                       .who = use->textAt(3),
                                       .at = fromMillis(use->int64At(4)),
                                       .reason = use->textAt(5)});
  }
}

Status SqliteJournal::markCommandDone(int64_t id, const std::string& outcome) {
  if (auto s = requireActor("markCommandDone"); !s) return s;
  std::lock_guard lock(mutex_);
  Use use(statements_->mark_done);
  use->bind(1, id).bind(2, toMillis(SystemClock().now())).bind(3, outcome);
  if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "marking command done"));
  if (db_.changes() == 0) {
    return fail(ErrorCode::kNotFound, fmt::format("journal {}: no command {}", path_, id));
  }
  return {};
}

Status SqliteJournal::setSetting(const std::string& key, const std::string& value) {
  if (auto s = requireActor("setSetting"); !s) return s;
  std::lock_guard lock(mutex_);
  Use use(statements_->upsert_setting);
  use->bind(1, key).bind(2, value);
  if (auto s = use->run(); !s) return std::unexpected(sqlError(s.error(), "writing setting"));
  return {};
}

Result<std::optional<std::string>> SqliteJournal::setting(const std::string& key) {
  std::lock_guard lock(mutex_);
  Use use(statements_->select_setting);
  use->bind(1, key);
  auto row = use->step();
  if (!row) return std::unexpected(sqlError(row.error(), "reading setting"));
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(use->textAt(0));
}

}  // namespace fdr
