// The daemon's executor (core::ThreadPoolExecutor): lanes apart, and a stop that does not wait
// for ever on a call that hangs.
#include "core/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace fdr::core {
namespace {

using namespace std::chrono_literals;

LaneSizes oneEach() {
  LaneSizes sizes;
  sizes.by_prefix = {{"fence", 1}, {"notify", 1}};
  return sizes;
}

TEST(ThreadPoolExecutor, AHungCallHoldsOnlyItsOwnLane) {
  ThreadPoolExecutor executor(oneEach());
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  executor.post("notify:email", [gate] { gate.wait(); });  // a mail server that never answers
  std::promise<void> fenced;
  executor.post("fence", [&] { fenced.set_value(); });
  fenced.get_future().wait();  // ran although the notify lane's only worker is held
  release.set_value();
}

TEST(ThreadPoolExecutor, StopCountsTheCallsStillRunningAndDropsQueuedWork) {
  ThreadPoolExecutor executor(oneEach());
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  executor.post("notify:email", [&, gate] {
    started.set_value();
    gate.wait();
  });
  std::atomic<bool> queued_ran{false};
  executor.post("notify:email", [&] { queued_ran = true; });  // behind the hung one
  started.get_future().wait();
  EXPECT_EQ(executor.stop(50ms), 1u);
  executor.post("fence", [&] { queued_ran = true; });  // refused once stopping
  release.set_value();
  EXPECT_EQ(executor.stop(60s), 0u);  // returns as soon as the last call does
  EXPECT_FALSE(queued_ran);
}

}  // namespace
}  // namespace fdr::core
