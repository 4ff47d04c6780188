// A journal kept in memory, with the SQLite journal's semantics (the contract suite in
// tests/store/journal_contract_test.cc runs over both). Used by --dry-run and by engine tests on
// simulated time. Nothing survives the object. Thread-safe: every call holds the mutex.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "freezer/journal.h"

namespace fdr {

class MemoryJournal final : public Journal {
 public:
  MemoryJournal() = default;
  MemoryJournal(const MemoryJournal&) = delete;
  MemoryJournal& operator=(const MemoryJournal&) = delete;

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
  [[nodiscard]] Status markCommandDone(int64_t id, const std::string& outcome) override;
  [[nodiscard]] Status setSetting(const std::string& key, const std::string& value) override;
  [[nodiscard]] Result<std::optional<std::string>> setting(const std::string& key) override;

 private:
  struct StoredCommand {
    OperatorCommand command;
    bool done = false;
    std::string outcome;
  };

  // Appends one outbox item per notification and notifier. Requires mutex_.
  void queue(const std::vector<Notification>& notifications,
             const std::vector<std::string>& notifiers);

  std::mutex mutex_;
  // All guarded by mutex_.
  std::map<std::string, Incident> incidents_;
  std::map<std::string, std::vector<Event>> events_;
  std::vector<OutboxItem> outbox_;       // in id order; ids start at 1
  std::vector<StoredCommand> commands_;  // in id order; ids start at 1
  std::map<std::string, std::string> settings_;
};

}  // namespace fdr
