#include "core/calls.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/engine_internal.h"
#include "freezer/call_deadline.h"

namespace fdr::core {

Calls::Calls(Executor& executor, Clock& clock) : executor_(executor), clock_(clock) {}

Calls::~Calls() = default;

bool Calls::startErased(const std::string& key, const std::string& lane, Duration timeout,
                        std::function<std::any()> fn, std::function<std::any(Error)> failure) {
  if (slots_.contains(key)) return false;
  const uint64_t generation = next_generation_++;
  Slot& slot = slots_[key];
  slot.generation = generation;
  slot.timeout = timeout;
  slot.deadline = clock_.now() + timeout;
  slot.failure = std::move(failure);
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->running[key] += 1;
  }
  const SteadyTime real_deadline = std::chrono::steady_clock::now() + timeout;
  const Leadership* leadership = gated(lane) ? leadership_ : nullptr;
  executor_.post(lane, [inbox = inbox_, key, generation, real_deadline, leadership,
                        refused = slot.failure, fn = std::move(fn)] {
    std::any result;
    if (leadership != nullptr && !leadership->acting(std::chrono::steady_clock::now())) {
      spdlog::warn("call {} not made: this controller is not the leader any more", key);
      result = refused(Error{ErrorCode::kPermissionDenied,
                             "not made: this controller is not the leader any more"});
    } else {
      CallDeadline deadline(real_deadline);
      result = fn();
    }
    std::lock_guard lock(inbox->mutex);
    inbox->arrived.push_back({key, generation, std::move(result)});
    if (auto it = inbox->running.find(key); it != inbox->running.end() && --it->second <= 0) {
      inbox->running.erase(it);
    }
    inbox->cv.notify_all();
  });
  return true;
}

void Calls::setLeadership(const Leadership* leadership, std::vector<std::string> observing_lanes) {
  leadership_ = leadership;
  observing_lanes_ = std::move(observing_lanes);
}

bool Calls::gated(const std::string& lane) const {
  if (leadership_ == nullptr) return false;
  return std::none_of(observing_lanes_.begin(), observing_lanes_.end(),
                      [&](const std::string& prefix) { return lane.starts_with(prefix); });
}

bool Calls::inFlight(const std::string& key) const {
  auto it = slots_.find(key);
  return it != slots_.end() && !it->second.done;
}

bool Calls::started(const std::string& key) const {
  return slots_.contains(key);
}

bool Calls::busy(const std::string& key) const {
  if (inFlight(key)) return true;
  std::lock_guard lock(inbox_->mutex);
  return inbox_->running.contains(key);
}

size_t Calls::inFlightWithPrefix(const std::string& prefix) const {
  size_t n = 0;
  for (auto it = slots_.lower_bound(prefix); it != slots_.end() && it->first.starts_with(prefix);
       ++it) {
    if (!it->second.done) n += 1;
  }
  return n;
}

void Calls::abandon(const std::string& key) {
  slots_.erase(key);
}

void Calls::abandonPrefix(const std::string& prefix) {
  auto it = slots_.lower_bound(prefix);
  while (it != slots_.end() && it->first.starts_with(prefix)) it = slots_.erase(it);
}

size_t Calls::collect() {
  std::vector<Arrival> arrived;
  {
    std::lock_guard lock(inbox_->mutex);
    arrived.swap(inbox_->arrived);
  }
  size_t ready = 0;
  for (Arrival& a : arrived) {
    auto it = slots_.find(a.key);
    // Timed out (or abandoned) before it answered: its caller has moved on.
    if (it == slots_.end() || it->second.generation != a.generation || it->second.done) continue;
    it->second.done = true;
    it->second.result = std::move(a.result);
    ready += 1;
  }
  const TimePoint now = clock_.now();
  for (auto& [key, slot] : slots_) {
    if (slot.done || now < slot.deadline) continue;
    slot.done = true;
    slot.result = slot.failure(Error{
        ErrorCode::kTimedOut, "no answer within " + engine_internal::seconds(slot.timeout), true});
    ready += 1;
  }
  return ready;
}

std::optional<TimePoint> Calls::nextDeadline() const {
  std::optional<TimePoint> earliest;
  for (const auto& [key, slot] : slots_) {
    if (!slot.done && (!earliest || slot.deadline < *earliest)) earliest = slot.deadline;
  }
  return earliest;
}

void Calls::waitForResult(Duration max_wait, const std::stop_token& stop) {
  // Registered before the lock is taken: it runs at once, on this thread, if stop was asked.
  std::stop_callback wake(stop, [inbox = inbox_] {
    std::lock_guard l(inbox->mutex);
    inbox->cv.notify_all();
  });
  std::unique_lock lock(inbox_->mutex);
  inbox_->cv.wait_for(lock, max_wait,
                      [&] { return !inbox_->arrived.empty() || stop.stop_requested(); });
}

}  // namespace fdr::core
