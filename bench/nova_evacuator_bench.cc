// The Nova evacuator's throughput against a fake Nova that answers every compute call after
// 100 ms (tests/clients' FakeNova on loopback): 1,000 instances on 10 failed hosts, from
// force-down to every instance confirmed on another host. Printed next to the ideal
// (calls × latency ÷ api-concurrency) and next to a serial loop like the original freezer-dr's
// (one call at a time), measured on one host and scaled to ten.
//
//   nova_evacuator_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "clients/fake_nova_fixture.h"
#include "clients/nova/nova_client.h"
#include "drivers/evacuator/nova/nova_evacuator.h"

namespace fdr {
namespace {

using namespace std::chrono_literals;

constexpr int kHosts = 10;
constexpr int kPerHost = 100;
constexpr Duration kLatency = 100ms;

std::string hostName(int h) {
  return "compute-" + std::to_string(h);
}

// Every host's kPerHost servers on the fake Nova; every compute call takes kLatency, an accepted
// evacuation is rebuilt on "spare" by the next read.
testing::FakeNovaOptions slowNova(int hosts) {
  testing::FakeNovaOptions options;
  for (int h = 0; h < hosts; ++h) options.hosts[hostName(h)] = kPerHost;
  options.latency = kLatency;
  return options;
}

// What the engine asks of the driver for `hosts` failed hosts: force down and list each host,
// evacuate every instance, then read them back until all run elsewhere. Empty: all confirmed.
std::string recover(Evacuator& evacuator, int hosts) {
  std::vector<EvacuationRequest> requests;
  for (int h = 0; h < hosts; ++h) {
    Node node;
    node.hostname = hostName(h);
    if (auto down = evacuator.forceDown(node, "bench"); !down) return down.error().toString();
    auto listed = evacuator.listInstances(node);
    if (!listed) return listed.error().toString();
    for (const Instance& i : *listed) requests.push_back({i.id, node.hostname, std::nullopt});
  }
  for (const Status& s : evacuator.evacuate(requests)) {
    if (!s) return s.error().toString();
  }
  std::vector<std::string> pending;
  for (const auto& r : requests) pending.push_back(r.instance_id);
  for (int round = 0; round < 5 && !pending.empty(); ++round) {
    auto shown = evacuator.show(pending);
    std::vector<std::string> still;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (!shown[i] || shown[i]->host != "spare") still.push_back(pending[i]);
    }
    pending = std::move(still);
  }
  if (!pending.empty()) return std::to_string(pending.size()) + " instance(s) not confirmed";
  if (requests.size() != static_cast<size_t>(hosts * kPerHost)) return "wrong instance count";
  return "";
}

// One recovery with `hosts` failed hosts at api-concurrency `concurrency`; manual timing.
void run(benchmark::State& state, int hosts, int concurrency, bool scale_to_ten) {
  for (auto _ : state) {
    testing::FakeNova nova(slowNova(hosts));
    drivers::NovaEvacuatorSettings settings;
    settings.api_concurrency = concurrency;
    drivers::NovaEvacuator evacuator(*nova.nova, nullptr, nova.os.clock, settings);
    const auto start = std::chrono::steady_clock::now();
    const std::string error = recover(evacuator, hosts);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(seconds);
    const int calls = nova.calls();
    state.counters["calls"] = calls;
    state.counters["ideal_s"] = calls * (kLatency.count() / 1000.0) / concurrency;
    if (scale_to_ten) state.counters["x10_hosts_s"] = seconds * kHosts;
  }
}

// The driver's worker pool: 10 hosts, 1,000 instances, api-concurrency = state.range(0).
void BM_NovaEvacuator(benchmark::State& state) {
  run(state, kHosts, static_cast<int>(state.range(0)), false);
}

// The original's loop, one call at a time: one host (100 instances) measured, x10_hosts_s is
// the same loop scaled to the ten hosts of the other runs.
void BM_SerialLoopOneHost(benchmark::State& state) {
  run(state, 1, 1, true);
}

BENCHMARK(BM_NovaEvacuator)
    ->Arg(8)
    ->Arg(32)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kSecond);
BENCHMARK(BM_SerialLoopOneHost)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace
}  // namespace fdr

BENCHMARK_MAIN();
