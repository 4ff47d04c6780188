// A fake Placement API on a FakeOpenStack (at /placement, named in its catalog), faithful to what
// the capacity check reads: the root version document, GET /resource_providers and
// GET /allocation_candidates?resources=RC:N,... whose provider summaries give, from 1.27, every
// resource class of each provider that can hold the request: capacity = (total - reserved) x
// allocation_ratio, used = the sum of the allocations. A request without
// "OpenStack-API-Version: placement 1.10" or later is a 404 there, as in Placement 1.0.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "clients/openstack_fake_fixture.h"

namespace fdr::testing {

struct FakeInventory {
  int64_t total = 0;
  int64_t reserved = 0;
  double allocation_ratio = 1.0;
};

class FakePlacement {
 public:
  explicit FakePlacement(FakeOpenStack& os);

  // A provider named `name` (a compute node's hypervisor_hostname) with its inventories and
  // what is used of each.
  void addProvider(const std::string& uuid, const std::string& name,
                   std::map<std::string, FakeInventory> inventories,
                   std::map<std::string, int64_t> used = {});

  std::string max_version = "1.39";
  int candidate_reads = 0;
  std::string last_version_header;

 private:
  struct Provider {
    std::string name;
    std::map<std::string, FakeInventory> inventories;
    std::map<std::string, int64_t> used;
  };
  FakeReply candidates(const FakeRequest& r);

  std::mutex mutex_;
  std::map<std::string, Provider> providers_;  // by uuid
};

}  // namespace fdr::testing
