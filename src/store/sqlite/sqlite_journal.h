// The embedded journal: one SQLite file (WAL, synchronous=FULL), plus a lock file so that two
// freezer-dr processes on one host never both act on it (design §4, invariant 3).
//
// Layout (schema version 3, in PRAGMA user_version; PRAGMA application_id marks the file as a
// freezer-dr journal):
//   incidents (id, node, phase, revision, detected_at, updated_at, closed, json)
//   events    (seq, incident_id, kind, at, json)
//   outbox    (id, incident_id, notifier, json, attempts, next_attempt_at, last_error,
//              delivered_at)   (incident_id NULL for an admin alert: version 3)
//   commands  (id, kind, node, who, at, done_at, outcome, reason)   (reason: version 2)
//   settings  (key, value)
// Columns other than `json` are kept for queries and for humans with the sqlite3 shell; the
// `json` column (src/core/codec.h) is the record itself.
//
// Thread-safe: every call holds the object's mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "freezer/journal.h"
#include "store/sqlite/sqlite_db.h"

namespace fdr {

class SqliteJournal final : public Journal {
 public:
  enum class Mode {
    // The acting daemon: takes an exclusive, non-blocking flock on "<path>.lock" (which then
    // holds its pid) for the life of the object. The kernel drops it when the process dies.
    kActor,
    // `status` and CLI commands that only enqueue operator commands: no lock. May read
    // everything and enqueue commands; every other write is refused (kPermissionDenied), so
    // only the lock holder changes incidents, the outbox or settings.
    kReader,
  };

  static constexpr int kSchemaVersion = 3;
  // "FDRJ": PRAGMA application_id of a freezer-dr journal.
  static constexpr int kApplicationId = 0x4644524A;

  // Opens the journal at `path`, creating it (and its parent directory, mode 0700) if missing,
  // and migrating its schema to kSchemaVersion. Fails with:
  //   kPermissionDenied  (kActor) another process holds the lock; the message names its pid;
  //   kCorruption        the file is not a SQLite database (the message names the path);
  //   kInvalidArgument   the file is a SQLite database but not a freezer-dr journal;
  //   kNotSupported      the journal was written by a newer freezer-dr (schema version).
  [[nodiscard]] static Result<std::unique_ptr<SqliteJournal>> open(const std::string& path,
                                                                   Mode mode);

  ~SqliteJournal() override;
  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] Mode mode() const { return mode_; }

  [[nodiscard]] Status commit(const JournalEntry& entry,
                              const std::vector<std::string>& notifiers) override;
  [[nodiscard]] Status enqueue(const std::vector<Notification>& notifications,
                               const std::vector<std::string>& notifiers) override;
  [[nodiscard]] Result<std::vector<Incident>> openIncidents() override;
  [[nodiscard]] Result<std::vector<Incident>> recentIncidents(size_t limit) override;
  [[nodiscard]] Result<std::optional<Incident>> incident(const std::string& id) override;
  [[nodiscard]] Result<std::vector<Event>> events(const std::string& incident_id) override;
  [[nodiscard]] Result<std::vector<OutboxItem>> dueOutbox(TimePoint now, size_t limit) override;
  [[nodiscard]] Result<std::vector<OutboxItem>> undeliveredOutbox() override;
  [[nodiscard]] Result<size_t> undeliveredCount() override;
  [[nodiscard]] Status markDelivered(int64_t id, TimePoint at) override;
  [[nodiscard]] Status markAttemptFailed(int64_t id, const std::string& error,
                                         TimePoint next_attempt_at) override;
  [[nodiscard]] Status enqueueCommand(const OperatorCommand& command) override;
  [[nodiscard]] Result<std::vector<OperatorCommand>> pendingCommands() override;
  // done_at is the wall-clock time of the call (an audit field; nothing decides on it).
  [[nodiscard]] Status markCommandDone(int64_t id, const std::string& outcome) override;
  [[nodiscard]] Status setSetting(const std::string& key, const std::string& value) override;
  [[nodiscard]] Result<std::optional<std::string>> setting(const std::string& key) override;

 private:
  struct Statements;

  // Owns the lock file's descriptor; closing it releases the flock.
  class LockFd {
   public:
    explicit LockFd(int fd = -1) : fd_(fd) {}
    LockFd(LockFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    LockFd& operator=(LockFd&&) = delete;
    LockFd(const LockFd&) = delete;
    LockFd& operator=(const LockFd&) = delete;
    ~LockFd();

   private:
    int fd_;
  };

  SqliteJournal(std::string path, Mode mode, LockFd lock, sqlite::Database db,
                std::unique_ptr<Statements> statements);

  [[nodiscard]] Status requireActor(std::string_view what) const;
  [[nodiscard]] Result<std::vector<Incident>> readIncidents(sqlite::Statement& statement);
  [[nodiscard]] Result<std::vector<OutboxItem>> readOutbox(sqlite::Statement& statement);
  // Inserts one outbox row per notification and notifier (incident_id empty: NULL). Requires
  // mutex_ and an open transaction.
  [[nodiscard]] Status queueOutbox(const std::vector<Notification>& notifications,
                                   const std::string& incident_id,
                                   const std::vector<std::string>& notifiers);
  [[nodiscard]] Error sqlError(const Error& error, std::string_view what) const;

  const std::string path_;
  const Mode mode_;
  // Declared before the database so that it is released last, after the connection closed.
  LockFd lock_;  // holds no descriptor in kReader mode
  std::mutex mutex_;
  sqlite::Database db_;                     // guarded by mutex_
  std::unique_ptr<Statements> statements_;  // guarded by mutex_; finalized before db_ closes
};

}  // namespace fdr
