// Waiting in tests on something a real process or server does: poll the observed state until it
// holds or a deadline passes. Never a sleep standing for an outcome; the interval only spaces
// the looks.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace fdr::testing {

// True as soon as `done()` holds; false if it still does not after `limit` (checked once more
// at the deadline).
inline bool pollUntil(std::chrono::milliseconds limit, const std::function<bool()>& done,
                      std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(interval);
  }
  return done();
}

}  // namespace fdr::testing
