// A Leadership a test switches by hand: leading (with a term) or not.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "freezer/leadership.h"

namespace fdr::testing {

class ScriptedLeadership final : public Leadership {
 public:
  explicit ScriptedLeadership(std::string self = "test") { state_.self = std::move(self); }
  void lead(int64_t term) {
    std::lock_guard lock(mutex_);
    state_.role = Role::kLeader;
    state_.term = term;
    state_.leader = state_.self;
    term_ = term;
  }
  void standBy(const std::string& why) {
    std::lock_guard lock(mutex_);
    state_.role = Role::kStandby;
    state_.why = why;
    term_ = 0;
  }
  [[nodiscard]] bool acting(SteadyTime /*now*/) const override { return term_ != 0; }
  [[nodiscard]] int64_t term() const override { return term_; }
  [[nodiscard]] LeadershipState state() const override {
    std::lock_guard lock(mutex_);
    return state_;
  }
  void deposed(int64_t term) override {
    if (term_ == term) standBy("deposed");
  }

 private:
  mutable std::mutex mutex_;
  LeadershipState state_;
  std::atomic<int64_t> term_{0};
};

}  // namespace fdr::testing
