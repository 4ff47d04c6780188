// Where the engine's driver calls run: never on the decision thread (safety invariant 6).
//
// An Executor runs work on named lanes. Each lane has its own bounded set of worker threads, so
// a call that hangs holds one worker of its own lane and nothing else: a BMC that never answers
// delays its own node, a silent mail server delays its own notifier. Lanes are created on first
// use with the size their name asks for (LaneSizes). The engine never waits for a lane: it posts
// and reads the results later (core/calls.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fdr::core {

class Executor {
 public:
  virtual ~Executor() = default;
  // Queues `work` on `lane`. Never blocks; `work` runs on one of the lane's workers.
  virtual void post(const std::string& lane, std::function<void()> work) = 0;
};

// How many workers a lane gets, by the lane name's prefix (the part before ':'), and for lanes
// no prefix names.
struct LaneSizes {
  std::map<std::string, size_t> by_prefix;
  size_t other = 4;
  [[nodiscard]] size_t of(const std::string& lane) const;
};

// The daemon's executor: one pool of threads per lane. The destructor stops taking work and
// joins every worker, after the calls in progress return (each is bounded by its own deadline,
// freezer/call_deadline.h); queued work that has not started is dropped.
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(LaneSizes sizes);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void post(const std::string& lane, std::function<void()> work) override;

  // Stops taking work (queued work that has not started is dropped) and waits at most `grace`
  // for the calls in progress to return. Returns how many still run: a caller that is shutting
  // down may then exit without waiting for them (the journal holds every step taken; a call
  // still running has changed nothing the journal relies on).
  [[nodiscard]] size_t stop(std::chrono::milliseconds grace);

 private:
  struct Lane {
    std::deque<std::function<void()>> queue;
    std::vector<std::thread> workers;
  };
  void run(Lane& lane);

  LaneSizes sizes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  size_t running_ = 0;  // calls in progress
  std::condition_variable idle_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;  // GUARDED_BY(mutex_)
};

}  // namespace fdr::core
