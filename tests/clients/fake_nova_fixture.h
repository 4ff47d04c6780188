// A fake Nova compute API for benchmarks and tests at a realistic pace: Keystone and Nova on one
// FakeOpenStack (loopback HTTP), every compute call answered after `latency`, an accepted
// evacuation rebuilding for `rebuild` (status REBUILD, task_state rebuilding, on the target
// host) before the server is ACTIVE there. Real time (steady clock): it serves a daemon that runs
// on the system clock. Each instance starts on its host as ACTIVE; the compute services of the
// hosts read down (the host failed) until forced down.
//
//   FakeNova nova({.hosts = {{"compute-1", 50}}, .latency = 200ms, .rebuild = 20s});
//   NovaEvacuator evacuator(*nova.nova, nullptr, clock, settings);
//   ... nova.evacuationsRequested() ...
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clients/nova/nova_client.h"
#include "clients/openstack_fake_fixture.h"

namespace fdr::testing {

struct FakeNovaOptions {
  std::map<std::string, int> hosts;  // host -> instances on it, named vm-<host>-<i>
  Duration latency{std::chrono::milliseconds(100)};
  Duration rebuild{0};                // 0: rebuilt by the next read
  std::string target_host = "spare";  // where the scheduler places evacuated servers
};

class FakeNova {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  explicit FakeNova(FakeNovaOptions options);

  // Compute calls answered so far (the version document excepted).
  [[nodiscard]] int calls() const;
  // When each evacuation request arrived, in arrival order, and when each was answered.
  [[nodiscard]] std::vector<SteadyTime> evacuationsRequested() const;
  [[nodiscard]] std::vector<SteadyTime> evacuationsAnswered() const;
  // When the latest server list (servers/detail) was answered; epoch if never.
  [[nodiscard]] SteadyTime listedAt() const;
  // Servers evacuated more than once (never, for a correct caller).
  [[nodiscard]] int doubleEvacuations() const;

  FakeOpenStack os;
  std::unique_ptr<nova::NovaClient> nova;

 private:
  struct Vm {
    std::string host;
    int evacuations = 0;
    SteadyTime rebuilt_at{};
  };
  FakeReply slow(const nlohmann::json& body);
  nlohmann::json serverJson(const std::string& id, const Vm& vm) const;
  FakeReply servers(const FakeRequest& r);

  FakeNovaOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Vm> vms_;
  std::map<std::string, bool> forced_down_;
  int calls_ = 0;
  std::vector<SteadyTime> requested_;
  std::vector<SteadyTime> answered_;
  SteadyTime listed_at_{};
};

}  // namespace fdr::testing
