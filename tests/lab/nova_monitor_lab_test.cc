// The Nova monitor: its judgement of compute services (pure, on simulated time), then against
// the lab (lab/up.sh): real Nova, real nova-compute heartbeats. The lab tests FAIL when the lab
// is not up (its lab.env: /var/tmp/freezer-dr-lab/lab.env or $FDR_LAB_ENV).
//
// The detection test kills one host's nova-compute (FDR_LAB_MONITOR_VICTIM, default fake-host-1:
// the evacuation lab test takes the last host) and always restarts it, even when it fails.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "clients/http/http_client.h"
#include "clients/keystone/credentials.h"
#include "clients/keystone/keystone_client.h"
#include "clients/nova/nova_client.h"
#include "drivers/monitor/nova/nova_monitor.h"
#include "freezer/clock.h"
#include "freezer/registry.h"
#include "lab/lab_fixture.h"

namespace fdr::drivers {
namespace {

using namespace std::chrono_literals;
using Seen = std::map<std::pair<std::string, std::string>, Observation>;

Seen index(const std::vector<Observation>& observations) {
  Seen out;
  for (const auto& o : observations) out[{o.node, o.source}] = o;
  return out;
}

Node node(const std::string& hostname) {
  Node n;
  n.hostname = hostname;
  return n;
}

nova::ComputeService service(const std::string& host, const std::string& updated_at) {
  nova::ComputeService s;
  s.id = "id-" + host;
  s.binary = "nova-compute";
  s.host = host;
  s.status = "enabled";
  s.state = "up";
  s.updated_at = updated_at;
  return s;
}

// ---- The judgement, on simulated time ------------------------------------------------------

class NovaServiceJudgeTest : public ::testing::Test {
 protected:
  Seen judge(const std::vector<nova::ComputeService>& services) {
    return index(judge_.judge(nodes_, services, clock_.now()));
  }
  FakeClock clock_;
  std::vector<Node> nodes_{node("c1"), node("c2"), node("c3")};
  NovaServiceJudge judge_{25s};
};

TEST_F(NovaServiceJudgeTest, HeartbeatIsUpWhileUpdatedAtAdvancesAndDownWhenItStops) {
  std::vector<nova::ComputeService> services{service("c1", "t0"), service("c2", "t0"),
                                             service("c3", "t0")};
  auto seen = judge(services);
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ((seen[{"c1", kNovaStateSource}].health), Health::kUp);
  // Not seen advancing yet: the heartbeat cannot tell.
  EXPECT_EQ((seen[{"c1", kNovaHeartbeatSource}].health), Health::kUnknown);
  EXPECT_NE((seen[{"c1", kNovaHeartbeatSource}].detail.find("waiting")), std::string::npos);

  clock_.advance(10s);
  for (auto& s : services) s.updated_at = "t10";
  seen = judge(services);
  for (const char* host : {"c1", "c2", "c3"}) {
    EXPECT_EQ((seen[{host, kNovaHeartbeatSource}].health), Health::kUp) << host;
  }

  // c2 stops reporting at t10; the others go on every 10 s. Nova still says "up" (60 s).
  for (int t = 20; t <= 40; t += 10) {
    clock_.advance(10s);
    services[0].updated_at = services[2].updated_at = "t" + std::to_string(t);
    seen = judge(services);
    if (t <= 30) {
      EXPECT_EQ((seen[{"c2", kNovaHeartbeatSource}].health), Health::kUp) << "t" << t;
    }
  }
  // 30 s without change > 25 s.
  EXPECT_EQ((seen[{"c2", kNovaHeartbeatSource}].health), Health::kDown);
  EXPECT_NE((seen[{"c2", kNovaHeartbeatSource}].detail.find("no heartbeat for 30.0 s")),
            std::string::npos)
      << seen[{"c2", kNovaHeartbeatSource}].detail;
  EXPECT_EQ((seen[{"c2", kNovaStateSource}].health), Health::kUp);
  EXPECT_EQ((seen[{"c1", kNovaHeartbeatSource}].health), Health::kUp);
  EXPECT_EQ((seen[{"c3", kNovaHeartbeatSource}].health), Health::kUp);

  // It comes back.
  clock_.advance(10s);
  services[1].updated_at = "t50";
  services[0].updated_at = services[2].updated_at = "t50";
  seen = judge(services);
  EXPECT_EQ((seen[{"c2", kNovaHeartbeatSource}].health), Health::kUp);
}

TEST_F(NovaServiceJudgeTest, AHostNeverSeenAdvancingGoesDownAfterTheTimeout) {
  std::vector<nova::ComputeService> services{service("c1", "t0"), service("c2", "t0")};
  services[1].state = "down";
  judge(services);
  clock_.advance(20s);
  services[0].updated_at = "t20";
  auto seen = judge(services);
  EXPECT_EQ((seen[{"c2", kNovaHeartbeatSource}].health), Health::kUnknown);
  EXPECT_EQ((seen[{"c2", kNovaStateSource}].health), Health::kDown);
  clock_.advance(10s);
  services[0].updated_at = "t30";
  seen = judge(services);
  EXPECT_EQ((seen[{"c2", kNovaHeartbeatSource}].health), Health::kDown);
  EXPECT_EQ((seen[{"c1", kNovaHeartbeatSource}].health), Health::kUp);
  // c3 has no service at all.
  EXPECT_EQ((seen[{"c3", kNovaStateSource}].health), Health::kUnknown);
  EXPECT_NE((seen[{"c3", kNovaStateSource}].detail.find("no nova-compute service")),
            std::string::npos);
}

TEST_F(NovaServiceJudgeTest, EveryHeartbeatStallingAtOnceIsTheControlPlaneNotTheHosts) {
  std::vector<nova::ComputeService> services{service("c1", "t0"), service("c2", "t0"),
                                             service("c3", "t0")};
  judge(services);
  clock_.advance(10s);
  for (auto& s : services) s.updated_at = "t10";
  judge(services);
  clock_.advance(30s);
  auto seen = judge(services);
  for (const char* host : {"c1", "c2", "c3"}) {
    EXPECT_EQ((seen[{host, kNovaHeartbeatSource}].health), Health::kUnknown) << host;
    EXPECT_NE((seen[{host, kNovaHeartbeatSource}].detail.find("control plane")), std::string::npos);
  }
}

TEST_F(NovaServiceJudgeTest, OperatorDisabledIsUnknownForcedDownIsDown) {
  std::vector<nova::ComputeService> services{service("c1", "t0"), service("c2", "t0"),
                                             service("c3", "t0")};
  services[0].status = "disabled";
  services[0].disabled_reason = "kernel upgrade";
  services[0].state = "down";
  services[1].status = "disabled";
  services[1].disabled_reason = "freezer-dr: evacuated";
  services[1].state = "down";
  services[2].forced_down = true;
  auto seen = judge(services);
  EXPECT_EQ((seen[{"c1", kNovaStateSource}].health), Health::kUnknown);
  EXPECT_EQ((seen[{"c1", kNovaHeartbeatSource}].health), Health::kUnknown);
  EXPECT_EQ((seen[{"c1", kNovaStateSource}].detail), "disabled by an operator: kernel upgrade");
  EXPECT_TRUE((seen[{"c1", kNovaStateSource}].operator_maintenance));
  EXPECT_TRUE((seen[{"c1", kNovaHeartbeatSource}].operator_maintenance));
  EXPECT_FALSE((seen[{"c2", kNovaStateSource}].operator_maintenance));  // freezer-dr's own
  EXPECT_EQ((seen[{"c2", kNovaStateSource}].health), Health::kDown);    // our own disable
  EXPECT_EQ((seen[{"c3", kNovaStateSource}].health), Health::kDown);
  EXPECT_EQ((seen[{"c3", kNovaStateSource}].detail), "forced down in Nova");
}

TEST_F(NovaServiceJudgeTest, AComputeHostOutsideTheInventoryIsReportedUnknownOnce) {
  auto seen = judge({service("c1", "t0"), service("c9", "t0")});
  ASSERT_TRUE(seen.contains({"c9", kNovaStateSource}));
  EXPECT_EQ((seen[{"c9", kNovaStateSource}].health), Health::kUnknown);
  EXPECT_EQ((seen[{"c9", kNovaStateSource}].detail),
            "a nova-compute service with no entry in the inventory");
  EXPECT_FALSE(seen.contains({"c9", kNovaHeartbeatSource}));
  clock_.advance(60s);  // its heartbeat stops: still never down
  seen = judge({service("c1", "t1"), service("c9", "t0")});
  EXPECT_EQ((seen[{"c9", kNovaStateSource}].health), Health::kUnknown);
}

TEST_F(NovaServiceJudgeTest, ARecreatedServiceStartsOver) {
  std::vector<nova::ComputeService> services{service("c1", "t0"), service("c2", "t0")};
  judge(services);
  clock_.advance(10s);
  services[1].updated_at = "t10";
  judge(services);
  clock_.advance(30s);
  services[1].updated_at = "t40";
  services[0].id = "id-c1-new";  // same updated_at, new service record
  auto seen = judge(services);
  EXPECT_EQ((seen[{"c1", kNovaHeartbeatSource}].health), Health::kUnknown);
}

TEST(NovaMonitorRegistryTest, RegistersUnderItsNameAndTheOriginalsClassPath) {
  Registry registry;
  ASSERT_TRUE(registerNovaMonitor(registry));
  auto byName = registry.monitors.find("nova");
  ASSERT_TRUE(byName) << byName.error().toString();
  auto byAlias =
      registry.monitors.find("freezer_dr.monitors.drivers.default.driver.StandardDriver");
  ASSERT_TRUE(byAlias) << byAlias.error().toString();
  EXPECT_EQ((*byAlias)->name, "nova");
  // Without cloud credentials there is no Nova client: a clear start-up error.
  FakeClock clock;
  std::vector<Node> nodes;
  DriverContext context{clock, nodes};
  Diagnostics diag;
  auto options = Options::parse((*byName)->schema, {}, "[monitoring] nova", diag);
  ASSERT_TRUE(options) << diag.format();
  auto monitor = (*byName)->create(*options, context);
  ASSERT_FALSE(monitor);
  EXPECT_NE(monitor.error().message.find("keystone_authtoken"), std::string::npos);
}

// ---- Against the lab -----------------------------------------------------------------------

// The lab's admin session comes from tests/lab/lab_fixture; the monitor watches every host.
class NovaMonitorLabTest : public lab::LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (HasFatalFailure()) return;
    for (const auto& host : hosts_) nodes_.push_back(node(host));
    ASSERT_GE(nodes_.size(), 2u);
  }

  // The monitor as the daemon builds it: through the registry, with a config's options.
  MonitorPtr createMonitor(const std::string& heartbeat_timeout) {
    Registry registry;
    EXPECT_TRUE(registerNovaMonitor(registry));
    auto factory = registry.monitors.find("nova");
    EXPECT_TRUE(factory);
    if (!factory) return nullptr;
    RawOptions raw;
    if (!heartbeat_timeout.empty()) raw["heartbeat-timeout"] = {heartbeat_timeout, "test"};
    Diagnostics diag;
    auto options = Options::parse((*factory)->schema, raw, "[monitoring] nova", diag);
    EXPECT_TRUE(options) << diag.format();
    if (!options) return nullptr;
    DriverContext context{clock_, nodes_, keystone_.get(), nova_.get()};
    auto monitor = (*factory)->create(*options, context);
    EXPECT_TRUE(monitor) << monitor.error().toString();
    return monitor ? std::move(*monitor) : nullptr;
  }

  // Polls every second until `done(observations)` or `limit` (real time: lab only).
  bool pollUntil(Monitor& monitor, std::chrono::seconds limit,
                 const std::function<bool(Seen&)>& done, Seen& last) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      auto polled = monitor.poll(nodes_);
      if (!polled) {
        ADD_FAILURE() << "poll: " << polled.error().toString();
        return false;
      }
      last = index(*polled);
      if (done(last)) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(1s);
    }
  }

  bool allUp(Seen& seen) {
    for (const Node& n : nodes_) {
      for (const char* source : {kNovaStateSource, kNovaHeartbeatSource}) {
        if (seen[{n.hostname, source}].health != Health::kUp) return false;
      }
    }
    return true;
  }

  static std::string describe(Seen& seen) {
    std::string out;
    for (const auto& [key, o] : seen) {
      out += "\n  " + key.first + " " + key.second + ": " + std::string(toString(o.health)) +
             (o.detail.empty() ? "" : " (" + o.detail + ")");
    }
    return out;
  }

  std::vector<Node> nodes_;
};

TEST_F(NovaMonitorLabTest, EveryHostIsUpFromBothSources) {
  MonitorPtr monitor = createMonitor("");
  ASSERT_NE(monitor, nullptr);
  Seen seen;
  // The heartbeat is up once updated_at has advanced: one report interval (10 s) at most.
  const bool up = pollUntil(
      *monitor, 40s, [&](Seen& s) { return allUp(s); }, seen);
  EXPECT_TRUE(up) << "not every host up within 40 s (lab/status.sh):" << describe(seen);
  EXPECT_EQ(seen.size(), nodes_.size() * 2);
}

TEST_F(NovaMonitorLabTest, AKilledComputeIsDownOnTheHeartbeatWithinTheTimeout) {
  const char* chosen = std::getenv("FDR_LAB_MONITOR_VICTIM");  // NOLINT(concurrency-mt-unsafe)
  const std::string victim = chosen != nullptr && *chosen != '\0' ? chosen : "fake-host-1";
  const std::string compute_sh = env_["FDR_LAB_COMPUTE_SH"];
  constexpr auto kTimeout = 15s;
  MonitorPtr monitor = createMonitor("15s");
  ASSERT_NE(monitor, nullptr);
  Seen seen;
  ASSERT_TRUE(pollUntil(
      *monitor, 40s, [&](Seen& s) { return allUp(s); }, seen))
      << "every host must be up before the test (lab/status.sh):" << describe(seen);

  bool stopped = false;
  struct Guard {
    std::function<void()> fn;
    ~Guard() { fn(); }
  } guard{[&] {
    if (!stopped) return;
    EXPECT_TRUE(computeSh("start", victim))
        << compute_sh << " start " << victim << " failed: repair with lab/up.sh";
  }};
  const auto killed = std::chrono::steady_clock::now();
  stopped = true;
  ASSERT_TRUE(computeSh("stop", victim)) << compute_sh << " stop " << victim;

  // Down at most one report interval (10 s) + the timeout after the kill; a margin for load.
  bool others_up = true;
  std::string others_detail;
  const bool down = pollUntil(
      *monitor, kTimeout + 10s + 20s,
      [&](Seen& s) {
        for (const Node& n : nodes_) {
          if (n.hostname == victim) continue;
          for (const char* source : {kNovaStateSource, kNovaHeartbeatSource}) {
            if (s[{n.hostname, source}].health != Health::kUp) {
              others_up = false;
              others_detail = n.hostname + " " + source + ": " + s[{n.hostname, source}].detail;
            }
          }
        }
        return s[{victim, kNovaHeartbeatSource}].health == Health::kDown;
      },
      seen);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed);
  ASSERT_TRUE(down) << victim << " not down on " << kNovaHeartbeatSource << " within "
                    << (kTimeout + 30s).count() << " s of the kill:" << describe(seen);
  EXPECT_TRUE(others_up) << "another host left 'up' meanwhile: " << others_detail;
  std::cout << "[lab] " << victim << " down on " << kNovaHeartbeatSource << " "
            << elapsed.count() / 1000.0 << " s after the kill (heartbeat-timeout 15 s); Nova's "
            << "state then: " << toString(seen[{victim, kNovaStateSource}].health) << " ("
            << seen[{victim, kNovaHeartbeatSource}].detail << ")\n";
}

}  // namespace
}  // namespace fdr::drivers
