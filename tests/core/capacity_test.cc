// The capacity check before evacuating (core/capacity_plan.h, Engine::advanceCapacityCheck), on
// simulated time: what fits is evacuated in priority order, the rest is no-capacity (never
// asked for, never retried) and the admins get the numbers; when the cloud cannot say, or the
// check fails, everything is asked for as before.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/capacity_plan.h"
#include "core/engine.h"
#include "core/engine_fixture.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

InstanceRecord pending(const std::string& id, int priority = 0) {
  InstanceRecord r;
  r.id = id;
  r.name = id;
  r.priority = priority;
  return r;
}

constexpr Resources kSmall{.vcpus = 1, .memory_mb = 1024, .disk_gb = 10};
constexpr Resources kLarge{.vcpus = 4, .memory_mb = 8192, .disk_gb = 40};

HostRoom host(const std::string& name, Resources free, bool enabled = true) {
  return HostRoom{.host = name, .enabled = enabled, .free = free};
}

TEST(CapacityPlanTest, WhenEverythingFitsNothingIsLeftOut) {
  const std::vector<InstanceRecord> records{pending("a"), pending("b")};
  auto plan =
      core::planCapacity(records, {{"a", kSmall}, {"b", kSmall}}, {host("h1", kLarge)}, "failed");
  EXPECT_TRUE(plan.no_capacity.empty());
  EXPECT_TRUE(plan.summary.empty());
  EXPECT_EQ(plan.checked, 2U);
  EXPECT_EQ(plan.needed, (Resources{2, 2048, 20}));
  EXPECT_EQ(plan.free, kLarge);
}

TEST(CapacityPlanTest, InstancesAreTakenInRecoveryOrderAndASmallerOneStillFitsAfterALargeOne) {
  // Room for one large instance, or 8 small ones by memory (but only 4 vCPUs).
  const std::vector<InstanceRecord> records{pending("big-1"), pending("big-2"), pending("small")};
  auto plan = core::planCapacity(
      records, {{"big-1", kLarge}, {"big-2", kLarge}, {"small", kSmall}},
      {host("h1", Resources{.vcpus = 5, .memory_mb = 9216, .disk_gb = 100})}, "compute-1");
  EXPECT_EQ(plan.no_capacity, std::vector<size_t>{1});  // big-2: after big-1 nothing is left
  EXPECT_NE(plan.summary.find("2 of them fit, 1 do not"), std::string::npos) << plan.summary;
  EXPECT_NE(plan.summary.find("big-2"), std::string::npos) << plan.summary;
  EXPECT_NE(plan.summary.find("need 9 vCPU, 17408 MB RAM, 90 GB disk"), std::string::npos)
      << plan.summary;
  EXPECT_NE(plan.summary.find("h1: 5 vCPU, 9216 MB RAM, 100 GB disk"), std::string::npos)
      << plan.summary;
}

TEST(CapacityPlanTest, EachResourceMustFitOnOneHost) {
  // Memory is free in all, but not on one host: 2 × 4096 MB cannot take 8192 MB.
  const std::vector<InstanceRecord> records{pending("big")};
  auto plan = core::planCapacity(records, {{"big", kLarge}},
                                 {host("h1", {.vcpus = 8, .memory_mb = 4096, .disk_gb = 100}),
                                  host("h2", {.vcpus = 8, .memory_mb = 4096, .disk_gb = 100})},
                                 "compute-1");
  EXPECT_EQ(plan.no_capacity, std::vector<size_t>{0});
  EXPECT_EQ(plan.free.memory_mb, 8192);
  // Disk short on the only host with the memory.
  auto disk = core::planCapacity(records, {{"big", kLarge}},
                                 {host("h1", {.vcpus = 8, .memory_mb = 16384, .disk_gb = 39})},
                                 "compute-1");
  EXPECT_EQ(disk.no_capacity, std::vector<size_t>{0});
}

TEST(CapacityPlanTest, PackingTightlyLeavesRoomForALargeInstanceLater) {
  // The small one goes where it fits most tightly (h-small), so the large one still fits on
  // h-large. Spreading would have put the small one on h-large and left the large one out.
  const std::vector<InstanceRecord> records{pending("small", 10), pending("big", 5)};
  auto plan = core::planCapacity(records, {{"small", kSmall}, {"big", kLarge}},
                                 {host("h-large", kLarge), host("h-small", kSmall)}, "compute-1");
  EXPECT_TRUE(plan.no_capacity.empty()) << plan.summary;
}

TEST(CapacityPlanTest, OnlyPendingSizedRecordsAreCheckedAndUnsizedOnesAreNeverLeftOut) {
  std::vector<InstanceRecord> records{pending("skipped"), pending("unsized"), pending("sized")};
  records[0].phase = InstancePhase::kSkipped;
  auto plan = core::planCapacity(records, {{"skipped", kLarge}, {"sized", kLarge}},
                                 {host("h1", kSmall)}, "compute-1");
  EXPECT_EQ(plan.checked, 1U);
  EXPECT_EQ(plan.unsized, std::vector<size_t>{1});
  EXPECT_EQ(plan.no_capacity, std::vector<size_t>{2});
}

TEST(CapacityPlanTest, UsageAboveCapacityIsNothingFreeAndAnUncountedResourceAlwaysFits) {
  const std::vector<InstanceRecord> records{pending("a")};
  auto over = core::planCapacity(records, {{"a", kSmall}},
                                 {host("h1", {.vcpus = -3, .memory_mb = 4096, .disk_gb = 50})},
                                 "compute-1");
  EXPECT_EQ(over.no_capacity, std::vector<size_t>{0});
  EXPECT_EQ(over.free.vcpus, 0);
  // Disk on a sharing provider: not counted on the compute hosts; sums never overflow.
  std::vector<HostRoom> hosts;
  for (int i = 0; i < 20; ++i) {
    hosts.push_back(
        host("h" + std::to_string(i), {.vcpus = 1, .memory_mb = 1024, .disk_gb = kUnbounded}));
  }
  auto uncounted = core::planCapacity(records, {{"a", kSmall}}, hosts, "compute-1");
  EXPECT_TRUE(uncounted.no_capacity.empty());
  EXPECT_EQ(uncounted.free.disk_gb, kUnbounded);
  EXPECT_EQ(core::describe(uncounted.free), "20 vCPU, 20480 MB RAM, GB disk not counted");
}

TEST(CapacityPlanTest, CandidatesAreTheEnabledHostsOrTheReservedHostsWithTheFallback) {
  const std::vector<HostRoom> room{host("compute-2", kLarge), host("spare-1", kLarge, false),
                                   host("off-by-hand", kLarge, false)};
  auto names = [](const std::vector<HostRoom>& hosts) {
    std::vector<std::string> out;
    for (const HostRoom& h : hosts) out.push_back(h.host);
    return out;
  };
  EXPECT_EQ(names(core::capacityCandidates(room, {}, true)), std::vector<std::string>{"compute-2"});
  EXPECT_EQ(names(core::capacityCandidates(room, {"spare-1"}, false)),
            std::vector<std::string>{"spare-1"});
  EXPECT_EQ(names(core::capacityCandidates(room, {"spare-1"}, true)),
            (std::vector<std::string>{"compute-2", "spare-1"}));
}

// --- the engine ---------------------------------------------------------------------------------

class CapacityTest : public EngineHarness {
 protected:
  CapacityTest() {
    world_.clock = &clock_;
    // compute-1 fails; compute-2 can take two small instances, compute-3 one more; compute-4
    // is disabled by the operators (never a candidate).
    world_.room_total = {{"compute-2", {.vcpus = 2, .memory_mb = 2048, .disk_gb = 100}},
                         {"compute-3", {.vcpus = 1, .memory_mb = 1024, .disk_gb = 100}},
                         {"compute-4", {.vcpus = 64, .memory_mb = 65536, .disk_gb = 1000}}};
    world_.disabled["compute-4"] = true;
    for (int i = 1; i <= 5; ++i) addInstance("vm" + std::to_string(i), i * 10);
  }

  void addInstance(const std::string& id, int priority, std::optional<Resources> size = kSmall) {
    Instance vm;
    vm.id = id;
    vm.name = id;
    vm.host = "compute-1";
    vm.status = "ACTIVE";
    vm.project_id = "demo";
    vm.metadata["HA_Priority"] = std::to_string(priority);
    vm.size = size;
    world_.instances.push_back(vm);
  }

  Incident runRecovery(Duration how_long = 30s) {
    auto engine = makeEngine({Mode::kWorks}, journal_);
    monitor_.down = {"compute-1"};
    runFor(*engine, how_long);
    auto all = journal_.recentIncidents(10);
    EXPECT_TRUE(all.has_value() && !all->empty());
    return all && !all->empty() ? all->front() : Incident{};
  }

  static const InstanceRecord& record(const Incident& incident, const std::string& id) {
    return *std::find_if(incident.instances.begin(), incident.instances.end(),
                         [&](const InstanceRecord& r) { return r.id == id; });
  }

  std::vector<const Notification*> adminNotices(NotificationKind kind) const {
    std::vector<const Notification*> out;
    for (const Notification& n : notifier_.sent) {
      if (n.kind == kind && n.audience == Audience::kAdmins) out.push_back(&n);
    }
    return out;
  }
};

TEST_F(CapacityTest, WhatFitsIsEvacuatedInPriorityOrderAndTheRestIsReportedWithTheNumbers) {
  const Incident incident = runRecovery();
  EXPECT_EQ(incident.phase, Phase::kDone);
  // vm5, vm4, vm3 (the highest priorities) fit; vm2 and vm1 do not.
  for (const char* id : {"vm5", "vm4", "vm3"}) {
    EXPECT_EQ(record(incident, id).phase, InstancePhase::kDone) << id;
    EXPECT_EQ(world_.evacuations[id], 1) << id;
  }
  for (const char* id : {"vm2", "vm1"}) {
    const InstanceRecord& r = record(incident, id);
    EXPECT_EQ(r.phase, InstancePhase::kNoCapacity) << id;
    EXPECT_EQ(r.attempts, 0) << id;
    EXPECT_EQ(world_.evacuations.count(id), 0U) << id << " was asked for";
    EXPECT_NE(r.reason.find("no capacity: it needs 1 vCPU, 1024 MB RAM, 10 GB disk"),
              std::string::npos)
        << r.reason;
  }
  // (The requests go out at once, on workers of their own: their arrival order is not theirs.)
  std::vector<std::string> asked = world_.evacuation_order;
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (std::vector<std::string>{"vm3", "vm4", "vm5"}));
  EXPECT_EQ(world_.room_calls, 1);

  const auto alerts = adminNotices(NotificationKind::kRecoveryStuck);
  ASSERT_EQ(alerts.size(), 1U);
  EXPECT_NE(alerts[0]->subject.find("no room for 2 of the instances of compute-1"),
            std::string::npos)
      << alerts[0]->subject;
  const std::string& summary = alerts[0]->summary;
  EXPECT_NE(summary.find("the 5 instance(s) of compute-1 need 5 vCPU, 5120 MB RAM, 50 GB disk"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("2 candidate host(s) have 3 vCPU, 3072 MB RAM, 200 GB disk free in all"),
            std::string::npos)
      << summary;
  EXPECT_EQ(summary.find("compute-4"), std::string::npos) << "a disabled host is no candidate";
  EXPECT_NE(summary.find("vm2"), std::string::npos);
  ASSERT_FALSE(incident.problems.empty());
  EXPECT_NE(incident.problems.front().find("capacity:"), std::string::npos);
  // The completion notices say which did not come back, and why.
  const auto partial = adminNotices(NotificationKind::kEvacuationPartial);
  ASSERT_FALSE(partial.empty());
  bool reported = false;
  for (const InstanceOutcome& o : partial.front()->instances) {
    if (o.id == "vm1") reported = !o.ok && o.reason.find("no capacity") != std::string::npos;
  }
  EXPECT_TRUE(reported);
}

TEST_F(CapacityTest, WhenEverythingFitsNothingChanges) {
  world_.room_total["compute-2"] = {.vcpus = 16, .memory_mb = 65536, .disk_gb = 1000};
  const Incident incident = runRecovery();
  EXPECT_EQ(incident.phase, Phase::kDone);
  for (const InstanceRecord& r : incident.instances) {
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id;
  }
  EXPECT_TRUE(incident.problems.empty());
  EXPECT_TRUE(adminNotices(NotificationKind::kRecoveryStuck).empty());
}

TEST_F(CapacityTest, ACloudThatCannotSayOrAFailedCheckAsksForEveryInstance) {
  world_.room_total.clear();  // kNotSupported: quietly unchecked
  Incident incident = runRecovery();
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.evacuation_order.size(), 5U);
  EXPECT_TRUE(incident.problems.empty());
}

TEST_F(CapacityTest, AFailedCheckIsAProblemOfTheIncidentAndEveryInstanceIsAskedFor) {
  world_.room_error = Error{.code = ErrorCode::kUnavailable,
                            .message = "placement: connection refused",
                            .retryable = true};
  const Incident incident = runRecovery();
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.evacuation_order.size(), 5U);
  ASSERT_EQ(incident.problems.size(), 1U);
  EXPECT_NE(incident.problems[0].find("capacity not checked"), std::string::npos);
  EXPECT_NE(incident.problems[0].find("connection refused"), std::string::npos);
}

TEST_F(CapacityTest, InstancesOfUnknownSizeAreAskedForAndTheCheckCanBeTurnedOff) {
  world_.instances.clear();
  addInstance("unsized", 1, std::nullopt);
  addInstance("huge", 2, Resources{.vcpus = 64, .memory_mb = 1 << 20, .disk_gb = 10});
  Incident incident = runRecovery();
  EXPECT_EQ(record(incident, "unsized").phase, InstancePhase::kDone);
  EXPECT_EQ(record(incident, "huge").phase, InstancePhase::kNoCapacity);
}

class CapacityOffTest : public CapacityTest {
 protected:
  CapacityOffTest() { policy_.capacity_check = false; }
};

TEST_F(CapacityOffTest, WithTheCheckOffEveryInstanceIsAskedForAndRoomIsNeverRead) {
  const Incident incident = runRecovery();
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.evacuation_order.size(), 5U);
  EXPECT_EQ(world_.room_calls, 0);
}

TEST_F(CapacityTest, AHangingCheckHoldsOnlyUntilItsOwnDeadlineThenEveryInstanceIsAskedFor) {
  world_.room_blocks = true;  // Placement takes the request and never answers
  policy_.capacity_check_timeout = 2s;
  const Incident incident = runRecovery(60s);
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.evacuation_order.size(), 5U);
  ASSERT_EQ(incident.problems.size(), 1U);
  EXPECT_NE(incident.problems[0].find("capacity not checked"), std::string::npos)
      << incident.problems[0];
  EXPECT_NE(incident.problems[0].find("2 s"), std::string::npos) << incident.problems[0];
}

// The listing is read while Nova forces the compute service down; the capacity check waits for
// the force-down (Nova's hypervisor listing does not answer while the dead host reads up).
TEST_F(CapacityTest, TheListingIsReadWhileTheComputeServiceIsForcedDownTheCheckAfterIt) {
  world_.force_down_blocks = true;  // Nova takes the force-down and does not answer (yet)
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  runFor(*engine, 10s);
  EXPECT_EQ(world_.list_calls, 1);
  EXPECT_EQ(world_.room_calls, 0);
  EXPECT_TRUE(world_.evacuation_order.empty()) << "nothing is evacuated before the force-down";
  auto open = journal_.openIncidents();
  ASSERT_TRUE(open.has_value() && open->size() == 1U);
  EXPECT_EQ(open->front().phase, Phase::kFenced);
}

TEST_F(CapacityTest, WithTheForceDownAnsweredTheListingReadAheadIsUsedNotReadAgain) {
  const Incident incident = runRecovery(60s);
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.list_calls, 1);
  EXPECT_EQ(world_.room_calls, 1);
}

TEST_F(CapacityTest, ACrashDuringTheCheckListsAndChecksAgainAtTheNextStart) {
  world_.room_blocks = true;
  policy_.capacity_check_timeout = 30s;  // still unanswered when the process dies
  {
    auto engine = makeEngine({Mode::kWorks}, journal_);
    monitor_.down = {"compute-1"};
    runFor(*engine, 10s);  // fenced, forced down, listed, the check asked and unanswered
    ASSERT_EQ(world_.room_calls, 1);
    auto open = journal_.openIncidents();
    ASSERT_TRUE(open.has_value() && open->size() == 1U);
    EXPECT_EQ(open->front().phase, Phase::kComputeDown);
    EXPECT_TRUE(open->front().instances.empty()) << "journaled before the check answered";
  }  // the process dies
  executor_.release();
  world_.room_blocks = false;
  const Incident incident = runRecovery();
  EXPECT_EQ(world_.room_calls, 2);
  EXPECT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(record(incident, "vm1").phase, InstancePhase::kNoCapacity);
  EXPECT_EQ(record(incident, "vm5").phase, InstancePhase::kDone);
  for (const auto& [id, count] : world_.evacuations) EXPECT_EQ(count, 1) << id;
}

}  // namespace
}  // namespace fdr::testing
