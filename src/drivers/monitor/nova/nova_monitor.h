// The Nova monitor (the original's StandardDriver): one GET /os-services?binary=nova-compute per
// poll for every node, and two sources from it:
//
//   nova/state      the service's state as Nova says it (up/down; forced_down = down). Nova
//                   decides "down" only after service_down_time (60 s) without a report.
//   nova/heartbeat  freezer-dr's own reading of the same reports: down when the service's
//                   updated_at has not advanced for more than `heartbeat-timeout` (default 25 s,
//                   ~2.5 report intervals), measured on freezer-dr's clock, so clock skew between
//                   the controller and Nova's database does not matter. Until updated_at has been
//                   watched for a full timeout without advancing, it is unknown, not down.
//
// A service disabled by an operator (disabled_reason not starting with "freezer-dr") is unknown
// on both sources ("disabled by an operator"): maintenance is never a failure. A host with no
// nova-compute service, or with several (one per cell), is unknown. When every watched heartbeat
// (two or more) stalls at once, it is Nova's control plane (database, conductor, message bus)
// that stopped, not the hosts: nova/heartbeat goes unknown for all. Nova unreachable: poll() fails.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "clients/nova/nova_client.h"
#include "freezer/registry.h"

namespace fdr::drivers {

inline constexpr const char* kNovaStateSource = "nova/state";
inline constexpr const char* kNovaHeartbeatSource = "nova/heartbeat";

// The judgement of a listing of compute services, with the heartbeat memory. Pure: the caller
// passes the time. Exposed for tests.
class NovaServiceJudge {
 public:
  explicit NovaServiceJudge(Duration heartbeat_timeout) : timeout_(heartbeat_timeout) {}

  // Two observations per node (state, heartbeat), all at `now`.
  std::vector<Observation> judge(std::span<const Node> nodes,
                                 const std::vector<nova::ComputeService>& services, TimePoint now);

 private:
  struct Beat {
    std::string service_id;
    std::string updated_at;
    TimePoint first_seen;
    TimePoint changed;      // when updated_at last changed (first_seen until it does)
    bool advanced = false;  // updated_at has changed at least once while watched
    uint64_t listed = 0;    // the judgement that last saw the host listed
  };
  Duration timeout_;
  std::unordered_map<std::string, Beat> beats_;  // by host
  uint64_t judgements_ = 0;
};

Status registerNovaMonitor(Registry& registry);

}  // namespace fdr::drivers
