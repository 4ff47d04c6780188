// The Neutron monitor: the agents Neutron lists for each host, of any type (Open vSwitch, OVN
// controller, Linux bridge, SR-IOV, metadata, DHCP, L3...), from one GET /v2.0/agents per poll
// (the "network" endpoint of the Keystone catalog, admin token). The original freezer-dr looked
// at neutron-openvswitch-agent only, so it never saw a failure on an OVN or Linux-bridge host.
//
// One source, `source` (default "neutron-agents"). Per node, among its agents that pass the
// filters (`agent-types`, `binaries`; empty = all) and are administratively up:
//   none                     unknown ("no agents", or "every agent disabled by an operator":
//                            admin_state_up=false means an operator took the agent out)
//   all dead (alive=false)   down
//   at least one alive       up (dead ones named in the detail: a broken agent is a networking
//                            problem, not a dead host)
// Agent host names match the node's hostname exactly or as its FQDN ("compute1.example.org").
//
// Neutron decides alive from the agents' heartbeats over the message bus. When every host that
// has agents (two or more, inventory or not: network nodes count) is dead at once, it is
// Neutron's control plane or the bus that stopped, not the hosts: all are unknown. Neutron
// unreachable or an unreadable answer: poll() fails (every node unknown for that poll).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "clients/neutron/neutron_client.h"
#include "freezer/registry.h"

namespace fdr::drivers {

inline constexpr const char* kNeutronDefaultSource = "neutron-agents";

struct NeutronAgentFilter {
  std::vector<std::string> agent_types;  // empty: any
  std::vector<std::string> binaries;     // empty: any
  [[nodiscard]] bool accepts(const neutron::Agent& agent) const;
};

// The verdict on a listing of agents: one observation per node, at `now`. Pure; exposed for tests.
std::vector<Observation> judgeNeutronAgents(std::span<const Node> nodes,
                                            const std::vector<neutron::Agent>& agents,
                                            const NeutronAgentFilter& filter,
                                            const std::string& source, TimePoint now);

Status registerNeutronMonitor(Registry& registry);

}  // namespace fdr::drivers
