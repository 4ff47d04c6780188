#include "core/capacity_plan.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

namespace fdr::core {

namespace {

constexpr size_t kNamedAtMost = 20;  // instances and hosts named in the summary

bool fits(const Resources& need, const Resources& free) {
  return need.vcpus <= free.vcpus && need.memory_mb <= free.memory_mb &&
         need.disk_gb <= free.disk_gb;
}

// Sums stay at kUnbounded once they reach it (figures are at most kUnbounded: no overflow).
Resources& operator+=(Resources& a, const Resources& b) {
  a.vcpus = std::min(kUnbounded, a.vcpus + b.vcpus);
  a.memory_mb = std::min(kUnbounded, a.memory_mb + b.memory_mb);
  a.disk_gb = std::min(kUnbounded, a.disk_gb + b.disk_gb);
  return a;
}

Resources& operator-=(Resources& a, const Resources& b) {
  a.vcpus -= b.vcpus;
  a.memory_mb -= b.memory_mb;
  a.disk_gb -= b.disk_gb;
  return a;
}

// The most free on any one host, per resource: what the largest instance could hope for.
Resources largestFree(const std::vector<HostRoom>& hosts) {
  Resources most;
  for (const HostRoom& h : hosts) {
    most.vcpus = std::max(most.vcpus, h.free.vcpus);
    most.memory_mb = std::max(most.memory_mb, h.free.memory_mb);
    most.disk_gb = std::max(most.disk_gb, h.free.disk_gb);
  }
  return most;
}

}  // namespace

std::string describe(const Resources& r) {
  auto figure = [](int64_t v, const char* unit) {
    return v >= kUnbounded ? fmt::format("{} not counted", unit) : fmt::format("{} {}", v, unit);
  };
  return fmt::format("{}, {}, {}", figure(r.vcpus, "vCPU"), figure(r.memory_mb, "MB RAM"),
                     figure(r.disk_gb, "GB disk"));
}

std::vector<HostRoom> capacityCandidates(const std::vector<HostRoom>& room,
                                         const std::vector<std::string>& reserved, bool fallback) {
  std::vector<HostRoom> out;
  for (const HostRoom& h : room) {
    const bool is_reserved = std::find(reserved.begin(), reserved.end(), h.host) != reserved.end();
    if (is_reserved || ((reserved.empty() || fallback) && h.enabled)) out.push_back(h);
  }
  return out;
}

CapacityPlan planCapacity(const std::vector<InstanceRecord>& records,
                          const std::map<std::string, Resources>& sizes,
                          std::vector<HostRoom> candidates, const std::string& failed_host) {
  CapacityPlan plan;
  plan.hosts = candidates.size();
  for (HostRoom& h : candidates) {
    // A negative figure (usage above capacity, e.g. after an allocation ratio was lowered)
    // means nothing is free.
    h.free.vcpus = std::clamp<int64_t>(h.free.vcpus, 0, kUnbounded);
    h.free.memory_mb = std::clamp<int64_t>(h.free.memory_mb, 0, kUnbounded);
    h.free.disk_gb = std::clamp<int64_t>(h.free.disk_gb, 0, kUnbounded);
    plan.free += h.free;
  }
  const std::vector<HostRoom> before = candidates;
  for (size_t i = 0; i < records.size(); ++i) {
    const InstanceRecord& r = records[i];
    if (r.phase != InstancePhase::kPending) continue;
    const auto size = sizes.find(r.id);
    if (size == sizes.end()) {
      plan.unsized.push_back(i);
      continue;
    }
    ++plan.checked;
    plan.needed += size->second;
    HostRoom* best = nullptr;
    for (HostRoom& h : candidates) {
      if (!fits(size->second, h.free)) continue;
      if (best == nullptr ||
          std::tie(h.free.memory_mb, h.free.vcpus, h.free.disk_gb, h.host) <
              std::tie(best->free.memory_mb, best->free.vcpus, best->free.disk_gb, best->host)) {
        best = &h;
      }
    }
    if (best == nullptr) {
      plan.no_capacity.push_back(i);
    } else {
      best->free -= size->second;
    }
  }
  if (plan.no_capacity.empty()) return plan;

  std::string hosts;
  for (size_t h = 0; h < before.size() && h < kNamedAtMost; ++h) {
    hosts += fmt::format("{}{}: {}", h == 0 ? "" : "; ", before[h].host, describe(before[h].free));
  }
  if (before.size() > kNamedAtMost) {
    hosts += fmt::format("; and {} more", before.size() - kNamedAtMost);
  }
  std::string left_out;
  for (size_t k = 0; k < plan.no_capacity.size() && k < kNamedAtMost; ++k) {
    const InstanceRecord& r = records[plan.no_capacity[k]];
    left_out +=
        fmt::format("{}{} ({}, priority {}, {})", k == 0 ? "" : "; ",
                    r.name.empty() ? r.id : r.name, r.id, r.priority, describe(sizes.at(r.id)));
  }
  if (plan.no_capacity.size() > kNamedAtMost) {
    left_out += fmt::format("; and {} more", plan.no_capacity.size() - kNamedAtMost);
  }
  plan.summary = fmt::format(
      "capacity: the {} instance(s) of {} need {} in all; {} candidate host(s) have {} free in "
      "all, the most on one host {}{}; {} of them fit, {} do not and are not evacuated "
      "(no-capacity): {}",
      plan.checked, failed_host, describe(plan.needed), plan.hosts, describe(plan.free),
      describe(largestFree(before)), hosts.empty() ? "" : " (" + hosts + ")",
      plan.checked - plan.no_capacity.size(), plan.no_capacity.size(), left_out);
  return plan;
}

}  // namespace fdr::core
