// The time seam. Decision code never reads the system clock: it is handed a Clock (or a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>

namespace fdr {

using Duration = std::chrono::milliseconds;
// Wall-clock time in milliseconds. Wall time (not steady time) because incidents, deadlines and
// timings are journaled and must keep their meaning across a restart of the daemon.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;

inline int64_t toMillis(TimePoint t) {
  return t.time_since_epoch().count();
}
inline TimePoint fromMillis(int64_t ms) {
  return TimePoint(Duration(ms));
}
// ISO 8601 UTC with milliseconds, e.g. 2026-11-25T09:04:53.120Z.
std::string formatTime(TimePoint t);

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() const = 0;
  // Blocks until `deadline` or until `stop` is requested. Returns false if stopped.
  virtual bool sleepUntil(TimePoint deadline, const std::stop_token& stop) = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const override;
  bool sleepUntil(TimePoint deadline, const std::stop_token& stop) override;
};

// Simulated time for tests: time moves only when a test advances it or something sleeps.
// Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = fromMillis(1'700'000'000'000)) : now_(start) {}
  [[nodiscard]] TimePoint now() const override;
  bool sleepUntil(TimePoint deadline, const std::stop_token& stop) override;
  void advance(Duration d);
  void set(TimePoint t);

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
};

}  // namespace fdr
