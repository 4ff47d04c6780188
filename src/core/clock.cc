#include "freezer/clock.h"

#include <condition_variable>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

namespace fdr {

std::string formatTime(TimePoint t) {
  const int64_t ms = toMillis(t);
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms % 1000);
}

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

bool SystemClock::sleepUntil(TimePoint deadline, const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  // wait_until returns the predicate: true when stop was requested.
  return !cv.wait_until(lock, stop, deadline, [] { return false; });
}

TimePoint FakeClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

bool FakeClock::sleepUntil(TimePoint deadline, const std::stop_token& stop) {
  if (stop.stop_requested()) return false;
  std::lock_guard lock(mutex_);
  if (deadline > now_) now_ = deadline;
  return true;
}

void FakeClock::advance(Duration d) {
  std::lock_guard lock(mutex_);
  now_ += d;
}

void FakeClock::set(TimePoint t) {
  std::lock_guard lock(mutex_);
  now_ = t;
}

}  // namespace fdr
