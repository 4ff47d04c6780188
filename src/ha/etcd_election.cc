#include "ha/etcd_election.h"

#include <algorithm>
#include <condition_variable>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace fdr::ha {
namespace {

int64_t ticks(SteadyTime t) {
  return t.time_since_epoch().count();
}

Duration since(SteadyTime from, SteadyTime to) {
  return std::chrono::duration_cast<Duration>(to - from);
}

}  // namespace

EtcdElection::EtcdElection(etcd::EtcdClient& client, ElectionOptions options, Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {
  state_.self = options_.name;
  state_.role = Role::kStandby;
  state_.why = "campaigning: no lease from etcd yet";
}

EtcdElection::~EtcdElection() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void EtcdElection::start() {
  thread_ = std::jthread([this](const std::stop_token& stop) {
    std::mutex mutex;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      const Duration wait = step();
      std::unique_lock lock(mutex);
      cv.wait_for(lock, stop, wait, [] { return false; });
    }
  });
}

void EtcdElection::resign() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  if (resigned_) return;
  resigned_ = true;
  const int64_t term = term_.load();
  valid_until_ = 0;
  term_ = 0;
  if (lease_ == 0) return;
  // Revoking the lease deletes the leader key and our member entry at once: a standby takes
  // over at its next look instead of after the TTL.
  if (auto revoked = client_.revokeLease(lease_); !revoked) {
    spdlog::warn("cannot revoke the etcd lease {:x} ({}); a standby takes over once it expires",
                 lease_, revoked.error().message);
  } else if (term != 0) {
    spdlog::info("resigned the leadership (term {})", term);
  }
  lease_ = 0;
}

bool EtcdElection::acting(SteadyTime now) const {
  return term_.load() != 0 && ticks(now) < valid_until_.load();
}

LeadershipState EtcdElection::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void EtcdElection::deposed(int64_t term) {
  if (term == 0 || term_.load() != term) return;
  valid_until_ = 0;
  term_ = 0;
  spdlog::error("the journal refused a write: the leader key is not term {}'s any more", term);
  std::lock_guard lock(mutex_);
  state_.role = Role::kStandby;
  state_.why = fmt::format("deposed: the leader key is not term {}'s any more", term);
  state_.since = clock_.now();
}

void EtcdElection::demote(const std::string& why) {
  const int64_t term = term_.exchange(0);
  valid_until_ = 0;
  if (term != 0) spdlog::error("stops leading (term {}): {}", term, why);
  // Give the lease up: kept alive later, it would keep our own leader key alive and no one
  // (us included) could win it. Its keys go with it; the next round grants a new one.
  if (lease_ != 0) {
    if (auto revoked = client_.revokeLease(lease_); !revoked) {
      spdlog::debug("cannot revoke the old lease {:x}: {}", lease_, revoked.error().message);
    }
    lease_ = 0;
    renewed_sent_at_.reset();
    next_renewal_.reset();
  }
  standBy(why);
}

void EtcdElection::standBy(const std::string& why) {
  std::lock_guard lock(mutex_);
  if (state_.role == Role::kLeader) state_.since = clock_.now();
  state_.role = Role::kStandby;
  state_.why = why;
}

Duration EtcdElection::step() {
  const Duration renew_every = options_.ttl / 3;
  const SteadyTime now = std::chrono::steady_clock::now();
  if (resigned_) return options_.campaign_interval;

  bool renewed_now = false;
  if (lease_ == 0) {
    auto lease = client_.grantLease(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::seconds>(options_.ttl).count()));
    if (!lease) {
      standBy("etcd unreachable: " + lease.error().message);
      return options_.campaign_interval;
    }
    lease_ = lease->id;
    lease_ttl_ = lease->ttl_seconds;
    renewed_sent_at_ = now;
    next_renewal_ = now + renew_every;
    renewed_now = true;
  } else if (!next_renewal_ || now >= *next_renewal_) {
    auto renewed = client_.keepAlive(lease_);
    if (renewed) {
      lease_ttl_ = renewed->ttl_seconds;
      renewed_sent_at_ = now;
      next_renewal_ = now + renew_every;
      renewed_now = true;
    } else if (renewed.error().code == ErrorCode::kNotFound) {
      // Expired (we were paused, or cut from etcd, longer than the TTL) or revoked.
      lease_ = 0;
      renewed_sent_at_.reset();
      demote("the etcd lease expired");
      return Duration::zero();
    } else {
      const std::string why = "cannot renew the etcd lease: " + renewed.error().message;
      if (term_.load() != 0) {
        spdlog::warn("{} (acting for {} ms more at most)", why,
                     std::max<int64_t>(0, (valid_until_.load() - ticks(now)) / 1'000'000));
      } else {
        standBy(why);
      }
      return options_.campaign_interval;  // retried soon: the margin is running out
    }
  }

  // When the lease can expire at the earliest, by this controller's clock, less the margin.
  const SteadyTime valid_until =
      *renewed_sent_at_ + std::chrono::seconds(lease_ttl_) - options_.margin;

  if (term_.load() != 0) {
    if (now >= valid_until) {
      demote("the etcd lease was not renewed in time");
      return Duration::zero();
    }
    valid_until_ = ticks(valid_until);
    if (renewed_now) {
      // Is the key still ours (an operator may have deleted it)? The journal's writes would
      // be refused anyway; this stops the side effects too.
      auto key = client_.range(etcd::RangeRequest::single(leaderKey()));
      if (key && (key->kvs.empty() || key->kvs[0].create_revision != term_.load())) {
        demote("the leader key was deleted or replaced");
        return Duration::zero();
      }
      publishMember();
    }
    return std::max(Duration::zero(), since(std::chrono::steady_clock::now(), *next_renewal_));
  }

  etcd::Txn campaign;
  campaign.compare.push_back(etcd::Compare::createRevision(leaderKey(), 0));
  campaign.success.push_back(etcd::Op::put(leaderKey(), options_.name, lease_));
  campaign.failure.push_back(etcd::Op::range(etcd::RangeRequest::single(leaderKey())));
  auto result = client_.txn(campaign);
  if (!result) {
    standBy("etcd unreachable: " + result.error().message);
    return options_.campaign_interval;
  }
  if (result->succeeded) {
    if (std::chrono::steady_clock::now() >= valid_until) {
      // Won with a lease that may already be gone (a slow answer): let it lapse; the key goes
      // with it and the next campaign starts clean.
      spdlog::warn("won the leader key with a lease too close to expiring; not acting on it");
      return options_.campaign_interval;
    }
    term_ = result->revision;
    valid_until_ = ticks(valid_until);
    {
      std::lock_guard lock(mutex_);
      state_.role = Role::kLeader;
      state_.leader = options_.name;
      state_.term = result->revision;
      state_.since = clock_.now();
      state_.why.clear();
    }
    spdlog::info("{} leads (term {})", options_.name, result->revision);
    publishMember();
    return Duration::zero();
  }
  std::string leader = "nobody";
  int64_t term = 0;
  if (!result->ranges.empty() && !result->ranges[0].kvs.empty()) {
    leader = result->ranges[0].kvs[0].value;
    term = result->ranges[0].kvs[0].create_revision;
  }
  {
    std::lock_guard lock(mutex_);
    if (state_.leader != leader || state_.term != term || !state_.since) {
      state_.since = clock_.now();
    }
    state_.role = Role::kStandby;
    state_.leader = leader;
    state_.term = term;
    state_.why = fmt::format("{} leads (term {})", leader, term);
  }
  if (renewed_now) publishMember();
  return options_.campaign_interval;
}

void EtcdElection::publishMember() {
  const LeadershipState s = state();
  nlohmann::json j{{"name", options_.name},
                   {"role", s.role == Role::kLeader ? "leader" : "standby"},
                   {"term", s.term},
                   {"heartbeat_ms", toMillis(clock_.now())},
                   {"why", s.why}};
  etcd::Txn txn;
  txn.success.push_back(
      etcd::Op::put(options_.prefix + "member/" + options_.name, j.dump(), lease_));
  if (auto put = client_.txn(txn); !put) {
    spdlog::debug("cannot publish this controller's heartbeat: {}", put.error().message);
  }
}

Result<std::vector<MemberRecord>> EtcdElection::members(etcd::EtcdClient& client,
                                                        const std::string& prefix) {
  auto range = client.range(etcd::RangeRequest::prefix(prefix + "member/"));
  if (!range) return std::unexpected(range.error());
  std::vector<MemberRecord> out;
  for (const etcd::KeyValue& kv : range->kvs) {
    const auto j = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      spdlog::warn("etcd key {} is not a controller's record; ignored", kv.key);
      continue;
    }
    MemberRecord m;
    m.name = j.value("name", kv.key.substr(prefix.size() + 7));
    m.role = j.value("role", "");
    m.term = j.value("term", int64_t{0});
    m.heartbeat = fromMillis(j.value("heartbeat_ms", int64_t{0}));
    m.why = j.value("why", "");
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::optional<std::pair<std::string, int64_t>>> EtcdElection::leader(
    etcd::EtcdClient& client, const std::string& prefix) {
  auto range = client.range(etcd::RangeRequest::single(prefix + "leader"));
  if (!range) return std::unexpected(range.error());
  if (range->kvs.empty()) return std::optional<std::pair<std::string, int64_t>>();
  return std::optional(std::pair{range->kvs[0].value, range->kvs[0].create_revision});
}

}  // namespace fdr::ha
