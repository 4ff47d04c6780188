#include "drivers/monitor/neutron/neutron_monitor.h"

#include <algorithm>
#include <map>
#include <memory>

namespace fdr::drivers {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The agent's host is the node's hostname, or its FQDN.
bool sameHost(const std::string& agent_host, const std::string& hostname) {
  return agent_host == hostname ||
         (agent_host.size() > hostname.size() && agent_host.starts_with(hostname) &&
          agent_host[hostname.size()] == '.');
}

std::string describe(const neutron::Agent& agent) {
  return agent.binary.empty() ? agent.agent_type : agent.binary;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

class NeutronMonitor final : public Monitor {
 public:
  NeutronMonitor(Clock& clock, std::unique_ptr<neutron::NeutronClient> neutron,
                 NeutronAgentFilter filter, std::string source)
      : clock_(clock),
        neutron_(std::move(neutron)),
        filter_(std::move(filter)),
        source_(std::move(source)) {}

  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    auto agents = neutron_->agents();
    if (!agents) return withContext(agents.error(), "neutron monitor (" + source_ + ")");
    return judgeNeutronAgents(nodes, *agents, filter_, source_, clock_.now());
  }

 private:
  Clock& clock_;
  std::unique_ptr<neutron::NeutronClient> neutron_;
  NeutronAgentFilter filter_;
  std::string source_;
};

bool validSource(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '/';
  });
}

}  // namespace

bool NeutronAgentFilter::accepts(const neutron::Agent& agent) const {
  return (agent_types.empty() || contains(agent_types, agent.agent_type)) &&
         (binaries.empty() || contains(binaries, agent.binary));
}

std::vector<Observation> judgeNeutronAgents(std::span<const Node> nodes,
                                            const std::vector<neutron::Agent>& agents,
                                            const NeutronAgentFilter& filter,
                                            const std::string& source, TimePoint now) {
  // The control-plane check looks at every host with agents, watched by this inventory or not.
  std::map<std::string, bool> host_alive;  // agent host -> at least one counted agent alive
  for (const auto& agent : agents) {
    if (!filter.accepts(agent) || !agent.admin_state_up) continue;
    host_alive[agent.host] = host_alive[agent.host] || agent.alive;
  }
  const bool control_plane_down =
      host_alive.size() >= 2 &&
      std::none_of(host_alive.begin(), host_alive.end(), [](const auto& e) { return e.second; });

  std::vector<Observation> out;
  out.reserve(nodes.size());
  for (const Node& node : nodes) {
    std::vector<std::string> alive;
    std::vector<std::string> dead;
    std::vector<std::string> disabled;
    for (const auto& agent : agents) {
      if (!sameHost(agent.host, node.hostname) || !filter.accepts(agent)) continue;
      if (!agent.admin_state_up) {
        disabled.push_back(describe(agent));
      } else if (agent.alive) {
        alive.push_back(describe(agent));
      } else {
        dead.push_back(describe(agent) +
                       (agent.heartbeat_timestamp.empty()
                            ? std::string()
                            : " (last heartbeat " + agent.heartbeat_timestamp + ")"));
      }
    }
    Observation o{node.hostname, source, Health::kUnknown, now, ""};
    if (alive.empty() && dead.empty()) {
      o.detail = disabled.empty() ? "no Neutron agents for this host"
                                  : "every agent disabled by an operator: " + joined(disabled);
    } else if (!alive.empty()) {
      o.health = Health::kUp;
      if (!dead.empty()) o.detail = "alive: " + joined(alive) + "; dead: " + joined(dead);
    } else if (control_plane_down) {
      o.detail =
          "every host's agents are dead: Neutron's control plane or message bus, not the "
          "host (" +
          joined(dead) + ")";
    } else {
      o.health = Health::kDown;
      o.detail = "every agent dead: " + joined(dead);
    }
    out.push_back(std::move(o));
  }
  return out;
}

Status registerNeutronMonitor(Registry& registry) {
  return registry.monitors.add(DriverFactory<Monitor>{
      .name = "neutron",
      .aliases = {},
      .description = "Neutron agents of every type on each host (alive, admin_state_up)",
      .schema =
          {
              {.name = "agent-types",
               .type = OptionType::kList,
               .default_value = "",
               .help = "agent_type values to look at, e.g. 'Open vSwitch agent, OVN Controller "
                       "agent' (empty: every type)"},
              {.name = "binaries",
               .type = OptionType::kList,
               .default_value = "",
               .help = "agent binaries to look at, e.g. 'neutron-openvswitch-agent, "
                       "ovn-controller' (empty: every binary)"},
              {.name = "source",
               .type = OptionType::kString,
               .default_value = kNeutronDefaultSource,
               .help = "the source name of the observations"},
              {.name = "endpoint",
               .type = OptionType::kString,
               .default_value = "",
               .help = "Neutron's URL, instead of the catalog's 'network' endpoint"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        if (context.keystone == nullptr) {
          return fail(ErrorCode::kInvalidArgument,
                      "neutron monitor: needs the cloud credentials ([keystone_authtoken])");
        }
        const std::string source = options.getString("source");
        if (!validSource(source)) {
          return fail(ErrorCode::kInvalidArgument, "neutron monitor: bad source '" + source + "'");
        }
        neutron::NeutronOptions client_options;
        client_options.endpoint_override = options.getString("endpoint");
        return std::make_unique<NeutronMonitor>(
            context.clock,
            std::make_unique<neutron::NeutronClient>(*context.keystone, std::move(client_options)),
            NeutronAgentFilter{options.getList("agent-types"), options.getList("binaries")},
            source);
      },
  });
}

}  // namespace fdr::drivers
