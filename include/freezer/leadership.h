// Who may act (safety invariant 3). Single node: the process holding the journal's lock, always
// (LocalLeadership). Controller HA: the holder of the etcd leader key, while its lease is known
// valid on its own monotonic clock (src/ha/etcd_election.h). The engine asks acting() at every
// tick and the journal conditions every write on term(): a deposed leader neither acts nor
// writes.
//
// Thread-safe: read from the decision thread and the journal while the election's own thread
// updates it; nothing here blocks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "freezer/call_deadline.h"
#include "freezer/clock.h"

namespace fdr {

enum class Role { kLeader, kStandby };

// What `status` shows of the election.
struct LeadershipState {
  Role role = Role::kStandby;
  std::string self;                // this controller's name
  std::string leader;              // the leader's name; empty: none known
  int64_t term = 0;                // the leader's term (its key's create revision); 0: none
  std::optional<TimePoint> since;  // when this controller became leader / standby
  std::string why;  // a standby's reason ("etcd unreachable: …", "X is the leader")
};

class Leadership {
 public:
  virtual ~Leadership() = default;
  // Whether this controller may start a side effect or a journal write at `now`: it leads and
  // its lease is valid until later than `now` plus the safety margin, by its own clock.
  [[nodiscard]] virtual bool acting(SteadyTime now) const = 0;
  // The term this controller leads in, 0 when it does not: every journal write is conditioned
  // on the leader key still being this term's.
  [[nodiscard]] virtual int64_t term() const = 0;
  [[nodiscard]] virtual LeadershipState state() const = 0;
  // The journal found the term gone (a write refused by its condition): stop acting at once,
  // without waiting for the election to notice.
  virtual void deposed(int64_t term) = 0;
};

// Single node: always the leader (the SQLite journal's lock keeps a second copy out).
class LocalLeadership final : public Leadership {
 public:
  explicit LocalLeadership(std::string self) {
    state_.role = Role::kLeader;
    state_.self = state_.leader = std::move(self);
    state_.term = 1;
  }
  [[nodiscard]] bool acting(SteadyTime /*now*/) const override { return true; }
  [[nodiscard]] int64_t term() const override { return 1; }
  [[nodiscard]] LeadershipState state() const override { return state_; }
  void deposed(int64_t /*term*/) override {}

 private:
  LeadershipState state_;
};

}  // namespace fdr
