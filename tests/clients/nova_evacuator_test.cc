// The Nova evacuator against a fake Nova (FakeOpenStack + an in-memory compute API): the order
// force-down then disable, exact host matching, the worker-pool bound, the rate limit, Nova's
// refusals and failures, timeouts, and evacuations seen in os-migrations before the server shows
// them.
#include "drivers/evacuator/nova/nova_evacuator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clients/fake_placement_fixture.h"
#include "clients/openstack_fake_fixture.h"
#include "freezer/diagnostics.h"

namespace fdr::drivers {
namespace {

using fdr::testing::FakeInventory;
using fdr::testing::FakeOpenStack;
using fdr::testing::FakePlacement;
using fdr::testing::FakeReply;
using fdr::testing::FakeRequest;
using nlohmann::json;
using namespace std::chrono_literals;

// A compute API over FakeOpenStack: services, servers, evacuations, os-migrations. Handlers run
// on the fake server's connection threads.
class FakeNova {
 public:
  struct Vm {
    std::string host;
    std::string status = "ACTIVE";
    std::string task_state;
    std::map<std::string, std::string> metadata;
    bool boot_from_volume = false;
    std::string fault;  // Nova's fault.message, on a server in ERROR
  };

  // The server's handlers use this object: stop the server (joining its workers) first.
  ~FakeNova() { os_.server.stop(); }
  FakeNova(const FakeNova&) = delete;
  FakeNova& operator=(const FakeNova&) = delete;

  explicit FakeNova(FakeOpenStack& os) : os_(os) {
    os_.server.on("GET", "/compute/v2.1/", [](const FakeRequest&) {
      return FakeReply::json(
          200,
          {{"version",
            {{"id", "v2.1"}, {"status", "CURRENT"}, {"version", "2.93"}, {"min_version", "2.1"}}}});
    });
    os_.server.on("GET", "/compute/v2.1/os-services", [this](const FakeRequest& r) {
      std::lock_guard lock(mutex_);
      json list = json::array();
      for (const auto& [host, svc] : services) {
        if (!r.hasParam("host") || r.param("host") == host) list.push_back(svc);
      }
      return FakeReply::json(200, {{"services", list}});
    });
    os_.server.on("PUT", "/compute/v2.1/os-services/*", [this](const FakeRequest& r) {
      std::lock_guard lock(mutex_);
      const std::string id = r.path.substr(r.path.rfind('/') + 1);
      for (auto& [host, svc] : services) {
        if (svc["id"] != id) continue;
        const json body = r.json();
        for (const auto& [k, v] : body.items()) svc[k] = v;
        service_updates.push_back(body);
        return FakeReply::json(200, {{"service", svc}});
      }
      return FakeReply::json(404, {{"itemNotFound", {{"message", "no service " + id}}}});
    });
    os_.server.on("GET", "/compute/v2.1/os-migrations", [this](const FakeRequest& r) {
      std::lock_guard lock(mutex_);
      migration_reads += 1;
      json list = json::array();
      for (const json& m : migrations[r.param("instance_uuid")]) list.push_back(m);
      return FakeReply::json(200, {{"migrations", list}});
    });
    // Hypervisors (2.53+ shape): one per compute service, named after its host.
    os_.server.on("GET", "/compute/v2.1/os-hypervisors/detail", [this](const FakeRequest&) {
      std::lock_guard lock(mutex_);
      json list = json::array();
      for (const auto& [host, svc] : services) {
        list.push_back({{"id", "hv-" + host},
                        {"hypervisor_hostname", host},
                        {"state", svc["state"]},
                        {"status", svc["status"]},
                        {"hypervisor_type", "fake"},
                        {"service", {{"id", svc["id"]}, {"host", host}}}});
      }
      return FakeReply::json(200, {{"hypervisors", list}});
    });
    for (const char* method : {"GET", "POST"}) {
      os_.server.on(method, "/compute/v2.1/servers/*",
                    [this](const FakeRequest& r) { return servers(r); });
    }
  }

  void addService(const std::string& id, const std::string& host) {
    std::lock_guard lock(mutex_);
    services[host] = {{"id", id},
                      {"binary", "nova-compute"},
                      {"host", host},
                      {"zone", "nova"},
                      {"status", "enabled"},
                      {"state", "down"},
                      {"forced_down", false},
                      {"disabled_reason", nullptr},
                      {"updated_at", "2026-01-01T00:00:00.000000"}};
  }
  void addVm(const std::string& id, const std::string& host, const std::string& status = "ACTIVE",
             std::map<std::string, std::string> metadata = {}, bool boot_from_volume = false) {
    std::lock_guard lock(mutex_);
    Vm vm;
    vm.host = host;
    vm.status = status;
    vm.metadata = std::move(metadata);
    vm.boot_from_volume = boot_from_volume;
    vms[id] = std::move(vm);
  }

  std::mutex mutex_;
  std::map<std::string, json> services;  // by host
  std::vector<json> service_updates;
  std::map<std::string, Vm> vms;
  std::map<std::string, std::vector<json>> migrations;  // by instance
  std::map<std::string, std::pair<int, json>> refuse;   // instance → status, body
  std::vector<json> evacuate_bodies;
  int migration_reads = 0;
  Duration latency{0};  // simulated time each evacuate/show takes to answer
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};

 private:
  json serverJson(const std::string& id, const Vm& vm) {
    json server = serverBody(id, vm);
    if (!vm.fault.empty()) {
      server["fault"] = {{"code", 500}, {"message", vm.fault}, {"created", "2026-01-01T00:00:01Z"}};
    }
    return server;
  }

  json serverBody(const std::string& id, const Vm& vm) {
    return {
        {"id", id},
        {"name", "vm-" + id},
        {"status", vm.status},
        {"tenant_id", "p-1"},
        {"user_id", "u-1"},
        {"metadata", vm.metadata},
        {"OS-EXT-SRV-ATTR:host", vm.host},
        {"OS-EXT-SRV-ATTR:hypervisor_hostname", vm.host},
        {"OS-EXT-STS:task_state", vm.task_state.empty() ? json() : json(vm.task_state)},
        {"OS-EXT-STS:vm_state", "active"},
        {"OS-EXT-STS:power_state", 1},
        {"flavor",
         {{"original_name", "m1.small"},
          {"vcpus", 1},
          {"ram", 512},
          {"disk", 1},
          {"ephemeral", 2},
          {"swap", 1536}}},
        {"image", vm.boot_from_volume ? json("") : json{{"id", "img-1"}, {"links", json::array()}}},
        {"os-extended-volumes:volumes_attached",
         vm.boot_from_volume ? json::array({{{"id", "vol-1"}}}) : json::array()},
        {"created", "2026-01-01T00:00:00Z"},
        {"updated", "2026-01-01T00:00:00Z"}};
  }

  FakeReply servers(const FakeRequest& r) {
    const int now = in_flight.fetch_add(1) + 1;
    for (int seen = max_in_flight.load();
         now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
    }
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { n.fetch_sub(1); }
    } leave{in_flight};
    // The simulated service time of the fake Nova (not a wait of the test).
    if (latency.count() > 0) std::this_thread::sleep_for(latency);
    std::lock_guard lock(mutex_);
    const std::string rest = r.path.substr(std::string("/compute/v2.1/servers/").size());
    if (r.method == "GET" && rest == "detail") {
      json list = json::array();
      for (const auto& [id, vm] : vms) {
        if (r.param("host") == vm.host) list.push_back(serverJson(id, vm));
      }
      return FakeReply::json(200, {{"servers", list}});
    }
    const size_t slash = rest.find('/');
    const std::string id = rest.substr(0, slash);
    auto it = vms.find(id);
    if (it == vms.end()) {
      return FakeReply::json(
          404, {{"itemNotFound",
                 {{"code", 404}, {"message", "Instance " + id + " could not be found."}}}});
    }
    if (r.method == "GET" && slash == std::string::npos) {
      return FakeReply::json(200, {{"server", serverJson(id, it->second)}});
    }
    if (r.method == "POST" && rest.substr(slash) == "/action") {
      if (auto refused = refuse.find(id); refused != refuse.end()) {
        return FakeReply::json(refused->second.first, refused->second.second);
      }
      evacuate_bodies.push_back(r.json());
      it->second.task_state = "rebuilding";
      migrations[id].push_back({{"id", static_cast<int>(evacuate_bodies.size())},
                                {"instance_uuid", id},
                                {"status", "accepted"},
                                {"migration_type", "evacuation"},
                                {"source_compute", it->second.host},
                                {"created_at", "2026-01-01T00:00:00.000000"}});
      return FakeReply::json(200, json::object());
    }
    return FakeReply::json(404, {{"itemNotFound", {{"message", "no route"}}}});
  }

  FakeOpenStack& os_;
};

class NovaEvacuatorTest : public ::testing::Test {
 protected:
  void SetUp() override { fake.addService("svc-uuid-1", "c1"); }

  Result<EvacuatorPtr> create(std::map<std::string, std::string> raw_options = {},
                              bool with_nova = true, bool with_placement = true) {
    if (with_nova && !nova) {
      os.start();
      nova = std::make_unique<nova::NovaClient>(*os.keystone);
      placement = std::make_unique<placement::PlacementClient>(*os.keystone);
    }
    Registry registry;
    if (auto s = registerNovaEvacuator(registry); !s) return std::unexpected(s.error());
    auto factory = registry.evacuators.find("nova");
    if (!factory) return std::unexpected(factory.error());
    RawOptions raw;
    for (const auto& [k, v] : raw_options) raw[k] = RawOption{v, "test"};
    Diagnostics diag;
    auto options = Options::parse((*factory)->schema, raw, "[evacuation] driver nova", diag);
    if (!options) return fail(ErrorCode::kInvalidArgument, diag.format());
    DriverContext context{.clock = os.clock,
                          .nodes = nodes,
                          .keystone = nullptr,
                          .nova = with_nova ? nova.get() : nullptr,
                          .placement = with_placement ? placement.get() : nullptr};
    return (*factory)->create(*options, context);
  }

  static Node node(const std::string& host) {
    Node n;
    n.id = host;
    n.hostname = host;
    return n;
  }

  FakeOpenStack os;
  FakeNova fake{os};
  FakePlacement placement_api{os};
  std::unique_ptr<nova::NovaClient> nova;
  std::unique_ptr<placement::PlacementClient> placement;
  std::vector<Node> nodes;
};

TEST_F(NovaEvacuatorTest, RegisteredUnderItsNameAndTheOriginalsClassPath) {
  Registry registry;
  ASSERT_TRUE(registerNovaEvacuator(registry));
  auto by_alias =
      registry.evacuators.find("freezer_dr.evacuators.drivers.default.standard.StandardEvacuator");
  ASSERT_TRUE(by_alias) << by_alias.error().toString();
  EXPECT_EQ((*by_alias)->name, "nova");
}

TEST_F(NovaEvacuatorTest, WithoutOpenStackCredentialsCreateSaysWhatToConfigure) {
  auto evacuator = create({}, false);
  ASSERT_FALSE(evacuator);
  EXPECT_NE(evacuator.error().message.find("[keystone_authtoken]"), std::string::npos)
      << evacuator.error().message;
}

TEST_F(NovaEvacuatorTest, RejectsABadConcurrency) {
  auto evacuator = create({{"api-concurrency", "0"}});
  ASSERT_FALSE(evacuator);
  EXPECT_NE(evacuator.error().message.find("api-concurrency"), std::string::npos);
}

TEST_F(NovaEvacuatorTest, ForcesDownThenDisablesWithTheReason) {
  fake.addService("svc-uuid-10", "c10");
  auto evacuator = create();
  ASSERT_TRUE(evacuator) << evacuator.error().toString();
  ASSERT_TRUE((*evacuator)->forceDown(node("c1"), "host fenced"));
  ASSERT_EQ(fake.service_updates.size(), 2u);
  EXPECT_EQ(fake.service_updates[0], (json{{"forced_down", true}}));
  EXPECT_EQ(fake.service_updates[1]["status"], "disabled");
  EXPECT_EQ(fake.service_updates[1]["disabled_reason"], "host fenced");
  EXPECT_EQ(fake.services["c1"]["forced_down"], true);
  EXPECT_EQ(fake.services["c10"]["forced_down"], false);            // exact host only
  ASSERT_TRUE((*evacuator)->forceDown(node("c1"), "host fenced"));  // idempotent
}

TEST_F(NovaEvacuatorTest, ForceDownOfAnUnknownHostFails) {
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto down = (*evacuator)->forceDown(node("nowhere"), "x");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::kNotFound) << down.error().toString();
  EXPECT_TRUE(fake.service_updates.empty());
}

TEST_F(NovaEvacuatorTest, ReadsTheComputeServiceWithItsHeartbeat) {
  {
    std::lock_guard lock(fake.mutex_);
    fake.services["c1"]["forced_down"] = true;
    fake.services["c1"]["status"] = "disabled";
    fake.services["c1"]["disabled_reason"] = "freezer-dr: host fenced";
    fake.services["c1"]["updated_at"] = "2026-11-25T09:46:40.250000";
  }
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto service = (*evacuator)->computeService(node("c1"));
  ASSERT_TRUE(service) << service.error().toString();
  EXPECT_FALSE(service->up);  // Nova says down while forced down, whatever the heartbeat
  EXPECT_TRUE(service->forced_down);
  EXPECT_TRUE(service->disabled);
  EXPECT_EQ(service->disabled_reason, "freezer-dr: host fenced");
  ASSERT_TRUE(service->updated_at.has_value());
  EXPECT_EQ(toMillis(*service->updated_at), 1'795'600'000'250);  // UTC, no zone in Nova's text

  auto missing = (*evacuator)->computeService(node("nowhere"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().toString();
}

TEST_F(NovaEvacuatorTest, AServiceThatNeverReportedHasNoHeartbeatAndABadOneIsAnError) {
  {
    std::lock_guard lock(fake.mutex_);
    fake.services["c1"]["updated_at"] = nullptr;
  }
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto service = (*evacuator)->computeService(node("c1"));
  ASSERT_TRUE(service) << service.error().toString();
  EXPECT_FALSE(service->updated_at.has_value());
  {
    std::lock_guard lock(fake.mutex_);
    fake.services["c1"]["updated_at"] = "yesterday";
  }
  auto bad = (*evacuator)->computeService(node("c1"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kCorruption);
  EXPECT_NE(bad.error().message.find("yesterday"), std::string::npos) << bad.error().message;
}

TEST_F(NovaEvacuatorTest, RestoreUnforcesThenEnables) {
  fake.addService("svc-uuid-10", "c10");
  auto evacuator = create();
  ASSERT_TRUE(evacuator) << evacuator.error().toString();
  ASSERT_TRUE((*evacuator)->forceDown(node("c1"), "host fenced"));
  fake.service_updates.clear();
  ASSERT_TRUE((*evacuator)->restore(node("c1")));
  ASSERT_EQ(fake.service_updates.size(), 2u);
  EXPECT_EQ(fake.service_updates[0], (json{{"forced_down", false}}));
  EXPECT_EQ(fake.service_updates[1], (json{{"status", "enabled"}}));
  EXPECT_EQ(fake.services["c1"]["forced_down"], false);
  EXPECT_EQ(fake.services["c1"]["status"], "enabled");
  EXPECT_TRUE(fake.services["c10"].value("status", "") == "enabled");  // exact host only
  ASSERT_TRUE((*evacuator)->restore(node("c1")));                      // idempotent
  EXPECT_EQ(fake.service_updates.size(), 4u);
}

TEST_F(NovaEvacuatorTest, EnableOnlyEnablesTheService) {
  fake.addService("svc-uuid-2", "spare-1");
  fake.services["spare-1"]["status"] = "disabled";
  fake.services["spare-1"]["disabled_reason"] = "reserved host";
  auto evacuator = create();
  ASSERT_TRUE(evacuator) << evacuator.error().toString();
  ASSERT_TRUE((*evacuator)->enable(node("spare-1")));
  ASSERT_EQ(fake.service_updates.size(), 1U);
  EXPECT_EQ(fake.service_updates[0], (json{{"status", "enabled"}}));
  EXPECT_EQ(fake.services["spare-1"]["status"], "enabled");
  EXPECT_EQ(fake.services["c1"]["status"], "enabled");
  ASSERT_TRUE((*evacuator)->enable(node("spare-1")));  // idempotent
  auto unknown = (*evacuator)->enable(node("nowhere"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound) << unknown.error().toString();
}

// A reserved host as the target: "host" is sent and never "force", so from 2.29 the scheduler
// checks it; a full one leaves the server in ERROR with a NoValidHost fault, which show() reads.
TEST_F(NovaEvacuatorTest, ATargetedEvacuationIsCheckedByTheSchedulerAndItsFaultIsRead) {
  fake.addVm("a", "c1");
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  const std::vector<EvacuationRequest> requests{{"a", "c1", "spare-1"}};
  auto results = (*evacuator)->evacuate(requests);
  ASSERT_EQ(results.size(), 1U);
  ASSERT_TRUE(results[0]) << results[0].error().toString();
  ASSERT_EQ(fake.evacuate_bodies.size(), 1U);
  EXPECT_EQ(fake.evacuate_bodies[0], (json{{"evacuate", {{"host", "spare-1"}}}}));
  {
    std::lock_guard lock(fake.mutex_);
    fake.vms["a"].status = "ERROR";
    fake.vms["a"].task_state.clear();
    fake.vms["a"].fault = "No valid host was found. There are not enough hosts available.";
    fake.migrations["a"].back()["status"] = "error";
  }
  const std::vector<std::string> ids{"a"};
  auto shown = (*evacuator)->show(ids);
  ASSERT_EQ(shown.size(), 1U);
  ASSERT_TRUE(shown[0]) << shown[0].error().toString();
  EXPECT_EQ(shown[0]->status, "ERROR");
  EXPECT_EQ(shown[0]->host, "c1");
  EXPECT_EQ(shown[0]->task_state, "") << "a failed evacuation is not in progress";
  EXPECT_EQ(shown[0]->fault, "No valid host was found. There are not enough hosts available.");
}

TEST_F(NovaEvacuatorTest, RestoreOfAnUnknownHostFails) {
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto restored = (*evacuator)->restore(node("nowhere"));
  ASSERT_FALSE(restored);
  EXPECT_EQ(restored.error().code, ErrorCode::kNotFound) << restored.error().toString();
  EXPECT_TRUE(fake.service_updates.empty());
}

TEST_F(NovaEvacuatorTest, ListsTheInstancesOfExactlyTheHostWithTheirStorage) {
  fake.addVm("a", "c1", "ACTIVE", {{"HA_Priority", "7"}});
  fake.addVm("b", "c1", "SHUTOFF", {}, true);
  fake.addVm("z", "c10");
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto listed = (*evacuator)->listInstances(node("c1"));
  ASSERT_TRUE(listed) << listed.error().toString();
  ASSERT_EQ(listed->size(), 2u);
  std::map<std::string, Instance> by_id;
  for (const Instance& i : *listed) by_id[i.id] = i;
  EXPECT_EQ(by_id["a"].metadata.at("HA_Priority"), "7");
  EXPECT_FALSE(by_id["a"].boot_from_volume);
  EXPECT_EQ(by_id["a"].image_id, "img-1");
  EXPECT_EQ(by_id["a"].project_id, "p-1");
  EXPECT_EQ(by_id["a"].host, "c1");
  EXPECT_EQ(by_id["b"].status, "SHUTOFF");
  EXPECT_TRUE(by_id["b"].boot_from_volume);
  EXPECT_TRUE(by_id["b"].image_id.empty());
  // Sizes as Placement counts them: the root disk only when local, swap rounded up to GiB.
  EXPECT_EQ(by_id["a"].size, (Resources{.vcpus = 1, .memory_mb = 512, .disk_gb = 1 + 2 + 2}));
  EXPECT_EQ(by_id["b"].size, (Resources{.vcpus = 1, .memory_mb = 512, .disk_gb = 0 + 2 + 2}));
}

class NovaEvacuatorRoomTest : public NovaEvacuatorTest {
 protected:
  void SetUp() override {
    // c1 failed (down); c2 up; c3 up and disabled (a reserved host); c4 down; c5 up, its disk
    // on a sharing provider (no DISK_GB inventory); c6 up and full (not a candidate).
    for (const char* host : {"c1", "c2", "c3", "c4", "c5", "c6"}) {
      fake.addService(std::string("svc-") + host, host);
    }
    std::lock_guard lock(fake.mutex_);
    for (const char* host : {"c2", "c3", "c5", "c6"}) fake.services[host]["state"] = "up";
    fake.services["c3"]["status"] = "disabled";
    const std::map<std::string, FakeInventory> inventory{
        {"VCPU", {.total = 8, .reserved = 0, .allocation_ratio = 4.0}},
        {"MEMORY_MB", {.total = 16384, .reserved = 512, .allocation_ratio = 1.0}},
        {"DISK_GB", {.total = 100, .reserved = 0, .allocation_ratio = 1.0}}};
    placement_api.addProvider("rp-c1", "c1", inventory);
    placement_api.addProvider("rp-c2", "c2", inventory,
                              {{"VCPU", 10}, {"MEMORY_MB", 4096}, {"DISK_GB", 20}});
    placement_api.addProvider("rp-c3", "c3", inventory);
    placement_api.addProvider("rp-c4", "c4", inventory);
    placement_api.addProvider(
        "rp-c5", "c5",
        {{"VCPU", {.total = 4, .reserved = 0, .allocation_ratio = 1.0}},
         {"MEMORY_MB", {.total = 8192, .reserved = 0, .allocation_ratio = 1.5}}});
    placement_api.addProvider("rp-c6", "c6", inventory, {{"VCPU", 32}, {"MEMORY_MB", 15872}});
  }

  static std::map<std::string, HostRoom> byHost(const std::vector<HostRoom>& rooms) {
    std::map<std::string, HostRoom> out;
    for (const HostRoom& r : rooms) out[r.host] = r;
    return out;
  }
};

TEST_F(NovaEvacuatorRoomTest, RoomIsWhatPlacementHasFreeOnTheUpHostsOtherThanTheFailedOne) {
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto room = (*evacuator)->room(node("c1"));
  ASSERT_TRUE(room) << room.error().toString();
  auto hosts = byHost(*room);
  EXPECT_EQ(hosts.size(), 3U);  // not c1 (failed), c4 (down), c6 (nothing free)
  ASSERT_TRUE(hosts.contains("c2"));
  // (8 - 0) x 4 - 10 vCPU; (16384 - 512) x 1 - 4096 MB; 100 - 20 GB.
  EXPECT_EQ(hosts["c2"].free, (Resources{.vcpus = 22, .memory_mb = 11776, .disk_gb = 80}));
  EXPECT_TRUE(hosts["c2"].enabled);
  ASSERT_TRUE(hosts.contains("c3"));
  EXPECT_FALSE(hosts["c3"].enabled);
  ASSERT_TRUE(hosts.contains("c5"));
  EXPECT_EQ(hosts["c5"].free, (Resources{.vcpus = 4, .memory_mb = 12288, .disk_gb = kUnbounded}));
  EXPECT_EQ(placement_api.last_version_header, "placement 1.27");
}

TEST_F(NovaEvacuatorRoomTest, WithoutPlacementOrWithAnOldOneTheCheckIsNotSupported) {
  auto without = create({}, true, false);
  ASSERT_TRUE(without);
  auto none = (*without)->room(node("c1"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotSupported);

  placement_api.max_version = "1.26";
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto old = (*evacuator)->room(node("c1"));
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, ErrorCode::kNotSupported);
  EXPECT_NE(old.error().message.find("1.26"), std::string::npos) << old.error().message;
  EXPECT_EQ(placement_api.candidate_reads, 0);
}

TEST_F(NovaEvacuatorRoomTest, ABadPlacementAnswerIsAnErrorNamingTheField) {
  os.server.onJson("GET", "/placement/allocation_candidates", 200,
                   json{{"allocation_requests", json::array()},
                        {"provider_summaries",
                         {{"rp-c2", {{"resources", {{"VCPU", {{"capacity", "lots"}}}}}}}}}});
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  auto room = (*evacuator)->room(node("c1"));
  ASSERT_FALSE(room);
  EXPECT_EQ(room.error().code, ErrorCode::kCorruption);
  EXPECT_NE(room.error().message.find("provider_summaries.rp-c2.resources.VCPU.capacity"),
            std::string::npos)
      << room.error().message;
  EXPECT_NE(room.error().message.find("allocation_candidates"), std::string::npos);
}

TEST_F(NovaEvacuatorTest, EvacuatesInParallelWithinTheBound) {
  std::vector<EvacuationRequest> requests;
  for (int i = 0; i < 24; ++i) {
    const std::string id = "vm-" + std::to_string(i);
    fake.addVm(id, "c1");
    requests.push_back({id, "c1", std::nullopt});
  }
  fake.latency = 30ms;
  auto evacuator = create({{"api-concurrency", "4"}});
  ASSERT_TRUE(evacuator);
  auto results = (*evacuator)->evacuate(requests);
  ASSERT_EQ(results.size(), requests.size());
  for (const Status& s : results) EXPECT_TRUE(s) << s.error().toString();
  EXPECT_LE(fake.max_in_flight.load(), 4);
  EXPECT_GE(fake.max_in_flight.load(), 2);
  EXPECT_EQ(fake.evacuate_bodies.size(), requests.size());
  EXPECT_FALSE(fake.evacuate_bodies.front()["evacuate"].contains("host"));
  EXPECT_FALSE(fake.evacuate_bodies.front()["evacuate"].contains("onSharedStorage"));  // 2.93
}

TEST_F(NovaEvacuatorTest, PacesCallsOnTheClock) {
  std::vector<EvacuationRequest> requests;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "vm-" + std::to_string(i);
    fake.addVm(id, "c1");
    requests.push_back({id, "c1", "c2"});
  }
  auto evacuator = create({{"api-concurrency", "5"}, {"max-calls-per-second", "10"}});
  ASSERT_TRUE(evacuator);
  const TimePoint start = os.clock.now();
  auto results = (*evacuator)->evacuate(requests);
  for (const Status& s : results) EXPECT_TRUE(s) << s.error().toString();
  // Five calls at 10 per second: the last one starts 400 ms (simulated) after the first.
  EXPECT_GE(os.clock.now() - start, 400ms);
  EXPECT_EQ(fake.evacuate_bodies.front()["evacuate"]["host"], "c2");
}

TEST_F(NovaEvacuatorTest, NovasRefusalsAndFailuresComeBackIndexAligned) {
  fake.addVm("ok-1", "c1");
  fake.addVm("busy", "c1");
  fake.addVm("bad", "c1");
  fake.addVm("ok-2", "c1");
  fake.refuse["busy"] = {409,
                         {{"conflictingRequest",
                           {{"code", 409},
                            {"message",
                             "Cannot 'evacuate' instance busy while it is in "
                             "task_state rebuilding"}}}}};
  fake.refuse["bad"] = {500,
                        {{"computeFault", {{"code", 500}, {"message", "Unexpected API Error."}}}}};
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  std::vector<EvacuationRequest> requests{{"ok-1", "c1", std::nullopt},
                                          {"busy", "c1", std::nullopt},
                                          {"bad", "c1", std::nullopt},
                                          {"ok-2", "c1", std::nullopt}};
  auto results = (*evacuator)->evacuate(requests);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0]);
  ASSERT_FALSE(results[1]);
  EXPECT_EQ(results[1].error().code, ErrorCode::kConflict);
  EXPECT_NE(results[1].error().message.find("task_state rebuilding"), std::string::npos)
      << results[1].error().message;
  EXPECT_NE(results[1].error().message.find("busy"), std::string::npos);
  ASSERT_FALSE(results[2]);
  EXPECT_EQ(results[2].error().code, ErrorCode::kUnavailable) << results[2].error().toString();
  EXPECT_TRUE(results[3]);
}

TEST_F(NovaEvacuatorTest, AnUnansweredCallTimesOut) {
  fake.addVm("slow", "c1");
  os.http_options.timeout = 300ms;
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  fake.latency = 1500ms;  // after negotiation: only the evacuation is slow
  std::vector<EvacuationRequest> requests{{"slow", "c1", std::nullopt}};
  auto results = (*evacuator)->evacuate(requests);
  fake.latency = 0ms;
  ASSERT_EQ(results.size(), 1u);
  ASSERT_FALSE(results[0]);
  EXPECT_TRUE(results[0].error().code == ErrorCode::kTimedOut ||
              results[0].error().code == ErrorCode::kUnavailable)
      << results[0].error().toString();
}

TEST_F(NovaEvacuatorTest, ShowReportsAnEvacuationNovaRecordedBeforeTheServerShowsIt) {
  // After a restart: the server still says nothing, but os-migrations has the evacuation.
  fake.addVm("pending", "c1");
  fake.migrations["pending"].push_back({{"id", 1},
                                        {"instance_uuid", "pending"},
                                        {"status", "pre-migrating"},
                                        {"migration_type", "evacuation"}});
  fake.addVm("failed", "c1", "ERROR");
  fake.migrations["failed"].push_back({{"id", 2},
                                       {"instance_uuid", "failed"},
                                       {"status", "failed"},
                                       {"migration_type", "evacuation"}});
  fake.addVm("never", "c1");
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  std::vector<std::string> ids{"pending", "failed", "never", "gone"};
  auto shown = (*evacuator)->show(ids);
  ASSERT_EQ(shown.size(), 4u);
  ASSERT_TRUE(shown[0]) << shown[0].error().toString();
  EXPECT_EQ(shown[0]->task_state, "rebuilding");
  ASSERT_TRUE(shown[1]);
  EXPECT_EQ(shown[1]->task_state, "");
  EXPECT_EQ(shown[1]->status, "ERROR");
  ASSERT_TRUE(shown[2]);
  EXPECT_EQ(shown[2]->task_state, "");
  ASSERT_FALSE(shown[3]);
  EXPECT_EQ(shown[3].error().code, ErrorCode::kNotFound);
}

TEST_F(NovaEvacuatorTest, ShowSkipsOsMigrationsOnceAnInstanceRunsElsewhere) {
  fake.addVm("a", "c1");
  auto evacuator = create();
  ASSERT_TRUE(evacuator);
  std::vector<EvacuationRequest> requests{{"a", "c1", std::nullopt}};
  ASSERT_TRUE((*evacuator)->evacuate(requests)[0]);
  std::vector<std::string> ids{"a"};
  auto rebuilding = (*evacuator)->show(ids);
  ASSERT_TRUE(rebuilding[0]);
  EXPECT_EQ(rebuilding[0]->task_state, "rebuilding");
  {
    std::lock_guard lock(fake.mutex_);
    fake.vms["a"].host = "c2";
    fake.vms["a"].task_state = "";
  }
  auto done = (*evacuator)->show(ids);
  ASSERT_TRUE(done[0]);
  EXPECT_EQ(done[0]->host, "c2");
  EXPECT_EQ(done[0]->task_state, "");
  EXPECT_EQ(fake.migration_reads, 0);
}

}  // namespace
}  // namespace fdr::drivers
