// The Nova evacuator driven by the real engine against the lab's real Nova (lab/up.sh): a host's
// nova-compute is killed, a scripted monitor reports it down, a scripted fencer "powers it off",
// and the engine with the Nova evacuator forces it down and evacuates its servers.
//
// The victim is FDR_LAB_EVACUATOR_VICTIM, default the second lab host (the monitor's lab test
// takes the first, the clients' the last). The host is always brought back and the servers deleted,
// even when the test fails. Without the lab this test FAILS: CI brings the lab up before running
// it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "drivers/evacuator/nova/nova_evacuator.h"
#include "lab/lab_fixture.h"
#include "store/memory/memory_journal.h"

namespace fdr::lab {
namespace {

using namespace std::chrono_literals;

// One source per node: down for the nodes in `down`.
class LabMonitor final : public Monitor {
 public:
  explicit LabMonitor(Clock& clock) : clock_(clock) {}
  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    std::vector<Observation> out;
    for (const Node& node : nodes) {
      out.push_back({node.hostname, "lab-test",
                     down.contains(node.hostname) ? Health::kDown : Health::kUp, clock_.now(), ""});
    }
    return out;
  }
  std::set<std::string> down;

 private:
  Clock& clock_;
};

// The lab's hosts have no BMC: "powered off" is what this fencer remembers.
class LabFencer final : public Fencer {
 public:
  Status powerOff(const Node& node) override {
    off.insert(node.hostname);
    return {};
  }
  Status powerOn(const Node& node) override {
    off.erase(node.hostname);
    return {};
  }
  Result<PowerState> powerStatus(const Node& node) override {
    return off.contains(node.hostname) ? PowerState::kOff : PowerState::kOn;
  }
  std::set<std::string> off;
};

class NovaEvacuatorLabTest : public LabTest {};

TEST_F(NovaEvacuatorLabTest, EngineEvacuatesAFailedHostThroughNova) {
  ASSERT_GE(hosts_.size(), 2u);
  const char* chosen = std::getenv("FDR_LAB_EVACUATOR_VICTIM");  // NOLINT(concurrency-mt-unsafe)
  // Not the first host (the monitor's lab test kills it) nor the last (the clients' takes it).
  const std::string victim =
      chosen != nullptr && *chosen != '\0' ? chosen : hosts_[hosts_.size() > 2 ? 1 : 0];
  const std::string prefix = "fdr-evactest-";
  deleteLeftovers(prefix);

  auto before = nova_->computeService(victim);
  ASSERT_TRUE(before) << before.error().toString();
  ASSERT_EQ(before->state, "up") << victim << " must be up before the test (lab/status.sh)";
  ASSERT_FALSE(before->forced_down) << victim << " is forced down: repair with lab/up.sh";

  std::vector<std::string> ids;
  bool host_down = false;
  Cleanup cleanup([&] {
    for (const auto& id : ids) {
      auto deleted = nova_->deleteServer(id);
      EXPECT_TRUE(deleted) << (deleted ? "" : deleted.error().toString());
    }
    if (host_down) {
      EXPECT_TRUE(computeSh("start", victim)) << "compute.sh start " << victim;
    }
    auto unforced = nova_->unforceDown(victim);
    EXPECT_TRUE(unforced) << (unforced ? "" : unforced.error().toString());
    auto enabled = nova_->enable(victim);
    EXPECT_TRUE(enabled) << (enabled ? "" : enabled.error().toString());
  });

  // 1. Ten servers on the victim: three of priority 9, three of priority 5, four without; the
  //    last one stopped.
  constexpr int kServers = 10;
  std::map<std::string, int> priority;
  for (int i = 0; i < kServers; ++i) {
    std::map<std::string, std::string> metadata;
    const int p = i < 3 ? 9 : i < 6 ? 5 : 0;
    if (p > 0) metadata["HA_Priority"] = std::to_string(p);
    auto id = bootOn(victim, prefix + std::to_string(i), metadata);
    ASSERT_TRUE(id) << id.error().toString();
    ids.push_back(*id);
    priority[*id] = p;
  }
  for (const auto& id : ids) {
    auto active = waitForStatus(id, "ACTIVE", 180s);
    ASSERT_TRUE(active) << active.error().toString();
  }
  const std::string stopped = ids.back();
  ASSERT_TRUE(stopServer(stopped));
  {
    auto s = waitForStatus(stopped, "SHUTOFF", 120s);
    ASSERT_TRUE(s) << s.error().toString();
  }
  for (const auto& id : ids) {
    auto s = nova_->server(id);
    ASSERT_TRUE(s) << s.error().toString();
    ASSERT_EQ(s->host, victim) << id;
  }

  // 2. The host crashes.
  ASSERT_TRUE(computeSh("stop", victim)) << "compute.sh stop " << victim;
  host_down = true;

  // 3. The engine, with the Nova evacuator on the shared client.
  std::vector<Node> nodes;
  for (const auto& host : hosts_) {
    Node node;
    node.id = host;
    node.hostname = host;
    nodes.push_back(node);
  }
  core::EnginePolicy policy;
  policy.detector.grace = 0ms;
  policy.detector.min_sources = 1;
  policy.evacuation_concurrency = 3;  // so that priority shows in the order of the requests
  policy.instance_timeout = 180s;
  policy.force_down_retry = 1s;
  drivers::NovaEvacuatorSettings settings;
  settings.api_concurrency = 4;
  drivers::NovaEvacuator evacuator(*nova_, nullptr, clock_, settings);
  LabMonitor monitor(clock_);
  LabFencer fencer;
  MemoryJournal journal;
  core::EngineDrivers engine_drivers;
  engine_drivers.monitors = {&monitor};
  engine_drivers.fencers = {{"lab", &fencer}};
  engine_drivers.evacuator = &evacuator;
  core::ThreadPoolExecutor executor(core::LaneSizes{.by_prefix = {{"cloud", 1}}, .other = 2});
  core::Engine engine(policy, engine_drivers, journal, clock_, nodes, executor);
  ASSERT_TRUE(engine.resume());
  monitor.down.insert(victim);

  std::optional<Incident> incident;
  const bool finished = waitUntil(400s, [&] {
    (void)engine.tick();
    auto recent = journal.recentIncidents(5);
    if (!recent) return false;
    for (const Incident& i : *recent) {
      if (i.node == victim) incident = i;
    }
    return incident && (isTerminal(incident->phase) || isFailurePhase(incident->phase));
  });
  ASSERT_TRUE(incident) << "the engine opened no incident for " << victim;
  ASSERT_TRUE(finished) << "incident " << incident->id << " still " << toString(incident->phase);
  ASSERT_EQ(incident->phase, Phase::kDone) << incident->id;
  // Servers other tests or the demo left on the host are evacuated too: count only ours.
  size_t ours = 0;
  for (const InstanceRecord& r : incident->instances) {
    if (std::find(ids.begin(), ids.end(), r.id) == ids.end()) continue;
    ++ours;
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id << " " << r.reason;
  }
  ASSERT_EQ(ours, ids.size());

  // 4. Every server runs elsewhere in its former state, evacuated exactly once.
  auto service = nova_->computeService(victim);
  ASSERT_TRUE(service) << service.error().toString();
  EXPECT_TRUE(service->forced_down);
  EXPECT_EQ(service->status, "disabled");
  EXPECT_NE(service->disabled_reason.find("freezer-dr"), std::string::npos);
  std::map<std::string, std::string> created;  // id → created_at of its evacuation
  for (const auto& id : ids) {
    auto s = nova_->server(id);
    ASSERT_TRUE(s) << s.error().toString();
    EXPECT_EQ(s->status, id == stopped ? "SHUTOFF" : "ACTIVE") << id;
    EXPECT_TRUE(s->task_state.empty()) << id << " " << s->task_state;
    EXPECT_NE(s->host, victim) << id;
    EXPECT_FALSE(s->host.empty()) << id;
    auto evacuations = nova_->evacuations(id);
    ASSERT_TRUE(evacuations) << evacuations.error().toString();
    ASSERT_EQ(evacuations->size(), 1u) << id << " evacuated " << evacuations->size() << " times";
    EXPECT_EQ(evacuations->front().source_compute, victim);
    EXPECT_EQ(evacuations->front().status, "done") << id;
    created[id] = evacuations->front().created_at;
  }

  // 5. Higher priority first: in the engine's requests and in Nova's own records.
  auto events = journal.events(incident->id);
  ASSERT_TRUE(events) << events.error().toString();
  std::vector<int> requested_priorities;
  for (const Event& e : *events) {
    const auto* requested = e.as<events::EvacuationRequested>();
    if (requested != nullptr && priority.contains(requested->instance_id)) {
      requested_priorities.push_back(priority.at(requested->instance_id));
    }
  }
  ASSERT_EQ(requested_priorities.size(), ids.size());
  EXPECT_TRUE(std::is_sorted(requested_priorities.rbegin(), requested_priorities.rend()));
  auto latest = [&](int p) {
    std::string out;
    for (const auto& [id, at] : created) {
      if (priority[id] == p) out = std::max(out, at);
    }
    return out;
  };
  auto earliest = [&](int p) {
    std::string out = "~";
    for (const auto& [id, at] : created) {
      if (priority[id] == p) out = std::min(out, at);
    }
    return out;
  };
  EXPECT_LE(latest(9), earliest(5));
  EXPECT_LE(latest(5), earliest(0));
  std::cout << "[lab] " << ids.size() << " servers evacuated from " << victim << " in "
            << (toMillis(*incident->closed_at) - toMillis(incident->detected_at)) / 1000.0
            << " s (detection to close)\n";
}

}  // namespace
}  // namespace fdr::lab
