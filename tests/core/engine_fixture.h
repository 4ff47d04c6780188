// Test doubles for the engine: scripted monitor, fencer, evacuator and notifier that record
// every call, plus a journal wrapper that can "kill" the process after its n-th commit.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.h"
#include "core/executor_fixture.h"
#include "core/guard_state.h"
#include "store/memory/memory_journal.h"

namespace fdr::testing {

// Reports each node up or down, by `sources` sources.
class ScriptedMonitor final : public Monitor {
 public:
  explicit ScriptedMonitor(Clock& clock, int sources = 2) : clock_(clock), sources_(sources) {}
  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override;
  std::set<std::string> down;
  std::map<std::string, int> sources_down;  // node → how many of its sources say down
  // Nodes whose checked service is closed (as a probe's refused connect): up, service_down on
  // every source.
  std::set<std::string> service_down;
  // Hosts of the cloud outside the inventory, reported unknown (as the Nova monitor does).
  std::set<std::string> outside;
  bool unreachable = false;
  // Never answers: each poll parks its worker on `executor` (TestExecutor::block).
  TestExecutor* executor = nullptr;
  bool blocks = false;

 private:
  Clock& clock_;
  int sources_;
};

// A mutex a World copy does not copy (tests snapshot and restore the world between runs).
struct WorldMutex {
  WorldMutex() = default;
  WorldMutex(const WorldMutex&) {}
  WorldMutex& operator=(const WorldMutex&) { return *this; }
  void lock() { m.lock(); }
  void unlock() { m.unlock(); }
  std::mutex m;
};

// A value set by one side (the test thread: a simulated crash; a worker: a count) and read by
// the other, copied with the World.
template <class T>
struct CopyableAtomic {
  CopyableAtomic() = default;
  CopyableAtomic(const CopyableAtomic& o) : v(o.v.load()) {}
  CopyableAtomic& operator=(const CopyableAtomic& o) {
    v = o.v.load();
    return *this;
  }
  CopyableAtomic& operator=(T t) {
    v = t;
    return *this;
  }
  CopyableAtomic& operator+=(T t) {
    v += t;
    return *this;
  }
  operator T() const { return v.load(); }  // NOLINT(google-explicit-constructor)
  std::atomic<T> v{};
};
using AtomicFlag = CopyableAtomic<bool>;

// A world shared by the fencer and evacuator doubles, so several engines (before and after a
// simulated crash) act on the same "real" state. dead = the process was killed: every call
// from then on has no effect.
struct World {
  // The drivers run on worker threads (core/executor.h): each call holds this while it reads or
  // changes the world; the test reads it between settled ticks.
  WorldMutex mutex;
  // BMCs that never answer, by node: the fencers' calls for them park on `executor`.
  std::set<std::string> bmc_blocks;
  TestExecutor* executor = nullptr;
  std::map<std::string, PowerState> power;  // default on
  // Fencing readiness: a node's power-status reads that fail (a wrong BMC password, ...), and
  // when each node's power status was read (needs `clock`).
  std::map<std::string, Error> status_errors;
  std::map<std::string, std::vector<TimePoint>> status_reads;
  std::map<std::string, bool> forced_down;
  std::vector<Instance> instances;
  std::map<std::string, int> evacuations;  // instance id → accepted evacuate calls
  std::vector<std::string> evacuation_order;
  // Evacuate calls park on `executor` (Nova takes the request and never answers); counted.
  AtomicFlag evacuate_blocks;
  CopyableAtomic<int> evacuate_parked;
  AtomicFlag dead;
  int rebuild_polls = 1;
  std::map<std::string, int> rebuilding;  // instance id → polls left
  std::set<std::string> end_in_error;
  std::set<std::string> refuse_evacuation;  // answered 409
  int force_down_calls = 0;
  // Compute services: a powered node's nova-compute reports (heartbeat = now) once `compute_boot`
  // has passed since its power-on, unless it is in `compute_never_reports`. Needs `clock`.
  const Clock* clock = nullptr;
  std::map<std::string, bool> disabled;
  std::map<std::string, TimePoint> powered_on_at;
  std::map<std::string, TimePoint> last_heartbeat;
  Duration compute_boot{std::chrono::seconds(30)};
  std::set<std::string> compute_never_reports;
  int power_on_calls = 0;
  int restore_calls = 0;
  std::vector<std::string> service_log;  // "unforce <host>", "enable <host>", in call order
  // Reserved hosts: how many instances a host takes at most (absent: no limit). An evacuation
  // targeted at a host that is full, disabled or forced down is accepted and then ends in ERROR
  // on the failed host with a NoValidHost fault, as Nova 2.29+ does.
  std::map<std::string, int> capacity;
  std::map<std::string, std::vector<std::string>> targets;  // instance → hosts asked, in order
  std::map<std::string, std::string> status_before_error;   // instances NoValidHost left in ERROR
  int enable_calls = 0;                                     // Evacuator::enable()
  // Capacity (Evacuator::room): what each host can hold in all; what is free is that minus the
  // sizes of the instances on it. Empty: the cloud cannot say (kNotSupported). `room_error`:
  // room() fails with it. room() calls are counted.
  std::map<std::string, Resources> room_total;
  std::optional<Error> room_error;
  AtomicFlag room_blocks;  // room() parks on `executor` (Placement never answers)
  CopyableAtomic<int> room_calls;
  CopyableAtomic<int> list_calls;  // Evacuator::listInstances()
  AtomicFlag force_down_blocks;    // forceDown() parks on `executor` (Nova never answers)
};

class ScriptedFencer final : public Fencer {
 public:
  enum class Mode { kWorks, kRefuses, kHangs, kLies, kBlind };
  ScriptedFencer(World& world, Mode mode) : world_(world), mode_(mode) {}
  Status powerOff(const Node& node) override;
  Status powerOn(const Node& node) override;
  Result<PowerState> powerStatus(const Node& node) override;
  int off_calls = 0;
  int on_calls = 0;

 private:
  World& world_;
  Mode mode_;
};

class ScriptedEvacuator final : public Evacuator {
 public:
  ScriptedEvacuator(World& world, std::vector<std::string> hosts)
      : world_(world), hosts_(std::move(hosts)) {}
  Status forceDown(const Node& node, const std::string& reason) override;
  Result<std::vector<Instance>> listInstances(const Node& node) override;
  std::vector<Status> evacuate(std::span<const EvacuationRequest> requests) override;
  std::vector<Result<Instance>> show(std::span<const std::string> ids) override;
  Result<ServiceState> computeService(const Node& node) override;
  Status restore(const Node& node) override;
  Status enable(const Node& node) override;
  Result<std::vector<HostRoom>> room(const Node& failed) override;
  bool refuse_force_down = false;
  bool refuse_restore = false;
  bool refuse_enable = false;   // every enable: a temporary error (503)
  int refuse_enable_times = 0;  // the next N enables: a temporary error (503)
  bool reject_enable = false;   // every enable: a permanent refusal (400)

 private:
  World& world_;
  std::vector<std::string> hosts_;
  size_t next_ = 0;
};

class RecordingNotifier final : public Notifier {
 public:
  Status send(const Notification& n) override;
  std::vector<Notification> sent;
  bool failing = false;
  // Every call, delivered or not, with the simulated time it was made at (needs `clock`).
  std::vector<std::pair<TimePoint, Notification>> attempts;
  FakeClock* clock = nullptr;
  // A server that accepts and never answers: each send parks its worker on `executor`.
  TestExecutor* executor = nullptr;
  bool blocks = false;
  std::mutex mutex;  // sends run on worker threads, several at once
};

// Forwards to a MemoryJournal; after `die_after` commits, marks the world dead and refuses
// every later write, as if the process had been killed right after that commit.
class DyingJournal final : public Journal {
 public:
  DyingJournal(MemoryJournal& inner, World& world, int die_after)
      : inner_(inner), world_(world), die_after_(die_after) {}
  Status commit(const JournalEntry& entry, const std::vector<std::string>& notifiers) override;
  Status enqueue(const std::vector<Notification>& notifications,
                 const std::vector<std::string>& notifiers) override;
  Result<std::vector<Incident>> openIncidents() override { return inner_.openIncidents(); }
  Result<std::vector<Incident>> recentIncidents(size_t limit) override {
    return inner_.recentIncidents(limit);
  }
  Result<std::optional<Incident>> incident(const std::string& id) override {
    return inner_.incident(id);
  }
  Result<std::vector<Event>> events(const std::string& id) override { return inner_.events(id); }
  Result<std::vector<OutboxItem>> dueOutbox(TimePoint now, size_t limit) override {
    return inner_.dueOutbox(now, limit);
  }
  Result<std::vector<OutboxItem>> undeliveredOutbox() override {
    return inner_.undeliveredOutbox();
  }
  Result<size_t> undeliveredCount() override { return inner_.undeliveredCount(); }
  Status markDelivered(int64_t id, TimePoint at) override;
  Status markAttemptFailed(int64_t id, const std::string& e, TimePoint next) override;
  Status enqueueCommand(const OperatorCommand& c) override { return inner_.enqueueCommand(c); }
  Result<std::vector<OperatorCommand>> pendingCommands() override {
    return inner_.pendingCommands();
  }
  Status markCommandDone(int64_t id, const std::string& outcome) override;
  Status setSetting(const std::string& key, const std::string& value) override;
  Result<std::optional<std::string>> setting(const std::string& key) override {
    return inner_.setting(key);
  }
  int commits = 0;
  std::map<int64_t, std::string> outcomes;  // operator command id → outcome
  // Queued notifications without an incident (Journal::enqueue), and whether to refuse them
  // (a journal that cannot write) without killing the process.
  int enqueued = 0;
  bool refuse_enqueue = false;

 private:
  Status dead() const;
  MemoryJournal& inner_;
  World& world_;
  int die_after_;
};

std::vector<Node> makeNodes(int n);  // compute-1 .. compute-n

// One instant of simulated time: ticks, lets the calls it started answer (settle), and ticks
// again while the last tick started calls, so that what the drivers answer at once is acted on
// at the same simulated time. Returns the last summary.
core::TickSummary settledTick(core::Engine& engine, TestExecutor& executor);

// The engine on simulated time over four nodes, with scripted drivers sharing one World: the
// set-up the engine test suites have in common. Tick with runFor().
class EngineHarness : public ::testing::Test {
 protected:
  EngineHarness() : nodes_(makeNodes(4)), monitor_(clock_) {
    using namespace std::chrono_literals;
    policy_.detector.grace = 3s;
    policy_.detector.min_sources = 2;
    policy_.fence_attempt_timeout = 5s;
    policy_.fence_deadline = 20s;
    policy_.instance_timeout = 60s;
    policy_.poll_interval = 250ms;  // one monitoring cycle per runFor() step
    // No readiness checks (their power-status calls and alerts) but in the suite that tests them.
    policy_.readiness.interval = Duration::zero();
    world_.executor = &executor_;
    monitor_.executor = &executor_;
    notifier_.executor = &executor_;
  }

  // The hosts the cloud has compute services on (reserved hosts outside the inventory too).
  std::vector<std::string> cloud_hosts_{"compute-1", "compute-2", "compute-3", "compute-4"};

  // An engine whose fencing levels behave as `levels`, resumed from `journal`.
  std::unique_ptr<core::Engine> makeEngine(std::vector<ScriptedFencer::Mode> levels,
                                           Journal& journal) {
    fencers_.clear();
    core::EngineDrivers drivers;
    drivers.monitors = {&monitor_};
    drivers.monitors.insert(drivers.monitors.end(), extra_monitors_.begin(), extra_monitors_.end());
    int n = 0;
    for (ScriptedFencer::Mode mode : levels) {
      fencers_.push_back(std::make_unique<ScriptedFencer>(world_, mode));
      drivers.fencers.push_back({"level" + std::to_string(++n), fencers_.back().get()});
    }
    evacuator_ = std::make_unique<ScriptedEvacuator>(world_, cloud_hosts_);
    drivers.evacuator = evacuator_.get();
    drivers.notifiers = {{"recorder", &notifier_}};
    auto engine =
        std::make_unique<core::Engine>(policy_, drivers, journal, clock_, nodes_, executor_);
    EXPECT_TRUE(engine->resume().has_value());
    return engine;
  }

  // The guards' state the engine last published for `status` (journal setting "guards").
  core::GuardState guards() {
    auto text = journal_.setting(core::kGuardsSetting);
    EXPECT_TRUE(text.has_value() && text->has_value());
    if (!text || !*text) return {};
    auto state = core::guardStateFromJson(**text);
    EXPECT_TRUE(state.has_value()) << state.error().message;
    return state ? *state : core::GuardState{};
  }

  // Ticks every 250 ms of simulated time for `duration`; returns the last summary.
  core::TickSummary runFor(core::Engine& engine, Duration duration) {
    core::TickSummary last;
    const TimePoint end = clock_.now() + duration;
    while (clock_.now() < end) {
      last = settledTick(engine, executor_);
      clock_.advance(std::chrono::milliseconds(250));
    }
    return last;
  }

  FakeClock clock_;
  std::vector<Node> nodes_;
  World world_;
  ScriptedMonitor monitor_;
  std::vector<Monitor*> extra_monitors_;  // polled after monitor_
  std::vector<std::unique_ptr<ScriptedFencer>> fencers_;
  std::unique_ptr<ScriptedEvacuator> evacuator_;
  RecordingNotifier notifier_;
  MemoryJournal journal_;
  core::EnginePolicy policy_;
  // Last: destroyed first, so every worker has returned before the drivers go.
  TestExecutor executor_;
};

}  // namespace fdr::testing
