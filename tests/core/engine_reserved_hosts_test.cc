// Reserved hosts (as Masakari's reserved_host) and the disk note, on simulated time: a reserved
// host is enabled before the first evacuation targeted at it, a full one sends the rest to the
// next, unusable ones are skipped, and when none is left the scheduler takes over (fallback) or
// the instances fail with the reason. Crash-resume never enables twice in a harmful way and never
// evacuates twice.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/engine.h"
#include "core/engine_fixture.h"
#include "core/incident_machine.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

class ReservedHostsTest : public EngineHarness {
 protected:
  ReservedHostsTest() {
    world_.clock = &clock_;  // compute services report
    for (const std::string spare : {"spare-1", "spare-2"}) {
      cloud_hosts_.push_back(spare);
      world_.disabled[spare] = true;  // kept out of the scheduler's reach by the operators
    }
    policy_.reserved_hosts = {"spare-1", "spare-2"};
    for (int i = 1; i <= 3; ++i) addInstance("vm" + std::to_string(i), "compute-1");
  }

  void addInstance(const std::string& id, const std::string& host, bool boot_from_volume = false,
                   const std::string& image = "img-1") {
    Instance vm;
    vm.id = id;
    vm.name = id;
    vm.host = host;
    vm.status = "ACTIVE";
    vm.project_id = "demo";
    vm.boot_from_volume = boot_from_volume;
    vm.image_id = boot_from_volume ? "" : image;
    world_.instances.push_back(vm);
  }

  Incident runRecovery(Journal& journal, Duration how_long = 30s) {
    auto engine = makeEngine({Mode::kWorks}, journal);
    monitor_.down = {"compute-1"};
    runFor(*engine, how_long);
    return lastIncident(journal);
  }

  static Incident lastIncident(Journal& journal) {
    auto all = journal.recentIncidents(10);
    EXPECT_TRUE(all.has_value() && !all->empty());
    return all && !all->empty() ? all->front() : Incident{};
  }

  static const ReservedHostUse* use(const Incident& incident, const std::string& host) {
    for (const ReservedHostUse& u : incident.reserved_hosts) {
      if (u.host == host) return &u;
    }
    return nullptr;
  }

  const Instance& vm(const std::string& id) const {
    return *std::find_if(world_.instances.begin(), world_.instances.end(),
                         [&](const Instance& i) { return i.id == id; });
  }

  const Notification* adminNotice(NotificationKind kind) const {
    for (const Notification& n : notifier_.sent) {
      if (n.kind == kind && n.audience == Audience::kAdmins) return &n;
    }
    return nullptr;
  }
};

TEST_F(ReservedHostsTest, TheFirstReservedHostIsEnabledAndTakesEveryInstance) {
  const Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  for (const InstanceRecord& r : incident.instances) {
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id;
    EXPECT_EQ(r.new_host, "spare-1") << r.id;
    EXPECT_EQ(r.target_host, "spare-1") << r.id;
    EXPECT_EQ(world_.evacuations[r.id], 1) << r.id;
  }
  EXPECT_EQ(world_.enable_calls, 1);
  EXPECT_FALSE(world_.disabled["spare-1"]);
  EXPECT_TRUE(world_.disabled["spare-2"]) << "a spare not needed stays disabled";
  ASSERT_EQ(incident.reserved_hosts.size(), 1U);
  EXPECT_EQ(incident.reserved_hosts[0].host, "spare-1");
  EXPECT_EQ(incident.reserved_hosts[0].state, ReservedHostState::kEnabled);
  EXPECT_NE(incident.reserved_hosts[0].reason.find("enabled by freezer-dr"), std::string::npos);
  // Journaled before the call: the enable's intent, then its outcome, then the requests.
  auto events = journal_.events(incident.id);
  ASSERT_TRUE(events.has_value());
  std::vector<EventKind> kinds;
  for (const Event& e : *events) kinds.push_back(e.kind());
  const auto enabling = std::find(kinds.begin(), kinds.end(), EventKind::kReservedHostEnabling);
  const auto enabled = std::find(kinds.begin(), kinds.end(), EventKind::kReservedHostEnabled);
  const auto requested = std::find(kinds.begin(), kinds.end(), EventKind::kEvacuationRequested);
  ASSERT_NE(enabling, kinds.end());
  EXPECT_LT(enabling, enabled);
  EXPECT_LT(enabled, requested);
  const Notification* done = adminNotice(NotificationKind::kEvacuationFinished);
  ASSERT_NE(done, nullptr);
  EXPECT_NE(done->summary.find("Reserved host spare-1: enabled, 3 instance(s) now on it"),
            std::string::npos)
      << done->summary;
}

TEST_F(ReservedHostsTest, AFullReservedHostSendsTheRestToTheNextWithoutUsingTheirRetries) {
  policy_.evacuation_retries = 0;  // a capacity refusal on a reserved host is not a retry
  world_.capacity["spare-1"] = 1;
  const Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  int on_spare_1 = 0;
  int on_spare_2 = 0;
  for (const InstanceRecord& r : incident.instances) {
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id << ": " << r.reason;
    on_spare_1 += r.new_host == "spare-1";
    on_spare_2 += r.new_host == "spare-2";
    EXPECT_EQ(r.target_host, r.new_host) << r.id;
    EXPECT_EQ(world_.evacuations[r.id], 1) << r.id;
    if (r.new_host == "spare-2") {
      EXPECT_EQ(r.full_host_attempts, 1) << r.id;
      EXPECT_EQ(world_.targets[r.id], (std::vector<std::string>{"spare-1", "spare-2"}));
    }
  }
  EXPECT_EQ(on_spare_1, 1);
  EXPECT_EQ(on_spare_2, 2);
  const ReservedHostUse* full = use(incident, "spare-1");
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->state, ReservedHostState::kFull);
  EXPECT_NE(full->reason.find("No valid host"), std::string::npos) << full->reason;
  ASSERT_NE(use(incident, "spare-2"), nullptr);
  EXPECT_EQ(use(incident, "spare-2")->state, ReservedHostState::kEnabled);
  EXPECT_EQ(world_.enable_calls, 2);
}

TEST_F(ReservedHostsTest, EveryReservedHostFullFallsBackToTheScheduler) {
  policy_.reserved_hosts_fallback = true;
  world_.capacity["spare-1"] = 0;
  world_.capacity["spare-2"] = 0;
  const Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  for (const InstanceRecord& r : incident.instances) {
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id << ": " << r.reason;
    EXPECT_TRUE(r.target_host.empty()) << r.id << ": the last request went to the scheduler";
    EXPECT_EQ(r.new_host.rfind("compute-", 0), 0U) << r.new_host;
    EXPECT_EQ(world_.evacuations[r.id], 1) << r.id;
  }
  EXPECT_EQ(use(incident, "spare-1")->state, ReservedHostState::kFull);
  EXPECT_EQ(use(incident, "spare-2")->state, ReservedHostState::kFull);
}

TEST_F(ReservedHostsTest, EveryReservedHostFullWithoutFallbackFailsTheInstancesWithTheReason) {
  policy_.reserved_hosts_fallback = false;
  world_.capacity["spare-1"] = 1;
  world_.capacity["spare-2"] = 1;
  const Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  int done = 0;
  for (const InstanceRecord& r : incident.instances) {
    if (r.phase == InstancePhase::kDone) {
      ++done;
      EXPECT_TRUE(r.new_host == "spare-1" || r.new_host == "spare-2") << r.new_host;
      continue;
    }
    EXPECT_EQ(r.phase, InstancePhase::kFailed) << r.id;
    EXPECT_NE(r.reason.find("every reserved host is full"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("spare-1 (full: "), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("spare-2 (full: "), std::string::npos) << r.reason;
    EXPECT_EQ(r.new_host, "");
    EXPECT_EQ(vm(r.id).host, "compute-1") << "never sent to the scheduler";
  }
  EXPECT_EQ(done, 2);
  ASSERT_NE(adminNotice(NotificationKind::kEvacuationPartial), nullptr);
}

TEST_F(ReservedHostsTest, DownForcedDownMissingAndFailedReservedHostsAreSkipped) {
  cloud_hosts_.push_back("spare-down");
  world_.disabled["spare-down"] = true;
  world_.compute_never_reports.insert("spare-down");
  world_.forced_down["spare-2"] = true;
  policy_.reserved_hosts = {"compute-1", "spare-missing", "spare-down", "spare-2", "spare-1"};
  const Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  for (const InstanceRecord& r : incident.instances) EXPECT_EQ(r.new_host, "spare-1") << r.id;
  EXPECT_EQ(use(incident, "compute-1"), nullptr) << "the failed node is never its own spare";
  ASSERT_NE(use(incident, "spare-missing"), nullptr);
  EXPECT_EQ(use(incident, "spare-missing")->state, ReservedHostState::kUnusable);
  EXPECT_NE(use(incident, "spare-missing")->reason.find("no compute service"), std::string::npos)
      << use(incident, "spare-missing")->reason;
  EXPECT_NE(use(incident, "spare-down")->reason.find("is down"), std::string::npos);
  EXPECT_NE(use(incident, "spare-2")->reason.find("forced down"), std::string::npos);
  EXPECT_EQ(world_.enable_calls, 1) << "only spare-1 is enabled";
  EXPECT_TRUE(world_.disabled["spare-down"]);
  EXPECT_FALSE(std::any_of(incident.problems.begin(), incident.problems.end(),
                           [](const std::string& p) { return p.empty(); }));
}

TEST_F(ReservedHostsTest, AnEnableTheCloudRefusesMakesTheHostUnusable) {
  policy_.reserved_hosts = {"spare-1"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  evacuator_->reject_enable = true;
  monitor_.down = {"compute-1"};
  runFor(*engine, 30s);
  const Incident incident = lastIncident(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(use(incident, "spare-1")->state, ReservedHostState::kUnusable);
  EXPECT_NE(use(incident, "spare-1")->reason.find("400"), std::string::npos);
  for (const InstanceRecord& r : incident.instances) {
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id;  // the scheduler (fallback is on)
    EXPECT_NE(r.new_host, "spare-1");
  }
  EXPECT_EQ(world_.enable_calls, 1) << "an unusable host is not asked again in this incident";
}

// A temporary error (a 503) enabling a reserved host is retried at the next ticks: a short one
// does not lose the spare; one that lasts gives up on it after 30 s, not at once and not never.
TEST_F(ReservedHostsTest, AShortTemporaryErrorEnablingIsRetriedAndTheSpareStillUsed) {
  policy_.reserved_hosts = {"spare-1"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  evacuator_->refuse_enable_times = 2;
  monitor_.down = {"compute-1"};
  runFor(*engine, 30s);
  const Incident incident = lastIncident(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.enable_calls, 3);
  EXPECT_EQ(use(incident, "spare-1")->state, ReservedHostState::kEnabled);
  for (const InstanceRecord& r : incident.instances) EXPECT_EQ(r.new_host, "spare-1") << r.id;
}

TEST_F(ReservedHostsTest, ATemporaryErrorThatLastsMakesTheHostUnusableAfterAWhile) {
  policy_.reserved_hosts = {"spare-1"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  evacuator_->refuse_enable = true;
  monitor_.down = {"compute-1"};
  runFor(*engine, 15s);
  Incident incident = lastIncident(journal_);
  EXPECT_EQ(incident.phase, Phase::kEvacuating) << "the instances wait for the spare";
  EXPECT_EQ(use(incident, "spare-1")->state, ReservedHostState::kEnabling);
  const int calls_so_far = world_.enable_calls;
  EXPECT_GT(calls_so_far, 1);
  runFor(*engine, 60s);
  incident = lastIncident(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(use(incident, "spare-1")->state, ReservedHostState::kUnusable);
  EXPECT_NE(use(incident, "spare-1")->reason.find("503"), std::string::npos);
  EXPECT_NE(use(incident, "spare-1")->reason.find("retried for 30 s"), std::string::npos)
      << use(incident, "spare-1")->reason;
  for (const InstanceRecord& r : incident.instances) {
    EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id;  // then the scheduler (fallback is on)
    EXPECT_NE(r.new_host, "spare-1");
  }
  const int calls_after = world_.enable_calls;
  runFor(*engine, 10s);
  EXPECT_EQ(world_.enable_calls, calls_after) << "not asked again once unusable";
}

TEST_F(ReservedHostsTest, AReservedHostEnabledAlreadyIsUsedWithoutAnEnableCall) {
  world_.disabled["spare-1"] = false;
  const Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  EXPECT_EQ(world_.enable_calls, 0);
  EXPECT_NE(use(incident, "spare-1")->reason.find("enabled already"), std::string::npos);
  for (const InstanceRecord& r : incident.instances) EXPECT_EQ(r.new_host, "spare-1");
}

// Resumed after "reserved-host-enabling" was journaled: the enable may or may not have gone out.
TEST_F(ReservedHostsTest, ResumedWhileEnablingEnablesAtMostOnceMoreAndEvacuatesOnce) {
  // The commit that journals the enable's intent, from a clean run.
  int enabling_commit = 0;
  {
    const World pristine = world_;
    MemoryJournal clean;
    (void)runRecovery(clean);
    auto events = clean.events(lastIncident(clean).id);
    ASSERT_TRUE(events.has_value());
    for (size_t i = 0; i < events->size(); ++i) {
      if ((*events)[i].kind() == EventKind::kReservedHostEnabling) {
        enabling_commit = static_cast<int>(i) + 1;
      }
    }
    world_ = pristine;
    world_.clock = &clock_;
  }
  ASSERT_GT(enabling_commit, 0);
  for (const bool call_went_out : {false, true}) {
    SCOPED_TRACE(call_went_out ? "the enable went out" : "the enable never went out");
    const World pristine = world_;
    MemoryJournal journal;
    {
      DyingJournal dying(journal, world_, enabling_commit);
      (void)runRecovery(dying, 20s);
    }
    ASSERT_EQ(world_.enable_calls, 0) << "the process died before the call";
    if (call_went_out) world_.disabled["spare-1"] = false;  // it reached Nova, then the crash
    world_.dead = false;
    const Incident incident = runRecovery(journal);
    ASSERT_EQ(incident.phase, Phase::kDone);
    EXPECT_EQ(world_.enable_calls, call_went_out ? 0 : 1);
    EXPECT_FALSE(world_.disabled["spare-1"]);
    EXPECT_EQ(use(incident, "spare-1")->state, ReservedHostState::kEnabled);
    for (const InstanceRecord& r : incident.instances) {
      EXPECT_EQ(r.new_host, "spare-1") << r.id;
      EXPECT_EQ(world_.evacuations[r.id], 1) << r.id;
    }
    world_ = pristine;
    world_.clock = &clock_;
    monitor_.down.clear();
  }
}

// Killed after every journaled step, with a spare that fills up: each instance is evacuated
// (accepted by a host with room) exactly once, and the incident finishes.
TEST_F(ReservedHostsTest, CrashAfterEveryJournaledStepResumesWithoutDoubleEvacuation) {
  world_.capacity["spare-1"] = 2;
  int clean_commits = 0;
  const World pristine = world_;
  {
    MemoryJournal clean;
    DyingJournal counting(clean, world_, -1);
    const Incident incident = runRecovery(counting);
    ASSERT_EQ(incident.phase, Phase::kDone);
    ASSERT_EQ(use(incident, "spare-1")->state, ReservedHostState::kFull);
    clean_commits = counting.commits;
  }
  ASSERT_GT(clean_commits, 10);
  for (int die_after = 1; die_after <= clean_commits; ++die_after) {
    SCOPED_TRACE("killed after commit " + std::to_string(die_after));
    world_ = pristine;
    world_.clock = &clock_;
    monitor_.down.clear();
    MemoryJournal journal;
    {
      DyingJournal dying(journal, world_, die_after);
      (void)runRecovery(dying, 20s);
    }
    world_.dead = false;
    const Incident incident = runRecovery(journal);
    EXPECT_EQ(incident.phase, Phase::kDone);
    for (const std::string id : {"vm1", "vm2", "vm3"}) {
      EXPECT_EQ(world_.evacuations[id], 1) << id;
      EXPECT_NE(vm(id).host, "compute-1") << id;
      const InstanceRecord* r = core::findInstance(incident, id);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(r->phase, InstancePhase::kDone) << id << ": " << r->reason;
    }
    EXPECT_LE(world_.enable_calls, 2 + 2) << "spare-1 and spare-2, each asked at most twice";
  }
}

TEST_F(ReservedHostsTest, WithoutReservedHostsTheSchedulerPlacesEverything) {
  policy_.reserved_hosts.clear();
  const Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  EXPECT_TRUE(incident.reserved_hosts.empty());
  EXPECT_EQ(world_.enable_calls, 0);
  for (const InstanceRecord& r : incident.instances) {
    EXPECT_TRUE(r.target_host.empty());
    EXPECT_EQ(r.new_host.rfind("compute-", 0), 0U) << "disabled spares are not scheduled on";
  }
}

// The disk note: boot from volume keeps the disk; an image-backed one is rebuilt from its image
// unless the instance storage is shared (the operator's [evacuation] shared-storage).
TEST_F(ReservedHostsTest, EachInstanceSaysWhatHappensToItsDisk) {
  policy_.reserved_hosts.clear();
  world_.instances.clear();
  addInstance("volume", "compute-1", /*boot_from_volume=*/true);
  addInstance("image", "compute-1", false, "img-42");
  Incident incident = runRecovery(journal_);
  ASSERT_EQ(incident.phase, Phase::kDone);
  const InstanceRecord* volume = core::findInstance(incident, "volume");
  const InstanceRecord* image = core::findInstance(incident, "image");
  ASSERT_TRUE(volume != nullptr && image != nullptr);
  EXPECT_TRUE(volume->boot_from_volume);
  EXPECT_EQ(volume->disk, "boots from a volume: its disk is kept");
  EXPECT_EQ(image->image_id, "img-42");
  EXPECT_EQ(image->disk,
            "image-backed: its local disk is rebuilt from image img-42, so what was written to it "
            "is lost (unless the compute hosts share instance storage)");
  const auto told = std::find_if(notifier_.sent.begin(), notifier_.sent.end(), [](const auto& n) {
    return n.audience == Audience::kProject && n.kind == NotificationKind::kEvacuationFinished;
  });
  ASSERT_NE(told, notifier_.sent.end());
  for (const InstanceOutcome& o : told->instances) {
    EXPECT_EQ(o.disk, o.id == "volume" ? volume->disk : image->disk) << o.id;
  }
}

TEST_F(ReservedHostsTest, SharedInstanceStorageKeepsAnImageBackedDisk) {
  policy_.reserved_hosts.clear();
  policy_.shared_storage = true;
  const Incident incident = runRecovery(journal_);
  ASSERT_FALSE(incident.instances.empty());
  EXPECT_EQ(incident.instances[0].disk,
            "image-backed, on shared instance storage: its disk is kept");
}

}  // namespace
}  // namespace fdr::testing
