// Evacuation: force the fenced node's compute service down, list its instances, then evacuate
// them, highest priority first across incidents, and follow each until it runs elsewhere. The
// bounds (docs/evacuation.md): evacuation requests in flight (evacuation_concurrency), rebuilds at
// once on a reserved host (max_rebuilds_per_host); an accepted evacuation rebuilds on its own and
// never holds the next request back. Reserved hosts are checked and enabled on the way
// (chooseTarget). Every cloud call runs on the cloud lane with a deadline.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/capacity_plan.h"
#include "core/engine.h"
#include "core/engine_internal.h"
#include "core/incident_machine.h"
#include "core/kill_point.h"
#include "freezer/options.h"

namespace fdr::core {

using namespace engine_internal;

namespace {

// How long a temporary error reading or enabling a reserved host is retried before the host is
// unusable for the incident (docs/evacuation.md).
constexpr Duration kReservedHostRetryFor = std::chrono::seconds(30);
constexpr const char* kReservedHostRetriedNote = " (temporary errors retried for 30 s)";

// Instance states Nova cannot evacuate from: reported, never silently dropped.
bool cannotEvacuate(const std::string& status) {
  return status == "SHELVED" || status == "SHELVED_OFFLOADED" || status == "DELETED" ||
         status == "SOFT_DELETED";
}

bool isRunningOrSettled(const Instance& vm, const std::string& failed_host) {
  return !vm.host.empty() && vm.host != failed_host;
}

// What an evacuation does to the instance's disk, for the incident, `status` and its users.
// Before compute API 2.14 the evacuator tells Nova `shared_storage`; from 2.14 Nova finds out
// itself, so without the operator's word the note says both cases.
std::string diskNote(const Instance& vm, bool shared_storage) {
  if (vm.boot_from_volume) return "boots from a volume: its disk is kept";
  if (shared_storage) return "image-backed, on shared instance storage: its disk is kept";
  return fmt::format(
      "image-backed: its local disk is rebuilt from {}, so what was written to it is lost "
      "(unless the compute hosts share instance storage)",
      vm.image_id.empty() ? std::string("its image") : "image " + vm.image_id);
}

// Nova's capacity refusal (NoValidHost), in an API error or an instance fault.
bool noValidHost(const std::string& message) {
  std::string lower = message;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("no valid host") != std::string::npos;
}

std::string evacuateKey(const Incident& incident, const std::string& instance_id) {
  return callKey(incident.id, "evacuate|" + instance_id);
}

}  // namespace

bool Engine::advanceForceDown(Incident& incident) {
  const TimePoint now = clock_.now();
  if (auto it = next_force_down_.find(incident.id);
      it != next_force_down_.end() && now < it->second) {
    return false;
  }
  const std::string key = callKey(incident.id, "force-down");
  auto answer = calls_.take<void>(key);
  if (!answer) {
    if (calls_.started(key)) return false;  // in flight
    if (!record(incident, event(events::ForceDownRequested{}))) return false;
    const std::string reason =
        fmt::format("freezer-dr: host fenced ({}) at {}, instances being evacuated (incident {})",
                    incident.fence.confirmed_by, formatTime(*incident.fenced_at), incident.id);
    calls_.start<void>(key, kCloudLane, policy_.cloud_call_timeout,
                       [e = drivers_.evacuator, n = *node(incident.node), reason] {
                         Status down = e->forceDown(n, reason);
                         killPoint("effect:force-down-requested");
                         return down;
                       });
    startListing(incident);  // read ahead while Nova forces the host down
    return false;
  }
  const Status& down = *answer;
  if (down) {
    next_force_down_.erase(incident.id);
    spdlog::info("incident {}: compute service of {} forced down", incident.id, incident.node);
    return record(incident, event(events::ForceDownDone{})).has_value();
  }
  const bool give_up = incident.force_down_attempts >= policy_.force_down_max_attempts;
  const std::string why =
      "cannot force the compute service of " + incident.node + " down: " + down.error().message;
  next_force_down_[incident.id] = now + policy_.force_down_retry;
  std::vector<Notification> outbox;
  if (give_up) {
    outbox.push_back(adminAlert(
        incident, NotificationKind::kRecoveryStuck,
        "[freezer-dr] URGENT: " + incident.node + " is off but its instances cannot be evacuated",
        why));
  }
  spdlog::warn("incident {}: {}", incident.id, why);
  if (give_up) {  // what was read ahead would be stale by the time an operator steps in
    calls_.abandon(callKey(incident.id, "list"));
  }
  (void)record(incident, event(events::ForceDownFailed{.final = give_up, .detail = why}),
               std::move(outbox));
  return false;
}

// The listing is a read: it runs while the compute service is being forced down (the instances
// of a fenced host do not move until an evacuation, which waits for the force-down), so the first
// evacuation request goes out as soon as Nova marks the host down. advanceListing takes its
// answer; a call already out or answered is not started again (Calls::start is then a no-op). The
// capacity check is not read ahead: Nova's GET /os-hypervisors/detail does not answer while a dead
// host's compute service still reads up (seen with Debian 12's Nova on the lab), so it waits for
// the force-down.
void Engine::startListing(const Incident& incident) {
  const Node* n = node(incident.node);
  if (n == nullptr) return;
  calls_.start<std::vector<Instance>>(
      callKey(incident.id, "list"), kCloudLane, policy_.cloud_call_timeout,
      [e = drivers_.evacuator, copy = *n] { return e->listInstances(copy); });
}

std::vector<InstanceRecord> Engine::toRecords(const std::vector<Instance>& instances) const {
  std::vector<InstanceRecord> records;
  for (const Instance& vm : instances) {
    InstanceRecord r;
    r.id = vm.id;
    r.name = vm.name;
    r.project_id = vm.project_id;
    r.user_id = vm.user_id;
    r.former_status = vm.status;
    r.boot_from_volume = vm.boot_from_volume;
    r.image_id = vm.image_id;
    r.disk = diskNote(vm, policy_.shared_storage);
    if (auto it = vm.metadata.find(policy_.priority_key); it != vm.metadata.end()) {
      try {
        r.priority = std::stoi(it->second);
      } catch (const std::exception& e) {
        spdlog::warn("instance {}: metadata {}='{}' is not an integer priority ({}); using 0",
                     vm.id, policy_.priority_key, it->second, e.what());
      }
    }
    std::optional<bool> opted_in;
    if (auto it = vm.metadata.find(policy_.ha_enabled_key); it != vm.metadata.end()) {
      opted_in = parseBool(it->second);
      if (!opted_in) {
        spdlog::warn("instance {}: metadata {}='{}' is neither true nor false; taken as not set",
                     vm.id, policy_.ha_enabled_key, it->second);
      }
    }
    if (cannotEvacuate(vm.status)) {
      r.phase = InstancePhase::kSkipped;
      r.reason = "cannot be evacuated in state " + vm.status;
    } else if (opted_in == false) {
      r.phase = InstancePhase::kSkipped;
      r.reason = "opted out (metadata " + policy_.ha_enabled_key + ")";
    } else if (!policy_.evacuate_all && opted_in != true) {
      r.phase = InstancePhase::kSkipped;
      r.reason = "not opted in (metadata " + policy_.ha_enabled_key + " is not true)";
    }
    records.push_back(std::move(r));
  }
  std::stable_sort(records.begin(), records.end(),
                   [](const InstanceRecord& a, const InstanceRecord& b) {
                     return std::tie(b.priority, a.name, a.id) < std::tie(a.priority, b.name, b.id);
                   });
  return records;
}

bool Engine::advanceListing(Incident& incident) {
  if (auto held = listed_.find(incident.id); held != listed_.end()) {
    return advanceCapacityCheck(incident, held->second);
  }
  const std::string key = callKey(incident.id, "list");
  auto listed_now = calls_.take<std::vector<Instance>>(key);
  if (!listed_now) {
    startListing(incident);  // or still waiting for the one read ahead
    return false;
  }
  const Result<std::vector<Instance>>& instances = *listed_now;
  if (!instances) {
    (void)record(incident, event(events::InstancesListFailed{
                               .detail = "cannot list the instances of " + incident.node + ": " +
                                         instances.error().message}));
    return false;
  }
  std::vector<InstanceRecord> records = toRecords(*instances);
  const bool any_pending = std::any_of(records.begin(), records.end(), [](const InstanceRecord& r) {
    return r.phase == InstancePhase::kPending;
  });
  if (policy_.capacity_check && any_pending) {
    Listed listed{.records = std::move(records), .sizes = {}};
    for (const Instance& vm : *instances) {
      if (vm.size) listed.sizes[vm.id] = *vm.size;
    }
    auto [held, inserted] = listed_.insert_or_assign(incident.id, std::move(listed));
    return advanceCapacityCheck(incident, held->second);
  }
  const size_t count = records.size();
  if (!record(incident, event(events::InstancesListed{.records = std::move(records)}))) {
    return false;
  }
  spdlog::info("incident {}: {} instance(s) to evacuate from {}", incident.id, count,
               incident.node);
  return true;
}

// What the other hosts have free, against the listed instances' sizes (core/capacity_plan.h).
// When the cloud cannot say, or the call fails, every instance is asked for as without the
// check (the scheduler still refuses what does not fit), and the incident says so.
bool Engine::advanceCapacityCheck(Incident& incident, Listed& listed) {
  const std::string key = callKey(incident.id, "capacity");
  auto answer = calls_.take<std::vector<HostRoom>>(key);
  if (!answer) {
    if (!calls_.started(key)) {
      // Its own short deadline: the check only saves futile requests, and one compute host
      // dead but not forced down yet (another failure) can hold Nova's answer for a minute.
      calls_.start<std::vector<HostRoom>>(
          key, kCloudLane, policy_.capacity_check_timeout,
          [e = drivers_.evacuator, n = *node(incident.node)] { return e->room(n); });
    }
    return false;
  }
  std::vector<InstanceRecord> records = std::move(listed.records);
  const std::map<std::string, Resources> sizes = std::move(listed.sizes);
  listed_.erase(incident.id);
  std::string detail;
  std::vector<Notification> outbox;
  size_t left_out = 0;
  if (!*answer) {
    if (answer->error().code == ErrorCode::kNotSupported) {
      spdlog::debug("incident {}: capacity not checked: {}", incident.id, answer->error().message);
    } else {
      detail = "capacity not checked (every instance is asked for; the scheduler decides): " +
               answer->error().message;
      spdlog::warn("incident {}: {}", incident.id, detail);
    }
  } else {
    CapacityPlan plan = planCapacity(
        records, sizes,
        capacityCandidates(**answer, policy_.reserved_hosts, policy_.reserved_hosts_fallback),
        incident.node);
    if (!plan.unsized.empty()) {
      spdlog::info(
          "incident {}: capacity: the size of {} instance(s) is unknown; they are asked "
          "for unchecked",
          incident.id, plan.unsized.size());
    }
    for (size_t i : plan.no_capacity) {
      InstanceRecord& r = records[i];
      r.phase = InstancePhase::kNoCapacity;
      r.reason = fmt::format(
          "no capacity: it needs {}, more than any candidate host has left once the instances "
          "before it are placed; not asked for (docs/evacuation.md, Capacity)",
          describe(sizes.at(r.id)));
    }
    left_out = plan.no_capacity.size();
    detail = plan.summary;
    if (left_out > 0) {
      spdlog::warn("incident {}: {}", incident.id, detail);
      outbox.push_back(adminAlert(
          incident, NotificationKind::kRecoveryStuck,
          fmt::format("[freezer-dr] URGENT: no room for {} of the instances of {}", left_out,
                      incident.node),
          detail + ". Free capacity (or lower the load) and evacuate them by hand, or unfence "
                   "the host once it is repaired."));
    }
  }
  const size_t count = records.size();
  if (!record(incident,
              event(events::InstancesListed{.records = std::move(records),
                                            .detail = std::move(detail)}),
              std::move(outbox))) {
    return false;
  }
  spdlog::info(
      "incident {}: {} instance(s) to evacuate from {}{}", incident.id, count - left_out,
      incident.node,
      left_out == 0 ? std::string() : fmt::format(" ({} left out for want of capacity)", left_out));
  return true;
}

void Engine::followEvacuations() {
  const TimePoint now = clock_.now();
  constexpr const char* kShowKey = "show";
  auto answer = calls_.take<std::vector<Result<Instance>>>(kShowKey);
  if (!answer) {
    if (calls_.started(kShowKey)) return;  // in flight
    // One show() of every instance being evacuated, across incidents, at a time.
    std::vector<std::string> ids;
    shown_.clear();
    for (auto& [id, incident] : open_) {
      if (incident.phase != Phase::kEvacuating) continue;
      for (const InstanceRecord& r : incident.instances) {
        if (r.phase == InstancePhase::kRequested || r.phase == InstancePhase::kRebuilding) {
          shown_.push_back({id, r.id, !calls_.busy(evacuateKey(incident, r.id))});
          ids.push_back(r.id);
        }
      }
    }
    if (ids.empty()) return;
    calls_.start<std::vector<Result<Instance>>>(
        kShowKey, kCloudLane, policy_.cloud_call_timeout,
        [e = drivers_.evacuator, ids = std::move(ids)]() -> Result<std::vector<Result<Instance>>> {
          return e->show(ids);
        });
    return;
  }
  if (!*answer) {
    spdlog::warn("cannot read the instances being evacuated: {}", answer->error().message);
    return;
  }
  const std::vector<Result<Instance>>& shown = **answer;
  const std::vector<Shown> watched = std::move(shown_);
  shown_.clear();
  for (size_t i = 0; i < watched.size() && i < shown.size(); ++i) {
    auto found = open_.find(watched[i].incident_id);
    if (found == open_.end()) continue;
    Incident& incident = found->second;
    const InstanceRecord* r = findInstance(incident, watched[i].instance_id);
    if (r == nullptr) continue;
    // Moved on since the call was made (answered, re-requested, failed).
    if (r->phase != InstancePhase::kRequested && r->phase != InstancePhase::kRebuilding) continue;
    const bool out_of_retries = r->attempts - r->full_host_attempts > policy_.evacuation_retries;
    if (!shown[i]) {
      if (shown[i].error().code == ErrorCode::kNotFound) {
        (void)record(
            incident,
            event(events::EvacuationRejected{
                .instance_id = r->id, .final = true, .detail = "the instance no longer exists"}));
      } else {
        spdlog::warn("cannot read instance {}: {}", r->id, shown[i].error().message);
      }
      continue;
    }
    const Instance& vm = *shown[i];
    const bool moved = isRunningOrSettled(vm, incident.node);
    const bool in_progress = vm.task_state == "rebuilding" || vm.status == "REBUILD";
    if (r->phase == InstancePhase::kRequested && !moved && !in_progress) {
      // Journaled as requested but the cloud shows no evacuation: the request never went out
      // (a crash between the journal and the call). requestEvacuations() asks again, unless a
      // request of it was running when this show started (it may not have reached Nova yet).
      const std::string key = evacuateKey(incident, r->id);
      if (watched[i].request_settled && !calls_.busy(key)) reask_.insert(key);
      continue;
    }
    if (!r->target_host.empty() && r->phase == InstancePhase::kRebuilding && !moved &&
        !in_progress && vm.status == "ERROR" && (vm.fault.empty() || noValidHost(vm.fault))) {
      // Sent to a reserved host, it never left the failed host: the scheduler found no room
      // there (NoValidHost). That host is full; the instance goes to the next one. (Another
      // fault is the instance's own problem: a failure like any other, not a full host.)
      const std::string why = fmt::format(
          "reserved host {} could not take {}: {}", r->target_host, r->id,
          vm.fault.empty()
              ? "it went to ERROR without leaving " + incident.node + " (no fault recorded)"
              : vm.fault);
      spdlog::warn("incident {}: {}", incident.id, why);
      (void)record(incident, event(events::ReservedHostFull{
                                 .host = r->target_host, .instance_id = r->id, .detail = why}));
      continue;
    }
    const std::string instance_id = r->id;
    const InstancePhase before = r->phase;
    if (!record(incident, event(events::InstanceObserved{.instance_id = instance_id,
                                                         .host = vm.host,
                                                         .status = vm.status,
                                                         .task_state = vm.task_state,
                                                         .final = out_of_retries}))) {
      continue;
    }
    const InstanceRecord* after = findInstance(incident, instance_id);
    if (after->phase == InstancePhase::kDone && before != InstancePhase::kDone) {
      spdlog::info("incident {}: instance {} ({}) runs on {}", incident.id, after->id, after->name,
                   after->new_host);
      continue;
    }
    if ((after->phase == InstancePhase::kRebuilding || after->phase == InstancePhase::kRequested) &&
        after->requested_at && now - *after->requested_at >= policy_.instance_timeout) {
      (void)record(incident,
                   event(events::InstanceTimedOut{.instance_id = after->id,
                                                  .final = out_of_retries,
                                                  .detail = "not running elsewhere " +
                                                            seconds(policy_.instance_timeout) +
                                                            " after the evacuation request"}));
    }
  }
}

void Engine::takeEvacuationAnswers() {
  for (auto& [id, incident] : open_) {
    if (incident.phase != Phase::kEvacuating) continue;
    std::vector<std::pair<std::string, Status>> answers;
    for (const InstanceRecord& r : incident.instances) {
      if (r.phase != InstancePhase::kRequested) continue;
      if (auto answer = calls_.take<void>(evacuateKey(incident, r.id))) {
        answers.emplace_back(r.id, std::move(*answer));
      }
    }
    for (const auto& [instance_id, answer] : answers) {
      const InstanceRecord* r = findInstance(incident, instance_id);
      if (r == nullptr || r->phase != InstancePhase::kRequested) continue;
      if (answer) {
        (void)record(incident, event(events::EvacuationAccepted{.instance_id = r->id}));
        continue;
      }
      if (answer.error().code == ErrorCode::kTimedOut) {
        // The cloud may have taken it: left "requested", followEvacuations() sees whether it
        // did, and it is asked again only if the cloud shows no evacuation of it.
        spdlog::warn("incident {}: evacuation request of {} not answered: {}", incident.id, r->id,
                     answer.error().message);
        continue;
      }
      const std::string& why = answer.error().message;
      if (!r->target_host.empty() && noValidHost(why)) {
        const std::string detail =
            fmt::format("reserved host {} could not take {}: {}", r->target_host, r->id, why);
        spdlog::warn("incident {}: {}", incident.id, detail);
        (void)record(incident,
                     event(events::ReservedHostFull{
                         .host = r->target_host, .instance_id = r->id, .detail = detail}));
        continue;
      }
      const Event rejected = event(events::EvacuationRejected{
          .instance_id = r->id,
          .final = r->attempts - r->full_host_attempts > policy_.evacuation_retries,
          .detail = why});
      spdlog::warn("incident {}: evacuation of {} refused: {}", incident.id, r->id, why);
      (void)record(incident, rejected);
    }
  }
}

void Engine::requestEvacuations() {
  if (drivers_.evacuator == nullptr) return;
  struct Candidate {
    int priority;
    TimePoint detected_at;
    size_t position;
    std::string incident_id;
    std::string instance_id;
  };
  std::vector<Candidate> candidates;
  int in_flight = 0;                         // requests not answered yet
  std::map<std::string, int> rebuilding_on;  // target host chosen by freezer-dr → rebuilds
  for (auto& [id, incident] : open_) {
    if (incident.phase != Phase::kEvacuating) continue;
    for (size_t pos = 0; pos < incident.instances.size(); ++pos) {
      const InstanceRecord& r = incident.instances[pos];
      const std::string key = evacuateKey(incident, r.id);
      if (calls_.inFlight(key)) in_flight += 1;
      if ((r.phase == InstancePhase::kRebuilding || r.phase == InstancePhase::kRequested) &&
          !r.target_host.empty()) {
        rebuilding_on[r.target_host] += 1;
      }
      // kRequested: journaled, and a show found no evacuation of it with no request running
      // (followEvacuations): asked again. Never on the journal's word alone: after a crash the
      // request may have reached the cloud.
      if (r.phase == InstancePhase::kPending ||
          (r.phase == InstancePhase::kRequested && !calls_.busy(key) && reask_.contains(key))) {
        candidates.push_back({r.priority, incident.detected_at, pos, id, r.id});
      }
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return std::tie(b.priority, a.detected_at, a.position) <
           std::tie(a.priority, b.detected_at, b.position);
  });
  int slots = std::max(0, policy_.evacuation_concurrency - in_flight);
  std::set<std::string> waiting;  // incidents whose target host is not ready (or busy) this tick
  for (const Candidate& c : candidates) {
    if (slots <= 0) break;
    if (waiting.contains(c.incident_id)) continue;
    Incident& incident = open_.at(c.incident_id);
    // Invariant 1, checked again at the last moment: only a confirmed-off node.
    if (!incident.fenced_at || incident.fence.confirmed_by.empty()) {
      spdlog::critical("incident {}: refusing to evacuate from an unfenced node (bug)",
                       incident.id);
      continue;
    }
    const Target target = chooseTarget(incident);
    if (target.kind == Target::Kind::kWait) {
      waiting.insert(c.incident_id);  // its other instances would wait for the same host
      continue;
    }
    if (target.kind == Target::Kind::kNoneLeft) {
      const Event none =
          event(events::NoTargetLeft{.instance_id = c.instance_id, .detail = target.why});
      spdlog::error("incident {}: instance {} not evacuated: {}", incident.id, c.instance_id,
                    target.why);
      (void)record(incident, none);
      continue;
    }
    if (target.kind == Target::Kind::kHost &&
        rebuilding_on[target.host] >= std::max(policy_.max_rebuilds_per_host, 1)) {
      waiting.insert(c.incident_id);  // that host rebuilds as many as it may at once
      continue;
    }
    if (!record(incident, event(events::EvacuationRequested{.instance_id = c.instance_id,
                                                            .host = target.host}))) {
      continue;
    }
    reask_.erase(evacuateKey(incident, c.instance_id));
    EvacuationRequest request{c.instance_id, incident.node,
                              target.kind == Target::Kind::kHost
                                  ? std::optional<std::string>(target.host)
                                  : std::nullopt};
    calls_.start<void>(evacuateKey(incident, c.instance_id), kCloudLane, policy_.cloud_call_timeout,
                       [e = drivers_.evacuator, request = std::move(request)]() -> Status {
                         std::vector<Status> results = e->evacuate({&request, 1});
                         killPoint("effect:evacuation-requested");
                         if (results.empty()) return fail(ErrorCode::kInternal, "no answer");
                         return results.front();
                       });
    slots -= 1;
    if (target.kind == Target::Kind::kHost) rebuilding_on[target.host] += 1;
  }
}

Engine::Target Engine::chooseTarget(Incident& incident) {
  Target target;
  if (policy_.reserved_hosts.empty()) return target;  // the scheduler
  Target wait;
  wait.kind = Target::Kind::kWait;
  const auto towards = [](const std::string& host) {
    Target t;
    t.kind = Target::Kind::kHost;
    t.host = host;
    return t;
  };
  std::vector<std::string> not_used;  // "host (why)"
  for (const std::string& host : policy_.reserved_hosts) {
    // Its use across the open incidents: full or unusable in one is full or unusable for all.
    const ReservedHostUse* mine = nullptr;
    const ReservedHostUse* bad = nullptr;
    std::string enabled_by;  // another incident that enabled it
    std::string failed_itself;
    for (const auto& [id, other] : open_) {
      if (other.node == host) failed_itself = "it failed itself (incident " + id + ")";
      for (const ReservedHostUse& use : other.reserved_hosts) {
        if (use.host != host) continue;
        if (&other == &incident) mine = &use;
        if (use.state == ReservedHostState::kFull || use.state == ReservedHostState::kUnusable) {
          if (bad == nullptr || &other == &incident) bad = &use;
        } else if (use.state == ReservedHostState::kEnabled && &other != &incident) {
          enabled_by = id;
        }
      }
    }
    if (failed_itself.empty() && (host == incident.node || recovered_nodes_.contains(host))) {
      failed_itself = "it failed itself and was fenced";
    }
    if (bad != nullptr) {
      not_used.push_back(fmt::format("{} ({}: {})", host, toString(bad->state), bad->reason));
      continue;
    }
    // Found unusable: journaled with the time it was looked at.
    const TimePoint looked_at = clock_.now();
    const auto unusable = [&](std::string why) {
      return Event{.at = looked_at,
                   .payload = events::ReservedHostUnusable{.host = host, .detail = std::move(why)}};
    };
    if (!failed_itself.empty()) {
      not_used.push_back(fmt::format("{} (unusable: {})", host, failed_itself));
      if (host == incident.node) continue;  // never recorded as a reserved host of itself
      if (!record(incident, unusable("reserved host " + host + " is not used: " + failed_itself))) {
        return wait;
      }
      continue;
    }
    if (mine != nullptr && mine->state == ReservedHostState::kEnabled) {
      return towards(host);
    }
    if (mine == nullptr && !enabled_by.empty()) {
      if (!record(incident, event(events::ReservedHostEnabled{
                                .host = host, .detail = "enabled by incident " + enabled_by}))) {
        return wait;
      }
      return towards(host);
    }
    // First use by this incident (or resumed while enabling): its compute service must be up,
    // not forced down; enabled if it is not yet.
    Node reserved;
    if (const Node* known = node(host)) {
      reserved = *known;
    } else {
      reserved.id = host;
      reserved.hostname = host;
    }
    const std::string trouble_key = incident.id + "|" + host;
    // A temporary error is retried at the next tick (the instance waits), for a while only.
    const auto retryLater = [&](const Error& error, const std::string& what) {
      if (!error.retryable) return false;
      const auto [since, first] = reserved_trouble_since_.try_emplace(trouble_key, clock_.now());
      if (clock_.now() - since->second >= kReservedHostRetryFor) return false;
      spdlog::warn("incident {}: {} reserved host {} failed ({}); trying again at the next tick",
                   incident.id, what, host, error.message);
      return true;
    };
    const std::string service_key = callKey(incident.id, "reserved-service|" + host);
    const std::string enable_key = callKey(incident.id, "reserved-enable|" + host);
    if (calls_.started(enable_key)) {
      auto answer = calls_.take<void>(enable_key);
      if (!answer) return wait;  // in flight
      const Status& on = *answer;
      // Still "enabling" in the journal: the next tick reads the service and enables again.
      if (!on && retryLater(on.error(), "enabling")) return wait;
      if (!on) {
        reserved_trouble_since_.erase(trouble_key);
        const std::string why = "cannot enable the compute service of reserved host " + host +
                                ": " + on.error().message +
                                (on.error().retryable ? kReservedHostRetriedNote : "");
        spdlog::warn("incident {}: {}", incident.id, why);
        not_used.push_back(fmt::format("{} (unusable: {})", host, why));
        if (!record(incident, unusable(why))) return wait;
        continue;
      }
      if (!record(incident,
                  event(events::ReservedHostEnabled{
                      .host = host, .detail = "its compute service was enabled by freezer-dr"}))) {
        return wait;
      }
      reserved_trouble_since_.erase(trouble_key);
      return towards(host);
    }
    auto answered = calls_.take<ServiceState>(service_key);
    if (!answered) {
      calls_.start<ServiceState>(
          service_key, kCloudLane, policy_.cloud_call_timeout,
          [e = drivers_.evacuator, reserved] { return e->computeService(reserved); });
      return wait;
    }
    const Result<ServiceState>& service = *answered;
    if (!service && retryLater(service.error(), "reading the compute service of")) return wait;
    std::string why;
    if (!service) {
      why = "cannot read its compute service: " + service.error().message;
      if (service.error().retryable) why += kReservedHostRetriedNote;
    } else if (service->forced_down) {
      why = "its compute service is forced down";
    } else if (!service->up) {
      why = "its compute service is down";
    }
    if (!why.empty()) {
      reserved_trouble_since_.erase(trouble_key);
      const std::string detail = "reserved host " + host + " is not used: " + why;
      spdlog::warn("incident {}: {}", incident.id, detail);
      not_used.push_back(fmt::format("{} (unusable: {})", host, why));
      if (!record(incident, unusable(detail))) return wait;
      continue;
    }
    if (service->disabled) {
      if (!record(incident, event(events::ReservedHostEnabling{.host = host}))) return wait;
      spdlog::warn("incident {}: enabling the compute service of reserved host {}", incident.id,
                   host);
      calls_.start<void>(enable_key, kCloudLane, policy_.cloud_call_timeout,
                         [e = drivers_.evacuator, reserved] {
                           Status on = e->enable(reserved);
                           killPoint("effect:reserved-host-enabling");
                           return on;
                         });
      return wait;  // its answer is taken at a later tick, above
    }
    if (!record(incident,
                event(events::ReservedHostEnabled{
                    .host = host, .detail = "its compute service was enabled already"}))) {
      return wait;
    }
    reserved_trouble_since_.erase(trouble_key);
    return towards(host);
  }
  if (policy_.reserved_hosts_fallback) return target;  // the scheduler
  std::string why = "every reserved host is full or unusable, and reserved-hosts-fallback is off:";
  for (size_t i = 0; i < not_used.size(); ++i) why += (i == 0 ? " " : "; ") + not_used[i];
  target.kind = Target::Kind::kNoneLeft;
  target.why = why;
  return target;
}

}  // namespace fdr::core
