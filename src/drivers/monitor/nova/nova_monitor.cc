#include "drivers/monitor/nova/nova_monitor.h"

#include <memory>
#include <set>
#include <string_view>
#include <unordered_set>

namespace fdr::drivers {
namespace {

constexpr std::string_view kOwnReasonPrefix = "freezer-dr";

std::string seconds(Duration d) {
  const int64_t ms = d.count();
  return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + " s";
}

class NovaMonitor final : public Monitor {
 public:
  NovaMonitor(Clock& clock, nova::NovaClient& nova, Duration heartbeat_timeout)
      : clock_(clock), nova_(nova), judge_(heartbeat_timeout) {}

  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    auto services = nova_.allComputeServices();
    if (!services) return withContext(services.error(), "nova monitor");
    return judge_.judge(nodes, *services, clock_.now());
  }

 private:
  Clock& clock_;
  nova::NovaClient& nova_;
  NovaServiceJudge judge_;
};

}  // namespace

std::vector<Observation> NovaServiceJudge::judge(std::span<const Node> nodes,
                                                 const std::vector<nova::ComputeService>& services,
                                                 TimePoint now) {
  std::map<std::string, std::vector<const nova::ComputeService*>> by_host;
  for (const auto& service : services) by_host[service.host].push_back(&service);

  // Heartbeat memory first, for every listed host (watched or not by this inventory).
  std::set<std::string> listed;
  for (const auto& [host, list] : by_host) {
    if (list.size() != 1) continue;
    const nova::ComputeService& s = *list.front();
    listed.insert(host);
    auto it = beats_.find(host);
    if (it == beats_.end() || it->second.service_id != s.id) {
      beats_[host] = Beat{s.id, s.updated_at, now, now, false};
    } else if (it->second.updated_at != s.updated_at) {
      it->second.updated_at = s.updated_at;
      it->second.changed = now;
      it->second.advanced = true;
    }
  }
  std::erase_if(beats_, [&](const auto& entry) { return !listed.contains(entry.first); });

  auto stale = [&](const Beat& beat) { return now - beat.changed > timeout_; };
  size_t watched = 0;
  size_t stalled = 0;
  for (const auto& [host, beat] : beats_) {
    if (!beat.advanced && now - beat.first_seen <= timeout_) continue;
    ++watched;
    if (stale(beat)) ++stalled;
  }
  const bool control_plane_stalled = watched >= 2 && stalled == watched;

  std::vector<Observation> out;
  out.reserve(nodes.size() * 2);
  auto both = [&](const Node& node, Health health, const std::string& detail,
                  bool operator_maintenance = false) {
    out.push_back(
        Observation{node.hostname, kNovaStateSource, health, now, detail, operator_maintenance});
    out.push_back(Observation{node.hostname, kNovaHeartbeatSource, health, now, detail,
                              operator_maintenance});
  };
  for (const Node& node : nodes) {
    auto it = by_host.find(node.hostname);
    if (it == by_host.end()) {
      both(node, Health::kUnknown, "no nova-compute service for this host");
      continue;
    }
    if (it->second.size() > 1) {
      both(node, Health::kUnknown,
           std::to_string(it->second.size()) + " nova-compute services for this host");
      continue;
    }
    const nova::ComputeService& s = *it->second.front();
    if (s.status == "disabled" && !s.disabled_reason.starts_with(kOwnReasonPrefix)) {
      both(node, Health::kUnknown,
           "disabled by an operator" +
               (s.disabled_reason.empty() ? std::string() : ": " + s.disabled_reason),
           /*operator_maintenance=*/true);
      continue;
    }

    Observation state{node.hostname, kNovaStateSource, Health::kUnknown, now, ""};
    if (s.forced_down) {
      state.health = Health::kDown;
      state.detail = "forced down in Nova";
    } else if (s.state == "up") {
      state.health = Health::kUp;
    } else if (s.state == "down") {
      state.health = Health::kDown;
      state.detail = "Nova reports the service down (last report " +
                     (s.updated_at.empty() ? std::string("never") : s.updated_at) + ")";
    } else {
      state.detail = "Nova reports state '" + s.state + "'";
    }
    out.push_back(std::move(state));

    const Beat& beat = beats_.at(node.hostname);
    Observation heartbeat{node.hostname, kNovaHeartbeatSource, Health::kUnknown, now, ""};
    const std::string last =
        "updated_at " + (beat.updated_at.empty() ? std::string("never set") : beat.updated_at);
    if (!stale(beat)) {
      if (beat.advanced) {
        heartbeat.health = Health::kUp;
      } else {
        heartbeat.detail = "waiting for a heartbeat to advance (" + last + ")";
      }
    } else if (control_plane_stalled) {
      heartbeat.detail =
          "every host's heartbeat stalled: Nova's control plane, not the host (" + last + ")";
    } else {
      heartbeat.health = Health::kDown;
      heartbeat.detail = "no heartbeat for " + seconds(now - beat.changed) + " (" + last + ")";
    }
    out.push_back(std::move(heartbeat));
  }
  // Compute hosts of the cloud the inventory lacks: unknown (never a failure), so the engine
  // reports them unprotected (nothing can fence them).
  std::unordered_set<std::string_view> inventory;
  inventory.reserve(nodes.size());
  for (const Node& node : nodes) inventory.insert(node.hostname);
  for (const auto& [host, list] : by_host) {
    if (inventory.contains(host)) continue;
    out.push_back(Observation{.node = host,
                              .source = kNovaStateSource,
                              .health = Health::kUnknown,
                              .at = now,
                              .detail = "a nova-compute service with no entry in the inventory"});
  }
  return out;
}

Status registerNovaMonitor(Registry& registry) {
  return registry.monitors.add(DriverFactory<Monitor>{
      .name = "nova",
      .aliases = {"freezer_dr.monitors.drivers.default.driver.StandardDriver"},
      .description = "Nova compute services: Nova's state and freezer-dr's own heartbeat check",
      .schema =
          {
              {.name = "heartbeat-timeout",
               .type = OptionType::kDuration,
               .default_value = "25s",
               .help = "nova/heartbeat is down when a service's updated_at has not advanced for "
                       "this long (Nova reports every 10 s by default)"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        if (context.nova == nullptr) {
          return fail(ErrorCode::kInvalidArgument,
                      "nova monitor: needs the cloud credentials ([keystone_authtoken])");
        }
        const Duration timeout = options.getDuration("heartbeat-timeout");
        if (timeout < std::chrono::seconds(1)) {
          return fail(ErrorCode::kInvalidArgument,
                      "nova monitor: heartbeat-timeout must be at least 1s");
        }
        return std::make_unique<NovaMonitor>(context.clock, *context.nova, timeout);
      },
  });
}

}  // namespace fdr::drivers
