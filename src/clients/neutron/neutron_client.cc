#include "clients/neutron/neutron_client.h"

#include "clients/http/url.h"

namespace fdr::neutron {

using http::FieldReader;
using http::Json;

std::string apiRoot(std::string_view endpoint) {
  std::string root(endpoint);
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (root.ends_with("/v2.0")) return root;
  return http::joinUrl(root, "v2.0");
}

Result<Agent> parseAgent(const Json& json, const std::string& what, const std::string& path) {
  FieldReader r(json, what, path);
  Agent a;
  a.id = r.idString("id");
  a.agent_type = r.string("agent_type");
  a.binary = r.optString("binary").value_or("");
  a.host = r.string("host");
  a.alive = r.boolean("alive");
  a.admin_state_up = r.boolean("admin_state_up");
  a.heartbeat_timestamp = r.optString("heartbeat_timestamp").value_or("");
  if (!r.ok()) return std::unexpected(r.error());
  return a;
}

NeutronClient::NeutronClient(keystone::KeystoneClient& keystone, NeutronOptions options)
    : keystone_(keystone), options_(std::move(options)) {}

Result<std::string> NeutronClient::endpoint() {
  if (!options_.endpoint_override.empty()) return apiRoot(options_.endpoint_override);
  auto found = keystone_.endpoint("network", options_.interface, options_.region);
  if (!found) return withContext(found.error(), "neutron");
  return apiRoot(*found);
}

Result<std::vector<Agent>> NeutronClient::agents() {
  auto root = endpoint();
  if (!root) return std::unexpected(root.error());
  http::Request request;
  request.url = http::joinUrl(*root, "agents");
  request.label = "neutron GET /v2.0/agents";
  auto response = keystone_.call(request);
  if (!response) return std::unexpected(response.error());
  auto doc = http::parseJson(response->body, request.label);
  if (!doc) return std::unexpected(doc.error());
  FieldReader r(*doc, request.label);
  const Json* list = r.array("agents");
  if (!r.ok()) return std::unexpected(r.error());
  std::vector<Agent> out;
  out.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    auto agent = parseAgent(list->at(i), request.label, "agents[" + std::to_string(i) + "]");
    if (!agent) return std::unexpected(agent.error());
    out.push_back(std::move(*agent));
  }
  return out;
}

}  // namespace fdr::neutron
