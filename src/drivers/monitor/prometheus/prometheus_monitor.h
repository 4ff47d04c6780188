// The Prometheus monitor: instant queries over Prometheus's HTTP API
// (GET <url>/api/v1/query?query=...), one source (`source`, default "prometheus").
//
//   query     (default `up{job="node"} == 0`) must return exactly the series of down targets:
//             every series it returns names a down node. A query that returns every target
//             (`up{job="node"}` without `== 0`) would report them all down: the storm guard
//             vetoes that, but write the filter.
//   up-query  (optional, e.g. `up{job="node"}`) names the targets Prometheus scrapes. A node not
//             in `query`'s result is up only if it is in up-query's result; without up-query,
//             or if it is not scraped, it is unknown: absence from a "down" query proves nothing.
//   label     (default "instance") the series label naming the node. Its value, without a
//             ":port" suffix (`strip-port`, default true; "[v6]:port" too), matches a node by
//             hostname, by FQDN ("compute1.example.org" is compute1), or by one of the node's
//             addresses (ip_addr and every inventory key ending in "-addr").
//
// Prometheus unreachable, an HTTP error, status "error", a resultType other than "vector" or
// malformed JSON: poll() fails with a message naming the source and the query.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "clients/http/json_fields.h"
#include "freezer/registry.h"

namespace fdr::drivers {

// The values of `label` in the series of an instant-query response body, checked as described
// above; `what` names the query in errors. Exposed for tests.
Result<std::vector<std::string>> parsePrometheusVector(std::string_view body,
                                                       const std::string& label,
                                                       const std::string& what);

// "10.0.0.5:9100" -> "10.0.0.5", "[fd00::5]:9100" -> "fd00::5", "fd00::5" unchanged.
std::string stripPort(const std::string& value);

// Whether a label value (port already stripped if wanted) names `node`.
bool labelNamesNode(const std::string& value, const Node& node);

Status registerPrometheusMonitor(Registry& registry);

}  // namespace fdr::drivers
