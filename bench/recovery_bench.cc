// Kill → last evacuation requested (issue #12, item 8): the daemon's engine (its lanes, the
// default [evacuation] concurrency of 32) with the real Nova evacuator against the in-tree fake
// Nova (tests/clients/fake_nova_fixture.h) on loopback, every compute call answered after 250 ms
// and every accepted evacuation rebuilding for 20 s, for 10, 50 and 100 instances on the failed
// host. The monitor reports the host down at the kill; the fencer answers at once.
//
// Printed per run: kill → instances listed (grace, fencing, force-down, listing: the same for
// every size), then listed → last evacuation request received by Nova, next to the goal
// calls × latency ÷ concurrency (× 1.2) and its ratio. Wall time on the system clock, as the
// daemon runs: latency is what is measured, not CPU.
//
//   build/bench/recovery_bench [instances...]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench_drivers.h"
#include "clients/fake_nova_fixture.h"
#include "core/engine.h"
#include "core/executor.h"
#include "drivers/evacuator/nova/nova_evacuator.h"
#include "store/memory/memory_journal.h"

namespace fdr {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr Duration kLatency = 250ms;
constexpr Duration kRebuild = 20s;
constexpr int kConcurrency = 32;  // [evacuation] concurrency, the default

double secondsBetween(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Outcome {
  bool ok = false;
  double kill_to_listed = 0;
  double listed_to_last = 0;
  double kill_to_last = 0;
  int double_evacuations = 0;
};

Outcome recover(int instances) {
  SystemClock clock;
  testing::FakeNovaOptions nova_options;
  nova_options.hosts = {{"compute-1", instances}, {"compute-2", 0}, {"compute-3", 0}};
  nova_options.latency = kLatency;
  nova_options.rebuild = kRebuild;
  testing::FakeNova nova(nova_options);
  drivers::NovaEvacuator evacuator(*nova.nova, nullptr, clock, drivers::NovaEvacuatorSettings{});
  bench::BenchMonitor monitor(clock, {});
  bench::BenchFencer fencer;
  bench::NullNotifier notifier;
  MemoryJournal journal;
  core::ThreadPoolExecutor executor(bench::daemonLanes(kConcurrency));
  core::EngineDrivers drivers;
  drivers.monitors = {&monitor};
  drivers.fencers = {{"bench", &fencer}};
  drivers.evacuator = &evacuator;
  drivers.notifiers = {{"null", &notifier}};
  core::EnginePolicy policy;  // the daemon's defaults: grace 3 s, poll interval 1 s
  policy.evacuation_concurrency = kConcurrency;
  core::Engine engine(policy, drivers, journal, clock, bench::nodes(3), executor);
  Outcome out;
  if (!engine.resume()) return out;

  const auto loop_until = [&](Steady::time_point until, auto done) {
    while (Steady::now() < until && !done()) {
      (void)engine.tick();
      engine.waitForWork(policy.poll_interval, std::stop_token());
    }
  };
  loop_until(Steady::now() + 2s, [] { return false; });  // every node up for two polls
  const Steady::time_point kill = Steady::now();
  monitor.setDown({"compute-1"});
  loop_until(kill + 120s,
             [&] { return nova.evacuationsRequested().size() >= static_cast<size_t>(instances); });
  const std::vector<Steady::time_point> requested = nova.evacuationsRequested();
  if (requested.size() != static_cast<size_t>(instances)) return out;
  out.ok = true;
  out.kill_to_listed = secondsBetween(kill, nova.listedAt());
  out.listed_to_last = secondsBetween(nova.listedAt(), requested.back());
  out.kill_to_last = secondsBetween(kill, requested.back());
  out.double_evacuations = nova.doubleEvacuations();
  return out;
}

}  // namespace
}  // namespace fdr

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {10, 50, 100};
  const double latency = std::chrono::duration<double>(fdr::kLatency).count();
  std::printf(
      "kill -> last evacuation requested: fake Nova, %.0f ms per call, %lld s rebuild, "
      "concurrency %d\n",
      latency * 1000, static_cast<long long>(fdr::kRebuild.count() / 1000), fdr::kConcurrency);
  int failures = 0;
  for (const int n : sizes) {
    const fdr::Outcome o = fdr::recover(n);
    if (!o.ok) {
      std::printf("  %3d instances: FAILED (not every evacuation was requested within 120 s)\n", n);
      ++failures;
      continue;
    }
    const double ideal = n * latency / fdr::kConcurrency;
    std::printf(
        "  %3d instances: kill -> listed %.2f s; listed -> last request %.3f s   goal <= %.3f s "
        "(1.2 x %.3f = calls x latency / concurrency)   ratio %.2f   kill -> last %.2f s%s\n",
        n, o.kill_to_listed, o.listed_to_last, 1.2 * ideal, ideal, o.listed_to_last / ideal,
        o.kill_to_last, o.double_evacuations > 0 ? "   DOUBLE EVACUATIONS" : "");
    if (o.double_evacuations > 0) ++failures;
  }
  return failures == 0 ? 0 : 1;
}
