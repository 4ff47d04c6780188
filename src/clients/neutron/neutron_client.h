// Neutron (network) API v2.0, the part freezer-dr reads: the agents of every host.
//
// The endpoint comes from the Keystone catalog ("network"), or from `endpoint_override`; a
// catalog URL without a version ("http://ctl:9696", "http://ctl/networking") gets "/v2.0". Every
// response is parsed defensively: a missing field or a wrong type is an error naming the field
// and the request, never a crash.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clients/http/http_client.h"
#include "clients/http/json_fields.h"
#include "clients/keystone/keystone_client.h"
#include "freezer/result.h"

namespace fdr::neutron {

struct Agent {
  std::string id;
  std::string agent_type;  // "Open vSwitch agent", "OVN Controller agent", "Linux bridge agent"...
  std::string binary;      // "neutron-openvswitch-agent", "ovn-controller", ...
  std::string host;
  bool alive = false;  // Neutron's verdict: a heartbeat within agent_down_time
  bool admin_state_up = true;
  std::string heartbeat_timestamp;  // as Neutron writes it; empty if absent
};

struct NeutronOptions {
  std::string endpoint_override;  // skip the catalog
  std::optional<keystone::Interface> interface;
  std::optional<std::string> region;
};

class NeutronClient {
 public:
  // `keystone` must outlive the client. Thread-safe.
  explicit NeutronClient(keystone::KeystoneClient& keystone, NeutronOptions options = {});

  // The v2.0 API root in use ("http://ctl:9696/v2.0").
  [[nodiscard]] Result<std::string> endpoint();
  // GET /v2.0/agents: every agent of the cloud, in one call (needs the admin role).
  [[nodiscard]] Result<std::vector<Agent>> agents();

 private:
  keystone::KeystoneClient& keystone_;
  NeutronOptions options_;
};

// The v2.0 API root for a catalog URL: kept if it already ends in /v2.0, else "/v2.0" added.
[[nodiscard]] std::string apiRoot(std::string_view endpoint);

// Parser, exposed for tests. `what` names the request, `path` the object's place.
[[nodiscard]] Result<Agent> parseAgent(const http::Json& json, const std::string& what,
                                       const std::string& path);

}  // namespace fdr::neutron
