#include "drivers/evacuator/fake/fake_evacuator.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/files.h"

namespace fdr::drivers {
namespace {

using nlohmann::json;

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

struct Settings {
  std::string cloud_file;
  int64_t instances_per_node = 0;
  int64_t rebuild_polls = 1;
  std::vector<std::string> fail_instances;   // evacuate refused
  std::vector<std::string> error_instances;  // rebuild ends in ERROR
};

class FakeEvacuator final : public Evacuator {
 public:
  FakeEvacuator(Settings settings, Clock& clock, const std::vector<Node>& nodes)
      : settings_(std::move(settings)), clock_(clock), nodes_(nodes) {}

  Status forceDown(const Node& node, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    auto cloud = load();
    if (!cloud) return std::unexpected(cloud.error());
    json& service = (*cloud)["services"][node.hostname];
    service["forced_down"] = true;
    service["disabled"] = true;
    service["disabled_reason"] = reason;
    return save(*cloud);
  }

  // nova-compute reports (its heartbeat is now) unless the cloud file says it stopped
  // ("reporting": false); then its last heartbeat ("updated_at", ms), if any, stands.
  Result<ServiceState> computeService(const Node& node) override {
    std::lock_guard lock(mutex_);
    auto cloud = load();
    if (!cloud) return std::unexpected(cloud.error());
    const json& services = (*cloud)["services"];
    const auto it = services.find(node.hostname);
    if (it == services.end() || !it->is_object()) {
      return fail(ErrorCode::kNotFound, "fake cloud: no compute service on " + node.hostname);
    }
    ServiceState state;
    state.forced_down = it->value("forced_down", false);
    state.disabled = it->value("disabled", false);
    state.disabled_reason = it->value("disabled_reason", "");
    const bool reporting = it->value("reporting", true);
    if (reporting) {
      state.updated_at = clock_.now();
    } else if (const auto beat = it->find("updated_at");
               beat != it->end() && beat->is_number_integer()) {
      state.updated_at = fromMillis(beat->get<int64_t>());
    }
    state.up = reporting && !state.forced_down;
    return state;
  }

  Status restore(const Node& node) override {
    return updateService(node, [](json& service) {
      service["forced_down"] = false;  // unforced first, then enabled, as Nova's driver does
      service["disabled"] = false;
      service.erase("disabled_reason");
    });
  }

  Status enable(const Node& node) override {
    return updateService(node, [](json& service) {
      service["disabled"] = false;
      service.erase("disabled_reason");
    });
  }

  // Every service other than `failed` that is not forced down and whose nova-compute reports,
  // with its "room" ({"vcpus", "memory_mb", "disk_gb"}: what it holds in all) less the "size"
  // of the instances on it. kNotSupported when no service has a "room".
  Result<std::vector<HostRoom>> room(const Node& failed) override {
    std::lock_guard lock(mutex_);
    auto cloud = load();
    if (!cloud) return std::unexpected(cloud.error());
    std::vector<HostRoom> out;
    bool any_room = false;
    for (const auto& [host, service] : (*cloud)["services"].items()) {
      if (!service.is_object() || !service.contains("room")) continue;
      any_room = true;
      if (host == failed.hostname || service.value("forced_down", false) ||
          !service.value("reporting", true)) {
        continue;
      }
      auto total = resources(service["room"], "services." + host + ".room");
      if (!total) return std::unexpected(total.error());
      HostRoom h{.host = host, .enabled = !service.value("disabled", false), .free = *total};
      for (const json& vm : (*cloud)["instances"]) {
        if (vm.value("host", "") != host || !vm.contains("size")) continue;
        auto size = resources(vm["size"], "instance " + vm.value("id", "") + " size");
        if (!size) return std::unexpected(size.error());
        h.free.vcpus -= size->vcpus;
        h.free.memory_mb -= size->memory_mb;
        h.free.disk_gb -= size->disk_gb;
      }
      out.push_back(h);
    }
    if (!any_room) return fail(ErrorCode::kNotSupported, "fake cloud: no service has a room");
    return out;
  }

  Result<std::vector<Instance>> listInstances(const Node& node) override {
    std::lock_guard lock(mutex_);
    auto cloud = load();
    if (!cloud) return std::unexpected(cloud.error());
    std::vector<Instance> out;
    for (const json& vm : (*cloud)["instances"]) {
      if (vm.value("host", "") == node.hostname) out.push_back(toInstance(vm));
    }
    return out;
  }

  std::vector<Status> evacuate(std::span<const EvacuationRequest> requests) override {
    std::lock_guard lock(mutex_);
    std::vector<Status> results;
    auto cloud = load();
    if (!cloud) {
      results.assign(requests.size(), std::unexpected(cloud.error()));
      return results;
    }
    for (const EvacuationRequest& request : requests) {
      results.push_back(evacuateOne(*cloud, request));
    }
    if (auto saved = save(*cloud); !saved) {
      results.assign(requests.size(), std::unexpected(saved.error()));
    }
    return results;
  }

  std::vector<Result<Instance>> show(std::span<const std::string> ids) override {
    std::lock_guard lock(mutex_);
    std::vector<Result<Instance>> results;
    auto cloud = load();
    if (!cloud) {
      results.assign(ids.size(), std::unexpected(cloud.error()));
      return results;
    }
    for (const std::string& id : ids) {
      json* vm = find(*cloud, id);
      if (vm == nullptr) {
        results.push_back(fail(ErrorCode::kNotFound, "fake cloud: no instance " + id));
        continue;
      }
      if (vm->value("rebuild_polls_left", 0) > 0) {
        (*vm)["rebuild_polls_left"] = vm->value("rebuild_polls_left", 0) - 1;
      } else if (vm->value("task_state", "") == "rebuilding") {
        (*vm)["task_state"] = "";
        (*vm)["status"] = contains(settings_.error_instances, id)
                              ? "ERROR"
                              : vm->value("rebuild_to", std::string("ACTIVE"));
      }
      results.push_back(toInstance(*vm));
    }
    if (auto saved = save(*cloud); !saved) {
      results.assign(ids.size(), std::unexpected(saved.error()));
    }
    return results;
  }

 private:
  // Changes one compute service of the cloud (under the lock), or kNotFound if it has none.
  template <class Change>
  Status updateService(const Node& node, Change change) {
    std::lock_guard lock(mutex_);
    auto cloud = load();
    if (!cloud) return std::unexpected(cloud.error());
    json& services = (*cloud)["services"];
    if (!services.contains(node.hostname)) {
      return fail(ErrorCode::kNotFound, "fake cloud: no compute service on " + node.hostname);
    }
    change(services[node.hostname]);
    return save(*cloud);
  }

  Status evacuateOne(json& cloud, const EvacuationRequest& request) {
    json* vm = find(cloud, request.instance_id);
    if (vm == nullptr) {
      return fail(ErrorCode::kNotFound, "fake cloud: no instance " + request.instance_id);
    }
    const std::string host = vm->value("host", "");
    if (!cloud["services"].value(host, json::object()).value("forced_down", false)) {
      return fail(ErrorCode::kConflict, "fake cloud: compute service of " + host +
                                            " is still in use (instance " + request.instance_id +
                                            ")");
    }
    if (contains(settings_.fail_instances, request.instance_id)) {
      return fail(ErrorCode::kConflict,
                  "fake cloud: evacuation of " + request.instance_id + " refused (configured)");
    }
    std::string target;
    if (request.target_host) {
      // As Nova from 2.29 without force: an unknown host is refused; the scheduler checks the
      // target, and a disabled, forced-down or full one (the service's "capacity": most
      // instances it takes) leaves the instance in ERROR on its host with a NoValidHost fault.
      target = *request.target_host;
      const json& services = cloud["services"];
      if (!services.contains(target)) {
        return fail(ErrorCode::kNotFound, "fake cloud: Compute host " + target + " not found.");
      }
      const json& service = services[target];
      int64_t on_target = 0;
      for (const json& other : cloud["instances"]) on_target += other.value("host", "") == target;
      if (service.value("disabled", false) || service.value("forced_down", false) ||
          (service.contains("capacity") && on_target >= service.value("capacity", int64_t{0}))) {
        if (!vm->contains("error_from")) (*vm)["error_from"] = vm->value("status", "ACTIVE");
        (*vm)["status"] = "ERROR";
        (*vm)["task_state"] = "";
        (*vm)["fault"] = "No valid host was found. There are not enough hosts available.";
        cloud["evacuations"].push_back(json{{"instance", request.instance_id},
                                            {"from", host},
                                            {"to", target},
                                            {"error", "NoValidHost"},
                                            {"at", toMillis(clock_.now())}});
        return {};
      }
    } else {
      std::vector<std::string> candidates;
      for (const Node& node : nodes_) {
        const json service = cloud["services"].value(node.hostname, json::object());
        int64_t on_node = 0;
        for (const json& other : cloud["instances"])
          on_node += other.value("host", "") == node.hostname;
        const bool room =
            !service.contains("capacity") || on_node < service.value("capacity", int64_t{0});
        if (node.hostname != host && !service.value("forced_down", false) &&
            !service.value("disabled", false) && room) {
          candidates.push_back(node.hostname);
        }
      }
      if (candidates.empty()) {
        return fail(ErrorCode::kConflict, "fake cloud: no valid host for " + request.instance_id);
      }
      std::sort(candidates.begin(), candidates.end());
      const int64_t n = cloud.value("placements", 0);
      cloud["placements"] = n + 1;
      target = candidates[static_cast<size_t>(n) % candidates.size()];
    }
    const std::string former = vm->value("error_from", vm->value("status", std::string()));
    vm->erase("error_from");
    vm->erase("fault");
    (*vm)["rebuild_to"] = former == "SHUTOFF" ? "SHUTOFF" : "ACTIVE";
    (*vm)["host"] = target;
    (*vm)["status"] = "REBUILD";
    (*vm)["task_state"] = "rebuilding";
    (*vm)["rebuild_polls_left"] = settings_.rebuild_polls;
    cloud["evacuations"].push_back(json{{"instance", request.instance_id},
                                        {"from", host},
                                        {"to", target},
                                        {"at", toMillis(clock_.now())}});
    return {};
  }

  static json* find(json& cloud, const std::string& id) {
    for (json& vm : cloud["instances"]) {
      if (vm.value("id", "") == id) return &vm;
    }
    return nullptr;
  }

  Result<Resources> resources(const json& j, const std::string& what) const {
    Resources r;
    const char* keys[] = {"vcpus", "memory_mb", "disk_gb"};
    int64_t* fields[] = {&r.vcpus, &r.memory_mb, &r.disk_gb};
    for (size_t i = 0; i < 3; ++i) {
      if (!j.is_object() || !j.contains(keys[i]) || !j[keys[i]].is_number_integer()) {
        return fail(ErrorCode::kCorruption,
                    fmt::format("fake cloud{}: {}.{} must be an integer",
                                settings_.cloud_file.empty() ? "" : " file " + settings_.cloud_file,
                                what, keys[i]));
      }
      *fields[i] = j[keys[i]].get<int64_t>();
    }
    return r;
  }

  static Instance toInstance(const json& vm) {
    Instance out;
    out.id = vm.value("id", "");
    out.name = vm.value("name", "");
    out.project_id = vm.value("project_id", "");
    out.user_id = vm.value("user_id", "");
    out.host = vm.value("host", "");
    out.status = vm.value("status", "");
    out.task_state = vm.value("task_state", "");
    out.fault = vm.value("fault", "");
    if (const auto size = vm.find("size"); size != vm.end() && size->is_object()) {
      out.size = Resources{.vcpus = size->value("vcpus", int64_t{0}),
                           .memory_mb = size->value("memory_mb", int64_t{0}),
                           .disk_gb = size->value("disk_gb", int64_t{0})};
    }
    if (vm.contains("metadata") && vm["metadata"].is_object()) {
      for (const auto& [k, v] : vm["metadata"].items()) {
        if (v.is_string()) out.metadata[k] = v.get<std::string>();
      }
    }
    return out;
  }

  json seed() const {
    json cloud = {
        {"services", json::object()}, {"instances", json::array()}, {"evacuations", json::array()}};
    for (const Node& node : nodes_) {
      cloud["services"][node.hostname] = {{"forced_down", false}, {"disabled", false}};
      for (int64_t i = 1; i <= settings_.instances_per_node; ++i) {
        const std::string name = node.hostname + "-vm" + std::to_string(i);
        cloud["instances"].push_back({{"id", name},
                                      {"name", name},
                                      {"host", node.hostname},
                                      {"status", "ACTIVE"},
                                      {"task_state", ""},
                                      {"project_id", "demo"},
                                      {"user_id", "demo-user"},
                                      {"metadata", json::object()}});
      }
    }
    return cloud;
  }

  Result<json> load() {
    if (settings_.cloud_file.empty()) {
      if (memory_.is_null()) memory_ = seed();
      return memory_;
    }
    auto content = readFileIfExists(settings_.cloud_file);
    if (!content) return std::unexpected(content.error());
    if (!*content) return seed();
    json cloud = json::parse(**content, nullptr, /*allow_exceptions=*/false);
    if (!cloud.is_object() || !cloud["instances"].is_array() || !cloud["services"].is_object()) {
      return fail(ErrorCode::kCorruption,
                  "fake cloud file " + settings_.cloud_file +
                      ": expected an object with 'instances' (array) and 'services' (object)");
    }
    if (!cloud.contains("evacuations")) cloud["evacuations"] = json::array();
    for (const json& vm : cloud["instances"]) {
      if (!vm.is_object() || !vm.contains("id") || !vm["id"].is_string()) {
        return fail(ErrorCode::kCorruption,
                    "fake cloud file " + settings_.cloud_file + ": an instance has no string 'id'");
      }
    }
    return cloud;
  }

  Status save(const json& cloud) {
    if (settings_.cloud_file.empty()) {
      memory_ = cloud;
      return {};
    }
    return writeFileAtomic(settings_.cloud_file, cloud.dump(1) + "\n");
  }

  Settings settings_;
  Clock& clock_;
  const std::vector<Node>& nodes_;
  std::mutex mutex_;
  json memory_;
};

}  // namespace

Status registerFakeEvacuator(Registry& registry) {
  return registry.evacuators.add(DriverFactory<Evacuator>{
      .name = "fake",
      .aliases = {"dummy", "freezer_dr.evacuators.drivers.dummy.dummy.DummyEvacuator"},
      .description = "a simulated cloud in memory or in a JSON file",
      .schema =
          {
              {.name = "cloud-file",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "JSON file holding the simulated cloud, shared across restarts"},
              {.name = "instances-per-node",
               .type = OptionType::kInt,
               .default_value = "3",
               .help = "instances created on each node when the cloud is new"},
              {.name = "rebuild-polls",
               .type = OptionType::kInt,
               .default_value = "1",
               .help = "status reads an instance stays in REBUILD"},
              {.name = "fail-instances",
               .type = OptionType::kList,
               .default_value = "",
               .help = "instances whose evacuation is refused"},
              {.name = "shared-storage",
               .type = OptionType::kBool,
               .default_value = "false",
               .help = "accepted from [evacuation]; the fake cloud has no storage"},
              {.name = "error-instances",
               .type = OptionType::kList,
               .default_value = "",
               .help = "instances whose rebuild ends in ERROR"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<EvacuatorPtr> {
        Settings settings{options.getString("cloud-file"), options.getInt("instances-per-node"),
                          options.getInt("rebuild-polls"), options.getList("fail-instances"),
                          options.getList("error-instances")};
        if (settings.instances_per_node < 0 || settings.rebuild_polls < 0) {
          return fail(ErrorCode::kInvalidArgument,
                      "fake evacuator: instances-per-node and rebuild-polls must be >= 0");
        }
        return std::make_unique<FakeEvacuator>(std::move(settings), context.clock, context.nodes);
      },
  });
}

}  // namespace fdr::drivers
