#include "app/wiring.h"

#include <map>

#include <fmt/format.h>

#include "drivers/isolation/tcp/tcp_isolation_check.h"

namespace fdr::app {
namespace {

template <class Interface>
std::optional<std::pair<std::string, std::unique_ptr<Interface>>> build(
    const DriverRegistry<Interface>& registry, const config::DriverChoice& choice,
    DriverContext& context, Diagnostics& diag, bool create) {
  auto factory = registry.find(choice.name);
  if (!factory) {
    diag.error(choice.where, factory.error().message);
    return std::nullopt;
  }
  const std::string context_name = "[" + registry.stage() + "] driver " + (*factory)->name;
  auto options = Options::parse((*factory)->schema, choice.options, context_name, diag);
  if (!options) return std::nullopt;
  if ((*factory)->check) {
    if (auto checked = (*factory)->check(*options); !checked) {
      diag.error(choice.where, context_name + ": " + checked.error().message);
      return std::nullopt;
    }
  }
  if (!create) return std::make_pair((*factory)->name, std::unique_ptr<Interface>());
  auto created = (*factory)->create(*options, context);
  if (!created) {
    diag.error(choice.where, context_name + ": " + created.error().message);
    return std::nullopt;
  }
  return std::make_pair((*factory)->name, std::move(*created));
}

// "file", "file#2", ...: notifiers are addressed by name in the outbox.
std::string uniqueName(std::map<std::string, int>& seen, const std::string& name) {
  const int n = ++seen[name];
  return n == 1 ? name : name + "#" + std::to_string(n);
}

}  // namespace

core::EngineDrivers Pipeline::drivers() const {
  core::EngineDrivers out;
  for (const auto& m : monitors) out.monitors.push_back(m.get());
  for (const auto& [name, f] : fencers) out.fencers.push_back({name, f.get()});
  out.evacuator = evacuator.get();
  for (const auto& [name, n] : notifiers) out.notifiers.push_back({name, n.get()});
  out.isolation = isolation.get();
  for (size_t index : reference_monitors) {
    if (index < monitors.size()) {
      out.reference_monitors.push_back({"nova API (monitor poll)", monitors[index].get()});
    }
  }
  return out;
}

std::optional<Pipeline> buildPipeline(const config::Config& config, const Registry& registry,
                                      DriverContext& context, Diagnostics& diag, bool create) {
  Pipeline pipeline;
  bool ok = true;
  if (config.monitors.empty()) {
    diag.error(config.path, "[monitoring] no driver configured");
    ok = false;
  }
  for (const auto& choice : config.monitors) {
    auto built = build(registry.monitors, choice, context, diag, create);
    if (!built) {
      ok = false;
      continue;
    }
    if (built->first == "nova" && config.nova_reference) {
      pipeline.reference_monitors.push_back(pipeline.monitors.size());
    }
    pipeline.monitors.push_back(std::move(built->second));
  }
  const size_t reference_points =
      config.reference_points.size() + pipeline.reference_monitors.size();
  if (config.reference_points_required > 0 &&
      static_cast<size_t>(config.reference_points_required) > reference_points) {
    diag.error(
        config.reference_points_required_where,
        fmt::format("[monitoring] reference-points-required is {}, but there are only {} "
                    "reference point(s) ({} in reference-points{})",
                    config.reference_points_required, reference_points,
                    config.reference_points.size(),
                    pipeline.reference_monitors.empty() ? "" : ", plus the nova monitor's poll"));
    ok = false;
  }
  if (create && !config.reference_points.empty()) {
    pipeline.isolation = std::make_unique<drivers::TcpIsolationCheck>(config.reference_points,
                                                                      config.reference_timeout);
  }
  std::map<std::string, int> fencer_names;
  for (const auto& choice : config.fencers) {
    auto built = build(registry.fencers, choice, context, diag, create);
    if (!built) {
      ok = false;
      continue;
    }
    pipeline.fencers.emplace_back(uniqueName(fencer_names, built->first), std::move(built->second));
  }
  if (config.fencers.empty()) {
    diag.error(config.path,
               "[fencer] no driver configured: freezer-dr never evacuates a node "
               "it cannot fence");
    ok = false;
  }
  if (auto built = build(registry.evacuators, config.evacuator, context, diag, create); built) {
    pipeline.evacuator = std::move(built->second);
  } else {
    ok = false;
  }
  std::map<std::string, int> notifier_names;
  for (const auto& choice : config.notifiers) {
    auto built = build(registry.notifiers, choice, context, diag, create);
    if (!built) {
      ok = false;
      continue;
    }
    pipeline.notifiers.emplace_back(uniqueName(notifier_names, built->first),
                                    std::move(built->second));
  }
  if (!ok) return std::nullopt;
  return pipeline;
}

core::LaneSizes laneSizes(const config::Config& config) {
  core::LaneSizes sizes;
  sizes.by_prefix = {{"monitor", 1},
                     {"fence", 16},
                     {"fence-check", static_cast<size_t>(config.fence_check_concurrency)},
                     {"cloud", static_cast<size_t>(config.evacuation_concurrency) + 4},
                     {"notify", 4},
                     {"isolation", 1}};
  return sizes;
}

core::EnginePolicy policyFrom(const config::Config& config) {
  core::EnginePolicy policy;
  policy.detector.grace = config.grace;
  policy.detector.min_sources = config.min_sources;
  policy.fence_retries = config.fence_retries;
  policy.fence_attempt_timeout = config.fence_attempt_timeout;
  policy.fence_deadline = config.fence_deadline;
  policy.unfence_deadline = config.unfence_deadline;
  policy.evacuation_retries = config.evacuation_retries;
  policy.evacuation_concurrency = config.evacuation_concurrency;
  policy.max_rebuilds_per_host = config.max_rebuilds_per_host;
  policy.poll_interval = config.poll_interval;
  policy.poll_timeout = config.poll_timeout;
  policy.reserved_hosts = config.reserved_hosts;
  policy.reserved_hosts_fallback = config.reserved_hosts_fallback;
  policy.shared_storage = config.shared_storage;
  policy.capacity_check = config.capacity_check;
  policy.capacity_check_timeout = config.capacity_check_timeout;
  policy.instance_timeout = config.instance_timeout;
  policy.priority_key = config.priority_key;
  policy.evacuate_all = config.evacuate_all;
  policy.ha_enabled_key = config.ha_enabled_key;
  policy.storm_max_nodes = config.storm_max_nodes;
  policy.storm_max_percent = config.storm_max_percent;
  policy.storm_window = config.storm_window;
  policy.readiness = {.interval = config.fence_check_interval,
                      .concurrency = static_cast<size_t>(config.fence_check_concurrency)};
  policy.maintenance = config.maintenance;
  policy.max_fences_per_tick = config.max_fences_per_tick;
  policy.reference_points_required = config.reference_points_required;
  policy.detector.flap_max_recoveries = config.flap_max_recoveries;
  policy.detector.flap_window = config.flap_window;
  return policy;
}

}  // namespace fdr::app
