#include "store/etcd/etcd_journal.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/codec.h"

namespace fdr {
namespace {

constexpr size_t kMaxTxnOps = 128;  // etcd's default --max-txn-ops

std::string padded(int64_t n, int width) {
  return fmt::format("{:0{}}", n, width);
}

Result<int64_t> idOf(const std::string& key) {
  const size_t slash = key.rfind('/');
  try {
    return static_cast<int64_t>(std::stoll(key.substr(slash + 1)));
  } catch (const std::exception&) {
    return fail(ErrorCode::kCorruption, "journal (etcd): key " + key + " does not end in an id");
  }
}

nlohmann::json commandJson(const OperatorCommand& c, bool done, const std::string& outcome) {
  return {{"id", c.id},           {"kind", c.kind},     {"node", c.node}, {"who", c.who},
          {"at", toMillis(c.at)}, {"reason", c.reason}, {"done", done},   {"outcome", outcome}};
}

Result<std::pair<OperatorCommand, bool>> commandFromJson(const nlohmann::json& j,
                                                         const std::string& where) {
  if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string()) {
    return fail(ErrorCode::kCorruption, "journal (etcd): " + where + " is not a command");
  }
  OperatorCommand c;
  c.id = j.value("id", int64_t{0});
  c.kind = j.value("kind", "");
  c.node = j.value("node", "");
  c.who = j.value("who", "");
  c.at = fromMillis(j.value("at", int64_t{0}));
  c.reason = j.value("reason", "");
  return std::pair{std::move(c), j.value("done", false)};
}

}  // namespace

EtcdJournal::EtcdJournal(etcd::EtcdClient& client, std::string prefix, Leadership* leadership)
    : client_(client), prefix_(std::move(prefix)), leadership_(leadership) {}

Result<int64_t> EtcdJournal::writerTerm(std::string_view what) const {
  if (leadership_ == nullptr) {
    return fail(ErrorCode::kPermissionDenied,
                fmt::format("journal (etcd): {}: this process does not campaign (a reader)", what));
  }
  const int64_t term = leadership_->term();
  // Past its safety margin (a tick held up by a slow etcd) a leader writes nothing more, even
  // before its election thread notices.
  if (term == 0 || !leadership_->acting(std::chrono::steady_clock::now())) {
    return fail(ErrorCode::kPermissionDenied,
                fmt::format("journal (etcd): {}: this controller does not lead", what));
  }
  return term;
}

Result<etcd::TxnResult> EtcdJournal::conditioned(int64_t term, etcd::Txn txn,
                                                 std::string_view what) {
  txn.compare.insert(txn.compare.begin(), etcd::Compare::createRevision(key("leader"), term));
  txn.failure.insert(txn.failure.begin(),
                     etcd::Op::range(etcd::RangeRequest::single(key("leader"))));
  if (txn.success.size() > kMaxTxnOps || txn.failure.size() > kMaxTxnOps) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("journal (etcd): {}: {} operations in one transaction, more than "
                            "etcd's {}; nothing written",
                            what, txn.success.size(), kMaxTxnOps));
  }
  auto result = client_.txn(txn);
  if (!result) return withContext(result.error(), fmt::format("journal (etcd): {}", what));
  if (result->succeeded) return result;
  const bool ours = !result->ranges.empty() && !result->ranges[0].kvs.empty() &&
                    result->ranges[0].kvs[0].create_revision == term;
  if (!ours) {
    const std::string holder =
        result->ranges.empty() || result->ranges[0].kvs.empty()
            ? std::string("no controller holds it")
            : fmt::format("{} holds it in term {}", result->ranges[0].kvs[0].value,
                          result->ranges[0].kvs[0].create_revision);
    const std::string message =
        fmt::format("journal (etcd): {} refused: the leader key is not term {}'s any more ({})",
                    what, term, holder);
    spdlog::warn("{}", message);
    if (leadership_ != nullptr) leadership_->deposed(term);
    return fail(ErrorCode::kPermissionDenied, message);
  }
  return result;  // !succeeded: another compare failed; the caller says which
}

Result<int64_t> EtcdJournal::claimIds(etcd::Txn& txn, const std::string& name, int64_t count) {
  const std::string seq = key("seq/" + name);
  auto current = client_.range(etcd::RangeRequest::single(seq));
  if (!current) return withContext(current.error(), "journal (etcd): reading " + seq);
  int64_t last = 0;
  if (current->kvs.empty()) {
    txn.compare.push_back(etcd::Compare::version(seq, 0));
  } else {
    try {
      last = std::stoll(current->kvs[0].value);
    } catch (const std::exception&) {
      return fail(ErrorCode::kCorruption, "journal (etcd): " + seq + " is not a number");
    }
    txn.compare.push_back(etcd::Compare::modRevision(seq, current->kvs[0].mod_revision));
  }
  txn.success.push_back(etcd::Op::put(seq, std::to_string(last + count)));
  return last + 1;
}

Status EtcdJournal::queueOutbox(etcd::Txn& txn, const std::vector<Notification>& notifications,
                                const std::vector<std::string>& notifiers) {
  auto first =
      claimIds(txn, "outbox", static_cast<int64_t>(notifications.size() * notifiers.size()));
  if (!first) return std::unexpected(first.error());
  int64_t id = *first;
  for (const Notification& n : notifications) {
    for (const std::string& notifier : notifiers) {
      OutboxItem item{.id = id,
                      .notifier = notifier,
                      .notification = n,
                      .attempts = 0,
                      .next_attempt_at = n.at,
                      .last_error = {},
                      .delivered_at = std::nullopt};
      txn.success.push_back(etcd::Op::put(key("outbox/" + padded(id, 20)), dumpJson(toJson(item))));
      txn.success.push_back(etcd::Op::put(key("undelivered/" + padded(id, 20)), ""));
      ++id;
    }
  }
  return {};
}

Status EtcdJournal::commit(const JournalEntry& entry, const std::vector<std::string>& notifiers) {
  const Incident& incident = entry.incident;
  if (incident.id.empty()) {
    return fail(ErrorCode::kInvalidArgument, "journal commit: the incident has no id");
  }
  auto term = writerTerm("commit of incident " + incident.id);
  if (!term) return std::unexpected(term.error());
  std::lock_guard lock(mutex_);
  for (int attempt = 0; attempt < 3; ++attempt) {
    etcd::Txn txn;
    const std::string incident_key = key("incident/" + incident.id);
    txn.compare.push_back(
        etcd::Compare::version(incident_key, static_cast<int64_t>(incident.revision) - 1));
    txn.failure.push_back(etcd::Op::range(etcd::RangeRequest::single(incident_key)));
    txn.success.push_back(etcd::Op::put(incident_key, dumpJson(toJson(incident))));
    txn.success.push_back(
        etcd::Op::put(key(fmt::format("event/{}/{}", incident.id,
                                      padded(static_cast<int64_t>(incident.revision), 10))),
                      dumpJson(toJson(entry.event))));
    txn.success.push_back(isTerminal(incident.phase)
                              ? etcd::Op::erase(key("open/" + incident.id))
                              : etcd::Op::put(key("open/" + incident.id), ""));
    const int64_t items = static_cast<int64_t>(entry.outbox.size() * notifiers.size());
    if (items > 0) {
      if (auto queued = queueOutbox(txn, entry.outbox, notifiers); !queued) return queued;
    }
    auto result = conditioned(*term, std::move(txn), "commit of incident " + incident.id);
    if (!result) return std::unexpected(result.error());
    if (result->succeeded) return {};
    const int64_t stored = result->ranges.size() > 1 && !result->ranges[1].kvs.empty()
                               ? result->ranges[1].kvs[0].version
                               : 0;
    if (stored != static_cast<int64_t>(incident.revision) - 1) {
      return fail(ErrorCode::kConflict,
                  fmt::format("journal (etcd): incident {} at revision {} does not follow the "
                              "stored revision {}: a stale or second writer",
                              incident.id, incident.revision, stored));
    }
    // The outbox counter moved under us (only the leader writes it: a commit whose answer was
    // lost): claim the ids again.
  }
  return fail(
      ErrorCode::kUnavailable,
      "journal (etcd): commit of incident " + incident.id + ": the outbox counter kept moving",
      /*retryable=*/true);
}

Status EtcdJournal::enqueue(const std::vector<Notification>& notifications,
                            const std::vector<std::string>& notifiers) {
  for (const Notification& n : notifications) {
    if (!n.incident_id.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("journal (etcd): enqueue: notification '{}' belongs to incident "
                              "{}: it goes with the incident's commit",
                              n.subject, n.incident_id));
    }
  }
  const int64_t items = static_cast<int64_t>(notifications.size() * notifiers.size());
  if (items == 0) return {};
  auto term = writerTerm("enqueue");
  if (!term) return std::unexpected(term.error());
  std::lock_guard lock(mutex_);
  for (int attempt = 0; attempt < 3; ++attempt) {
    etcd::Txn txn;
    if (auto queued = queueOutbox(txn, notifications, notifiers); !queued) return queued;
    auto result = conditioned(*term, std::move(txn), "enqueue");
    if (!result) return std::unexpected(result.error());
    if (result->succeeded) return {};
  }
  return fail(ErrorCode::kUnavailable, "journal (etcd): enqueue: the outbox counter kept moving",
              true);
}

Result<std::vector<Incident>> EtcdJournal::openIncidents() {
  auto index = client_.range(etcd::RangeRequest::prefix(key("open/")));
  if (!index) return withContext(index.error(), "journal (etcd): open incidents");
  std::vector<Incident> open;
  for (const etcd::KeyValue& kv : index->kvs) {
    auto one = incident(kv.key.substr(key("open/").size()));
    if (!one) return std::unexpected(one.error());
    if (*one && !isTerminal((*one)->phase)) open.push_back(std::move(**one));
  }
  std::sort(open.begin(), open.end(), [](const Incident& a, const Incident& b) {
    return a.detected_at != b.detected_at ? a.detected_at < b.detected_at : a.id < b.id;
  });
  return open;
}

Result<std::vector<Incident>> EtcdJournal::recentIncidents(size_t limit) {
  auto all = client_.range(etcd::RangeRequest::prefix(key("incident/")));
  if (!all) return withContext(all.error(), "journal (etcd): incidents");
  std::vector<Incident> out;
  for (const etcd::KeyValue& kv : all->kvs) {
    auto j = parseJson(kv.value);
    if (!j) return withContext(j.error(), "journal (etcd): " + kv.key);
    auto one = incidentFromJson(*j);
    if (!one) return withContext(one.error(), "journal (etcd): " + kv.key);
    out.push_back(std::move(*one));
  }
  std::sort(out.begin(), out.end(), [](const Incident& a, const Incident& b) {
    return a.detected_at != b.detected_at ? a.detected_at > b.detected_at : a.id > b.id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<std::optional<Incident>> EtcdJournal::incident(const std::string& id) {
  auto got = client_.range(etcd::RangeRequest::single(key("incident/" + id)));
  if (!got) return withContext(got.error(), "journal (etcd): incident " + id);
  if (got->kvs.empty()) return std::optional<Incident>();
  auto j = parseJson(got->kvs[0].value);
  if (!j) return withContext(j.error(), "journal (etcd): incident " + id);
  auto one = incidentFromJson(*j);
  if (!one) return withContext(one.error(), "journal (etcd): incident " + id);
  return std::optional<Incident>(std::move(*one));
}

Result<std::vector<Event>> EtcdJournal::events(const std::string& incident_id) {
  auto got = client_.range(etcd::RangeRequest::prefix(key("event/" + incident_id + "/")));
  if (!got) return withContext(got.error(), "journal (etcd): events of " + incident_id);
  std::vector<Event> out;
  for (const etcd::KeyValue& kv : got->kvs) {  // in key order: by revision
    auto j = parseJson(kv.value);
    if (!j) return withContext(j.error(), "journal (etcd): " + kv.key);
    auto event = eventFromJson(*j);
    if (!event) return withContext(event.error(), "journal (etcd): " + kv.key);
    out.push_back(std::move(*event));
  }
  return out;
}

Result<std::optional<OutboxItem>> EtcdJournal::outboxItem(int64_t id) {
  const std::string k = key("outbox/" + padded(id, 20));
  auto got = client_.range(etcd::RangeRequest::single(k));
  if (!got) return withContext(got.error(), "journal (etcd): outbox item " + std::to_string(id));
  if (got->kvs.empty()) return std::optional<OutboxItem>();
  auto j = parseJson(got->kvs[0].value);
  if (!j) return withContext(j.error(), "journal (etcd): " + k);
  auto item = outboxItemFromJson(*j);
  if (!item) return withContext(item.error(), "journal (etcd): " + k);
  item->id = id;
  return std::optional<OutboxItem>(std::move(*item));
}

Result<std::vector<OutboxItem>> EtcdJournal::loadOutbox(const std::string& index_prefix,
                                                        bool undelivered,
                                                        std::optional<TimePoint> due,
                                                        size_t limit) {
  etcd::RangeRequest request = etcd::RangeRequest::prefix(key(index_prefix));
  request.keys_only = true;
  auto index = client_.range(request);
  if (!index) return withContext(index.error(), "journal (etcd): outbox");
  std::vector<OutboxItem> out;
  for (const etcd::KeyValue& kv : index->kvs) {
    if (out.size() >= limit) break;
    auto id = idOf(kv.key);
    if (!id) return std::unexpected(id.error());
    auto item = outboxItem(*id);
    if (!item) return std::unexpected(item.error());
    if (!*item || (undelivered && (*item)->delivered_at)) continue;
    if (due && (*item)->next_attempt_at > *due) continue;
    out.push_back(std::move(**item));
  }
  return out;
}

Result<std::vector<OutboxItem>> EtcdJournal::dueOutbox(TimePoint now, size_t limit) {
  return loadOutbox("undelivered/", true, now, limit);
}

Result<std::vector<OutboxItem>> EtcdJournal::undeliveredOutbox() {
  return loadOutbox("undelivered/", true, std::nullopt, SIZE_MAX);
}

Result<size_t> EtcdJournal::undeliveredCount() {
  etcd::RangeRequest request = etcd::RangeRequest::prefix(key("undelivered/"));
  request.count_only = true;
  auto got = client_.range(request);
  if (!got) return withContext(got.error(), "journal (etcd): undelivered count");
  return static_cast<size_t>(got->count);
}

Status EtcdJournal::markDelivered(int64_t id, TimePoint at) {
  auto term = writerTerm("mark delivered");
  if (!term) return std::unexpected(term.error());
  std::lock_guard lock(mutex_);
  auto item = outboxItem(id);
  if (!item) return std::unexpected(item.error());
  if (!*item)
    return fail(ErrorCode::kNotFound, fmt::format("journal (etcd): no outbox item {}", id));
  if ((*item)->delivered_at) return {};
  (*item)->delivered_at = at;
  etcd::Txn txn;
  txn.success.push_back(etcd::Op::put(key("outbox/" + padded(id, 20)), dumpJson(toJson(**item))));
  txn.success.push_back(etcd::Op::erase(key("undelivered/" + padded(id, 20))));
  auto result = conditioned(*term, std::move(txn), "mark delivered");
  if (!result) return std::unexpected(result.error());
  return {};
}

Status EtcdJournal::markAttemptFailed(int64_t id, const std::string& error,
                                      TimePoint next_attempt_at) {
  auto term = writerTerm("mark attempt failed");
  if (!term) return std::unexpected(term.error());
  std::lock_guard lock(mutex_);
  auto item = outboxItem(id);
  if (!item) return std::unexpected(item.error());
  if (!*item || (*item)->delivered_at) {
    return fail(ErrorCode::kNotFound,
                fmt::format("journal (etcd): no undelivered outbox item {}", id));
  }
  (*item)->attempts += 1;
  (*item)->last_error = error;
  (*item)->next_attempt_at = next_attempt_at;
  etcd::Txn txn;
  txn.success.push_back(etcd::Op::put(key("outbox/" + padded(id, 20)), dumpJson(toJson(**item))));
  auto result = conditioned(*term, std::move(txn), "mark attempt failed");
  if (!result) return std::unexpected(result.error());
  return {};
}

Status EtcdJournal::enqueueCommand(const OperatorCommand& command) {
  std::lock_guard lock(mutex_);
  // Any controller or CLI queues commands: the counter's compare orders concurrent ones.
  for (int attempt = 0; attempt < 10; ++attempt) {
    etcd::Txn txn;
    auto id = claimIds(txn, "command", 1);
    if (!id) return std::unexpected(id.error());
    OperatorCommand stored = command;
    stored.id = *id;
    txn.success.push_back(
        etcd::Op::put(key("command/" + padded(*id, 20)), dumpJson(commandJson(stored, false, ""))));
    auto result = client_.txn(txn);
    if (!result) return withContext(result.error(), "journal (etcd): enqueue command");
    if (result->succeeded) return {};
  }
  return fail(ErrorCode::kUnavailable, "journal (etcd): enqueue command: too many at once", true);
}

Result<std::vector<OperatorCommand>> EtcdJournal::pendingCommands() {
  auto got = client_.range(etcd::RangeRequest::prefix(key("command/")));
  if (!got) return withContext(got.error(), "journal (etcd): commands");
  std::vector<OperatorCommand> out;
  for (const etcd::KeyValue& kv : got->kvs) {
    auto j = parseJson(kv.value);
    if (!j) return withContext(j.error(), "journal (etcd): " + kv.key);
    auto c = commandFromJson(*j, kv.key);
    if (!c) return std::unexpected(c.error());
    if (!c->second) out.push_back(std::move(c->first));
  }
  return out;
}

Status EtcdJournal::markCommandDone(int64_t id, const std::string& outcome) {
  auto term = writerTerm("mark command done");
  if (!term) return std::unexpected(term.error());
  std::lock_guard lock(mutex_);
  const std::string k = key("command/" + padded(id, 20));
  auto got = client_.range(etcd::RangeRequest::single(k));
  if (!got) return withContext(got.error(), "journal (etcd): command " + std::to_string(id));
  if (got->kvs.empty())
    return fail(ErrorCode::kNotFound, fmt::format("journal (etcd): no command {}", id));
  auto j = parseJson(got->kvs[0].value);
  if (!j) return withContext(j.error(), "journal (etcd): " + k);
  auto c = commandFromJson(*j, k);
  if (!c) return std::unexpected(c.error());
  if (c->second) return {};
  etcd::Txn txn;
  txn.success.push_back(etcd::Op::put(k, dumpJson(commandJson(c->first, true, outcome))));
  auto result = conditioned(*term, std::move(txn), "mark command done");
  if (!result) return std::unexpected(result.error());
  return {};
}

Status EtcdJournal::setSetting(const std::string& name, const std::string& value) {
  auto term = writerTerm("setting " + name);
  if (!term) return std::unexpected(term.error());
  std::lock_guard lock(mutex_);
  etcd::Txn txn;
  txn.success.push_back(etcd::Op::put(key("setting/" + name), value));
  auto result = conditioned(*term, std::move(txn), "setting " + name);
  if (!result) return std::unexpected(result.error());
  return {};
}

Result<std::optional<std::string>> EtcdJournal::setting(const std::string& name) {
  auto got = client_.range(etcd::RangeRequest::single(key("setting/" + name)));
  if (!got) return withContext(got.error(), "journal (etcd): setting " + name);
  if (got->kvs.empty()) return std::optional<std::string>();
  return std::optional<std::string>(got->kvs[0].value);
}

}  // namespace fdr
