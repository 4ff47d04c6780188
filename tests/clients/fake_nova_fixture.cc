#include "clients/fake_nova_fixture.h"

namespace fdr::testing {

using nlohmann::json;

namespace {

json version() {
  return {{"version",
           {{"id", "v2.1"}, {"status", "CURRENT"}, {"version", "2.93"}, {"min_version", "2.1"}}}};
}

json service(const std::string& host, bool forced_down) {
  return {{"id", host},
          {"binary", "nova-compute"},
          {"host", host},
          {"zone", "nova"},
          {"status", "enabled"},
          {"state", "down"},
          {"forced_down", forced_down},
          {"disabled_reason", nullptr},
          {"updated_at", "2026-01-01T00:00:00.000000"}};
}

}  // namespace

FakeNova::FakeNova(FakeNovaOptions options) : options_(std::move(options)) {
  for (const auto& [host, count] : options_.hosts) {
    forced_down_[host] = false;
    for (int i = 0; i < count; ++i) vms_["vm-" + host + "-" + std::to_string(i)].host = host;
  }
  os.server.on("GET", "/compute/v2.1/",
               [](const FakeRequest&) { return FakeReply::json(200, version()); });
  os.server.on("GET", "/compute/v2.1/os-services", [this](const FakeRequest& r) {
    std::lock_guard lock(mutex_);
    json list = json::array();
    for (const auto& [host, forced] : forced_down_) {
      if (!r.hasParam("host") || r.param("host") == host) list.push_back(service(host, forced));
    }
    return slow({{"services", list}});
  });
  os.server.on("PUT", "/compute/v2.1/os-services/*", [this](const FakeRequest& r) {
    std::lock_guard lock(mutex_);
    const std::string host = r.path.substr(r.path.rfind('/') + 1);
    json svc = service(host, forced_down_[host]);
    const json body = r.json();
    for (const auto& [key, value] : body.items()) svc[key] = value;
    if (svc["forced_down"].is_boolean()) forced_down_[host] = svc["forced_down"].get<bool>();
    return slow({{"service", svc}});
  });
  os.server.on("GET", "/compute/v2.1/os-migrations", [this](const FakeRequest&) {
    std::lock_guard lock(mutex_);
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

int FakeNova::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::vector<FakeNova::SteadyTime> FakeNova::evacuationsRequested() const {
  std::lock_guard lock(mutex_);
  return requested_;
}

std::vector<FakeNova::SteadyTime> FakeNova::evacuationsAnswered() const {
  std::lock_guard lock(mutex_);
  return answered_;
}

FakeNova::SteadyTime FakeNova::listedAt() const {
  std::lock_guard lock(mutex_);
  return listed_at_;
}

int FakeNova::doubleEvacuations() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& [id, vm] : vms_) n += vm.evacuations > 1 ? 1 : 0;
  return n;
}

// Called with mutex_ held.
FakeReply FakeNova::slow(const json& body) {
  ++calls_;
  return FakeReply::json(200, body).after(options_.latency);
}

json FakeNova::serverJson(const std::string& id, const Vm& vm) const {
  const bool rebuilding = vm.evacuations > 0 && std::chrono::steady_clock::now() < vm.rebuilt_at;
  return {{"id", id},
          {"name", id},
          {"status", rebuilding ? "REBUILD" : "ACTIVE"},
          {"tenant_id", "p"},
          {"user_id", "u"},
          {"metadata", json::object()},
          {"OS-EXT-SRV-ATTR:host", vm.host},
          {"OS-EXT-SRV-ATTR:hypervisor_hostname", vm.host},
          {"OS-EXT-STS:task_state", rebuilding ? json("rebuilding") : json(nullptr)},
          {"OS-EXT-STS:vm_state", "active"},
          {"OS-EXT-STS:power_state", 1},
          {"flavor", {{"original_name", "m1"}, {"vcpus", 1}, {"ram", 512}, {"disk", 1}}},
          {"image", {{"id", "img"}, {"links", json::array()}}},
          {"os-extended-volumes:volumes_attached", json::array()},
          {"created", "2026-01-01T00:00:00Z"},
          {"updated", "2026-01-01T00:00:00Z"}};
}

FakeReply FakeNova::servers(const FakeRequest& r) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const std::string rest = r.path.substr(std::string("/compute/v2.1/servers/").size());
  if (rest == "detail") {
    json list = json::array();
    for (const auto& [id, vm] : vms_) {
      if (vm.host == r.param("host")) list.push_back(serverJson(id, vm));
    }
    listed_at_ = now + options_.latency;
    return slow({{"servers", list}});
  }
  const size_t slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  auto it = vms_.find(id);
  if (it == vms_.end()) {
    return FakeReply::json(404, {{"itemNotFound", {{"code", 404}, {"message", "not found"}}}});
  }
  if (slash != std::string::npos) {  // POST .../action: evacuate
    Vm& vm = it->second;
    if (!r.json().contains("evacuate")) {
      return FakeReply::json(400, {{"badRequest", {{"code", 400}, {"message", "not evacuate"}}}});
    }
    vm.host = options_.target_host;
    ++vm.evacuations;
    vm.rebuilt_at = now + options_.latency + options_.rebuild;
    requested_.push_back(now);
    answered_.push_back(now + options_.latency);
    return slow(json::object());
  }
  return slow({{"server", serverJson(id, it->second)}});
}

}  // namespace fdr::testing
