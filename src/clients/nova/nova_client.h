// Nova (compute) API v2.1 for recovery: compute services, hypervisors, the servers of a host,
// evacuation and what followed it.
//
// Microversions: the first call reads the endpoint's version document and uses the highest
// version both sides know (at most kMaxKnown, at least 2.1). Features that differ by version
// degrade by version:
//   force-down      2.53+: PUT /os-services/{uuid} {"forced_down": ...};
//                   2.11-2.52: PUT /os-services/force-down {host, binary, forced_down};
//                   older: kNotSupported.
//   disable/enable  2.53+: PUT /os-services/{uuid} {"status", "disabled_reason"};
//                   older: PUT /os-services/disable-log-reason | enable {host, binary}.
//   hypervisors     2.53+: GET /os-hypervisors/detail?hypervisor_hostname_pattern=H;
//                   older: GET /os-hypervisors/H/search. Both match substrings: results are
//                   filtered to the exact host (compute1 never matches compute10).
//   evacuate        sent at min(negotiated, 2.94) so an ACTIVE server comes back ACTIVE (2.95
//                   leaves evacuated servers stopped). Body: onSharedStorage before 2.14;
//                   "force" only in 2.29-2.67 and only with a host; "host" optional.
//   servers         flavor as {id} before 2.47, embedded (original_name, vcpus...) from 2.47;
//                   from 2.69 a server in an unreachable cell comes back as status UNKNOWN
//                   with most fields missing: that is an error, never a silent omission.
// Every response is parsed defensively: a missing field or a wrong type is an error naming the
// field and the request.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "clients/http/http_client.h"
#include "clients/http/json_fields.h"
#include "clients/http/url.h"
#include "clients/keystone/keystone_client.h"
#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr::nova {

struct Microversion {
  int major = 2;
  int minor = 1;
  // "2.53" -> {2, 53}; anything else nullopt.
  static std::optional<Microversion> parse(std::string_view text);
  [[nodiscard]] std::string str() const;
  friend auto operator<=>(const Microversion&, const Microversion&) = default;
};

inline constexpr Microversion kMinVersion{2, 1};
inline constexpr Microversion kMaxKnown{2, 96};
inline constexpr Microversion kMaxEvacuate{2, 94};

struct ComputeService {
  std::string id;  // UUID from 2.53, an integer (as text) before
  std::string binary;
  std::string host;
  std::string zone;
  std::string status;  // enabled | disabled
  std::string state;   // up | down
  std::string disabled_reason;
  bool forced_down = false;  // always false before 2.11 (not reported)
  std::string updated_at;
};

struct Hypervisor {
  std::string id;
  std::string hostname;  // hypervisor_hostname
  std::string state;     // up | down
  std::string status;    // enabled | disabled
  std::string type;
  std::string service_id;
  std::string service_host;
  std::optional<int64_t> running_vms;  // not reported from 2.88
};

struct Flavor {
  std::string id;    // before 2.47
  std::string name;  // original_name, from 2.47
  std::optional<int64_t> vcpus;
  std::optional<int64_t> ram_mb;
  std::optional<int64_t> disk_gb;
  std::optional<int64_t> ephemeral_gb;
  std::optional<int64_t> swap_mb;
};

struct Server {
  std::string id;
  std::string name;
  std::string status;      // ACTIVE, SHUTOFF, ERROR, REBUILD, ...
  std::string task_state;  // empty when none
  std::string vm_state;
  int64_t power_state = 0;  // 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED
  std::string project_id;   // tenant_id
  std::string user_id;
  std::string host;  // OS-EXT-SRV-ATTR:host; empty if never scheduled
  std::string hypervisor_hostname;
  std::map<std::string, std::string> metadata;
  Flavor flavor;
  std::string image_id;  // empty when booted from volume
  bool boot_from_volume = false;
  std::vector<std::string> volumes;
  std::string fault;  // fault.message (ERROR servers), empty if none
  std::string created;
  std::string updated;

  [[nodiscard]] Instance toInstance() const;
};

struct Migration {
  std::string id;
  std::string uuid;  // from 2.59
  std::string instance_uuid;
  std::string source_compute;
  std::string dest_compute;
  std::string source_node;
  std::string dest_node;
  std::string status;          // accepted, pre-migrating, done, failed, error, ...
  std::string migration_type;  // evacuation, migration, live-migration, resize (from 2.23)
  std::string created_at;
  std::string updated_at;
};

struct InstanceAction {
  std::string action;  // "evacuate", "create", ...
  std::string request_id;
  std::string user_id;
  std::string project_id;
  std::string start_time;
  std::string message;
};

struct EvacuateOptions {
  std::optional<std::string> host;  // empty: the scheduler picks
  bool on_shared_storage = false;   // sent before 2.14 only
  bool force = false;               // sent with a host in 2.29-2.67 only: bypasses the scheduler
};

struct CreateServerRequest {
  std::string name;
  std::string image_id;
  std::string flavor_id;
  std::string network_id;         // empty: "networks": "none" (2.37+) or omitted
  std::string availability_zone;  // "zone:host" pins an admin's server to a host
  std::map<std::string, std::string> metadata;
};

struct NovaOptions {
  std::string endpoint_override;  // skip the catalog
  std::optional<keystone::Interface> interface;
  std::optional<std::string> region;
  Microversion max_version = kMaxKnown;  // never negotiate above this
  int page_size = 200;                   // servers per page
  int max_pages = 10'000;                // bound on pagination
};

class NovaClient {
 public:
  // `keystone` must outlive the client.
  explicit NovaClient(keystone::KeystoneClient& keystone, NovaOptions options = {});

  // The negotiated microversion (the version document is read once, then cached).
  [[nodiscard]] Result<Microversion> microversion();
  // The compute endpoint in use (after negotiation).
  [[nodiscard]] Result<std::string> endpoint();

  // nova-compute services whose host is exactly `host`.
  [[nodiscard]] Result<std::vector<ComputeService>> computeServices(const std::string& host);
  // Every nova-compute service of the cloud, in one call (for monitoring thousands of hosts).
  [[nodiscard]] Result<std::vector<ComputeService>> allComputeServices();
  // The one nova-compute service of `host`: kNotFound if none, kConflict if several.
  [[nodiscard]] Result<ComputeService> computeService(const std::string& host);
  [[nodiscard]] Status forceDown(const std::string& host);
  [[nodiscard]] Status unforceDown(const std::string& host);
  // Disables scheduling to `host`; `reason` is cut to Nova's 255 characters.
  [[nodiscard]] Status disable(const std::string& host, const std::string& reason);
  [[nodiscard]] Status enable(const std::string& host);

  // Hypervisors of exactly `host`: hypervisor_hostname equal to it or to its FQDN
  // ("host.domain"), or whose service host is it. None: an empty list.
  [[nodiscard]] Result<std::vector<Hypervisor>> hypervisors(const std::string& host);
  // Every hypervisor of the cloud (GET /os-hypervisors/detail, every page from 2.33).
  [[nodiscard]] Result<std::vector<Hypervisor>> allHypervisors();

  // Every server on `host`, across all projects, following pages (limit + marker).
  [[nodiscard]] Result<std::vector<Server>> serversOnHost(const std::string& host);
  // GET /servers/detail with `filters` (e.g. {"all_tenants", "1"}, {"name", "^vm-"}), every page.
  [[nodiscard]] Result<std::vector<Server>> servers(const http::QueryParams& filters);
  [[nodiscard]] Result<Server> server(const std::string& id);
  // Asks Nova to rebuild the server elsewhere. Success = accepted. Never repeated blindly.
  [[nodiscard]] Status evacuate(const std::string& server_id, const EvacuateOptions& options = {});
  // Migrations of type evacuation for the server, oldest first.
  [[nodiscard]] Result<std::vector<Migration>> evacuations(const std::string& server_id);
  [[nodiscard]] Result<std::vector<InstanceAction>> instanceActions(const std::string& server_id);

  // For labs and tests.
  [[nodiscard]] Result<std::string> createServer(const CreateServerRequest& request);
  // Deleting a server that is already gone succeeds.
  [[nodiscard]] Status deleteServer(const std::string& id);

 private:
  struct Negotiated {
    std::string base;  // endpoint for API calls
    Microversion version;
  };
  Result<Negotiated> negotiate();
  // Sends (method, path relative to the endpoint, body) at `version` (default: negotiated).
  Result<http::Response> call(http::Method method, const std::string& path,
                              const http::QueryParams& query, const std::string& body,
                              std::optional<Microversion> version = std::nullopt,
                              bool allow_404 = false);
  Result<http::Json> getJson(const std::string& path, const http::QueryParams& query,
                             std::string& what, bool allow_404 = false, bool* not_found = nullptr);
  // The nova-compute services os-services lists for `query`, read element by element (at
  // 10,000 hosts the document is 2.3 MB), those on `host` only when it is given.
  Result<std::vector<ComputeService>> listComputeServices(const http::QueryParams& query,
                                                          const std::string* host);
  Status updateService(const std::string& host, const http::Json& v253_body,
                       const std::string& legacy_action, http::Json legacy_body,
                       Microversion legacy_min);

  keystone::KeystoneClient& keystone_;
  NovaOptions options_;
  std::mutex mutex_;
  std::optional<Negotiated> negotiated_;
  // How many services the last full listing had: the next one is reserved at that size (a
  // vector of 10,000 grown by doubling peaks at 16,384 entries, 4.3 MB, plus the copy).
  std::atomic<size_t> last_listed_{0};
};

// Parsers, exposed for tests. `what` names the request, `path` the object's place.
[[nodiscard]] Result<Server> parseServer(const http::Json& json, const std::string& what,
                                         const std::string& path);
[[nodiscard]] Result<ComputeService> parseService(const http::Json& json, const std::string& what,
                                                  const std::string& path);

}  // namespace fdr::nova
