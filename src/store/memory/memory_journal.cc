#include "store/memory/memory_journal.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace fdr {
namespace {

// Open incidents oldest first, recent ones newest first: the same orders as the SQLite journal.
bool detectedBefore(const Incident& a, const Incident& b) {
  if (a.detected_at != b.detected_at) return a.detected_at < b.detected_at;
  return a.id < b.id;
}

}  // namespace

Status MemoryJournal::commit(const JournalEntry& entry, const std::vector<std::string>& notifiers) {
  const Incident& incident = entry.incident;
  if (incident.id.empty()) {
    return fail(ErrorCode::kInvalidArgument, "journal commit: the incident has no id");
  }
  std::lock_guard lock(mutex_);
  const auto it = incidents_.find(incident.id);
  const uint64_t stored = it == incidents_.end() ? 0 : it->second.revision;
  if (incident.revision != stored + 1) {
    return fail(ErrorCode::kConflict,
                fmt::format("journal (memory): incident {} at revision {} does not follow the "
                            "stored revision {}: a stale or second writer",
                            incident.id, incident.revision, stored));
  }
  incidents_[incident.id] = incident;
  events_[incident.id].push_back(entry.event);
  queue(entry.outbox, notifiers);
  return {};
}

Status MemoryJournal::enqueue(const std::vector<Notification>& notifications,
                              const std::vector<std::string>& notifiers) {
  for (const Notification& notification : notifications) {
    if (!notification.incident_id.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("journal (memory): enqueue: notification '{}' belongs to incident "
                              "{}: it goes with the incident's commit",
                              notification.subject, notification.incident_id));
    }
  }
  std::lock_guard lock(mutex_);
  queue(notifications, notifiers);
  return {};
}

void MemoryJournal::queue(const std::vector<Notification>& notifications,
                          const std::vector<std::string>& notifiers) {
  for (const Notification& notification : notifications) {
    for (const std::string& notifier : notifiers) {
      outbox_.push_back(OutboxItem{.id = static_cast<int64_t>(outbox_.size()) + 1,
                                   .notifier = notifier,
                                   .notification = notification,
                                   .attempts = 0,
                                   .next_attempt_at = notification.at,
                                   .last_error = {},
                                   .delivered_at = std::nullopt});
    }
  }
}

Result<std::vector<Incident>> MemoryJournal::openIncidents() {
  std::lock_guard lock(mutex_);
  std::vector<Incident> open;
  for (const auto& [id, incident] : incidents_) {
    if (!isTerminal(incident.phase)) open.push_back(incident);
  }
  std::sort(open.begin(), open.end(), detectedBefore);
  return open;
}

Result<std::vector<Incident>> MemoryJournal::recentIncidents(size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<Incident> all;
  all.reserve(incidents_.size());
  for (const auto& [id, incident] : incidents_) all.push_back(incident);
  std::sort(all.begin(), all.end(),
            [](const Incident& a, const Incident& b) { return detectedBefore(b, a); });
  if (all.size() > limit) all.resize(limit);
  return all;
}

Result<std::optional<Incident>> MemoryJournal::incident(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = incidents_.find(id);
  if (it == incidents_.end()) return std::optional<Incident>();
  return std::optional<Incident>(it->second);
}

Result<std::vector<Event>> MemoryJournal::events(const std::string& incident_id) {
  std::lock_guard lock(mutex_);
  const auto it = events_.find(incident_id);
  if (it == events_.end()) return std::vector<Event>();
  return it->second;
}

Result<std::vector<OutboxItem>> MemoryJournal::dueOutbox(TimePoint now, size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<OutboxItem> due;
  for (const OutboxItem& item : outbox_) {
    if (due.size() >= limit) break;
    if (!item.delivered_at && item.next_attempt_at <= now) due.push_back(item);
  }
  return due;
}

Result<std::vector<OutboxItem>> MemoryJournal::undeliveredOutbox() {
  std::lock_guard lock(mutex_);
  std::vector<OutboxItem> undelivered;
  for (const OutboxItem& item : outbox_) {
    if (!item.delivered_at) undelivered.push_back(item);
  }
  return undelivered;
}

Result<size_t> MemoryJournal::undeliveredCount() {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(outbox_.begin(), outbox_.end(),
                                           [](const OutboxItem& i) { return !i.delivered_at; }));
}

Status MemoryJournal::markDelivered(int64_t id, TimePoint at) {
  std::lock_guard lock(mutex_);
  if (id < 1 || id > static_cast<int64_t>(outbox_.size())) {
    return fail(ErrorCode::kNotFound, fmt::format("journal (memory): no outbox item {}", id));
  }
  OutboxItem& item = outbox_[static_cast<size_t>(id - 1)];
  if (!item.delivered_at) item.delivered_at = at;
  return {};
}

Status MemoryJournal::markAttemptFailed(int64_t id, const std::string& error,
                                        TimePoint next_attempt_at) {
  std::lock_guard lock(mutex_);
  if (id < 1 || id > static_cast<int64_t>(outbox_.size()) ||
      outbox_[static_cast<size_t>(id - 1)].delivered_at) {
    return fail(ErrorCode::kNotFound,
                fmt::format("journal (memory): no undelivered outbox item {}", id));
  }
  OutboxItem& item = outbox_[static_cast<size_t>(id - 1)];
  ++item.attempts;
  item.last_error = error;
  item.next_attempt_at = next_attempt_at;
  return {};
}

Status MemoryJournal::enqueueCommand(const OperatorCommand& command) {
  std::lock_guard lock(mutex_);
  StoredCommand stored{.command = command, .done = false, .outcome = {}};
  stored.command.id = static_cast<int64_t>(commands_.size()) + 1;
  commands_.push_back(std::move(stored));
  return {};
}

Result<std::vector<OperatorCommand>> MemoryJournal::pendingCommands() {
  std::lock_guard lock(mutex_);
  std::vector<OperatorCommand> pending;
  for (const StoredCommand& stored : commands_) {
    if (!stored.done) pending.push_back(stored.command);
  }
  return pending;
}

Status MemoryJournal::markCommandDone(int64_t id, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  if (id < 1 || id > static_cast<int64_t>(commands_.size())) {
    return fail(ErrorCode::kNotFound, fmt::format("journal (memory): no command {}", id));
  }
  StoredCommand& stored = commands_[static_cast<size_t>(id - 1)];
  if (!stored.done) {
    stored.done = true;
    stored.outcome = outcome;
  }
  return {};
}

Status MemoryJournal::setSetting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  settings_[key] = value;
  return {};
}

Result<std::optional<std::string>> MemoryJournal::setting(const std::string& key) {
  std::lock_guard lock(mutex_);
  const auto it = settings_.find(key);
  if (it == settings_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

}  // namespace fdr
