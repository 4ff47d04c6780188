#include "drivers/monitor/nova/nova_monitor.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // At 10,000 hosts this runs on 10,000 services every poll: grouped by views of their names,
  // with no copy of a name and no allocation per host.
  struct Listed {
    const nova::ComputeService* service = nullptr;
    size_t count = 0;
    bool in_inventory = false;
  };
  std::unordered_map<std::string_view, Listed> by_host;
  by_host.reserve(services.size());
  for (const auto& service : services) {
    Listed& listed = by_host[service.host];
    if (listed.count++ == 0) listed.service = &service;
  }

  // Heartbeat memory first, for every listed host (watched or not by this inventory).
  const uint64_t judgement = ++judgements_;
  for (const auto& [host, listed] : by_host) {
    if (listed.count != 1) continue;
    const nova::ComputeService& s = *listed.service;
    auto it = beats_.find(s.host);
    if (it == beats_.end() || it->second.service_id != s.id) {
      beats_[s.host] = Beat{s.id, s.updated_at, now, now, false, judgement};
      continue;
    }
    it->second.listed = judgement;
    if (it->second.updated_at != s.updated_at) {
      it->second.updated_at = s.updated_at;
      it->second.changed = now;
      it->second.advanced = true;
    }
  }
  std::erase_if(beats_, [&](const auto& entry) { return entry.second.listed != judgement; });

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
    it->second.in_inventory = true;
    if (it->second.count > 1) {
      both(node, Health::kUnknown,
           std::to_string(it->second.count) + " nova-compute services for this host");
      continue;
    }
    const nova::ComputeService& s = *it->second.service;
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
    const auto last = [&] {
      return "updated_at " + (beat.updated_at.empty() ? std::string("never set") : beat.updated_at);
    };
    if (!stale(beat)) {
      if (beat.advanced) {
        heartbeat.health = Health::kUp;
      } else {
        heartbeat.detail = "waiting for a heartbeat to advance (" + last() + ")";
      }
    } else if (control_plane_stalled) {
      heartbeat.detail =
          "every host's heartbeat stalled: Nova's control plane, not the host (" + last() + ")";
    } else {
      heartbeat.health = Health::kDown;
      heartbeat.detail = "no heartbeat for " + seconds(now - beat.changed) + " (" + last() + ")";
    }
    out.push_back(std::move(heartbeat));
  }
  // Compute hosts of the cloud the inventory lacks: unknown (never a failure), so the engine
  // reports them unprotected (nothing can fence them). In name order, as before.
  std::vector<std::string_view> outside;
  for (const auto& [host, listed] : by_host) {
    if (!listed.in_inventory) outside.push_back(host);
  }
  std::sort(outside.begin(), outside.end());
  for (const std::string_view host : outside) {
    out.push_back(Observation{.node = std::string(host),
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
