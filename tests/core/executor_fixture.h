// The engine's executor for tests on simulated time: every call runs on a thread of its own, as
// in the daemon, and settle() waits (in real time, bounded) until each call has returned or is
// parked in block(): a scripted driver that "hangs" parks its thread until release() (or the
// executor's destruction), so a test can hold a BMC, a monitor or a mail server silent while
// simulated time runs and the engine times the call out.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/executor.h"

namespace fdr::testing {

class TestExecutor final : public core::Executor {
 public:
  TestExecutor() = default;
  ~TestExecutor() override;
  TestExecutor(const TestExecutor&) = delete;
  TestExecutor& operator=(const TestExecutor&) = delete;

  void post(const std::string& lane, std::function<void()> work) override;

  // Waits until every call posted has returned or is parked. False (and a test failure) if that
  // takes more than 10 s of real time: a call that blocks outside block().
  bool settle();
  // Parks the calling worker until release() or the destruction of the executor.
  void block();
  void release();

  [[nodiscard]] int posted() const;
  [[nodiscard]] int parked() const;
  // Lanes of every call posted, in order.
  [[nodiscard]] std::vector<std::string> lanes() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int running_ = 0;
  int parked_ = 0;
  int posted_ = 0;
  bool released_ = false;
  std::vector<std::string> lanes_;
  std::vector<std::thread> threads_;
};

}  // namespace fdr::testing
