// The BMC monitor: power off is down, power on is unknown (never up: a hung host is powered on),
// a BMC that cannot tell or does not answer is unknown, and no BMC answering at all is an error.
// Against the fake fencer (a power table in a state file) and against OpenIPMI ipmi_sim BMCs.
#include "drivers/monitor/bmc/bmc_monitor.h"

#include <gtest/gtest.h>

#include "drivers/fencing_harness_fixture.h"
#include "drivers/ipmi_sim_fixture.h"
#include "drivers/monitor_fixture.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;

class BmcMonitorFakeFencerTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<MonitorUnderTest>> make(std::map<std::string, std::string> options = {}) {
    options.emplace("fencer", "fake");
    options.emplace("interval", "0");
    return MonitorUnderTest::make("bmc", options, nullptr, clock_);
  }
  void setPower(const std::string& table) { writeFile(dir_.file("power.json"), table); }
  std::string stateFile() const { return "state-file=" + dir_.file("power.json"); }

  TempDir dir_;
  FakeClock clock_;
  std::vector<Node> nodes_{makeNode("compute-1"), makeNode("compute-2"), makeNode("compute-3")};
};

TEST_F(BmcMonitorFakeFencerTest, OffIsDownOnIsUnknownNeverUp) {
  setPower(R"({"compute-1": "on", "compute-2": "off", "compute-3": "on"})");
  auto monitor = make({{"fencer-options", stateFile()}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled) << polled.error().toString();
  ASSERT_EQ(polled->size(), 3u);
  auto seen = byNodeAndSource(*polled);
  EXPECT_EQ((seen[{"compute-2", "bmc"}].health), Health::kDown);
  EXPECT_NE((seen[{"compute-2", "bmc"}].detail.find("power off")), std::string::npos);
  EXPECT_EQ((seen[{"compute-1", "bmc"}].health), Health::kUnknown);
  EXPECT_NE((seen[{"compute-1", "bmc"}].detail.find("power on")), std::string::npos);
  for (const auto& o : *polled) {
    EXPECT_NE(o.health, Health::kUp) << o.node;
    EXPECT_EQ(o.at, clock_.now());
  }
}

TEST_F(BmcMonitorFakeFencerTest, ABmcThatCannotTellIsUnknown) {
  setPower(R"({"compute-2": "off"})");
  auto monitor = make({{"fencer-options", stateFile() + "; unknown=compute-2, compute-3"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  // compute-2 is off, but its BMC does not answer: nothing is known.
  EXPECT_EQ((seen[{"compute-2", "bmc"}].health), Health::kUnknown);
  EXPECT_NE((seen[{"compute-2", "bmc"}].detail.find("does not answer")), std::string::npos);
}

TEST_F(BmcMonitorFakeFencerTest, NoBmcAnsweringIsAnError) {
  auto monitor = make({{"fencer-options", "unknown=compute-1, compute-2, compute-3"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_FALSE(polled);
  EXPECT_NE(polled.error().message.find("bmc monitor (bmc, fencer fake): no BMC answered"),
            std::string::npos)
      << polled.error().message;
}

TEST_F(BmcMonitorFakeFencerTest, IntervalRepeatsTheLastReading) {
  setPower(R"({"compute-1": "on"})");
  auto monitor = MonitorUnderTest::make(
      "bmc", {{"fencer", "fake"}, {"fencer-options", stateFile()}, {"interval", "10s"}}, nullptr,
      clock_);
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto first = (*monitor)->poll(nodes_);
  ASSERT_TRUE(first);
  setPower(R"({"compute-1": "off"})");
  clock_.advance(5s);
  auto cached = (*monitor)->poll(nodes_);
  ASSERT_TRUE(cached);
  EXPECT_EQ(healthByNode(*cached)["compute-1"], Health::kUnknown);
  clock_.advance(5s);
  auto fresh = (*monitor)->poll(nodes_);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(healthByNode(*fresh)["compute-1"], Health::kDown);
}

TEST_F(BmcMonitorFakeFencerTest, ManyNodesInParallel) {
  std::string table = "{";
  std::vector<Node> many;
  for (int i = 0; i < 200; ++i) {
    const std::string host = "node-" + std::to_string(i);
    many.push_back(makeNode(host));
    table += (i == 0 ? "" : ", ") + ("\"" + host + "\": \"" + (i % 7 == 0 ? "off" : "on") + "\"");
  }
  setPower(table + "}");
  auto monitor = make({{"fencer-options", stateFile()}, {"concurrency", "16"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll(many);
  ASSERT_TRUE(polled) << polled.error().toString();
  ASSERT_EQ(polled->size(), many.size());
  for (size_t i = 0; i < many.size(); ++i) {
    EXPECT_EQ((*polled)[i].node, many[i].hostname);
    EXPECT_EQ((*polled)[i].health, i % 7 == 0 ? Health::kDown : Health::kUnknown) << i;
  }
}

TEST(BmcMonitorOptionsTest, FencerAndItsOptionsAreCheckedAtStartUp) {
  FakeClock clock;
  auto unknown = MonitorUnderTest::make("bmc", {{"fencer", "ipmii"}}, nullptr, clock);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("did you mean 'ipmi'"), std::string::npos)
      << unknown.error().message;
  auto bad_key = MonitorUnderTest::make(
      "bmc", {{"fencer", "ipmi"}, {"fencer-options", "timout=5s"}}, nullptr, clock);
  ASSERT_FALSE(bad_key);
  EXPECT_NE(bad_key.error().message.find("timout"), std::string::npos) << bad_key.error().message;
  auto bad_pair =
      MonitorUnderTest::make("bmc", {{"fencer", "fake"}, {"fencer-options", "x"}}, nullptr, clock);
  EXPECT_FALSE(bad_pair);
  EXPECT_FALSE(
      MonitorUnderTest::make("bmc", {{"fencer", "fake"}, {"concurrency", "0"}}, nullptr, clock));
}

TEST(BmcFencerOptionsTest, Parses) {
  auto raw = drivers::parseFencerOptions(" timeout = 5s ;workarounds=opensesspriv; ", "here");
  ASSERT_TRUE(raw) << raw.error().toString();
  ASSERT_EQ(raw->size(), 2u);
  EXPECT_EQ(raw->at("timeout").value, "5s");
  EXPECT_EQ(raw->at("workarounds").value, "opensesspriv");
  EXPECT_FALSE(drivers::parseFencerOptions("a=1; a=2", "here"));
  EXPECT_FALSE(drivers::parseFencerOptions("=1", "here"));
}

// Real IPMI: two ipmi_sim BMCs on loopback.
class BmcMonitorIpmiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bmcs_.ok()) << bmcs_.error(); }
  Result<std::unique_ptr<MonitorUnderTest>> make(const std::string& timeout = "5s") {
    return MonitorUnderTest::make(
        "bmc",
        {{"fencer", "ipmi"},
         {"fencer-options", "timeout=" + timeout + "; workarounds=opensesspriv"},
         {"interval", "0"}},
        nullptr, clock_);
  }
  SystemClock clock_;
  IpmiSimBmcs bmcs_{2};
};

TEST_F(BmcMonitorIpmiTest, APoweredOffNodeIsDown) {
  ASSERT_TRUE(bmcs_.setPower(1, false)) << bmcs_.error();
  auto monitor = make();
  ASSERT_TRUE(monitor) << monitor.error().toString();
  const std::vector<Node> nodes{bmcs_.node(0), bmcs_.node(1)};
  auto polled = (*monitor)->poll(nodes);
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  EXPECT_EQ((seen[{nodes[0].hostname, "bmc"}].health), Health::kUnknown)
      << seen[{nodes[0].hostname, "bmc"}].detail;
  EXPECT_EQ((seen[{nodes[1].hostname, "bmc"}].health), Health::kDown)
      << seen[{nodes[1].hostname, "bmc"}].detail;
}

TEST_F(BmcMonitorIpmiTest, AFrozenBmcIsUnknownAndAllFrozenIsAnError) {
  ASSERT_TRUE(bmcs_.freeze(1)) << bmcs_.error();
  auto monitor = make("2s");
  ASSERT_TRUE(monitor) << monitor.error().toString();
  const std::vector<Node> nodes{bmcs_.node(0), bmcs_.node(1)};
  auto polled = (*monitor)->poll(nodes);
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  const Observation& frozen = seen[{nodes[1].hostname, "bmc"}];
  EXPECT_EQ(frozen.health, Health::kUnknown);
  EXPECT_EQ(frozen.detail.find(bmcs_.password()), std::string::npos) << frozen.detail;

  ASSERT_TRUE(bmcs_.freeze(0)) << bmcs_.error();
  auto none = (*monitor)->poll(nodes);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no BMC answered"), std::string::npos);
  EXPECT_EQ(none.error().message.find(bmcs_.password()), std::string::npos);
  bmcs_.thaw(0);
  bmcs_.thaw(1);
}

}  // namespace
}  // namespace fdr::testing
