// The journal of controller HA, in etcd v3 (docs/adr/0002-controller-ha.md): the same contract
// as the SQLite journal (tests/store/journal_contract_test.cc), shared by every controller.
//
// Keys under `prefix` ("/freezer-dr/<cluster>/"), values JSON (src/core/codec.h, as SQLite's
// `json` column):
//   leader                   the election's key (src/ha/etcd_election.h): compared, never written
//   incident/<id>            the incident's snapshot; its etcd version is the incident's revision
//   open/<id>                ""  while the incident is open (the index openIncidents() reads)
//   event/<id>/<revision>    each event (revision zero-padded to 10 digits)
//   outbox/<id>              each outbox item (id zero-padded to 20 digits)
//   undelivered/<id>         ""  while it is undelivered (counted without loading the items)
//   command/<id>             operator commands (any controller or CLI queues them)
//   seq/outbox, seq/command  the last id given
//   setting/<key>            settings
//
// Every write but enqueueCommand() is one transaction conditioned on
// `create_revision(leader) == leadership->term()`: a deposed leader (a later term holds the
// key, or none does) writes nothing, gets kPermissionDenied and is told (Leadership::deposed).
// A reader (no leadership: `status`, the CLI) may read and queue commands only.
//
// An etcd error or time-out is returned as is and nothing may be assumed written: a commit whose
// answer was lost may have landed; repeated, it gets kConflict (the incident's version moved),
// as any stale writer does. A transaction holds at most 128 operations (etcd's default
// --max-txn-ops): an entry with more outbox items than fit is refused whole (kInvalidArgument).
//
// Thread-safe (every call holds the object's mutex).
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "clients/etcd/etcd_client.h"
#include "freezer/journal.h"
#include "freezer/leadership.h"

namespace fdr {

class EtcdJournal final : public Journal {
 public:
  // `client` and `leadership` outlive the journal; `leadership` nullptr: a reader.
  EtcdJournal(etcd::EtcdClient& client, std::string prefix, Leadership* leadership);

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
  // The term every write is conditioned on, or kPermissionDenied (a reader, or not leading).
  Result<int64_t> writerTerm(std::string_view what) const;
  // Runs `txn` with the term compare first; the failure branch reads the leader key first.
  // `extra_failed` says why when the leader key is still ours (another compare failed).
  Result<etcd::TxnResult> conditioned(int64_t term, etcd::Txn txn, std::string_view what);
  // The next ids of `seq/<name>`: appends the compare and put that claim them to `txn`.
  Result<int64_t> claimIds(etcd::Txn& txn, const std::string& name, int64_t count);
  // Claims ids and appends one outbox item (and its undelivered index) per notification and
  // notifier to `txn`.
  Status queueOutbox(etcd::Txn& txn, const std::vector<Notification>& notifications,
                     const std::vector<std::string>& notifiers);
  Result<std::optional<OutboxItem>> outboxItem(int64_t id);
  Result<std::vector<OutboxItem>> loadOutbox(const std::string& index_prefix, bool undelivered,
                                             std::optional<TimePoint> due, size_t limit);
  std::string key(std::string_view rest) const { return prefix_ + std::string(rest); }

  etcd::EtcdClient& client_;
  const std::string prefix_;
  Leadership* leadership_;
  std::mutex mutex_;
};

}  // namespace fdr
