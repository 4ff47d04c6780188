// Issue #12 on simulated time: drivers that never answer (a monitor, a BMC, a mail server) delay
// only what depends on them. Each hanging call parks its worker (TestExecutor::block) while the
// engine ticks on; the engine times it out on its own clock.
#include <gtest/gtest.h>

#include <utility>

#include "core/engine.h"
#include "core/engine_fixture.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;
using Mode = ScriptedFencer::Mode;

// A monitor with sources of its own ("hang/0", "hang/1") that answers its first `answers` polls
// (every node down) and then never answers again.
class HangingMonitor final : public Monitor {
 public:
  HangingMonitor(Clock& clock, TestExecutor& executor, int answers)
      : clock_(clock), executor_(executor), answers_(answers) {}
  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    if (polls_.fetch_add(1) >= answers_) {
      executor_.block();
      return fail(ErrorCode::kUnavailable, "released at the end of the test");
    }
    std::vector<Observation> out;
    for (const Node& node : nodes) {
      for (int s = 0; s < 2; ++s) {
        out.push_back({node.hostname, "hang/" + std::to_string(s), Health::kDown, clock_.now(),
                       "no heartbeat"});
      }
    }
    return out;
  }
  [[nodiscard]] int polls() const { return polls_.load(); }

 private:
  Clock& clock_;
  TestExecutor& executor_;
  int answers_;
  std::atomic<int> polls_ = 0;
};

// Counts the polls of the scripted monitor it wraps.
class CountingMonitor final : public Monitor {
 public:
  explicit CountingMonitor(Monitor& inner) : inner_(inner) {}
  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    polls_ += 1;
    return inner_.poll(nodes);
  }
  [[nodiscard]] int polls() const { return polls_.load(); }

 private:
  Monitor& inner_;
  std::atomic<int> polls_ = 0;
};

class EngineHangsTest : public EngineHarness {
 protected:
  EngineHangsTest() {
    for (int i = 1; i <= 2; ++i) {
      for (const char* host : {"compute-1", "compute-2"}) {
        Instance vm;
        vm.id = std::string(host) + "-vm" + std::to_string(i);
        vm.name = vm.id;
        vm.host = host;
        vm.status = "ACTIVE";
        vm.project_id = "demo";
        world_.instances.push_back(vm);
      }
    }
  }

  std::vector<Incident> incidents() {
    auto all = journal_.recentIncidents(100);
    EXPECT_TRUE(all.has_value());
    return all ? *all : std::vector<Incident>{};
  }

  std::optional<Incident> incidentOf(const std::string& node) {
    for (const Incident& i : incidents()) {
      if (i.node == node) return i;
    }
    return std::nullopt;
  }
};

TEST_F(EngineHangsTest, AMonitorThatNeverAnswersMakesItsSourcesUnknownNotDown) {
  // The hanging monitor said every node down once, then fell silent: its word is not kept, so
  // with min-sources 2 only compute-1 (down for the scripted monitor's two sources) fails.
  HangingMonitor hanging(clock_, executor_, 1);
  extra_monitors_ = {&hanging};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  monitor_.down = {"compute-1"};
  core::TickSummary last = runFor(*engine, 20s);
  const std::vector<Incident> all = incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].node, "compute-1");
  EXPECT_EQ(all[0].phase, Phase::kDone);
  EXPECT_TRUE(last.suspect.empty()) << *last.suspect.begin();
  // Stuck in its second poll for the whole run: never asked again while it is (one worker per
  // monitor), and each cycle counted it failed.
  EXPECT_EQ(hanging.polls(), 2);
  EXPECT_EQ(executor_.parked(), 1);
}

TEST_F(EngineHangsTest, ThePollPeriodIsTheIntervalWhateverAMonitorTakes) {
  // One monitor hangs from its first poll: each cycle waits for it until the poll deadline (the
  // interval), and the next cycle starts on time all the same.
  HangingMonitor hanging(clock_, executor_, 0);
  ScriptedMonitor other(clock_);
  CountingMonitor counted(other);
  extra_monitors_ = {&hanging, &counted};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  const auto summary = runFor(*engine, 10s);  // 40 ticks of 250 ms, a poll interval of 250 ms
  EXPECT_TRUE(summary.observed);
  EXPECT_GE(counted.polls(), 39);
  EXPECT_LE(counted.polls(), 41);
  EXPECT_EQ(hanging.polls(), 1);
  EXPECT_TRUE(incidents().empty());
}

TEST_F(EngineHangsTest, ABmcThatNeverAnswersDelaysOnlyItsOwnNode) {
  world_.bmc_blocks = {"compute-1"};
  auto engine = makeEngine({Mode::kWorks}, journal_);
  const TimePoint down_at = clock_.now();
  monitor_.down = {"compute-1", "compute-2"};
  runFor(*engine, 7s);  // compute-1's first attempt (5 s) is still out
  const std::optional<Incident> a = incidentOf("compute-1");
  const std::optional<Incident> b = incidentOf("compute-2");
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a->phase, Phase::kFencing);
  EXPECT_FALSE(a->fenced_at.has_value());
  EXPECT_EQ(b->phase, Phase::kDone);
  ASSERT_TRUE(b->fenced_at.has_value());
  // Fenced as soon as its grace period was over, not after compute-1's attempt timeout (5 s).
  EXPECT_LE(*b->fenced_at - down_at, policy_.detector.grace + 1s);
  for (const InstanceRecord& r : b->instances) EXPECT_EQ(r.phase, InstancePhase::kDone) << r.id;
  for (const Instance& vm : world_.instances) {
    if (vm.id.starts_with("compute-1")) {
      EXPECT_EQ(vm.host, "compute-1") << vm.id;
    }
  }
  runFor(*engine, 30s);  // past compute-1's fence deadline: it waits for an operator
  const std::optional<Incident> later = incidentOf("compute-1");
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->phase, Phase::kFenceFailed);
  EXPECT_EQ(world_.evacuations.count("compute-1-vm1"), 0u);
}

// What the journal holds of an incident: each event's kind and time after the failure.
using Timeline = std::vector<std::pair<EventKind, Duration>>;

TEST_F(EngineHangsTest, AHangingNotifierLeavesTheRecoveryTimelineUnchanged) {
  const World pristine = world_;
  std::vector<Timeline> runs;
  for (bool hangs : {false, true}) {
    SCOPED_TRACE(hangs ? "hanging notifier" : "working notifier");
    world_ = pristine;
    world_.executor = &executor_;
    notifier_.blocks = hangs;
    MemoryJournal journal;
    auto engine = makeEngine({Mode::kWorks}, journal);
    const TimePoint down_at = clock_.now();
    monitor_.down = {"compute-2"};
    runFor(*engine, 30s);
    auto all = journal.recentIncidents(10);
    ASSERT_TRUE(all.has_value());
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ(all->front().phase, Phase::kDone);
    auto events = journal.events(all->front().id);
    ASSERT_TRUE(events.has_value());
    Timeline timeline;
    for (const Event& e : *events) timeline.emplace_back(e.kind(), e.at - down_at);
    runs.push_back(std::move(timeline));
    auto undelivered = journal.undeliveredCount();
    ASSERT_TRUE(undelivered.has_value());
    if (hangs) {
      EXPECT_GT(*undelivered, 0u);  // the notices wait for the mail server, journaled
    } else {
      EXPECT_EQ(*undelivered, 0u);
    }
    monitor_.down.clear();
    engine.reset();
  }
  ASSERT_EQ(runs.size(), 2u);
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (size_t i = 0; i < runs[0].size(); ++i) {
    EXPECT_EQ(runs[0][i].first, runs[1][i].first) << "event " << i;
    EXPECT_EQ(runs[0][i].second, runs[1][i].second) << "event " << i;
  }
}

}  // namespace
}  // namespace fdr::testing
