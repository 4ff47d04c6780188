#include "drivers/evacuator/nova/nova_evacuator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <thread>
#include <utility>
#include <vector>

namespace fdr::drivers {

namespace {

constexpr const char* kContext = "evacuator nova";

// Runs fn(0..n-1) on min(n, workers) threads; returns when every call has returned.
void parallelFor(size_t n, int workers, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  const size_t threads = std::min(n, static_cast<size_t>(std::max(1, workers)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  if (threads == 1) {
    work();
    return;
  }
  std::vector<std::jthread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
}  // jthreads join here

bool evacuationInProgress(const std::string& status) {
  return status == "accepted" || status == "pre-migrating" || status == "running";
}

}  // namespace

bool CallPacer::acquire(const std::stop_token& stop) {
  if (rate_ <= 0) return true;
  int64_t slot_us = 0;
  {
    std::lock_guard lock(mutex_);
    const int64_t now_us = toMillis(clock_.now()) * 1000;
    slot_us = std::max(now_us, next_us_);
    next_us_ = slot_us + std::max<int64_t>(1, 1'000'000 / rate_);
  }
  const TimePoint slot = fromMillis((slot_us + 999) / 1000);
  if (clock_.now() >= slot) return true;
  return clock_.sleepUntil(slot, stop);
}

NovaEvacuator::NovaEvacuator(nova::NovaClient& nova, placement::PlacementClient* placement,
                             Clock& clock, NovaEvacuatorSettings settings)
    : nova_(nova),
      placement_(placement),
      settings_(settings),
      pacer_(clock, settings.max_calls_per_second) {}

Result<std::vector<HostRoom>> NovaEvacuator::room(const Node& failed) {
  if (placement_ == nullptr) {
    return fail(ErrorCode::kNotSupported, std::string(kContext) + ": no Placement client");
  }
  (void)pacer_.acquire();
  auto hypervisors = nova_.allHypervisors();
  if (!hypervisors) {
    return withContext(hypervisors.error(), std::string(kContext) + ": list the hypervisors");
  }
  (void)pacer_.acquire();
  auto providers = placement_->candidates();
  if (!providers) {
    return withContext(providers.error(),
                       std::string(kContext) + ": read the free capacity from Placement");
  }
  std::map<std::string, const placement::ProviderSummary*> by_name;
  for (const placement::ProviderSummary& p : *providers) by_name[p.name] = &p;
  auto freeOf = [](const placement::ProviderSummary& p, const char* rc) {
    auto it = p.resources.find(rc);
    return it == p.resources.end() ? kUnbounded : it->second.capacity - it->second.used;
  };
  std::vector<HostRoom> out;
  for (const nova::Hypervisor& h : *hypervisors) {
    const std::string& host = h.service_host.empty() ? h.hostname : h.service_host;
    if (host == failed.hostname || h.state != "up") continue;
    auto p = by_name.find(h.hostname);
    if (p == by_name.end()) continue;  // nothing free there
    out.push_back(HostRoom{.host = host,
                           .enabled = h.status == "enabled",
                           .free = Resources{.vcpus = freeOf(*p->second, "VCPU"),
                                             .memory_mb = freeOf(*p->second, "MEMORY_MB"),
                                             .disk_gb = freeOf(*p->second, "DISK_GB")}});
  }
  return out;
}

Status NovaEvacuator::forceDown(const Node& node, const std::string& reason) {
  // Forced down first: from Train, Nova refuses to evacuate from a host that is not down, and a
  // disabled-but-up service gives the scheduler no hint that the host is dead.
  (void)pacer_.acquire();
  if (auto down = nova_.forceDown(node.hostname); !down) {
    return withContext(down.error(), std::string(kContext) + ": force down " + node.hostname);
  }
  (void)pacer_.acquire();
  if (auto disabled = nova_.disable(node.hostname, reason); !disabled) {
    return withContext(disabled.error(), std::string(kContext) + ": disable " + node.hostname);
  }
  return {};
}

Result<ServiceState> NovaEvacuator::computeService(const Node& node) {
  (void)pacer_.acquire();
  auto service = nova_.computeService(node.hostname);
  if (!service) {
    return withContext(service.error(),
                       std::string(kContext) + ": read the compute service of " + node.hostname);
  }
  ServiceState state;
  state.up = service->state == "up";
  state.forced_down = service->forced_down;
  state.disabled = service->status == "disabled";
  state.disabled_reason = service->disabled_reason;
  if (!service->updated_at.empty()) {
    state.updated_at = keystone::parseIsoTime(service->updated_at);
    if (!state.updated_at) {
      return fail(ErrorCode::kCorruption, std::string(kContext) + ": the compute service of " +
                                              node.hostname + " has an unreadable updated_at '" +
                                              service->updated_at + "'");
    }
  }
  return state;
}

Status NovaEvacuator::restore(const Node& node) {
  // Unforced first: an enabled service that is still forced down would look usable to the
  // scheduler while Nova refuses to use it.
  (void)pacer_.acquire();
  if (auto unforced = nova_.unforceDown(node.hostname); !unforced) {
    return withContext(unforced.error(),
                       std::string(kContext) + ": clear forced-down of " + node.hostname);
  }
  (void)pacer_.acquire();
  if (auto enabled = nova_.enable(node.hostname); !enabled) {
    return withContext(enabled.error(), std::string(kContext) + ": enable " + node.hostname);
  }
  return {};
}

Status NovaEvacuator::enable(const Node& node) {
  (void)pacer_.acquire();
  if (auto enabled = nova_.enable(node.hostname); !enabled) {
    return withContext(enabled.error(), std::string(kContext) + ": enable " + node.hostname);
  }
  return {};
}

Result<std::vector<Instance>> NovaEvacuator::listInstances(const Node& node) {
  (void)pacer_.acquire();
  auto servers = nova_.serversOnHost(node.hostname);
  if (!servers) {
    return withContext(servers.error(),
                       std::string(kContext) + ": list the servers of " + node.hostname);
  }
  std::vector<Instance> out;
  out.reserve(servers->size());
  std::lock_guard lock(mutex_);
  for (const nova::Server& server : *servers) {
    if (server.host != node.hostname) continue;  // exact host: compute1 is not compute10
    out.push_back(server.toInstance());
    source_host_[server.id] = node.hostname;
  }
  return out;
}

std::vector<Status> NovaEvacuator::evacuate(std::span<const EvacuationRequest> requests) {
  std::vector<Status> results(requests.size());
  {
    std::lock_guard lock(mutex_);
    for (const EvacuationRequest& r : requests) source_host_[r.instance_id] = r.source_host;
  }
  parallelFor(requests.size(), settings_.api_concurrency, [&](size_t i) {
    const EvacuationRequest& request = requests[i];
    nova::EvacuateOptions options;
    options.host = request.target_host;
    options.on_shared_storage = settings_.shared_storage;
    (void)pacer_.acquire();
    auto accepted = nova_.evacuate(request.instance_id, options);
    if (!accepted) {
      results[i] =
          withContext(accepted.error(), std::string(kContext) + ": evacuate " +
                                            request.instance_id + " from " + request.source_host);
    }
  });
  return results;
}

std::optional<std::string> NovaEvacuator::sourceOf(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (auto it = source_host_.find(id); it != source_host_.end()) return it->second;
  return std::nullopt;
}

Result<Instance> NovaEvacuator::showOne(const std::string& id) {
  (void)pacer_.acquire();
  auto server = nova_.server(id);
  if (!server) return withContext(server.error(), std::string(kContext) + ": show " + id);
  Instance vm = server->toInstance();
  if (vm.task_state == "rebuilding" || vm.status == "REBUILD") return vm;
  // Nova sets task_state "rebuilding" when it accepts an evacuation, so a server that shows
  // none and sits on another host than its source has settled. Otherwise (still on the source,
  // or a source unknown to this process, e.g. after a restart) os-migrations decides.
  if (auto source = sourceOf(id); source && !vm.host.empty() && vm.host != *source) return vm;
  (void)pacer_.acquire();
  auto migrations = nova_.evacuations(id);
  if (!migrations) {
    return withContext(migrations.error(),
                       std::string(kContext) + ": read the evacuations of " + id);
  }
  for (const nova::Migration& m : *migrations) {
    if (evacuationInProgress(m.status)) {
      spdlog::debug("{}: {} has evacuation {} ({}) in progress, task_state '{}' in the server",
                    kContext, id, m.id, m.status, vm.task_state);
      vm.task_state = "rebuilding";
      break;
    }
  }
  return vm;
}

std::vector<Result<Instance>> NovaEvacuator::show(std::span<const std::string> ids) {
  std::vector<Result<Instance>> results(ids.size(), fail(ErrorCode::kInternal, "not read"));
  parallelFor(ids.size(), settings_.api_concurrency,
              [&](size_t i) { results[i] = showOne(ids[i]); });
  return results;
}

Status registerNovaEvacuator(Registry& registry) {
  return registry.evacuators.add(DriverFactory<Evacuator>{
      .name = "nova",
      .aliases = {"freezer_dr.evacuators.drivers.default.standard.StandardEvacuator"},
      .description = "forces the compute service down and evacuates through the Nova API",
      .schema =
          {
              {.name = "api-concurrency",
               .type = OptionType::kInt,
               .default_value = "8",
               .help = "Nova calls in flight at once within one batch (evacuate, show)"},
              {.name = "max-calls-per-second",
               .type = OptionType::kInt,
               .default_value = "0",
               .help = "upper bound on the rate of Nova calls; 0: no bound"},
              {.name = "shared-storage",
               .type = OptionType::kBool,
               .default_value = "false",
               .help = "instances' disks are on shared storage (sent before compute API 2.14)"},
              {.name = "shared_storage",
               .type = OptionType::kBool,
               .default_value = "false",
               .help = "the original freezer-dr's spelling of shared-storage"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<EvacuatorPtr> {
        if (context.nova == nullptr) {
          return fail(ErrorCode::kInvalidArgument,
                      "evacuator nova: no OpenStack credentials: configure [keystone_authtoken] "
                      "(auth_url, username, password, project_name...) or set OS_CLOUD / OS_* "
                      "so that freezer-dr can reach Nova");
        }
        NovaEvacuatorSettings settings;
        const int64_t concurrency = options.getInt("api-concurrency");
        if (concurrency < 1 || concurrency > 256) {
          return fail(ErrorCode::kInvalidArgument,
                      "evacuator nova: api-concurrency must be between 1 and 256, got " +
                          std::to_string(concurrency));
        }
        settings.api_concurrency = static_cast<int>(concurrency);
        settings.max_calls_per_second = options.getInt("max-calls-per-second");
        if (settings.max_calls_per_second < 0) {
          return fail(ErrorCode::kInvalidArgument,
                      "evacuator nova: max-calls-per-second must be >= 0 (0: no bound)");
        }
        settings.shared_storage =
            options.getBool("shared-storage") || options.getBool("shared_storage");
        return std::make_unique<NovaEvacuator>(*context.nova, context.placement, context.clock,
                                               settings);
      },
  });
}

}  // namespace fdr::drivers
