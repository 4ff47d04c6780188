#include "clients/placement/placement_client.h"

#include <utility>

#include "clients/http/json_fields.h"
#include "clients/http/url.h"

namespace fdr::placement {

using http::FieldReader;
using http::Json;

namespace {

// "1.39" → {1, 39}.
std::optional<std::pair<int, int>> parseVersion(const std::string& text) {
  const size_t dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == text.size()) return std::nullopt;
  std::pair<int, int> v{0, 0};
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == dot) continue;
    if (text[i] < '0' || text[i] > '9' || (i < dot ? v.first : v.second) > 100'000) {
      return std::nullopt;
    }
    int& part = i < dot ? v.first : v.second;
    part = part * 10 + (text[i] - '0');
  }
  return v;
}

}  // namespace

PlacementClient::PlacementClient(keystone::KeystoneClient& keystone, PlacementOptions options)
    : keystone_(keystone), options_(std::move(options)) {}

Result<std::string> PlacementClient::base() {
  std::lock_guard lock(mutex_);
  if (base_) return *base_;
  std::string endpoint = options_.endpoint_override;
  if (endpoint.empty()) {
    auto found = keystone_.endpoint("placement", options_.interface, options_.region);
    if (!found) return withContext(found.error(), "placement");
    endpoint = *found;
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  http::Request request;
  request.url = endpoint + "/";
  request.label = "placement GET / (version document)";
  auto response = keystone_.call(request);
  if (!response) return std::unexpected(response.error());
  auto doc = http::parseJson(response->body, request.label);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, request.label);
  const Json* versions = root.array("versions");
  if (!root.ok()) return std::unexpected(root.error());
  if (versions->empty()) {
    return fail(ErrorCode::kCorruption, request.label + ": versions is empty");
  }
  FieldReader v(versions->at(0), request.label, "versions[0]");
  const std::string max = v.string("max_version");
  if (!v.ok()) return std::unexpected(v.error());
  const auto parsed = parseVersion(max);
  if (!parsed) {
    return fail(ErrorCode::kCorruption,
                request.label + ": versions[0].max_version '" + max + "' is not a version");
  }
  if (*parsed < *parseVersion(kVersion)) {
    return fail(ErrorCode::kNotSupported, "placement: the API goes up to " + max +
                                              ", the capacity check needs " + kVersion +
                                              " (OpenStack Rocky or later)");
  }
  base_ = endpoint;
  return *base_;
}

Result<Json> PlacementClient::getJson(const std::string& path, const http::QueryParams& query,
                                      std::string& what) {
  auto endpoint = base();
  if (!endpoint) return std::unexpected(endpoint.error());
  http::Request request;
  request.url = http::withQuery(http::joinUrl(*endpoint, path), query);
  request.label = "placement GET " + http::withQuery("/" + path, query) + " @" + kVersion;
  request.headers.push_back({"OpenStack-API-Version", std::string("placement ") + kVersion});
  what = request.label;
  auto response = keystone_.call(request);
  if (!response) return std::unexpected(response.error());
  return http::parseJson(response->body, what);
}

Result<std::vector<ProviderSummary>> PlacementClient::candidates() {
  std::string what;
  auto doc = getJson("allocation_candidates", {{"resources", "VCPU:1,MEMORY_MB:1"}}, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const Json* summaries = root.object("provider_summaries");
  if (!root.ok()) return std::unexpected(root.error());
  std::vector<ProviderSummary> out;
  for (const auto& [uuid, summary] : summaries->items()) {
    FieldReader s(summary, what, "provider_summaries." + uuid);
    const Json* resources = s.object("resources");
    if (!s.ok()) return std::unexpected(s.error());
    ProviderSummary p;
    p.uuid = uuid;
    for (const auto& [rc, use] : resources->items()) {
      FieldReader u(use, what, "provider_summaries." + uuid + ".resources." + rc);
      p.resources[rc] = ResourceUse{.capacity = u.integer("capacity"), .used = u.integer("used")};
      if (!u.ok()) return std::unexpected(u.error());
    }
    out.push_back(std::move(p));
  }
  if (out.empty()) return out;

  auto names = getJson("resource_providers", {}, what);
  if (!names) return std::unexpected(names.error());
  FieldReader list_root(*names, what);
  const Json* providers = list_root.array("resource_providers");
  if (!list_root.ok()) return std::unexpected(list_root.error());
  std::map<std::string, std::string> name_of;
  for (size_t i = 0; i < providers->size(); ++i) {
    FieldReader p(providers->at(i), what, "resource_providers[" + std::to_string(i) + "]");
    std::string uuid = p.string("uuid");
    std::string name = p.string("name");
    if (!p.ok()) return std::unexpected(p.error());
    name_of[std::move(uuid)] = std::move(name);
  }
  for (ProviderSummary& p : out) {
    auto it = name_of.find(p.uuid);
    if (it == name_of.end()) {
      return fail(ErrorCode::kCorruption,
                  what + ": provider " + p.uuid +
                      " of the allocation candidates is not among the resource providers");
    }
    p.name = it->second;
  }
  return out;
}

}  // namespace fdr::placement
