// Leader election through etcd v3 (docs/adr/0002-controller-ha.md), on a thread of its own: the
// decision thread only reads two atomics (Leadership::acting, term), so a black-holed etcd
// never stalls it (invariant 6).
//
// - Each controller holds a lease (TTL `ttl`) and renews it every third of the TTL.
// - Campaign: a transaction `if create_revision(<prefix>leader) == 0 then put(<prefix>leader,
//   name, lease)`. The winner's term is that put's revision (the key's create revision): it is
//   the fencing token every journal write is conditioned on (store/etcd).
// - A leader acts until `margin` before its lease can expire, counted on its own monotonic clock
//   from the moment it *sent* the last renewal etcd granted (the lease's TTL restarts when etcd
//   receives it, never earlier): so it has stopped before any other controller can win, even
//   when it is paused (SIGSTOP) or cut from etcd. The margin covers clock rate drift, the time
//   between the check and a request leaving the process, and one tick.
// - A standby polls the leader key every `campaign_interval` and campaigns when it is free.
// - Every controller keeps `<prefix>member/<name>` (its role, term and heartbeat, on its lease)
//   for `status`.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "clients/etcd/etcd_client.h"
#include "freezer/clock.h"
#include "freezer/leadership.h"

namespace fdr::ha {

struct ElectionOptions {
  std::string prefix;  // ends with '/': "/freezer-dr/default/"
  std::string name;    // this controller, unique in the cluster
  Duration ttl{std::chrono::seconds(10)};
  Duration margin{std::chrono::milliseconds(2500)};
  Duration campaign_interval{std::chrono::milliseconds(500)};
};

// One controller's entry under <prefix>member/, as `status` shows it.
struct MemberRecord {
  std::string name;
  std::string role;  // "leader" | "standby"
  int64_t term = 0;
  TimePoint heartbeat;
  std::string why;
};

class EtcdElection final : public Leadership {
 public:
  // `client` and `clock` (wall time, for the heartbeat shown in status) outlive the election.
  EtcdElection(etcd::EtcdClient& client, ElectionOptions options, Clock& clock);
  ~EtcdElection() override;  // stops the thread (resign() first to hand the lead over at once)
  EtcdElection(const EtcdElection&) = delete;
  EtcdElection& operator=(const EtcdElection&) = delete;

  // Runs step() on a thread of its own until resign() or destruction.
  void start();
  // Stops campaigning and, when leading, stops acting and revokes the lease so that a standby
  // takes over at once (a clean stop: SIGTERM). Call once every call this controller made has
  // returned or been abandoned.
  void resign();

  // One round: renew the lease when due, campaign when standing by, check the key when leading.
  // Returns how long to wait before the next round. (The thread's body; tests call it.)
  Duration step();

  [[nodiscard]] bool acting(SteadyTime now) const override;
  [[nodiscard]] int64_t term() const override { return term_.load(); }
  [[nodiscard]] LeadershipState state() const override;
  void deposed(int64_t term) override;

  // Every controller's entry (for status); reads etcd (bounded by the client's timeouts).
  [[nodiscard]] static Result<std::vector<MemberRecord>> members(etcd::EtcdClient& client,
                                                                 const std::string& prefix);
  // The leader key's holder: (name, term), or nothing when there is no leader.
  [[nodiscard]] static Result<std::optional<std::pair<std::string, int64_t>>> leader(
      etcd::EtcdClient& client, const std::string& prefix);

 private:
  void demote(const std::string& why);
  void standBy(const std::string& why);
  void publishMember();
  [[nodiscard]] std::string leaderKey() const { return options_.prefix + "leader"; }

  etcd::EtcdClient& client_;
  const ElectionOptions options_;
  Clock& clock_;
  // Read by any thread.
  std::atomic<int64_t> term_{0};
  std::atomic<int64_t> valid_until_{0};  // steady_clock ticks; acting before it
  mutable std::mutex mutex_;
  LeadershipState state_;  // GUARDED_BY(mutex_)
  // The election's own thread only.
  int64_t lease_ = 0;
  int64_t lease_ttl_ = 0;                      // as granted, seconds
  std::optional<SteadyTime> renewed_sent_at_;  // the send time of the last renewal granted
  std::optional<SteadyTime> next_renewal_;
  bool resigned_ = false;
  std::jthread thread_;
};

}  // namespace fdr::ha
