// The Monitor contract, run over every monitor driver against its real (or faithfully faked)
// component:
//   fake        configured down nodes
//   probe       TCP listeners on loopback (a port whose SYNs are dropped is down)
//   nova        a fake Nova API (os-services) behind a fake Keystone
//   neutron     a fake Neutron API (agents) behind a fake Keystone
//   monasca     a fake Monasca API (alarms) behind a fake Keystone
//   prometheus  a fake Prometheus HTTP API
//   bmc         the fake fencer's power table
// In each world compute-1 is alive, compute-2 is dead and compute-3 is unknown to the component.
// The contract (include/freezer/monitor.h): observations only for inventory nodes, stamped by the
// injected clock; the dead node is down; the alive node is never down; a node the component knows
// nothing about is never down; an unreachable component is an error, not a crash and not "down".
// A registry test checks that every registered monitor driver has a world here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <set>

#include <gtest/gtest.h>

#include "app/builtin_drivers.h"
#include "drivers/fencing_harness_fixture.h"
#include "drivers/monitor_fixture.h"
#include "support/silent_tcp.h"

namespace fdr::testing {
namespace {

using nlohmann::json;

class MonitorWorld {
 public:
  virtual ~MonitorWorld() = default;
  [[nodiscard]] virtual std::string ready() const { return ""; }  // empty: ready
  virtual Result<std::unique_ptr<MonitorUnderTest>> monitor() = 0;
  // Makes the component unreachable or broken for monitors created from now on (or already
  // created). False if the driver has no component that can fail.
  virtual bool breakComponent() { return false; }
  [[nodiscard]] virtual std::vector<Node> nodes() const {
    return {makeNode("compute-1"), makeNode("compute-2"), makeNode("compute-3")};
  }
  virtual FakeClock& clock() = 0;
};

class FakeMonitorWorld final : public MonitorWorld {
 public:
  Result<std::unique_ptr<MonitorUnderTest>> monitor() override {
    return MonitorUnderTest::make("fake", {{"nodes_down", "compute-2"}}, nullptr, clock_);
  }
  [[nodiscard]] std::vector<Node> nodes() const override {
    return {makeNode("compute-1"), makeNode("compute-2")};  // the fake knows every node
  }
  FakeClock& clock() override { return clock_; }

 private:
  FakeClock clock_;
};

// A TCP listener on 127.0.0.2 (never accepts; the kernel completes the handshake).
class ProbeWorld final : public MonitorWorld {
 public:
  ProbeWorld() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.2", &sin.sin_addr);
    socklen_t length = sizeof sin;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0 &&
        ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &length) == 0) {
      port_ = ntohs(sin.sin_port);
      // compute-2 crashed: nothing answers on its address (a refusal would mean it is up).
      dead_ = std::make_unique<fdr::testing::BlackholePort>("127.0.0.3", port_);
    }
  }
  ~ProbeWorld() override {
    if (fd_ >= 0) ::close(fd_);
  }
  ProbeWorld(const ProbeWorld&) = delete;
  ProbeWorld& operator=(const ProbeWorld&) = delete;
  [[nodiscard]] std::string ready() const override {
    if (port_ <= 0) return "cannot listen on 127.0.0.2";
    return dead_ && dead_->ok() ? "" : "cannot black-hole 127.0.0.3";
  }
  Result<std::unique_ptr<MonitorUnderTest>> monitor() override {
    return MonitorUnderTest::make("probe", {{"port", std::to_string(port_)}}, nullptr, clock_);
  }
  [[nodiscard]] std::vector<Node> nodes() const override {
    // compute-3 has no address: the probe has nothing to say about it.
    return {makeNode("compute-1", "127.0.0.2"), makeNode("compute-2", "127.0.0.3"),
            makeNode("compute-3")};
  }
  FakeClock& clock() override { return clock_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::unique_ptr<fdr::testing::BlackholePort> dead_;
  FakeClock clock_;
};

// A world served by the fake cloud; `path` is the route breakComponent() turns into HTTP 500.
class CloudWorld : public MonitorWorld {
 public:
  CloudWorld(std::string driver, std::string path)
      : driver_(std::move(driver)), path_(std::move(path)) {}
  Result<std::unique_ptr<MonitorUnderTest>> monitor() override {
    return MonitorUnderTest::make(driver_, {}, &cloud_, cloud_.clock);
  }
  bool breakComponent() override {
    cloud_.server.onJson("GET", path_, 500, {{"error", {{"message", "broken on purpose"}}}});
    return true;
  }
  FakeClock& clock() override { return cloud_.clock; }

 protected:
  FakeCloud cloud_;

 private:
  std::string driver_;
  std::string path_;
};

class NovaWorld final : public CloudWorld {
 public:
  NovaWorld() : CloudWorld("nova", "/compute/v2.1/os-services") {
    cloud_.server.onJson(
        "GET", "/compute/v2.1/", 200,
        {{"version",
          {{"id", "v2.1"}, {"status", "CURRENT"}, {"version", "2.96"}, {"min_version", "2.1"}}}});
    auto service = [](int id, const std::string& host, const std::string& state) {
      return json{{"id", "svc-" + std::to_string(id)},
                  {"binary", "nova-compute"},
                  {"host", host},
                  {"zone", "nova"},
                  {"status", "enabled"},
                  {"state", state},
                  {"disabled_reason", nullptr},
                  {"forced_down", false},
                  {"updated_at", "2026-11-25T10:00:00.000000"}};
    };
    cloud_.server.onJson("GET", "/compute/v2.1/os-services", 200,
                         {{"services", json::array({service(1, "compute-1", "up"),
                                                    service(2, "compute-2", "down")})}});
  }
};

class NeutronWorld final : public CloudWorld {
 public:
  NeutronWorld() : CloudWorld("neutron", "/network/v2.0/agents") {
    auto agent = [](const std::string& host, bool alive) {
      return json{{"id", "agent-" + host},
                  {"agent_type", "OVN Controller agent"},
                  {"binary", "ovn-controller"},
                  {"host", host},
                  {"alive", alive},
                  {"admin_state_up", true}};
    };
    cloud_.server.onJson(
        "GET", "/network/v2.0/agents", 200,
        {{"agents", json::array({agent("compute-1", true), agent("compute-2", false),
                                 agent("network-1", true)})}});
  }
};

class MonascaWorld final : public CloudWorld {
 public:
  MonascaWorld() : CloudWorld("monasca", "/monitoring/v2.0/alarms") {
    auto alarm = [](const std::string& host, const std::string& state) {
      return json{
          {"id", "alarm-" + host},
          {"state", state},
          {"metrics",
           json::array({{{"name", "host_alive_status"}, {"dimensions", {{"hostname", host}}}}})}};
    };
    cloud_.server.onJson(
        "GET", "/monitoring/v2.0/alarms", 200,
        {{"links", json::array()},
         {"elements", json::array({alarm("compute-1", "OK"), alarm("compute-2", "ALARM")})}});
  }
};

class PrometheusWorld final : public MonitorWorld {
 public:
  PrometheusWorld() {
    server_.on("GET", "/api/v1/query", [this](const FakeRequest& r) {
      if (broken_) return FakeReply::text(500, "broken on purpose");
      json result = json::array();
      auto series = [](const std::string& instance) {
        return json{{"metric", {{"instance", instance + ":9100"}}}, {"value", {1.0, "0"}}};
      };
      result.push_back(series("compute-2"));
      if (r.param("query") == "up") result.push_back(series("compute-1"));
      return FakeReply::json(
          200, {{"status", "success"}, {"data", {{"resultType", "vector"}, {"result", result}}}});
    });
  }
  ~PrometheusWorld() override { server_.stop(); }
  PrometheusWorld(const PrometheusWorld&) = delete;
  PrometheusWorld& operator=(const PrometheusWorld&) = delete;
  Result<std::unique_ptr<MonitorUnderTest>> monitor() override {
    return MonitorUnderTest::make("prometheus", {{"url", server_.url()}, {"up-query", "up"}},
                                  nullptr, clock_);
  }
  bool breakComponent() override {
    broken_ = true;
    return true;
  }
  FakeClock& clock() override { return clock_; }

 private:
  std::atomic<bool> broken_{false};
  FakeHttpServer server_;
  FakeClock clock_;
};

class BmcWorld final : public MonitorWorld {
 public:
  BmcWorld() { writeFile(dir_.file("power.json"), R"({"compute-1": "on", "compute-2": "off"})"); }
  Result<std::unique_ptr<MonitorUnderTest>> monitor() override {
    std::string fencer_options = "state-file=" + dir_.file("power.json");
    if (broken_) fencer_options += "; unknown=compute-1, compute-2, compute-3";
    return MonitorUnderTest::make(
        "bmc", {{"fencer", "fake"}, {"fencer-options", fencer_options}, {"interval", "0"}}, nullptr,
        clock_);
  }
  bool breakComponent() override {
    broken_ = true;
    return true;
  }
  FakeClock& clock() override { return clock_; }

 private:
  TempDir dir_;
  FakeClock clock_;
  bool broken_ = false;
};

struct Case {
  std::string name;
  std::function<std::unique_ptr<MonitorWorld>()> make;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.name;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"fake", [] { return std::make_unique<FakeMonitorWorld>(); }},
      {"probe", [] { return std::make_unique<ProbeWorld>(); }},
      {"nova", [] { return std::make_unique<NovaWorld>(); }},
      {"neutron", [] { return std::make_unique<NeutronWorld>(); }},
      {"monasca", [] { return std::make_unique<MonascaWorld>(); }},
      {"prometheus", [] { return std::make_unique<PrometheusWorld>(); }},
      {"bmc", [] { return std::make_unique<BmcWorld>(); }},
  };
  return all;
}

class MonitorContractTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    world_ = GetParam().make();
    ASSERT_EQ(world_->ready(), "");
  }
  std::unique_ptr<MonitorWorld> world_;
};

TEST_P(MonitorContractTest, TheDeadNodeIsDownAndTheLiveOneIsNot) {
  auto monitor = world_->monitor();
  ASSERT_TRUE(monitor) << monitor.error().toString();
  const std::vector<Node> nodes = world_->nodes();
  auto polled = (*monitor)->poll(nodes);
  ASSERT_TRUE(polled) << polled.error().toString();

  std::set<std::string> inventory;
  for (const Node& n : nodes) inventory.insert(n.hostname);
  std::set<std::string> seen;
  bool dead_is_down = false;
  for (const Observation& o : *polled) {
    // A host outside the inventory (the Nova monitor lists every compute service) is only ever
    // reported unknown: the engine tells it unprotected, never watches it.
    if (!inventory.contains(o.node)) {
      EXPECT_EQ(o.health, Health::kUnknown) << "observation for " << o.node << ": " << o.detail;
      continue;
    }
    EXPECT_FALSE(o.source.empty());
    EXPECT_EQ(o.at, world_->clock().now()) << o.node << " " << o.source;
    seen.insert(o.node);
    if (o.node == "compute-2" && o.health == Health::kDown) dead_is_down = true;
    if (o.node == "compute-1") {
      EXPECT_NE(o.health, Health::kDown) << o.source << ": " << o.detail;
    }
  }
  EXPECT_TRUE(dead_is_down);
  EXPECT_TRUE(seen.contains("compute-1"));
}

TEST_P(MonitorContractTest, ANodeTheComponentDoesNotKnowIsNeverDown) {
  auto monitor = world_->monitor();
  ASSERT_TRUE(monitor) << monitor.error().toString();
  std::vector<Node> nodes = world_->nodes();
  nodes.push_back(makeNode("stranger"));
  auto polled = (*monitor)->poll(nodes);
  ASSERT_TRUE(polled) << polled.error().toString();
  for (const Observation& o : *polled) {
    if (o.node == "stranger" || o.node == "compute-3") {
      EXPECT_NE(o.health, Health::kDown) << o.node << " " << o.source << ": " << o.detail;
    }
  }
}

TEST_P(MonitorContractTest, ABrokenComponentIsAnErrorNotDown) {
  if (!world_->breakComponent()) GTEST_SKIP() << GetParam().name << " has no component to break";
  auto monitor = world_->monitor();
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll(world_->nodes());
  ASSERT_FALSE(polled) << "a broken component gave " << polled->size() << " observations";
  EXPECT_FALSE(polled.error().message.empty());
  EXPECT_EQ(polled.error().message.find(FakeCloud::kPassword), std::string::npos);
}

TEST_P(MonitorContractTest, AnEmptyInventoryGivesNoObservationButUnknownHostsOutsideIt) {
  auto monitor = world_->monitor();
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll({});
  ASSERT_TRUE(polled) << polled.error().toString();
  for (const Observation& o : *polled) {
    EXPECT_EQ(o.health, Health::kUnknown) << o.node << " " << o.source << ": " << o.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(Monitors, MonitorContractTest, ::testing::ValuesIn(cases()),
                         [](const auto& test) { return test.param.name; });

TEST(MonitorContractCoverage, EveryRegisteredMonitorHasAWorld) {
  Registry registry;
  ASSERT_TRUE(app::registerBuiltinDrivers(registry));
  std::set<std::string> covered;
  for (const Case& c : cases()) covered.insert(c.name);
  for (const std::string& name : registry.monitors.names()) {
    EXPECT_TRUE(covered.contains(name)) << "monitor '" << name << "' is not in the contract suite";
  }
}

}  // namespace
}  // namespace fdr::testing
