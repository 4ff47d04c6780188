// The Prometheus monitor against a fake Prometheus HTTP API (GET /api/v1/query) on loopback:
// series name down nodes by label (port stripped, FQDN or address), the up-query decides up, and
// everything else is unknown. Errors (status "error", wrong resultType, malformed JSON, HTTP 500,
// timeouts, nothing listening) name the source and never crash.
#include "drivers/monitor/prometheus/prometheus_monitor.h"

#include <mutex>

#include <gtest/gtest.h>

#include "drivers/monitor_fixture.h"

namespace fdr::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kDownQuery = "up{job=\"node\"} == 0";
constexpr const char* kUpQuery = "up{job=\"node\"}";

json series(const std::string& instance, const std::string& value,
            const std::string& label = "instance") {
  return {{"metric", {{"__name__", "up"}, {"job", "node"}, {label, instance}}},
          {"value", json::array({1764064800.123, value})}};
}

json vector(json result) {
  return {{"status", "success"}, {"data", {{"resultType", "vector"}, {"result", result}}}};
}

class PrometheusMonitorTest : public ::testing::Test {
 protected:
  PrometheusMonitorTest() {
    // Answers by query: the down query, the up query; anything else is a bad query.
    server_.on("GET", "/api/v1/query", [this](const FakeRequest& r) {
      std::lock_guard lock(mutex_);
      auto it = answers_.find(r.param("query"));
      if (it != answers_.end()) return it->second;
      return FakeReply::json(400, {{"status", "error"},
                                   {"errorType", "bad_data"},
                                   {"error", "1:1: parse error: unexpected character"}});
    });
  }
  void answer(const std::string& query, FakeReply reply) {
    std::lock_guard lock(mutex_);
    answers_.insert_or_assign(query, std::move(reply));
  }
  void answer(const std::string& query, json result) {
    answer(query, FakeReply::json(200, vector(std::move(result))));
  }

  Result<std::vector<Observation>> poll(std::map<std::string, std::string> options = {}) {
    options.emplace("url", server_.url());
    options.emplace("timeout", "1s");
    auto monitor = MonitorUnderTest::make("prometheus", options, nullptr, clock_);
    if (!monitor) return std::unexpected(monitor.error());
    return (*monitor)->poll(nodes_);
  }

  FakeHttpServer server_;
  FakeClock clock_;
  std::mutex mutex_;
  std::map<std::string, FakeReply> answers_;
  std::vector<Node> nodes_{makeNode("compute-1", "10.0.0.1"), makeNode("compute-2", "10.0.0.2"),
                           makeNode("compute-3", "10.0.0.3", {{"storage-addr", "10.1.0.3"}}),
                           makeNode("compute-4", "10.0.0.4")};
};

TEST_F(PrometheusMonitorTest, DownSeriesAreDownOthersUnknownWithoutAnUpQuery) {
  answer(kDownQuery, json::array({series("compute-1:9100", "0")}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  ASSERT_EQ(polled->size(), 4u);
  auto health = healthByNode(*polled);
  EXPECT_EQ(health["compute-1"], Health::kDown);
  EXPECT_EQ(health["compute-2"], Health::kUnknown);  // absence from "down" proves nothing
  for (const auto& o : *polled) EXPECT_EQ(o.source, "prometheus");
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].param("query"), kDownQuery);
}

TEST_F(PrometheusMonitorTest, TheUpQueryDecidesUp) {
  answer(kDownQuery, json::array({series("compute-1:9100", "0")}));
  answer(kUpQuery, json::array({series("compute-1:9100", "0"), series("compute-2:9100", "1"),
                                series("compute-3:9100", "1")}));
  auto polled = poll({{"up-query", kUpQuery}});
  ASSERT_TRUE(polled) << polled.error().toString();
  auto health = healthByNode(*polled);
  EXPECT_EQ(health["compute-1"], Health::kDown);
  EXPECT_EQ(health["compute-2"], Health::kUp);
  EXPECT_EQ(health["compute-3"], Health::kUp);
  EXPECT_EQ(health["compute-4"], Health::kUnknown);  // not scraped
  auto seen = byNodeAndSource(*polled);
  EXPECT_NE((seen[{"compute-4", "prometheus"}].detail.find("not scraped")), std::string::npos);
}

TEST_F(PrometheusMonitorTest, LabelsMatchByAddressFqdnAndIpv6) {
  nodes_.push_back(makeNode("compute-5", "fd00::5"));
  answer(kDownQuery,
         json::array({series("10.0.0.1:9100", "0"), series("compute-2.example.org", "0"),
                      series("10.1.0.3:9100", "0"), series("[fd00::5]:9100", "0"),
                      series("compute-40:9100", "0")}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  auto health = healthByNode(*polled);
  EXPECT_EQ(health["compute-1"], Health::kDown);     // by ip_addr
  EXPECT_EQ(health["compute-2"], Health::kDown);     // by FQDN
  EXPECT_EQ(health["compute-3"], Health::kDown);     // by storage-addr
  EXPECT_EQ(health["compute-5"], Health::kDown);     // [v6]:port
  EXPECT_EQ(health["compute-4"], Health::kUnknown);  // compute-40 is another host
}

TEST_F(PrometheusMonitorTest, AnotherLabelAndNoPortStripping) {
  answer(kDownQuery, json::array({series("compute-1", "0", "nodename"),
                                  series("compute-2:9100", "0", "nodename")}));
  auto polled = poll({{"label", "nodename"}, {"strip-port", "false"}, {"source", "prom/node"}});
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  EXPECT_EQ((seen[{"compute-1", "prom/node"}].health), Health::kDown);
  EXPECT_EQ((seen[{"compute-2", "prom/node"}].health), Health::kUnknown);
}

TEST_F(PrometheusMonitorTest, SeriesWithoutTheLabelAreIgnored) {
  answer(kDownQuery, json::array({{{"metric", {{"job", "node"}}}, {"value", {1.0, "0"}}}}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  for (const auto& o : *polled) EXPECT_EQ(o.health, Health::kUnknown);
}

void expectError(const Result<std::vector<Observation>>& polled, const std::string& part) {
  ASSERT_FALSE(polled);
  EXPECT_NE(polled.error().message.find("prometheus monitor (prometheus)"), std::string::npos)
      << polled.error().message;
  EXPECT_NE(polled.error().message.find(part), std::string::npos) << polled.error().message;
}

TEST_F(PrometheusMonitorTest, ABadQueryIsAnErrorWithPrometheusReason) {
  auto polled = poll({{"query", "up{"}});
  expectError(polled, "bad_data: 1:1: parse error");
  EXPECT_EQ(polled.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(PrometheusMonitorTest, StatusErrorIn200IsAnError) {
  answer(kDownQuery, FakeReply::json(200, {{"status", "error"},
                                           {"errorType", "timeout"},
                                           {"error", "query timed out in expression evaluation"}}));
  expectError(poll(), "timed out in expression evaluation");
}

TEST_F(PrometheusMonitorTest, WrongResultTypeIsAnError) {
  answer(kDownQuery,
         FakeReply::json(200, {{"status", "success"},
                               {"data", {{"resultType", "scalar"}, {"result", {1.0, "3"}}}}}));
  expectError(poll(), "returns a scalar, expected an instant vector");
}

TEST_F(PrometheusMonitorTest, MalformedJsonIsAnError) {
  answer(kDownQuery, FakeReply::text(200, "{\"status\":\"success\",\"data\":{"));
  expectError(poll(), "malformed JSON");
  answer(kDownQuery, FakeReply::json(200, {{"status", "success"}, {"data", {{"result", 1}}}}));
  expectError(poll(), "data.resultType");
}

TEST_F(PrometheusMonitorTest, Http500IsAnError) {
  answer(kDownQuery, FakeReply::text(500, "internal error"));
  auto polled = poll();
  expectError(polled, "500");
  EXPECT_EQ(polled.error().code, ErrorCode::kUnavailable);
}

TEST_F(PrometheusMonitorTest, AFailingUpQueryFailsThePoll) {
  answer(kDownQuery, json::array());
  answer(kUpQuery, FakeReply::text(503, "unavailable"));
  expectError(poll({{"up-query", kUpQuery}}), "503");
}

TEST_F(PrometheusMonitorTest, TimeoutIsAnError) {
  answer(kDownQuery, FakeReply::json(200, vector(json::array())).after(3s));
  expectError(poll(), "prometheus GET /api/v1/query");
}

TEST_F(PrometheusMonitorTest, NothingListeningIsAnError) {
  auto monitor =
      MonitorUnderTest::make("prometheus", {{"url", "http://127.0.0.1:1"}}, nullptr, clock_);
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_FALSE(polled);
  EXPECT_NE(polled.error().message.find("prometheus monitor (prometheus)"), std::string::npos);
}

TEST(PrometheusMonitorOptionsTest, BadOptionsAreStartUpErrors) {
  FakeClock clock;
  EXPECT_FALSE(MonitorUnderTest::make("prometheus", {}, nullptr, clock));  // url required
  EXPECT_FALSE(MonitorUnderTest::make("prometheus", {{"url", "prometheus:9090"}}, nullptr, clock));
  EXPECT_FALSE(
      MonitorUnderTest::make("prometheus", {{"url", "http://p"}, {"query", ""}}, nullptr, clock));
  EXPECT_FALSE(MonitorUnderTest::make("prometheus", {{"url", "http://p"}, {"timeout", "0"}},
                                      nullptr, clock));
}

TEST(PrometheusLabelTest, StripPortAndMatch) {
  EXPECT_EQ(drivers::stripPort("10.0.0.5:9100"), "10.0.0.5");
  EXPECT_EQ(drivers::stripPort("compute-1:9100"), "compute-1");
  EXPECT_EQ(drivers::stripPort("[fd00::5]:9100"), "fd00::5");
  EXPECT_EQ(drivers::stripPort("fd00::5"), "fd00::5");
  EXPECT_EQ(drivers::stripPort("compute-1"), "compute-1");
  EXPECT_EQ(drivers::stripPort("host:http"), "host:http");
  const Node n = makeNode("compute-1", "10.0.0.1", {{"storage-addr", "10.1.0.1"}});
  EXPECT_TRUE(drivers::labelNamesNode("compute-1", n));
  EXPECT_TRUE(drivers::labelNamesNode("compute-1.example.org", n));
  EXPECT_TRUE(drivers::labelNamesNode("10.1.0.1", n));
  EXPECT_FALSE(drivers::labelNamesNode("compute-10", n));
  EXPECT_FALSE(drivers::labelNamesNode("", n));
}

}  // namespace
}  // namespace fdr::testing
