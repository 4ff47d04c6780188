// The Nova evacuator's throughput against a fake Nova that answers every compute call after
// 100 ms (tests/clients' FakeOpenStack on loopback): 1,000 instances on 10 failed hosts, from
// force-down to every instance confirmed on another host. Printed next to the ideal
// (calls × latency ÷ api-concurrency) and next to a serial loop like the original freezer-dr's
// (one call at a time), measured on one host and scaled to ten.
//
//   nova_evacuator_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clients/nova/nova_client.h"
#include "clients/openstack_fake_fixture.h"
#include "drivers/evacuator/nova/nova_evacuator.h"

namespace fdr {
namespace {

using fdr::testing::FakeOpenStack;
using fdr::testing::FakeReply;
using fdr::testing::FakeRequest;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kHosts = 10;
constexpr int kPerHost = 100;
constexpr Duration kLatency = 100ms;

std::string hostName(int h) {
  return "compute-" + std::to_string(h);
}

// Servers start on their host; an accepted evacuation moves the server to "spare" (the rebuild
// is over by the next read). Every compute call but the version document takes kLatency.
class SlowNova {
 public:
  explicit SlowNova(int hosts) {
    for (int h = 0; h < hosts; ++h) {
      for (int i = 0; i < kPerHost; ++i)
        host_of_["vm-" + std::to_string(h) + "-" + std::to_string(i)] = hostName(h);
    }
    os.server.on("GET", "/compute/v2.1/", [](const FakeRequest&) {
      return FakeReply::json(
          200,
          {{"version",
            {{"id", "v2.1"}, {"status", "CURRENT"}, {"version", "2.93"}, {"min_version", "2.1"}}}});
    });
    os.server.on("GET", "/compute/v2.1/os-services", [this](const FakeRequest& r) {
      return slow({{"services", json::array({service(r.param("host"))})}});
    });
    os.server.on("PUT", "/compute/v2.1/os-services/*", [this](const FakeRequest& r) {
      json svc = service(r.path.substr(r.path.rfind('/') + 1));
      const json body = r.json();
      for (const auto& [key, value] : body.items()) svc[key] = value;
      return slow({{"service", svc}});
    });
    os.server.on("GET", "/compute/v2.1/os-migrations", [this](const FakeRequest&) {
      return slow({{"migrations", json::array()}});
    });
    for (const char* method : {"GET", "POST"}) {
      os.server.on(method, "/compute/v2.1/servers/*",
                   [this](const FakeRequest& r) { return servers(r); });
    }
    os.start();
    nova = std::make_unique<nova::NovaClient>(*os.keystone);
    (void)nova->microversion();
  }

  std::atomic<int> calls{0};
  FakeOpenStack os;
  std::unique_ptr<nova::NovaClient> nova;

 private:
  FakeReply slow(const json& body) {
    calls.fetch_add(1);
    return FakeReply::json(200, body).after(kLatency);
  }
  static json service(const std::string& host) {
    return {{"id", host},
            {"binary", "nova-compute"},
            {"host", host},
            {"zone", "nova"},
            {"status", "enabled"},
            {"state", "down"},
            {"forced_down", false},
            {"disabled_reason", nullptr},
            {"updated_at", "2026-01-01T00:00:00.000000"}};
  }
  static json server(const std::string& id, const std::string& host) {
    return {{"id", id},
            {"name", id},
            {"status", "ACTIVE"},
            {"tenant_id", "p"},
            {"user_id", "u"},
            {"metadata", json::object()},
            {"OS-EXT-SRV-ATTR:host", host},
            {"OS-EXT-SRV-ATTR:hypervisor_hostname", host},
            {"OS-EXT-STS:task_state", nullptr},
            {"OS-EXT-STS:vm_state", "active"},
            {"OS-EXT-STS:power_state", 1},
            {"flavor", {{"original_name", "m1"}, {"vcpus", 1}, {"ram", 512}, {"disk", 1}}},
            {"image", {{"id", "img"}, {"links", json::array()}}},
            {"os-extended-volumes:volumes_attached", json::array()},
            {"created", "2026-01-01T00:00:00Z"},
            {"updated", "2026-01-01T00:00:00Z"}};
  }
  FakeReply servers(const FakeRequest& r) {
    std::lock_guard lock(mutex_);
    const std::string rest = r.path.substr(std::string("/compute/v2.1/servers/").size());
    if (rest == "detail") {
      json list = json::array();
      for (const auto& [id, host] : host_of_) {
        if (host == r.param("host")) list.push_back(server(id, host));
      }
      return slow({{"servers", list}});
    }
    const size_t slash = rest.find('/');
    const std::string id = rest.substr(0, slash);
    if (slash != std::string::npos) {  // POST .../action: evacuate
      host_of_[id] = "spare";
      return slow(json::object());
    }
    return slow({{"server", server(id, host_of_[id])}});
  }

  std::mutex mutex_;
  std::map<std::string, std::string> host_of_;
};

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
    SlowNova nova(hosts);
    drivers::NovaEvacuatorSettings settings;
    settings.api_concurrency = concurrency;
    drivers::NovaEvacuator evacuator(*nova.nova, nova.os.clock, settings);
    const auto start = std::chrono::steady_clock::now();
    const std::string error = recover(evacuator, hosts);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(seconds);
    const int calls = nova.calls.load();
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
