// The engine's tracker of calls in flight (core/calls.h): answers taken once, one call per key,
// time-outs on the engine's clock, late answers dropped, the deadline handed to the worker.
#include "core/calls.h"

#include <gtest/gtest.h>

#include <atomic>

#include "core/executor_fixture.h"
#include "core/leadership_fixture.h"
#include "freezer/call_deadline.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;

class CallsTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  TestExecutor executor_;
  core::Calls calls_{executor_, clock_};
};

TEST_F(CallsTest, AnAnswerIsTakenOnceAtALaterCollect) {
  ASSERT_TRUE(calls_.start<int>("a", "lane", 1s, [] { return Result<int>(7); }));
  EXPECT_TRUE(calls_.started("a"));
  ASSERT_TRUE(executor_.settle());
  EXPECT_FALSE(calls_.take<int>("a").has_value()) << "not collected yet";
  EXPECT_EQ(calls_.collect(), 1u);
  auto answer = calls_.take<int>("a");
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->has_value());
  EXPECT_EQ(**answer, 7);
  EXPECT_FALSE(calls_.take<int>("a").has_value());
  EXPECT_FALSE(calls_.started("a"));
  EXPECT_EQ(executor_.lanes(), std::vector<std::string>{"lane"});
}

TEST_F(CallsTest, OneCallPerKeyUntilItsAnswerIsTaken) {
  ASSERT_TRUE(calls_.start<int>("a", "lane", 1s, [] { return Result<int>(1); }));
  EXPECT_FALSE(calls_.start<int>("a", "lane", 1s, [] { return Result<int>(2); }));
  ASSERT_TRUE(executor_.settle());
  calls_.collect();
  EXPECT_FALSE(calls_.start<int>("a", "lane", 1s, [] { return Result<int>(3); }))
      << "answered, not taken";
  EXPECT_EQ(**calls_.take<int>("a"), 1);
  EXPECT_EQ(executor_.posted(), 1);
}

TEST_F(CallsTest, ACallWithoutAnAnswerTimesOutOnTheEngineClockAndItsLateAnswerIsDropped) {
  ASSERT_TRUE(calls_.start<int>("hangs", "bmc", 250ms, [this] {
    executor_.block();
    return Result<int>(42);
  }));
  ASSERT_TRUE(executor_.settle());
  clock_.advance(249ms);
  calls_.collect();
  EXPECT_TRUE(calls_.inFlight("hangs"));
  EXPECT_EQ(calls_.nextDeadline(), clock_.now() + 1ms);
  clock_.advance(1ms);
  EXPECT_EQ(calls_.collect(), 1u);
  auto answer = calls_.take<int>("hangs");
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->has_value());
  EXPECT_EQ(answer->error().code, ErrorCode::kTimedOut);
  EXPECT_EQ(answer->error().message, "no answer within 0.25 s");
  EXPECT_TRUE(calls_.busy("hangs")) << "its worker is still in the call";
  executor_.release();
  ASSERT_TRUE(executor_.settle());
  EXPECT_EQ(calls_.collect(), 0u);
  EXPECT_FALSE(calls_.take<int>("hangs").has_value());
  EXPECT_FALSE(calls_.busy("hangs"));
}

TEST_F(CallsTest, AnAbandonedCallsAnswerNeverReachesTheNextCallUnderItsKey) {
  std::atomic<bool> first_may_return = false;
  ASSERT_TRUE(calls_.start<int>("k", "lane", 10s, [this, &first_may_return] {
    if (!first_may_return) executor_.block();
    return Result<int>(1);
  }));
  ASSERT_TRUE(executor_.settle());
  calls_.abandon("k");
  first_may_return = true;
  ASSERT_TRUE(calls_.start<int>("k", "lane", 10s, [] { return Result<int>(2); }));
  executor_.release();
  ASSERT_TRUE(executor_.settle());
  calls_.collect();
  auto answer = calls_.take<int>("k");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(**answer, 2);
}

TEST_F(CallsTest, TheWorkerRunsUnderTheCallsDeadline) {
  std::optional<std::chrono::milliseconds> left;
  ASSERT_TRUE(calls_.start<int>("d", "lane", 3s, [&left] {
    left = CallDeadline::remaining();
    return Result<int>(0);
  }));
  ASSERT_TRUE(executor_.settle());
  ASSERT_TRUE(left.has_value());
  EXPECT_LE(*left, 3s);
  EXPECT_GT(*left, 0ms);
  EXPECT_FALSE(CallDeadline::current().has_value()) << "the decision thread has none";
}

TEST_F(CallsTest, PrefixesCountAndAbandonTheCallsOfOneOwner) {
  for (const char* key : {"inc-1|a", "inc-1|b", "inc-2|a"}) {
    ASSERT_TRUE(calls_.start<int>(key, "lane", 10s, [this] {
      executor_.block();
      return Result<int>(0);
    }));
  }
  ASSERT_TRUE(executor_.settle());
  EXPECT_EQ(calls_.inFlightWithPrefix("inc-1|"), 2u);
  calls_.abandonPrefix("inc-1|");
  EXPECT_EQ(calls_.inFlightWithPrefix("inc-1|"), 0u);
  EXPECT_EQ(calls_.inFlightWithPrefix("inc-2|"), 1u);
  executor_.release();
}

// Holds what is posted until run(): a lane whose workers are all busy.
class QueueExecutor final : public core::Executor {
 public:
  void post(const std::string& lane, std::function<void()> work) override {
    queued.emplace_back(lane, std::move(work));
  }
  void run() {
    for (auto& [lane, work] : queued) work();
    queued.clear();
  }
  std::vector<std::pair<std::string, std::function<void()>>> queued;
};

TEST(CallsLeadershipTest, ACallQueuedWhileLeadingIsNotMadeOnceTheLeadershipIsLost) {
  FakeClock clock;
  QueueExecutor executor;
  ScriptedLeadership leadership;
  leadership.lead(7);
  core::Calls calls(executor, clock);
  calls.setLeadership(&leadership, {"monitor:"});
  std::atomic<int> made{0};
  ASSERT_TRUE(calls.start<int>("power-off", "fence", 1s, [&] { return Result<int>(++made); }));
  ASSERT_TRUE(calls.start<int>("poll", "monitor:0", 1s, [&] { return Result<int>(++made); }));
  leadership.standBy("lease lost");  // while both wait in their lanes' queues
  executor.run();
  calls.collect();
  auto refused = calls.take<int>("power-off");
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(refused->has_value()) << "the power-off was made by a controller that lost the lead";
  EXPECT_EQ(refused->error().code, ErrorCode::kPermissionDenied);
  auto observed = calls.take<int>("poll");
  ASSERT_TRUE(observed.has_value());
  EXPECT_TRUE(observed->has_value()) << "observing lanes run on a standby too";
  EXPECT_EQ(made.load(), 1);
}

TEST(CallsLeadershipTest, WithoutLeadershipEveryCallRuns) {
  FakeClock clock;
  QueueExecutor executor;
  core::Calls calls(executor, clock);
  std::atomic<int> made{0};
  ASSERT_TRUE(calls.start<int>("power-off", "fence", 1s, [&] { return Result<int>(++made); }));
  executor.run();
  calls.collect();
  EXPECT_TRUE(calls.take<int>("power-off")->has_value());
  EXPECT_EQ(made.load(), 1);
}

}  // namespace
}  // namespace fdr::testing
