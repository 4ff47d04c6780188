#include "core/outbox_delivery.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace fdr::core {

OutboxDelivery::OutboxDelivery(Calls& calls, Journal& journal, Clock& clock,
                               std::vector<NamedNotifier> notifiers, OutboxPolicy policy)
    : calls_(calls),
      journal_(journal),
      clock_(clock),
      notifiers_(std::move(notifiers)),
      policy_(policy) {}

std::string OutboxDelivery::key(int64_t id) {
  return fmt::format("outbox|{}", id);
}

void OutboxDelivery::finish(const OutboxItem& item, const Status& sent) {
  if (sent) {
    if (auto marked = journal_.markDelivered(item.id, clock_.now()); !marked) {
      spdlog::warn("cannot mark notification {} delivered: {}", item.id, marked.error().message);
    }
    return;
  }
  const Duration backoff =
      std::min(policy_.backoff_initial * (1 << std::min(item.attempts, 16)), policy_.backoff_max);
  spdlog::warn("notifier {}: delivery of notification {} failed (attempt {}): {}", item.notifier,
               item.id, item.attempts + 1, sent.error().message);
  if (auto marked =
          journal_.markAttemptFailed(item.id, sent.error().message, clock_.now() + backoff);
      !marked) {
    spdlog::warn("cannot record the failed delivery of {}: {}", item.id, marked.error().message);
  }
}

void OutboxDelivery::step() {
  if (notifiers_.empty()) return;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    auto sent = calls_.take<void>(key(it->first));
    if (!sent) {
      ++it;
      continue;
    }
    if (!*sent && sent->error().code == ErrorCode::kTimedOut) {
      stuck_[it->second.notifier].insert(it->first);
    }
    finish(it->second, *sent);
    it = in_flight_.erase(it);
  }
  std::map<std::string, size_t> busy;  // notifier → workers taken (in flight or stuck)
  for (auto& [name, ids] : stuck_) {
    std::erase_if(ids, [&](int64_t id) { return !calls_.busy(key(id)); });
    busy[name] += ids.size();
  }
  for (const auto& [id, item] : in_flight_) busy[item.notifier] += 1;

  auto due = journal_.dueOutbox(clock_.now(), 100);
  if (!due) {
    spdlog::warn("cannot read the notification outbox: {}", due.error().message);
    return;
  }
  for (const OutboxItem& item : *due) {
    if (in_flight_.contains(item.id)) continue;
    const auto named =
        std::find_if(notifiers_.begin(), notifiers_.end(),
                     [&](const NamedNotifier& n) { return n.name == item.notifier; });
    if (named == notifiers_.end()) {
      finish(item, fail(ErrorCode::kNotFound,
                        "notifier '" + item.notifier + "' is no longer configured"));
      continue;
    }
    if (busy[item.notifier] >= static_cast<size_t>(std::max(policy_.parallel, 1))) continue;
    if (calls_.busy(key(item.id))) continue;  // its last delivery is still stuck in a worker
    Notifier* notifier = named->notifier;
    const bool started = calls_.start<void>(
        key(item.id), "notify:" + item.notifier, policy_.timeout,
        [notifier, notification = item.notification] { return notifier->send(notification); });
    if (!started) continue;
    busy[item.notifier] += 1;
    in_flight_.emplace(item.id, item);
  }
}

}  // namespace fdr::core
