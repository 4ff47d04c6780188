#include "core/executor_fixture.h"

#include <chrono>

#include <gtest/gtest.h>

namespace fdr::testing {

TestExecutor::~TestExecutor() {
  release();
  for (std::thread& t : threads_) t.join();
}

void TestExecutor::post(const std::string& lane, std::function<void()> work) {
  std::lock_guard lock(mutex_);
  running_ += 1;
  posted_ += 1;
  lanes_.push_back(lane);
  threads_.emplace_back([this, work = std::move(work)] {
    work();
    std::lock_guard done(mutex_);
    running_ -= 1;
    cv_.notify_all();
  });
}

bool TestExecutor::settle() {
  std::unique_lock lock(mutex_);
  const bool settled =
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return running_ == parked_; });
  if (!settled) {
    ADD_FAILURE() << "a driver call blocked outside TestExecutor::block() for 10 s";
  }
  return settled;
}

void TestExecutor::block() {
  std::unique_lock lock(mutex_);
  if (released_) return;
  parked_ += 1;
  cv_.notify_all();
  cv_.wait(lock, [&] { return released_; });  // release() counted it running again
}

void TestExecutor::release() {
  std::lock_guard lock(mutex_);
  released_ = true;
  parked_ = 0;  // running again: settle() waits for them to return
  cv_.notify_all();
}

int TestExecutor::posted() const {
  std::lock_guard lock(mutex_);
  return posted_;
}

int TestExecutor::parked() const {
  std::lock_guard lock(mutex_);
  return parked_;
}

std::vector<std::string> TestExecutor::lanes() const {
  std::lock_guard lock(mutex_);
  return lanes_;
}

}  // namespace fdr::testing
