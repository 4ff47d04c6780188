// The decision thread's own work per tick (issue #12, item 1): 1,000 nodes, 10 incidents open
// (each evacuating 20 instances that keep rebuilding), two sources per node. The drivers answer
// at once on the executor's workers; the CPU time measured is the decision thread's, around
// Engine::tick() only (CLOCK_THREAD_CPUTIME_ID), so the machine's other load does not count.
// Also: an idle daemon's CPU share (100 nodes, all up, poll interval 1 s, real time).
//
//   build/bench/tick_bench [ticks]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench_drivers.h"
#include "core/engine.h"
#include "core/executor.h"
#include "store/memory/memory_journal.h"

namespace fdr {
namespace {

using namespace std::chrono_literals;
using namespace fdr::bench;

// Accepts every evacuation and rebuilds for ever (the incidents stay open, evacuating).
class BenchEvacuator final : public Evacuator {
 public:
  explicit BenchEvacuator(int per_host) : per_host_(per_host) {}
  Status forceDown(const Node&, const std::string&) override { return {}; }
  Result<std::vector<Instance>> listInstances(const Node& n) override {
    std::vector<Instance> out;
    for (int i = 0; i < per_host_; ++i) {
      Instance vm;
      vm.id = n.hostname + "-vm" + std::to_string(i);
      vm.name = vm.id;
      vm.project_id = "bench";
      vm.host = n.hostname;
      vm.status = "ACTIVE";
      out.push_back(vm);
    }
    return out;
  }
  std::vector<Status> evacuate(std::span<const EvacuationRequest> requests) override {
    return std::vector<Status>(requests.size());
  }
  std::vector<Result<Instance>> show(std::span<const std::string> ids) override {
    std::vector<Result<Instance>> out;
    for (const std::string& id : ids) {
      Instance vm;
      vm.id = id;
      vm.host = "spare";
      vm.status = "REBUILD";
      vm.task_state = "rebuilding";
      out.emplace_back(vm);
    }
    return out;
  }
  Result<ServiceState> computeService(const Node&) override { return ServiceState{}; }
  Status restore(const Node&) override { return {}; }
  Status enable(const Node&) override { return {}; }
  Result<std::vector<HostRoom>> room(const Node&) override {
    return fail(ErrorCode::kNotSupported, "the benchmark's cloud has no capacity figures");
  }

 private:
  int per_host_;
};

// The daemon's engine over `n` nodes, those in `down` failed, `per_host` instances on each.
struct BenchDaemon {
  BenchDaemon(Clock& clock, std::set<std::string> down, int per_host, core::EnginePolicy policy,
              int n)
      : monitor(clock, std::move(down)),
        evacuator(per_host),
        executor(daemonLanes()),
        engine(std::move(policy), drivers(), journal, clock, nodes(n), executor) {
    if (!engine.resume()) std::abort();
  }
  core::EngineDrivers drivers() {
    core::EngineDrivers d;
    d.monitors = {&monitor};
    d.fencers = {{"bench", &fencer}};
    d.evacuator = &evacuator;
    d.notifiers = {{"null", &notifier}};
    return d;
  }
  BenchMonitor monitor;
  BenchFencer fencer;
  BenchEvacuator evacuator;
  NullNotifier notifier;
  MemoryJournal journal;
  core::ThreadPoolExecutor executor;  // after the drivers: its workers return before they go
  core::Engine engine;
};

void tickTime(int ticks) {
  FakeClock clock;
  std::set<std::string> down;
  for (int i = 1; i <= 10; ++i) down.insert("compute-" + std::to_string(i * 97));
  core::EnginePolicy policy;
  policy.storm_max_nodes = 20;
  policy.max_fences_per_tick = 10;
  policy.instance_timeout = std::chrono::hours(24);
  policy.poll_interval = 250ms;
  BenchDaemon daemon(clock, down, 20, policy, 1000);
  core::Engine& engine = daemon.engine;
  // Warm up until the ten incidents are open and evacuating.
  for (int i = 0; i < 400; ++i) {
    (void)engine.tick();
    engine.waitForWork(20ms, std::stop_token());
    clock.advance(250ms);
  }
  std::vector<double> cpu;
  size_t open = 0;
  for (int i = 0; i < ticks; ++i) {
    const double before = threadCpuMs();
    const core::TickSummary s = engine.tick();
    cpu.push_back(threadCpuMs() - before);
    open = s.open_incidents;
    engine.waitForWork(20ms, std::stop_token());
    clock.advance(250ms);
  }
  std::printf(
      "tick CPU, 1,000 nodes x 2 sources, %zu incidents open (200 instances rebuilding), "
      "%d ticks:\n",
      open, ticks);
  std::printf("  p50 %.2f ms   p99 %.2f ms   max %.2f ms   goal p99 <= 20 ms   ideal 0\n",
              percentile(cpu, 0.5), percentile(cpu, 0.99), percentile(cpu, 1.0));
}

void idleShare(Duration wall) {
  SystemClock clock;
  core::EnginePolicy policy;
  policy.poll_interval = 1s;
  BenchDaemon daemon(clock, {}, 0, policy, 100);
  core::Engine& engine = daemon.engine;
  const double cpu_before = processCpuMs();
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < wall) {
    const core::TickSummary s = engine.tick();
    (void)s;
    engine.waitForWork(1s, std::stop_token());
  }
  const double cpu = processCpuMs() - cpu_before;
  const double wall_ms = std::chrono::duration<double, std::milli>(wall).count();
  std::printf(
      "idle daemon, 100 nodes, poll interval 1 s, %.0f s: %.3f %% of a core "
      "(%.1f ms CPU)   goal < 0.1 %%   ideal 0\n",
      wall_ms / 1000, 100.0 * cpu / wall_ms, cpu);
}

}  // namespace
}  // namespace fdr

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);
  const int ticks = argc > 1 ? std::atoi(argv[1]) : 2000;
  fdr::tickTime(ticks);
  fdr::idleShare(std::chrono::seconds(argc > 2 ? std::atoi(argv[2]) : 20));
  return 0;
}
