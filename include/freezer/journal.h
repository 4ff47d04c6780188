// The journal: the durable record of every incident. Each state transition is committed here
// *before* the side effect it announces, so a restarted daemon resumes where it stopped.
// Implementations: SQLite (src/store/sqlite, the embedded default); etcd (with controller HA).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "freezer/clock.h"
#include "freezer/incident.h"
#include "freezer/incident_event.h"
#include "freezer/notifier.h"
#include "freezer/result.h"

namespace fdr {

// One atomic write: the event, the incident as it is after the event, and the notifications the
// event causes (queued in the outbox in the same transaction).
struct JournalEntry {
  Incident incident;
  Event event;
  std::vector<Notification> outbox;
};

struct OutboxItem {
  int64_t id = 0;
  std::string notifier;  // which configured notifier must deliver it
  // notification.incident_id is empty for an admin alert that belongs to no incident (a
  // guard's veto, a pause): queued by enqueue() rather than commit().
  Notification notification;
  int attempts = 0;
  TimePoint next_attempt_at;
  std::string last_error;
  std::optional<TimePoint> delivered_at;
};

// An operator's command, written by the CLI and carried out by the acting daemon.
struct OperatorCommand {
  int64_t id = 0;
  std::string kind;  // "confirm-fenced", "pause", "resume", ...
  std::string node;
  std::string who;
  TimePoint at;
  std::string reason;  // the operator's own words, if any ("pause --reason")
};

class Journal {
 public:
  virtual ~Journal() = default;

  // Atomically appends entry.event, stores entry.incident (replacing the previous snapshot of
  // the same id) and queues entry.outbox (one item per notifier named in `notifiers`).
  // Fails with kConflict, writing nothing, unless entry.incident.revision is exactly the stored
  // revision + 1 (1 for a new incident): a stale or second writer cannot overwrite.
  [[nodiscard]] virtual Status commit(const JournalEntry& entry,
                                      const std::vector<std::string>& notifiers) = 0;

  // Atomically queues notifications that belong to no incident (the guards' alerts to the
  // admins), one outbox item per notifier named in `notifiers`, delivered and retried like
  // those of commit(). Fails with kInvalidArgument, writing nothing, if a notification names an
  // incident: an incident's notifications go with the step that causes them, through commit().
  [[nodiscard]] virtual Status enqueue(const std::vector<Notification>& notifications,
                                       const std::vector<std::string>& notifiers) = 0;

  [[nodiscard]] virtual Result<std::vector<Incident>> openIncidents() = 0;
  // Newest first, open and closed.
  [[nodiscard]] virtual Result<std::vector<Incident>> recentIncidents(size_t limit) = 0;
  [[nodiscard]] virtual Result<std::optional<Incident>> incident(const std::string& id) = 0;
  [[nodiscard]] virtual Result<std::vector<Event>> events(const std::string& incident_id) = 0;

  // Outbox: undelivered items whose next attempt is due at `now`, oldest first.
  [[nodiscard]] virtual Result<std::vector<OutboxItem>> dueOutbox(TimePoint now, size_t limit) = 0;
  [[nodiscard]] virtual Result<std::vector<OutboxItem>> undeliveredOutbox() = 0;
  // How many items are undelivered: a count, without loading them (the engine asks every tick).
  [[nodiscard]] virtual Result<size_t> undeliveredCount() = 0;
  [[nodiscard]] virtual Status markDelivered(int64_t id, TimePoint at) = 0;
  [[nodiscard]] virtual Status markAttemptFailed(int64_t id, const std::string& error,
                                                 TimePoint next_attempt_at) = 0;

  // Operator commands (written by CLI processes, consumed by the daemon).
  [[nodiscard]] virtual Status enqueueCommand(const OperatorCommand& command) = 0;
  [[nodiscard]] virtual Result<std::vector<OperatorCommand>> pendingCommands() = 0;
  [[nodiscard]] virtual Status markCommandDone(int64_t id, const std::string& outcome) = 0;

  // Small durable settings ("paused" = "1").
  [[nodiscard]] virtual Status setSetting(const std::string& key, const std::string& value) = 0;
  [[nodiscard]] virtual Result<std::optional<std::string>> setting(const std::string& key) = 0;
};

using JournalPtr = std::unique_ptr<Journal>;

}  // namespace fdr
