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

}  // namespace
}  // namespace fdr::core
