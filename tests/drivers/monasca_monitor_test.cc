// The Monasca monitor against a fake Monasca API (GET /v2.0/alarms) behind a fake Keystone, real
// HTTP on loopback: ALARM is down, OK is up, UNDETERMINED / no alarm / disagreeing observers are
// unknown; pages are followed; errors name the source and never crash.
#include "drivers/monitor/monasca/monasca_monitor.h"

#include <gtest/gtest.h>

#include "drivers/monitor_fixture.h"

namespace fdr::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAlarms = "/monitoring/v2.0/alarms";

json alarm(const std::string& id, const std::string& host, const std::string& state,
           const std::string& metric = "host_alive_status", const std::string& observer = "ctl-1") {
  return {
      {"id", id},
      {"state", state},
      {"lifecycle_state", nullptr},
      {"alarm_definition", {{"id", "def-1"}, {"name", "Host Status"}, {"severity", "HIGH"}}},
      {"metrics",
       json::array({{{"id", nullptr},
                     {"name", metric},
                     {"dimensions",
                      {{"hostname", host}, {"observer_host", observer}, {"test_type", "ping"}}}}})},
      {"links", json::array({{{"rel", "self"}, {"href", "http://x/v2.0/alarms/" + id}}})}};
}

json page(json elements, const std::string& next = "") {
  json links = json::array({{{"rel", "self"}, {"href", "self"}}});
  if (!next.empty()) links.push_back({{"rel", "next"}, {"href", next}});
  return {{"links", links}, {"elements", elements}};
}

class MonascaMonitorTest : public ::testing::Test {
 protected:
  void serve(json body) { cloud_.server.onJson("GET", kAlarms, 200, std::move(body)); }

  Result<std::vector<Observation>> poll(std::map<std::string, std::string> options = {}) {
    auto monitor = MonitorUnderTest::make("monasca", options, &cloud_, cloud_.clock);
    if (!monitor) return std::unexpected(monitor.error());
    return (*monitor)->poll(nodes_);
  }

  FakeCloud cloud_;
  std::vector<Node> nodes_{makeNode("compute-1"), makeNode("compute-2"), makeNode("compute-3"),
                           makeNode("compute-4"), makeNode("compute-5")};
};

TEST_F(MonascaMonitorTest, AlarmIsDownOkIsUpUndeterminedAndMissingAreUnknown) {
  serve(page(json::array({alarm("a1", "compute-1", "ALARM"), alarm("a2", "compute-2", "OK"),
                          alarm("a3", "compute-3", "UNDETERMINED"),
                          alarm("a5", "compute-5", "ALARM", "host_alive_status", "ctl-1"),
                          alarm("a6", "compute-5", "OK", "host_alive_status", "ctl-2")})));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  ASSERT_EQ(polled->size(), 5u);
  auto health = healthByNode(*polled);
  EXPECT_EQ(health["compute-1"], Health::kDown);
  EXPECT_EQ(health["compute-2"], Health::kUp);
  EXPECT_EQ(health["compute-3"], Health::kUnknown);  // UNDETERMINED is never down
  EXPECT_EQ(health["compute-4"], Health::kUnknown);  // no alarm
  EXPECT_EQ(health["compute-5"], Health::kUnknown);  // observers disagree
  auto seen = byNodeAndSource(*polled);
  EXPECT_NE((seen[{"compute-1", "monasca"}].detail.find("a1")), std::string::npos);
  EXPECT_NE((seen[{"compute-5", "monasca"}].detail.find("disagree")), std::string::npos);

  const auto requests = cloud_.server.requests();
  const auto it = std::find_if(requests.begin(), requests.end(),
                               [](const FakeRequest& r) { return r.path == kAlarms; });
  ASSERT_NE(it, requests.end());
  EXPECT_EQ(it->param("metric_name"), "host_alive_status");
  EXPECT_FALSE(it->hasParam("state"));  // every state: OK says up
  EXPECT_EQ(it->header("x-auth-token"), cloud_.token(1));
}

TEST_F(MonascaMonitorTest, TheBareArrayOfTheFirstApiVersionIsRead) {
  serve(json::array({alarm("a1", "compute-1.example.org", "ALARM")}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  EXPECT_EQ(healthByNode(*polled)["compute-1"], Health::kDown);  // FQDN matches
}

TEST_F(MonascaMonitorTest, PagesAreFollowed) {
  const std::string next = cloud_.server.url("/monitoring/v2.0/alarms?offset=a1");
  cloud_.server.on("GET", kAlarms, [next](const FakeRequest& r) {
    if (r.param("offset") == "a1") {
      return FakeReply::json(200, page(json::array({alarm("a2", "compute-2", "ALARM")})));
    }
    return FakeReply::json(200, page(json::array({alarm("a1", "compute-1", "OK")}), next));
  });
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  auto health = healthByNode(*polled);
  EXPECT_EQ(health["compute-1"], Health::kUp);
  EXPECT_EQ(health["compute-2"], Health::kDown);
  EXPECT_EQ(cloud_.server.count("GET", kAlarms), 2u);
}

TEST_F(MonascaMonitorTest, ANextLinkElsewhereIsRefused) {
  serve(page(json::array({alarm("a1", "compute-1", "OK")}), "http://198.51.100.7/v2.0/alarms"));
  auto polled = poll();
  ASSERT_FALSE(polled);
  EXPECT_NE(polled.error().message.find("not on the endpoint"), std::string::npos);
}

TEST_F(MonascaMonitorTest, MetricDimensionAndUrlOptions) {
  cloud_.server.onJson("GET", "/mon/v2.0/alarms", 200,
                       page(json::array({alarm("a1", "compute-1", "ALARM", "ssh_alive"),
                                         alarm("a2", "compute-2", "ALARM", "host_alive_status")})));
  auto polled = poll({{"url", cloud_.server.url("/mon")},
                      {"metric", "ssh_alive"},
                      {"dimensions", "test_type:ping, observer_host:ctl-1"},
                      {"source", "monasca/ssh"}});
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  EXPECT_EQ((seen[{"compute-1", "monasca/ssh"}].health), Health::kDown);
  // compute-2's alarm is on another metric: not this source's business.
  EXPECT_EQ((seen[{"compute-2", "monasca/ssh"}].health), Health::kUnknown);
  const auto requests = cloud_.server.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().param("metric_name"), "ssh_alive");
  EXPECT_EQ(requests.back().param("metric_dimensions"), "test_type:ping,observer_host:ctl-1");
}

void expectErrorNamingTheSource(const Result<std::vector<Observation>>& polled) {
  ASSERT_FALSE(polled);
  EXPECT_NE(polled.error().message.find("monasca monitor (monasca)"), std::string::npos)
      << polled.error().message;
  EXPECT_EQ(polled.error().message.find(FakeCloud::kPassword), std::string::npos);
}

TEST_F(MonascaMonitorTest, MalformedJsonIsAnError) {
  cloud_.server.on("GET", kAlarms,
                   [](const FakeRequest&) { return FakeReply::text(200, "{\"elements\": ["); });
  expectErrorNamingTheSource(poll());
}

TEST_F(MonascaMonitorTest, WrongShapesAreErrorsNamingTheField) {
  json bad = alarm("a1", "compute-1", "ALARM");
  bad["metrics"] = "host_alive_status";
  serve(page(json::array({bad})));
  auto polled = poll();
  expectErrorNamingTheSource(polled);
  EXPECT_NE(polled.error().message.find("elements[0].metrics"), std::string::npos)
      << polled.error().message;
}

TEST_F(MonascaMonitorTest, Http500IsAnError) {
  cloud_.server.onJson("GET", kAlarms, 500, {{"title", "Internal Server Error"}});
  auto polled = poll();
  expectErrorNamingTheSource(polled);
  EXPECT_EQ(polled.error().code, ErrorCode::kUnavailable);
}

TEST_F(MonascaMonitorTest, TimeoutIsAnError) {
  cloud_.server.on("GET", kAlarms, [](const FakeRequest&) {
    return FakeReply::json(200, page(json::array())).after(3s);
  });
  expectErrorNamingTheSource(poll());
}

TEST_F(MonascaMonitorTest, UnreachableMonascaIsAnError) {
  expectErrorNamingTheSource(poll({{"url", "http://127.0.0.1:1/v2.0"}}));
}

TEST(MonascaMonitorOptionsTest, BadOptionsAreStartUpErrors) {
  FakeCloud cloud;
  EXPECT_FALSE(MonitorUnderTest::make("monasca", {}, nullptr, cloud.clock));  // no credentials
  EXPECT_FALSE(MonitorUnderTest::make("monasca", {{"url", "ctl:8070"}}, &cloud, cloud.clock));
  EXPECT_FALSE(MonitorUnderTest::make("monasca", {{"dimensions", "nocolon"}}, &cloud, cloud.clock));
  EXPECT_FALSE(MonitorUnderTest::make("monasca", {{"metric", ""}}, &cloud, cloud.clock));
  // The original's class path selects it.
  EXPECT_TRUE(MonitorUnderTest::make("freezer_dr.monitors.drivers.monasca.driver.MonascaDriver", {},
                                     &cloud, cloud.clock));
}

}  // namespace
}  // namespace fdr::testing
