#include "clients/fake_placement_fixture.h"

#include <sstream>

namespace fdr::testing {

using nlohmann::json;

namespace {

// "placement 1.27" → 27 (minor of 1.x), or -1.
int minorOf(const std::string& header) {
  const std::string prefix = "placement 1.";
  if (header.rfind(prefix, 0) != 0) return -1;
  try {
    return std::stoi(header.substr(prefix.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

FakePlacement::FakePlacement(FakeOpenStack& os) {
  os.server.on("GET", "/placement/", [this](const FakeRequest&) {
    std::lock_guard lock(mutex_);
    return FakeReply::json(200, {{"versions",
                                  {{{"id", "v1.0"},
                                    {"max_version", max_version},
                                    {"min_version", "1.0"},
                                    {"status", "CURRENT"}}}}});
  });
  os.server.on("GET", "/placement/resource_providers", [this](const FakeRequest&) {
    std::lock_guard lock(mutex_);
    json list = json::array();
    for (const auto& [uuid, p] : providers_) {
      list.push_back({{"uuid", uuid}, {"name", p.name}, {"generation", 1}});
    }
    return FakeReply::json(200, {{"resource_providers", list}});
  });
  os.server.on("GET", "/placement/allocation_candidates",
               [this](const FakeRequest& r) { return candidates(r); });
}

void FakePlacement::addProvider(const std::string& uuid, const std::string& name,
                                std::map<std::string, FakeInventory> inventories,
                                std::map<std::string, int64_t> used) {
  std::lock_guard lock(mutex_);
  providers_[uuid] = Provider{name, std::move(inventories), std::move(used)};
}

FakeReply FakePlacement::candidates(const FakeRequest& r) {
  std::lock_guard lock(mutex_);
  candidate_reads += 1;
  last_version_header = r.header("openstack-api-version");
  const int minor = minorOf(last_version_header);
  if (minor < 10) {
    return FakeReply::json(404, {{"errors", {{{"status", 404}, {"title", "Not Found"}}}}});
  }
  std::map<std::string, int64_t> wanted;
  std::stringstream list(r.param("resources"));
  for (std::string item; std::getline(list, item, ',');) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos) {
      return FakeReply::json(400, {{"errors", {{{"status", 400}, {"detail", "bad resources"}}}}});
    }
    wanted[item.substr(0, colon)] = std::stoll(item.substr(colon + 1));
  }
  json summaries = json::object();
  for (const auto& [uuid, p] : providers_) {
    bool fits = true;
    json resources = json::object();
    for (const auto& [rc, inv] : p.inventories) {
      const auto capacity = static_cast<int64_t>(static_cast<double>(inv.total - inv.reserved) *
                                                 inv.allocation_ratio);
      const int64_t used = p.used.contains(rc) ? p.used.at(rc) : 0;
      if (auto w = wanted.find(rc); w != wanted.end() && capacity - used < w->second) fits = false;
      if (minor >= 27 || wanted.contains(rc)) {
        resources[rc] = {{"capacity", capacity}, {"used", used}};
      }
    }
    for (const auto& [rc, amount] : wanted) {
      if (!p.inventories.contains(rc)) fits = false;
    }
    if (fits) summaries[uuid] = {{"resources", resources}, {"traits", json::array()}};
  }
  return FakeReply::json(
      200, {{"allocation_requests", json::array()}, {"provider_summaries", summaries}});
}

}  // namespace fdr::testing
