#include "core/detector.h"

#include <gtest/gtest.h>

namespace fdr::core {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = fromMillis(1'700'000'000'000);

std::vector<Observation> obs(
    std::initializer_list<std::tuple<std::string, std::string, Health>> l) {
  std::vector<Observation> out;
  for (const auto& [node, source, health] : l) out.push_back({node, source, health, kT0, ""});
  return out;
}

TEST(Detector, FailsWhenEnoughSourcesAgreeForTheGracePeriod) {
  Detector d({.grace = 3s, .min_sources = 2});
  const auto down = obs({{"n1", "a", Health::kDown}, {"n1", "b", Health::kDown}});
  d.update(kT0, down);
  EXPECT_TRUE(d.failedNodes(kT0 + 2999ms).empty());
  EXPECT_EQ(d.suspectNodes(kT0 + 1s), std::set<std::string>{"n1"});
  EXPECT_EQ(d.downNodes(kT0), std::set<std::string>{"n1"});
  d.update(kT0 + 3s, down);
  EXPECT_EQ(d.failedNodes(kT0 + 3s), std::set<std::string>{"n1"});
}

TEST(Detector, UnknownNeverCountsAsDown) {
  Detector d({.grace = 0s, .min_sources = 2});
  d.update(kT0, obs({{"n1", "a", Health::kDown}, {"n1", "b", Health::kUnknown}}));
  EXPECT_TRUE(d.failedNodes(kT0 + 1h).empty());
}

TEST(Detector, ASourceThatStopsReportingBecomesUnknown) {
  Detector d({.grace = 1s, .min_sources = 2});
  d.update(kT0, obs({{"n1", "a", Health::kDown}, {"n1", "b", Health::kDown}}));
  d.update(kT0 + 2s, obs({{"n1", "a", Health::kDown}}));  // b vanished
  EXPECT_TRUE(d.failedNodes(kT0 + 2s).empty());
}

TEST(Detector, ComingBackRestartsTheGracePeriod) {
  Detector d({.grace = 3s, .min_sources = 1});
  d.update(kT0, obs({{"n1", "a", Health::kDown}}));
  d.update(kT0 + 2s, obs({{"n1", "a", Health::kUp}}));
  d.update(kT0 + 2500ms, obs({{"n1", "a", Health::kDown}}));
  EXPECT_TRUE(d.failedNodes(kT0 + 5s).empty());
  EXPECT_FALSE(d.failedNodes(kT0 + 5500ms).empty());
}

// Down by both sources at `t`, then up by both at `t + down_for`.
void flap(Detector& d, TimePoint t, Duration down_for) {
  d.update(t, obs({{"n1", "a", Health::kDown}, {"n1", "b", Health::kDown}}));
  d.update(t + down_for, obs({{"n1", "a", Health::kUp}, {"n1", "b", Health::kUp}}));
}

TEST(Detector, ANodeThatComesBackTooOftenIsFlapping) {
  Detector d({.grace = 3s, .min_sources = 2, .flap_max_recoveries = 2, .flap_window = 60s});
  flap(d, kT0, 1s);
  flap(d, kT0 + 10s, 1s);
  EXPECT_TRUE(d.flappingNodes(kT0 + 11s).empty());  // 2 recoveries: not more than 2
  flap(d, kT0 + 20s, 1s);
  EXPECT_EQ(d.flappingNodes(kT0 + 21s), (std::map<std::string, int>{{"n1", 3}}));
}

TEST(Detector, FlappingEndsWhenTheRecoveriesLeaveTheWindow) {
  Detector d({.grace = 3s, .min_sources = 2, .flap_max_recoveries = 2, .flap_window = 60s});
  for (int i = 0; i < 3; ++i) flap(d, kT0 + i * 10s, 1s);  // recoveries at 1, 11, 21 s
  EXPECT_FALSE(d.flappingNodes(kT0 + 61s).empty());
  EXPECT_TRUE(d.flappingNodes(kT0 + 62s).empty());  // the first one is 61 s old
}

TEST(Detector, OneSourceGoingDownIsNoFlap) {
  Detector d({.grace = 3s, .min_sources = 2, .flap_max_recoveries = 1, .flap_window = 60s});
  for (int i = 0; i < 5; ++i) {
    const TimePoint t = kT0 + i * 10s;
    d.update(t, obs({{"n1", "a", Health::kDown}, {"n1", "b", Health::kUp}}));
    d.update(t + 1s, obs({{"n1", "a", Health::kUp}, {"n1", "b", Health::kUp}}));
  }
  EXPECT_TRUE(d.flappingNodes(kT0 + 50s).empty());
}

TEST(Detector, DownWithoutComingBackIsNoFlap) {
  Detector d({.grace = 3s, .min_sources = 2, .flap_max_recoveries = 1, .flap_window = 60s});
  const auto down = obs({{"n1", "a", Health::kDown}, {"n1", "b", Health::kDown}});
  const auto unknown = obs({});
  for (int i = 0; i < 5; ++i) {  // down, then unknown (the monitor failed): not "up"
    d.update(kT0 + i * 10s, down);
    d.update(kT0 + i * 10s + 1s, unknown);
  }
  EXPECT_TRUE(d.flappingNodes(kT0 + 50s).empty());
}

}  // namespace
}  // namespace fdr::core
