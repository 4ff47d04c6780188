// The freezer-dr configuration: the original freezer-dr INI layout ([DEFAULT], [monitoring],
// [fencer], [evacuation], [notifiers], [keystone_authtoken]) plus this project's extensions,
// and the servers.yml node inventory. Parsed once, at start-up, into these typed structs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "drivers/isolation/tcp/tcp_isolation_check.h"
#include "freezer/clock.h"
#include "freezer/diagnostics.h"
#include "freezer/model.h"
#include "freezer/options.h"

namespace fdr::config {

// A driver chosen in the config, with its raw options (checked against the driver's schema by
// the wiring, which knows the registry).
struct DriverChoice {
  std::string name;  // as written: a freezer-dr name ("fake") or a Python class path
  RawOptions options;
  std::string where;  // "file:line" of the driver key
};

struct KeystoneAuth {
  std::string auth_url;
  std::string auth_plugin;  // "password" (default) or "v3applicationcredential"
  std::string username;
  std::string user_id;
  Secret password;
  std::string project_name;
  std::string project_id;
  std::string domain_name;
  std::string project_domain_name;
  std::string project_domain_id;
  std::string user_domain_name;
  std::string user_domain_id;
  std::string application_credential_id;
  std::string application_credential_name;
  Secret application_credential_secret;
  std::string region_name;
  std::string interface;  // public | internal | admin
  std::string cafile;
  bool insecure = false;
  std::string where;  // "file:line" of the section, for errors
  [[nodiscard]] bool configured() const { return !auth_url.empty(); }
};

// [ha]: controller HA through etcd (docs/adr/0002-controller-ha.md). Without endpoints the
// daemon runs single-node (the SQLite journal and its lock).
struct HaConfig {
  std::vector<std::string> etcd_endpoints;  // http(s)://host:port of the etcd members
  std::string cluster = "default";          // keys under /freezer-dr/<cluster>/
  std::string name;                         // this controller; default: the host name
  Duration lease_ttl{std::chrono::seconds(10)};
  // A leader stops acting this long before its lease can expire, by its own clock; 0 = a
  // quarter of lease-ttl.
  Duration safety_margin{0};
  // How often a standby looks whether the leader key is free.
  Duration campaign_interval{std::chrono::milliseconds(500)};
  Duration request_timeout{std::chrono::seconds(2)};  // one etcd request
  std::string ca_file;                                // empty: the system's CAs
  std::string cert_file;                              // client certificate (PEM), optional
  std::string key_file;                               // its key (PEM), optional
  bool insecure = false;                              // skip TLS verification (warned)
  std::string where;                                  // "file:line" of the section
  [[nodiscard]] bool enabled() const { return !etcd_endpoints.empty(); }
  [[nodiscard]] std::string prefix() const { return "/freezer-dr/" + cluster + "/"; }
  [[nodiscard]] Duration margin() const {
    return safety_margin > Duration::zero() ? safety_margin : lease_ttl / 4;
  }
};

struct Config {
  std::string path;  // the config file read

  // [DEFAULT]
  Duration grace{std::chrono::seconds(3)};  // `wait`: a node must stay down this long
  Duration poll_interval{std::chrono::seconds(1)};
  // [monitoring] poll-timeout: a monitor's poll that has not answered by then counts as failed
  // (its sources unknown for that cycle); 0 = the poll interval. Never above the interval.
  Duration poll_timeout{0};
  std::string journal_path = "/var/lib/freezer-dr/journal.db";
  std::string log_level = "info";  // `log-level`, or oslo.log's `debug = true` -> "debug"
  std::string log_file;            // oslo.log `log_file` (under `log_dir`); empty = stderr
  int storm_max_nodes = 2;         // more nodes failed at once than this: alert, fence nothing
  int storm_max_percent = 50;      // or more than this percentage of the inventory
  Duration storm_window{std::chrono::minutes(10)};  // failures count this long after them
  std::vector<std::string> maintenance;             // nodes never fenced
  int max_fences_per_tick = 1;  // new automatic fences per tick; the others wait for the next

  // [monitoring]
  std::vector<DriverChoice> monitors;
  int min_sources = 2;  // a node fails when at least this many sources agree it is down
  // Isolation check before any automatic fence: TCP reference points (gateways...), plus the
  // Nova monitor's last poll when `nova-reference` is on and a nova monitor is configured.
  std::vector<drivers::TcpReferencePoint> reference_points;
  int reference_points_required = 0;            // 0 = a majority of the reference points
  std::string reference_points_required_where;  // "file:line" when set, for the wiring's check
  Duration reference_timeout{std::chrono::seconds(1)};
  bool nova_reference = true;
  // Flapping: more than this many down → up changes within flap-window: not fenced meanwhile.
  int flap_max_recoveries = 3;
  Duration flap_window{std::chrono::minutes(10)};

  // [fencer]
  std::vector<DriverChoice> fencers;  // ordered fallback levels for every node
  std::string credentials_file;       // servers.yml
  int fence_retries = 1;              // power-off attempts per level
  Duration fence_attempt_timeout{std::chrono::seconds(10)};
  Duration fence_deadline{std::chrono::seconds(60)};
  // `unfence HOST`: power-on to compute service back up and enabled, at most this long
  Duration unfence_deadline{std::chrono::minutes(10)};
  // Fencing readiness: each node's first level asked for the power state this often (0: never)
  Duration fence_check_interval{std::chrono::minutes(10)};
  int fence_check_concurrency = 4;  // readiness checks in flight at once

  // [evacuation]
  DriverChoice evacuator;
  int evacuation_retries = 1;  // extra evacuate requests per instance after a failure
  bool shared_storage = false;
  // Reserved (spare) hosts, in order, kept disabled by the operators: evacuations target them
  // (enabled first) until every one is full; then the scheduler if reserved_hosts_fallback.
  // Empty: the scheduler places every instance.
  std::vector<std::string> reserved_hosts;
  bool reserved_hosts_fallback = true;
  // Evacuation requests in flight (not answered yet) across all incidents; rebuilds at once on a
  // reserved host (docs/evacuation.md).
  int evacuation_concurrency = 32;
  int max_rebuilds_per_host = 32;
  Duration instance_timeout{std::chrono::seconds(300)};
  std::string priority_key = "HA_Priority";  // instance metadata key: higher first
  bool evacuate_all = true;                  // false: only instances opted in by ha_enabled_key
  // Before evacuating, what the other hosts have free against the instances' sizes; those that
  // fit nowhere are left out and the admins told (docs/evacuation.md, Capacity).
  bool capacity_check = true;
  Duration capacity_check_timeout{std::chrono::seconds(5)};
  std::string ha_enabled_key = "HA_Enabled";

  // [notifiers]
  std::vector<DriverChoice> notifiers;
  std::vector<std::string> notify_list;  // admin addresses
  std::string notify_from;

  // [keystone_authtoken]
  KeystoneAuth keystone;

  // [ha]
  HaConfig ha;

  // servers.yml
  std::vector<Node> nodes;
};

// Whether load() reads the inventory too: `status` needs only the journal, and a 10,000-node
// inventory is most of the cost of reading a config.
enum class Inventory { kRead, kSkip };

// Reads `path` (and, unless kSkip, the inventory it names: nodes then stays empty). Every
// problem found goes to `diag`, each naming file, line and key; returns nullopt when any error
// was found.
std::optional<Config> load(const std::string& path, Diagnostics& diag,
                           Inventory inventory = Inventory::kRead);

// Reads a servers.yml inventory. Duplicate ids or hostnames, missing hostnames, bad types and
// YAML syntax errors are reported with file and line.
std::optional<std::vector<Node>> loadInventory(const std::string& path, Diagnostics& diag);

// The usual places when no --config-file is given, in order.
std::vector<std::string> defaultConfigPaths();

}  // namespace fdr::config
