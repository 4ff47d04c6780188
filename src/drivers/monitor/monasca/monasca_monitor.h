// The Monasca monitor (the original's MonascaDriver): the alarms Monasca holds on one metric
// (default host_alive_status, the monasca-agent's ping/SSH check of each host from another one),
// read with GET /v2.0/alarms?metric_name=<metric>[&metric_dimensions=<k:v,...>] through the
// Keystone session (endpoint: `url`, else the catalog's "monitoring"), following "next" links.
//
// One source (`source`, default "monasca"). An alarm belongs to the node its metrics' `dimension`
// (default "hostname") names, exactly or as its FQDN. Per node:
//   no alarm                      unknown
//   every alarm OK                up
//   every alarm ALARM             down
//   ALARM and OK mixed            unknown (the observers disagree: the network between them,
//                                 not the host, is in doubt)
//   only UNDETERMINED (no data)   unknown; UNDETERMINED never counts as ALARM (the original
//                                 could map it to ALARM: not here)
// Monasca unreachable, an HTTP error or an unreadable answer: poll() fails, naming the source.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "clients/http/json_fields.h"
#include "freezer/registry.h"

namespace fdr::drivers {

struct MonascaAlarm {
  std::string id;
  std::string state;               // OK, ALARM, UNDETERMINED
  std::vector<std::string> hosts;  // values of the dimension in the alarm's metrics
};

// The alarms of one page (a bare array, or {"elements": [...], "links": [...]}) and the "next"
// link if any. Exposed for tests.
struct MonascaPage {
  std::vector<MonascaAlarm> alarms;
  std::string next;
};
Result<MonascaPage> parseMonascaAlarms(const http::Json& doc, const std::string& metric,
                                       const std::string& dimension, const std::string& what);

std::vector<Observation> judgeMonascaAlarms(std::span<const Node> nodes,
                                            const std::vector<MonascaAlarm>& alarms,
                                            const std::string& metric, const std::string& source,
                                            TimePoint now);

Status registerMonascaMonitor(Registry& registry);

}  // namespace fdr::drivers
