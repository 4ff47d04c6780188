#include "core/executor.h"

#include <exception>

#include <spdlog/spdlog.h>

namespace fdr::core {

size_t LaneSizes::of(const std::string& lane) const {
  const auto it = by_prefix.find(lane.substr(0, lane.find(':')));
  return std::max<size_t>(it == by_prefix.end() ? other : it->second, 1);
}

ThreadPoolExecutor::ThreadPoolExecutor(LaneSizes sizes) : sizes_(std::move(sizes)) {}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& [name, lane] : lanes_) {
    for (std::thread& worker : lane->workers) worker.join();
  }
}

size_t ThreadPoolExecutor::stop(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  for (auto& [name, lane] : lanes_) lane->queue.clear();
  wake_.notify_all();
  idle_.wait_for(lock, grace, [&] { return running_ == 0; });
  return running_;
}

void ThreadPoolExecutor::post(const std::string& lane_name, std::function<void()> work) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  auto& lane = lanes_[lane_name];
  if (!lane) {
    lane = std::make_unique<Lane>();
    const size_t n = sizes_.of(lane_name);
    for (size_t i = 0; i < n; ++i) {
      lane->workers.emplace_back([this, raw = lane.get()] { run(*raw); });
    }
  }
  lane->queue.push_back(std::move(work));
  wake_.notify_all();
}

void ThreadPoolExecutor::run(Lane& lane) {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
    if (stopping_) return;
    std::function<void()> work = std::move(lane.queue.front());
    lane.queue.pop_front();
    running_ += 1;
    lock.unlock();
    try {
      work();
    } catch (const std::exception& e) {
      // Drivers return errors as values; an exception here is a bug, reported and survived.
      spdlog::error("a driver call threw: {}", e.what());
    }
    lock.lock();
    running_ -= 1;
    if (running_ == 0) idle_.notify_all();
  }
}

}  // namespace fdr::core
