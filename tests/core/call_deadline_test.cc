#include "freezer/call_deadline.h"

#include <gtest/gtest.h>

#include <optional>
#include <thread>

namespace fdr {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;

TEST(CallDeadlineTest, NoneInForceBoundsNothing) {
  EXPECT_FALSE(CallDeadline::current());
  EXPECT_FALSE(CallDeadline::remaining());
  EXPECT_EQ(CallDeadline::bound(30s), 30s);
}

TEST(CallDeadlineTest, BoundShortensToWhatIsLeft) {
  CallDeadline deadline(steady_clock::now() + 1h);
  const auto left = CallDeadline::remaining();
  ASSERT_TRUE(left);
  EXPECT_GT(*left, 59min);
  EXPECT_LE(*left, 1h);
  EXPECT_EQ(CallDeadline::bound(5s), 5s);  // shorter than what is left: unchanged
  EXPECT_LE(CallDeadline::bound(2h), 1h);
  EXPECT_GT(CallDeadline::bound(2h), 59min);
}

TEST(CallDeadlineTest, PastDeadlineClampsToZero) {
  CallDeadline deadline(steady_clock::now() - 10s);
  EXPECT_EQ(CallDeadline::remaining(), std::chrono::milliseconds(0));
  EXPECT_EQ(CallDeadline::bound(30s), std::chrono::milliseconds(0));
}

TEST(CallDeadlineTest, NestedScopesKeepTheEarliestAndRestoreOnExit) {
  const auto early = steady_clock::now() + 1min;
  const auto late = early + 1h;
  {
    CallDeadline outer(early);
    EXPECT_EQ(CallDeadline::current(), early);
    {
      CallDeadline inner(late);  // later than the one in force: does not extend it
      EXPECT_EQ(CallDeadline::current(), early);
    }
    EXPECT_EQ(CallDeadline::current(), early);
  }
  EXPECT_FALSE(CallDeadline::current());
  {
    CallDeadline outer(late);
    {
      CallDeadline inner(early);  // earlier: shortens it for the inner scope only
      EXPECT_EQ(CallDeadline::current(), early);
    }
    EXPECT_EQ(CallDeadline::current(), late);
  }
  EXPECT_FALSE(CallDeadline::current());
}

TEST(CallDeadlineTest, EachThreadHasItsOwn) {
  CallDeadline deadline(steady_clock::now() + 1min);
  std::optional<SteadyTime> seen = steady_clock::now();
  std::thread other([&] { seen = CallDeadline::current(); });
  other.join();
  EXPECT_FALSE(seen);
  EXPECT_TRUE(CallDeadline::current());
}

}  // namespace
}  // namespace fdr
