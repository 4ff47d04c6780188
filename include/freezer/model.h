// Plain data shared by every stage: nodes, instances, observations. No behaviour, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "freezer/clock.h"

namespace fdr {

// A value that must never reach a log, a command line or an error message. Printing it shows
// "***"; the value itself is only read through reveal(), at the last moment before use.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  [[nodiscard]] const std::string& reveal() const { return value_; }
  [[nodiscard]] bool empty() const { return value_.empty(); }
  friend bool operator==(const Secret&, const Secret&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Secret&) { return out << "***"; }

 private:
  std::string value_;
};

// One compute node, as listed in the inventory (servers.yml).
struct Node {
  std::string id;
  std::string hostname;  // the Nova compute service host name; the node's identity
  std::string ip_addr;
  std::string fencer_ip;
  int fencer_port = 0;  // 0 = the driver's default
  std::string fencer_user;
  Secret fencer_password;
  std::string domain_name;  // libvirt domain, for virtual compute nodes
  // Any other keys of the inventory entry (driver-specific options such as agent parameters).
  std::map<std::string, std::string> extra;
  // Where the node was defined, for error messages: "servers.yml:12".
  std::string source;
};

enum class Health { kUp, kDown, kUnknown };
std::string_view toString(Health h);

// What one source says about one node at one time.
struct Observation {
  std::string node;    // hostname
  std::string source;  // e.g. "fake/a", "nova-service", "probe/mgmt"
  Health health = Health::kUnknown;
  TimePoint at;
  std::string detail;
  // The source knows an operator took the node out of service (e.g. a Nova compute service
  // disabled by hand): the engine never fences it automatically while any source says so.
  bool operator_maintenance = false;
  // The node answered but the service the source checks did not (a probe's refused or reset
  // connect): the node is up (health says so), its service is down. `status` names it.
  bool service_down = false;
};

enum class PowerState { kOn, kOff, kUnknown };
std::string_view toString(PowerState p);

// What an instance takes on a compute host, as Placement counts it: VCPU, MEMORY_MB, DISK_GB
// (root disk unless booted from a volume, plus ephemeral disk and swap, rounded up to GiB).
// A figure the cloud does not count (no inventory of that resource class on the host).
inline constexpr int64_t kUnbounded = int64_t{1} << 60;

struct Resources {
  int64_t vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;

  friend bool operator==(const Resources&, const Resources&) = default;
};

// An instance (server) as the evacuator sees it.
struct Instance {
  std::string id;
  std::string name;
  std::string project_id;
  std::string user_id;
  std::string host;        // the compute host it is on (OS-EXT-SRV-ATTR:host)
  std::string status;      // ACTIVE, SHUTOFF, ERROR, REBUILD, ...
  std::string task_state;  // empty when none
  std::map<std::string, std::string> metadata;
  bool boot_from_volume = false;
  std::string image_id;
  std::string fault = {};  // the cloud's last fault message for it (Nova's fault.message), if any
  // Its flavor's size; none when the cloud does not say (Nova before compute API 2.47).
  std::optional<Resources> size = {};

  friend bool operator==(const Instance&, const Instance&) = default;
};

}  // namespace fdr
