// Placement API (resource providers) for the capacity check before an evacuation: what each
// compute node can still take.
//
// Microversion: the root document's max_version is read once; requests are sent at 1.27 (from
// OpenStack Rocky), where allocation candidates' provider summaries give every resource class of
// each provider, not only those asked for. An older Placement is kNotSupported.
//
//   candidates()  GET /allocation_candidates?resources=VCPU:1,MEMORY_MB:1: every provider with at
//                 least that free; each summary's capacity is (total - reserved) x
//                 allocation_ratio and `used` the sum of the allocations against it. Then
//                 GET /resource_providers for the providers' names (a compute node's provider is
//                 named after its hypervisor_hostname).
// Every response is parsed defensively: a missing field or a wrong type is an error naming the
// field and the request.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clients/http/http_client.h"
#include "clients/http/json_fields.h"
#include "clients/http/url.h"
#include "clients/keystone/keystone_client.h"
#include "freezer/result.h"

namespace fdr::placement {

struct ResourceUse {
  int64_t capacity = 0;  // (total - reserved) x allocation_ratio
  int64_t used = 0;
  friend bool operator==(const ResourceUse&, const ResourceUse&) = default;
};

struct ProviderSummary {
  std::string uuid;
  std::string name;
  std::map<std::string, ResourceUse> resources;  // by resource class: VCPU, MEMORY_MB, ...
};

struct PlacementOptions {
  std::string endpoint_override;  // skip the catalog
  std::optional<keystone::Interface> interface;
  std::optional<std::string> region;
};

inline constexpr const char* kVersion = "1.27";

class PlacementClient {
 public:
  // `keystone` must outlive the client.
  explicit PlacementClient(keystone::KeystoneClient& keystone, PlacementOptions options = {});

  // Every provider with at least one VCPU and one MB of memory free, with its capacity and use
  // of every resource class.
  [[nodiscard]] Result<std::vector<ProviderSummary>> candidates();

 private:
  Result<std::string> base();  // the endpoint, checked against the version once
  Result<http::Json> getJson(const std::string& path, const http::QueryParams& query,
                             std::string& what);

  keystone::KeystoneClient& keystone_;
  PlacementOptions options_;
  std::mutex mutex_;
  std::optional<std::string> base_;
};

}  // namespace fdr::placement
