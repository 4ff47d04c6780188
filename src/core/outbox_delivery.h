// Delivery of the journal's outbox (docs/notifications.md, The outbox), off the decision thread.
// Each notifier has its own lane of `parallel` workers, and each message its own deadline: a mail
// server that accepts and never answers holds its own lane, never a decision, a fence, an
// evacuation or another notifier. The outcome of each delivery is journaled by the decision
// thread when it comes back: delivered, or failed with the next attempt after a backoff. A
// message whose delivery timed out is tried again after its backoff, once the worker stuck in
// it has returned (the server may have taken it: a duplicate at worst, never a loss).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/calls.h"
#include "freezer/journal.h"
#include "freezer/notifier.h"

namespace fdr::core {

struct NamedNotifier {
  std::string name;
  Notifier* notifier = nullptr;
};

struct OutboxPolicy {
  Duration timeout{std::chrono::seconds(60)};  // one message
  int parallel = 4;                            // deliveries in flight per notifier
  Duration backoff_initial{std::chrono::seconds(2)};
  Duration backoff_max{std::chrono::minutes(5)};
};

class OutboxDelivery {
 public:
  OutboxDelivery(Calls& calls, Journal& journal, Clock& clock, std::vector<NamedNotifier> notifiers,
                 OutboxPolicy policy);

  // Journals the outcome of the deliveries that came back, then starts the due ones that fit in
  // their notifier's lane. Never waits.
  void step();
  [[nodiscard]] size_t inFlight() const { return in_flight_.size(); }

 private:
  [[nodiscard]] static std::string key(int64_t id);
  void finish(const OutboxItem& item, const Status& sent);

  Calls& calls_;
  Journal& journal_;
  Clock& clock_;
  std::vector<NamedNotifier> notifiers_;
  OutboxPolicy policy_;
  std::map<int64_t, OutboxItem> in_flight_;         // by outbox id
  std::map<std::string, std::set<int64_t>> stuck_;  // notifier → timed-out deliveries still running
};

}  // namespace fdr::core
