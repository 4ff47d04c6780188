// The fence-agent bridge: runs any installed ClusterLabs fence agent (fence_ipmilan,
// fence_redfish, fence_virsh, ... from the fence-agents package) through its standard stdin
// protocol, one `key=value` per line, and reads its exit code:
//   status: 0 = on, 2 = off, 1 = failure;  on, off, monitor: 0 = done, 1 = failure.
// The agent does its own waiting (off returns once the agent saw the node off).
//
// What the agent is told, later lines overriding earlier ones:
//   1. the driver option agent-options ("lanplus=1, cipher=3"),
//   2. the node's inventory fields: ip (fencer-ip), ipport (fencer-port, when set),
//      username (fencer-user), password (fencer-password), plug (domain-name, when set),
//   3. every other key of the node's inventory entry, except other drivers' per-node keys
//      (ipmi-*, redfish-*, libvirt-*),
//   4. action.
// Secrets travel on stdin only: never argv, never the environment, never a message (agent
// output quoted in errors has them masked).
//
// Each call is bounded by `timeout`: then the agent's whole process group is SIGKILLed.
// Thread-safe: no state is shared between calls.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "freezer/registry.h"

namespace fdr::drivers {

class FenceAgentFencer final : public Fencer {
 public:
  struct Config {
    std::string agent_path;  // absolute
    Duration timeout{0};
    std::vector<std::pair<std::string, std::string>> agent_options;
  };

  explicit FenceAgentFencer(Config config) : config_(std::move(config)) {}

  // Fencer
  Status powerOff(const Node& node) override;
  Status powerOn(const Node& node) override;
  Result<PowerState> powerStatus(const Node& node) override;

  // The agent's `monitor` action: is the fence device there and answering?
  Status monitor(const Node& node);

 private:
  struct Reply;
  Result<Reply> run(const Node& node, const std::string& action);

  Config config_;
};

Status registerFenceAgentFencer(Registry& registry);

}  // namespace fdr::drivers
