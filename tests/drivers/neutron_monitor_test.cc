// The Neutron monitor against a fake Neutron API (GET /v2.0/agents) behind a fake Keystone, both
// real HTTP on loopback: agents of every type count, admin_state_up=false is ignored, a host
// without agents is unknown, a whole-cloud outage of agents is the control plane's, and a broken
// or unreachable Neutron is an error naming the source, never a crash and never "down".
#include "drivers/monitor/neutron/neutron_monitor.h"

#include <gtest/gtest.h>

#include "drivers/monitor_fixture.h"

namespace fdr::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAgents = "/network/v2.0/agents";

json agent(const std::string& host, const std::string& type, const std::string& binary, bool alive,
           bool admin_state_up = true) {
  static int next = 0;
  return {{"id", "agent-" + std::to_string(++next)},
          {"agent_type", type},
          {"binary", binary},
          {"host", host},
          {"alive", alive},
          {"admin_state_up", admin_state_up},
          {"heartbeat_timestamp", "2026-11-25 10:00:00"},
          {"availability_zone", nullptr},
          {"topic", "N/A"}};
}

json ovs(const std::string& host, bool alive, bool admin = true) {
  return agent(host, "Open vSwitch agent", "neutron-openvswitch-agent", alive, admin);
}
json ovn(const std::string& host, bool alive, bool admin = true) {
  return agent(host, "OVN Controller agent", "ovn-controller", alive, admin);
}
json linuxBridge(const std::string& host, bool alive) {
  return agent(host, "Linux bridge agent", "neutron-linuxbridge-agent", alive);
}
json metadata(const std::string& host, bool alive) {
  return agent(host, "OVN Metadata agent", "neutron-ovn-metadata-agent", alive);
}

class NeutronMonitorTest : public ::testing::Test {
 protected:
  void serve(json agents) { cloud_.server.onJson("GET", kAgents, 200, {{"agents", agents}}); }

  Result<std::vector<Observation>> poll(std::map<std::string, std::string> options = {}) {
    auto monitor = MonitorUnderTest::make("neutron", options, &cloud_, cloud_.clock);
    if (!monitor) return std::unexpected(monitor.error());
    return (*monitor)->poll(nodes_);
  }

  FakeCloud cloud_;
  std::vector<Node> nodes_{makeNode("compute-1"), makeNode("compute-2"), makeNode("compute-3")};
};

TEST_F(NeutronMonitorTest, AgentsOfEveryTypeCount) {
  // OVS on compute-1, OVN on compute-2, Linux bridge on compute-3: each dead host is seen.
  serve(json::array({ovs("compute-1", false), ovn("compute-2", false),
                     linuxBridge("compute-3", true), ovs("network-1", true)}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  ASSERT_EQ(polled->size(), 3u);
  auto health = healthByNode(*polled);
  EXPECT_EQ(health["compute-1"], Health::kDown);
  EXPECT_EQ(health["compute-2"], Health::kDown);
  EXPECT_EQ(health["compute-3"], Health::kUp);
  for (const auto& o : *polled) {
    EXPECT_EQ(o.source, "neutron-agents");
    EXPECT_EQ(o.at, cloud_.clock.now());
  }
  auto seen = byNodeAndSource(*polled);
  EXPECT_NE((seen[{"compute-2", "neutron-agents"}].detail.find("ovn-controller")),
            std::string::npos);
  // One call per poll, with the token.
  ASSERT_EQ(cloud_.server.count("GET", kAgents), 1u);
  for (const auto& r : cloud_.server.requests()) {
    if (r.path == kAgents) {
      EXPECT_EQ(r.header("x-auth-token"), cloud_.token(1));
    }
  }
}

TEST_F(NeutronMonitorTest, OneLiveAgentKeepsTheHostUpAndNamesTheDeadOnes) {
  serve(
      json::array({ovn("compute-1", false), metadata("compute-1", true), ovn("network-1", true)}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  const Observation& o = seen[{"compute-1", "neutron-agents"}];
  EXPECT_EQ(o.health, Health::kUp);
  EXPECT_NE(o.detail.find("dead: ovn-controller"), std::string::npos) << o.detail;
}

TEST_F(NeutronMonitorTest, DisabledAgentsAreIgnored) {
  // compute-1: its dead agent was taken out by an operator; its other agent is alive.
  // compute-2: every agent taken out: unknown, never down.
  serve(json::array({ovs("compute-1", false, /*admin=*/false), metadata("compute-1", true),
                     ovs("compute-2", false, /*admin=*/false), ovs("network-1", true)}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  EXPECT_EQ((seen[{"compute-1", "neutron-agents"}].health), Health::kUp);
  const Observation& out = seen[{"compute-2", "neutron-agents"}];
  EXPECT_EQ(out.health, Health::kUnknown);
  EXPECT_NE(out.detail.find("disabled by an operator"), std::string::npos) << out.detail;
}

TEST_F(NeutronMonitorTest, HostWithoutAgentsIsUnknown) {
  serve(json::array({ovs("compute-1", true), ovs("network-1", true)}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  EXPECT_EQ((seen[{"compute-2", "neutron-agents"}].health), Health::kUnknown);
  EXPECT_NE((seen[{"compute-2", "neutron-agents"}].detail.find("no Neutron agents")),
            std::string::npos);
}

TEST_F(NeutronMonitorTest, FiltersByTypeAndBinary) {
  // compute-1's OVS agent is dead but its metadata agent lives.
  serve(
      json::array({ovs("compute-1", false), metadata("compute-1", true), ovs("network-1", true)}));
  auto by_type = poll({{"agent-types", "Open vSwitch agent"}});
  ASSERT_TRUE(by_type) << by_type.error().toString();
  EXPECT_EQ(healthByNode(*by_type)["compute-1"], Health::kDown);
  auto by_binary = poll({{"binaries", "neutron-ovn-metadata-agent"}});
  ASSERT_TRUE(by_binary) << by_binary.error().toString();
  EXPECT_EQ(healthByNode(*by_binary)["compute-1"], Health::kUp);
  auto neither = poll({{"binaries", "neutron-sriov-nic-agent"}});
  ASSERT_TRUE(neither) << neither.error().toString();
  EXPECT_EQ(healthByNode(*neither)["compute-1"], Health::kUnknown);
}

TEST_F(NeutronMonitorTest, AgentHostMayBeTheFqdn) {
  serve(json::array(
      {ovs("compute-1.example.org", false), ovs("compute-10", true), ovs("network-1", true)}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  auto health = healthByNode(*polled);
  EXPECT_EQ(health["compute-1"], Health::kDown);  // compute-10 is another host
}

TEST_F(NeutronMonitorTest, EveryHostDeadIsTheControlPlaneNotTheHosts) {
  serve(json::array({ovs("compute-1", false), ovs("compute-2", false), ovs("network-1", false)}));
  auto polled = poll();
  ASSERT_TRUE(polled) << polled.error().toString();
  for (const auto& o : *polled) {
    EXPECT_EQ(o.health, Health::kUnknown) << o.node;
  }
  auto seen = byNodeAndSource(*polled);
  EXPECT_NE((seen[{"compute-1", "neutron-agents"}].detail.find("control plane")),
            std::string::npos);
}

TEST_F(NeutronMonitorTest, SourceAndEndpointOptions) {
  cloud_.server.onJson("GET", "/other/v2.0/agents", 200,
                       {{"agents", json::array({ovs("compute-1", false), ovs("net", true)})}});
  auto polled = poll({{"source", "neutron/ovs"}, {"endpoint", cloud_.server.url("/other/")}});
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = byNodeAndSource(*polled);
  EXPECT_EQ((seen[{"compute-1", "neutron/ovs"}].health), Health::kDown);
  EXPECT_EQ(cloud_.server.count("GET", kAgents), 0u);
}

void expectErrorNamingTheSource(const Result<std::vector<Observation>>& polled) {
  ASSERT_FALSE(polled);
  EXPECT_NE(polled.error().message.find("neutron monitor (neutron-agents)"), std::string::npos)
      << polled.error().message;
  EXPECT_EQ(polled.error().message.find(FakeCloud::kPassword), std::string::npos);
}

TEST_F(NeutronMonitorTest, MalformedJsonIsAnError) {
  cloud_.server.on("GET", kAgents,
                   [](const FakeRequest&) { return FakeReply::text(200, "{\"agents\": [{"); });
  auto polled = poll();
  expectErrorNamingTheSource(polled);
  EXPECT_NE(polled.error().message.find("malformed JSON"), std::string::npos);
}

TEST_F(NeutronMonitorTest, WrongFieldTypeIsAnErrorNamingTheField) {
  json bad = ovs("compute-1", true);
  bad["alive"] = "yes";
  serve(json::array({bad}));
  auto polled = poll();
  expectErrorNamingTheSource(polled);
  EXPECT_NE(polled.error().message.find("agents[0].alive"), std::string::npos)
      << polled.error().message;
}

TEST_F(NeutronMonitorTest, Http500IsAnError) {
  cloud_.server.onJson("GET", kAgents, 500,
                       {{"NeutronError", {{"message", "database gone"}, {"type", "DBError"}}}});
  auto polled = poll();
  expectErrorNamingTheSource(polled);
  EXPECT_EQ(polled.error().code, ErrorCode::kUnavailable);
}

TEST_F(NeutronMonitorTest, TimeoutIsAnError) {
  cloud_.server.on("GET", kAgents, [](const FakeRequest&) {
    return FakeReply::json(200, {{"agents", json::array()}}).after(3s);
  });
  auto polled = poll();
  expectErrorNamingTheSource(polled);
}

TEST_F(NeutronMonitorTest, UnreachableNeutronIsAnError) {
  auto polled = poll({{"endpoint", "http://127.0.0.1:1"}});
  expectErrorNamingTheSource(polled);
}

TEST_F(NeutronMonitorTest, Http404IsAnError) {
  cloud_.server.onJson("GET", kAgents, 404, {{"NeutronError", {{"message", "not here"}}}});
  auto polled = poll();
  expectErrorNamingTheSource(polled);
}

TEST(NeutronMonitorRegistryTest, NeedsTheCloudCredentials) {
  FakeClock clock;
  auto monitor = MonitorUnderTest::make("neutron", {}, nullptr, clock);
  ASSERT_FALSE(monitor);
  EXPECT_NE(monitor.error().message.find("[keystone_authtoken]"), std::string::npos);
}

TEST(NeutronJudgeTest, NeverDownWithoutADeadAgent) {
  // Pure judgement: an empty listing, or only disabled agents, never yields down.
  const std::vector<Node> nodes{makeNode("compute-1")};
  drivers::NeutronAgentFilter all;
  neutron::Agent disabled{
      "a", "Open vSwitch agent", "neutron-openvswitch-agent", "compute-1", false, false, ""};
  for (const auto& agents :
       {std::vector<neutron::Agent>{}, std::vector<neutron::Agent>{disabled}}) {
    auto out = drivers::judgeNeutronAgents(nodes, agents, all, "n", fromMillis(0));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].health, Health::kUnknown);
  }
}

}  // namespace
}  // namespace fdr::testing
