#include "core/engine.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/incident_machine.h"
#include "core/kill_point.h"
#include "freezer/options.h"

namespace fdr::core {
namespace {

constexpr int kMaxStepsPerTick = 64;  // bounds one incident's progress in one tick
// How long a temporary error reading or enabling a reserved host is retried before the host is
// unusable for the incident (docs/evacuation.md).
constexpr Duration kReservedHostRetryFor = std::chrono::seconds(30);
constexpr const char* kReservedHostRetriedNote = " (temporary errors retried for 30 s)";
// Journal setting "node-up:<host>": when a recovered node was last seen up (ms).
constexpr const char* kNodeUpPrefix = "node-up:";

// Instance states Nova cannot evacuate from: reported, never silently dropped.
bool cannotEvacuate(const std::string& status) {
  return status == "SHELVED" || status == "SHELVED_OFFLOADED" || status == "DELETED" ||
         status == "SOFT_DELETED";
}

bool isRunningOrSettled(const Instance& vm, const std::string& failed_host) {
  return !vm.host.empty() && vm.host != failed_host;
}

std::string seconds(Duration d) {
  return fmt::format("{:.1f} s", d.count() / 1000.0);
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

}  // namespace

Engine::Engine(EnginePolicy policy, EngineDrivers drivers, Journal& journal, Clock& clock,
               std::vector<Node> nodes)
    : policy_(std::move(policy)),
      drivers_(std::move(drivers)),
      journal_(journal),
      clock_(clock),
      nodes_(std::move(nodes)),
      detector_(policy_.detector) {
  for (const auto& n : drivers_.notifiers) notifier_names_.push_back(n.name);
}

Status Engine::resume() {
  auto incidents = journal_.openIncidents();
  if (!incidents) return withContext(incidents.error(), "cannot resume from the journal");
  // A node whose last incident is done stays "recovered" (left alone while it is down) until
  // it is seen up after that incident closed.
  auto recent = journal_.recentIncidents(4 * std::max<size_t>(nodes_.size(), 64));
  if (!recent) return withContext(recent.error(), "cannot resume from the journal");
  std::set<std::string> seen;
  for (const Incident& incident : *recent) {  // newest first: each node's last incident
    if (!seen.insert(incident.node).second) continue;
    if (isUnfenceActive(incident.unfence.step)) {
      // A power-on journaled as requested is asked again (it is idempotent), as is a restore.
      spdlog::info("resuming the unfence of {} ({}, incident {})", incident.node,
                   toString(incident.unfence.step), incident.id);
      unfencing_.emplace(incident.node, incident);
    }
    if (incident.phase != Phase::kDone) continue;
    auto up = journal_.setting(std::string(kNodeUpPrefix) + incident.node);
    if (!up) return withContext(up.error(), "cannot resume from the journal");
    int64_t up_ms = -1;
    if (*up) {
      try {
        up_ms = std::stoll(**up);
      } catch (const std::exception& e) {
        spdlog::warn("journal setting {}{} = '{}' is not a time ({})", kNodeUpPrefix, incident.node,
                     **up, e.what());
      }
    }
    if (!incident.closed_at || up_ms < toMillis(*incident.closed_at)) {
      recovered_nodes_.insert(incident.node);
    }
  }
  for (Incident& incident : *incidents) {
    if (node(incident.node) == nullptr) {
      spdlog::warn(
          "incident {} is for node {}, which is not in the inventory any more; it is "
          "kept open for an operator",
          incident.id, incident.node);
    }
    spdlog::info("resuming incident {} ({})", incident.id, toString(incident.phase));
    if (incident.phase == Phase::kFencing) reissue_power_off_.insert(incident.id);
    std::string id = incident.id;
    open_.emplace(std::move(id), std::move(incident));
  }
  return {};
}

Event Engine::event(EventKind kind) const {
  Event e;
  e.kind = kind;
  e.at = clock_.now();
  return e;
}

const Node* Engine::node(const std::string& hostname) const {
  for (const Node& n : nodes_) {
    if (n.hostname == hostname) return &n;
  }
  return nullptr;
}

Status Engine::record(Incident& incident, Event ev, std::vector<Notification> outbox) {
  auto next = apply(incident, ev);
  if (!next) {
    // A refused transition is a bug in the engine, never a reason to act anyway.
    spdlog::error("refused transition: {}", next.error().message);
    return std::unexpected(next.error());
  }
  if (auto committed = journal_.commit(JournalEntry{*next, ev, std::move(outbox)}, notifier_names_);
      !committed) {
    spdlog::error("incident {}: cannot journal '{}': {}", incident.id, toString(ev.kind),
                  committed.error().message);
    return committed;
  }
  incident = std::move(*next);
  killPoint(fmt::format("after:{}", toString(ev.kind)));
  return {};
}

TickSummary Engine::tick() {
  TickSummary summary;
  runOperatorCommands();

  std::vector<Observation> observations;
  for (size_t i = 0; i < drivers_.monitors.size(); ++i) {
    auto polled = drivers_.monitors[i]->poll(nodes_);
    monitor_answered_[drivers_.monitors[i]] = polled.has_value();
    if (!polled) {
      // Its sources become unknown (absent from this poll), which never counts as down.
      spdlog::warn("monitor {} failed: {}", i + 1, polled.error().message);
      continue;
    }
    observations.insert(observations.end(), polled->begin(), polled->end());
  }
  operator_maintenance_.clear();
  for (const Observation& o : observations) {
    if (o.operator_maintenance) operator_maintenance_[o.node] = o.source + ": " + o.detail;
  }
  const TimePoint now = clock_.now();
  detector_.update(now, observations);
  for (const NodeVerdict& verdict : detector_.verdicts(now)) {
    if (verdict.sources_known > 0 && verdict.sources_down == 0 &&
        recovered_nodes_.contains(verdict.node)) {
      spdlog::info("node {} is up again", verdict.node);
      if (auto saved =
              journal_.setSetting(kNodeUpPrefix + verdict.node, std::to_string(toMillis(now)));
          saved) {
        recovered_nodes_.erase(verdict.node);
      } else {
        spdlog::warn("cannot journal that {} is up: {}", verdict.node, saved.error().message);
      }
    }
  }
  for (const std::string& hostname : detector_.failedNodes(now)) {
    (recovered_nodes_.contains(hostname) ? summary.already_recovered : summary.failed)
        .insert(hostname);
  }
  for (const std::string& hostname : detector_.suspectNodes(now)) {
    if (!recovered_nodes_.contains(hostname)) summary.suspect.insert(hostname);
  }

  openIncidents(summary);

  for (auto& [id, incident] : open_) advance(incident);
  followEvacuations();
  requestEvacuations();
  for (auto& [id, incident] : open_) advance(incident);  // finish what evacuations completed
  advanceUnfences();
  deliverOutbox();

  for (auto it = open_.begin(); it != open_.end();) {
    if (!isTerminal(it->second.phase)) {
      ++it;
      continue;
    }
    if (it->second.phase == Phase::kDone) recovered_nodes_.insert(it->second.node);
    it = open_.erase(it);
  }
  summary.open_incidents = open_.size();
  for (const auto& [id, incident] : open_) {
    if (isFailurePhase(incident.phase)) summary.waiting_for_operator += 1;
  }
  if (auto undelivered = journal_.undeliveredOutbox(); undelivered) {
    summary.undelivered_notifications = undelivered->size();
  }
  summary.unfencing = unfencing_.size();
  return summary;
}

void Engine::runOperatorCommands() {
  auto commands = journal_.pendingCommands();
  if (!commands) {
    spdlog::warn("cannot read operator commands: {}", commands.error().message);
    return;
  }
  for (const OperatorCommand& command : *commands) {
    std::string outcome;
    if (command.kind == "confirm-fenced") {
      auto it = std::find_if(open_.begin(), open_.end(), [&](const auto& entry) {
        const Incident& i = entry.second;
        return i.node == command.node &&
               (i.phase == Phase::kDetected || i.phase == Phase::kFencing ||
                i.phase == Phase::kFenceFailed);
      });
      if (it == open_.end()) {
        outcome = "refused: no incident of " + command.node + " is waiting for a fence";
      } else {
        Event ev = event(EventKind::kOperatorConfirmedFenced);
        ev.who = command.who;
        ev.detail = "power-off confirmed by hand by " + command.who;
        outcome = record(it->second, ev) ? "done: incident " + it->first + " resumes"
                                         : "failed: could not journal the confirmation";
      }
    } else if (command.kind == "fence") {
      // A fence asked for by hand goes through the same path (confirmed power-off, then
      // evacuation); the guards are for automatic decisions and do not apply.
      const bool busy = std::any_of(open_.begin(), open_.end(), [&](const auto& entry) {
        return entry.second.node == command.node;
      });
      if (node(command.node) == nullptr) {
        outcome = "refused: " + command.node + " is not in the inventory";
      } else if (busy) {
        outcome = "refused: " + command.node + " already has an open incident";
      } else {
        outcome = openIncident(command.node, "Node " + command.node + " is fenced by hand by " +
                                                 command.who + ".")
                      ? "done: fencing " + command.node
                      : "failed: could not journal the incident";
      }
    } else if (command.kind == "pause" || command.kind == "resume") {
      std::optional<std::string> applied = applyPause(command);
      if (!applied) {
        spdlog::warn("operator command {} by {}: carried out again at the next tick", command.kind,
                     command.who);
        continue;  // left pending
      }
      outcome = std::move(*applied);
    } else if (command.kind == "unfence") {
      outcome = startUnfence(command);
    } else {
      outcome = "refused: unknown command '" + command.kind + "'";
    }
    spdlog::info("operator command {} {} by {}: {}", command.kind, command.node, command.who,
                 outcome);
    if (auto done = journal_.markCommandDone(command.id, outcome); !done) {
      spdlog::warn("cannot mark operator command {} done: {}", command.id, done.error().message);
    }
  }
}

Status Engine::openIncident(const std::string& hostname, const std::string& why) {
  Event detected = event(EventKind::kDetected);
  detected.node = hostname;
  detected.detail = why;
  auto created = apply(Incident{}, detected);
  if (!created) {
    spdlog::error("cannot open an incident for {}: {}", hostname, created.error().message);
    return std::unexpected(created.error());
  }
  Notification notice =
      adminAlert(*created, NotificationKind::kFailureConfirmed,
                 "[freezer-dr] " + hostname + " failed: fencing",
                 why +
                     " freezer-dr is powering it off; its instances will be evacuated once "
                     "the power-off is confirmed.");
  if (auto committed = journal_.commit(JournalEntry{*created, detected, {notice}}, notifier_names_);
      !committed) {
    spdlog::error("cannot journal the incident of {}: {}", hostname, committed.error().message);
    return committed;
  }
  spdlog::warn("node {}: incident {} opened: {}", hostname, created->id, why);
  killPoint("after:detected");
  std::string id = created->id;
  open_.emplace(std::move(id), std::move(*created));
  return {};
}

void Engine::advance(Incident& incident) {
  if (node(incident.node) == nullptr) return;  // waits for an operator
  for (int step = 0; step < kMaxStepsPerTick; ++step) {
    bool progressed = false;
    switch (incident.phase) {
      case Phase::kDetected:
      case Phase::kFencing: progressed = advanceFencing(incident); break;
      case Phase::kFenced: progressed = advanceForceDown(incident); break;
      case Phase::kComputeDown: progressed = advanceListing(incident); break;
      case Phase::kEvacuated:
      case Phase::kPartlyEvacuated:
      case Phase::kNotified: progressed = advanceClosing(incident); break;
      case Phase::kEvacuating:       // moved by follow/requestEvacuations, across incidents
      case Phase::kFenceFailed:      // waits for an operator
      case Phase::kForceDownFailed:  // waits for an operator
      case Phase::kDone:
      case Phase::kCancelled: break;
    }
    if (!progressed) return;
  }
}

Status Engine::requestPowerOff(Incident& incident, int level, int attempt, bool new_deadline) {
  const NamedFencer& fencer = drivers_.fencers[static_cast<size_t>(level)];
  Event ev = event(EventKind::kPowerOffRequested);
  ev.level = level;
  ev.attempt = attempt;
  ev.who = fencer.name;
  ev.attempt_deadline = ev.at + policy_.fence_attempt_timeout;
  if (new_deadline || !incident.fence.deadline) ev.fence_deadline = ev.at + policy_.fence_deadline;
  if (auto recorded = record(incident, ev); !recorded) return recorded;
  spdlog::info("incident {}: powering {} off with {} (level {}, attempt {})", incident.id,
               incident.node, fencer.name, level + 1, attempt);
  auto off = fencer.fencer->powerOff(*node(incident.node));
  killPoint("effect:power-off-requested");
  if (!off) {
    Event failed = event(EventKind::kPowerOffFailed);
    failed.detail = fmt::format("{} could not power {} off: {}", fencer.name, incident.node,
                                off.error().message);
    spdlog::warn("incident {}: {}", incident.id, failed.detail);
    return record(incident, failed);
  }
  return {};
}

bool Engine::advanceFencing(Incident& incident) {
  if (drivers_.fencers.empty()) {
    Event failed = event(EventKind::kFenceFailed);
    failed.detail = "no fencer is configured";
    return record(incident, failed,
                  {adminAlert(incident, NotificationKind::kFenceFailed,
                              "[freezer-dr] URGENT: " + incident.node + " could not be fenced",
                              failed.detail)})
        .has_value();
  }
  const TimePoint now = clock_.now();
  FenceProgress& fence = incident.fence;
  if (incident.phase == Phase::kDetected) {
    return requestPowerOff(incident, 0, 1, true).has_value();
  }
  if (reissue_power_off_.erase(incident.id) > 0) {
    return requestPowerOff(incident, fence.level, std::max(fence.attempt, 1), true).has_value();
  }
  const auto fail_fence = [&](const std::string& why) {
    Event failed = event(EventKind::kFenceFailed);
    failed.detail = why;
    spdlog::error("incident {}: fence failed: {}; nothing will be evacuated", incident.id, why);
    return record(incident, failed,
                  {adminAlert(incident, NotificationKind::kFenceFailed,
                              "[freezer-dr] URGENT: " + incident.node + " could not be fenced",
                              "freezer-dr could not confirm that " + incident.node +
                                  " is powered off: " + why +
                                  ". Its instances are NOT evacuated. Power it off by hand, "
                                  "then run: freezer-dr confirm-fenced " +
                                  incident.node)})
        .has_value();
  };
  if (fence.deadline && now >= *fence.deadline) {
    return fail_fence(fmt::format("no power-off confirmed within {}; last power state read: {}",
                                  seconds(policy_.fence_deadline), toString(fence.last_power)));
  }
  const NamedFencer& fencer = drivers_.fencers[static_cast<size_t>(fence.level)];
  if (fence.off_requested_at && fence.next_check_at && *fence.next_check_at <= now) {
    auto power = fencer.fencer->powerStatus(*node(incident.node));
    Event observed = event(EventKind::kPowerObserved);
    observed.who = fencer.name;
    observed.power = power ? *power : PowerState::kUnknown;
    if (!power) {
      observed.detail = fencer.name + " could not read the power state: " + power.error().message;
    } else if (*power != PowerState::kOff) {
      observed.detail = fencer.name + " reads the power " + std::string(toString(*power));
    }
    Duration backoff = policy_.check_backoff_initial * (1 << std::min(fence.checks, 10));
    observed.next_check_at = observed.at + std::min(backoff, policy_.check_backoff_max);
    if (!record(incident, observed)) return false;
    if (observed.power == PowerState::kOff) {
      Event confirmed = event(EventKind::kFenceConfirmed);
      confirmed.who = fencer.name;
      if (!record(incident, confirmed)) return false;
      spdlog::warn("incident {}: {} is off (read back through {})", incident.id, incident.node,
                   fencer.name);
      return true;
    }
  }
  const bool attempt_over =
      !fence.off_requested_at || (fence.attempt_deadline && now >= *fence.attempt_deadline);
  if (!attempt_over) return false;  // keep polling at next_check_at
  if (fence.attempt < policy_.fence_retries) {
    return requestPowerOff(incident, fence.level, fence.attempt + 1, false).has_value();
  }
  if (fence.level + 1 < static_cast<int>(drivers_.fencers.size())) {
    return requestPowerOff(incident, fence.level + 1, 1, false).has_value();
  }
  return fail_fence(
      fmt::format("every fencing level failed ({} level(s), {} attempt(s) each); "
                  "last power state read: {}",
                  drivers_.fencers.size(), policy_.fence_retries, toString(fence.last_power)));
}

bool Engine::advanceForceDown(Incident& incident) {
  const TimePoint now = clock_.now();
  if (auto it = next_force_down_.find(incident.id);
      it != next_force_down_.end() && now < it->second) {
    return false;
  }
  if (!record(incident, event(EventKind::kForceDownRequested))) return false;
  const std::string reason =
      fmt::format("freezer-dr: host fenced ({}) at {}, instances being evacuated (incident {})",
                  incident.fence.confirmed_by, formatTime(*incident.fenced_at), incident.id);
  auto down = drivers_.evacuator->forceDown(*node(incident.node), reason);
  killPoint("effect:force-down-requested");
  if (down) {
    next_force_down_.erase(incident.id);
    spdlog::info("incident {}: compute service of {} forced down", incident.id, incident.node);
    return record(incident, event(EventKind::kForceDownDone)).has_value();
  }
  Event failed = event(EventKind::kForceDownFailed);
  failed.final = incident.force_down_attempts >= policy_.force_down_max_attempts;
  failed.detail =
      "cannot force the compute service of " + incident.node + " down: " + down.error().message;
  next_force_down_[incident.id] = now + policy_.force_down_retry;
  std::vector<Notification> outbox;
  if (failed.final) {
    outbox.push_back(adminAlert(
        incident, NotificationKind::kRecoveryStuck,
        "[freezer-dr] URGENT: " + incident.node + " is off but its instances cannot be evacuated",
        failed.detail));
  }
  spdlog::warn("incident {}: {}", incident.id, failed.detail);
  (void)record(incident, failed, std::move(outbox));
  return false;
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
  auto instances = drivers_.evacuator->listInstances(*node(incident.node));
  if (!instances) {
    Event failed = event(EventKind::kInstancesListFailed);
    failed.detail =
        "cannot list the instances of " + incident.node + ": " + instances.error().message;
    (void)record(incident, failed);
    return false;
  }
  Event listed = event(EventKind::kInstancesListed);
  listed.records = toRecords(*instances);
  if (!record(incident, listed)) return false;
  spdlog::info("incident {}: {} instance(s) to evacuate from {}", incident.id,
               listed.records.size(), incident.node);
  return true;
}

void Engine::followEvacuations() {
  const TimePoint now = clock_.now();
  std::vector<std::pair<std::string, std::string>> watched;  // incident id, instance id
  std::vector<std::string> ids;
  for (auto& [id, incident] : open_) {
    if (incident.phase != Phase::kEvacuating) continue;
    for (const InstanceRecord& r : incident.instances) {
      if (r.phase == InstancePhase::kRequested || r.phase == InstancePhase::kRebuilding) {
        watched.emplace_back(id, r.id);
        ids.push_back(r.id);
      }
    }
  }
  if (ids.empty()) return;
  auto shown = drivers_.evacuator->show(ids);
  for (size_t i = 0; i < watched.size() && i < shown.size(); ++i) {
    Incident& incident = open_.at(watched[i].first);
    const InstanceRecord* r = findInstance(incident, watched[i].second);
    if (r == nullptr) continue;
    const bool out_of_retries = r->attempts - r->full_host_attempts > policy_.evacuation_retries;
    if (!shown[i]) {
      if (shown[i].error().code == ErrorCode::kNotFound) {
        Event gone = event(EventKind::kEvacuationRejected);
        gone.instance_id = r->id;
        gone.final = true;
        gone.detail = "the instance no longer exists";
        (void)record(incident, gone);
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
      // (a crash between the journal and the call). requestEvacuations() asks again.
      continue;
    }
    if (!r->target_host.empty() && r->phase == InstancePhase::kRebuilding && !moved &&
        !in_progress && vm.status == "ERROR" && (vm.fault.empty() || noValidHost(vm.fault))) {
      // Sent to a reserved host, it never left the failed host: the scheduler found no room
      // there (NoValidHost). That host is full; the instance goes to the next one. (Another
      // fault is the instance's own problem: a failure like any other, not a full host.)
      Event full = event(EventKind::kReservedHostFull);
      full.host = r->target_host;
      full.instance_id = r->id;
      full.detail = fmt::format("reserved host {} could not take {}: {}", r->target_host, r->id,
                                vm.fault.empty() ? "it went to ERROR without leaving " +
                                                       incident.node + " (no fault recorded)"
                                                 : vm.fault);
      spdlog::warn("incident {}: {}", incident.id, full.detail);
      (void)record(incident, full);
      continue;
    }
    Event observed = event(EventKind::kInstanceObserved);
    observed.instance_id = r->id;
    observed.host = vm.host;
    observed.status = vm.status;
    observed.task_state = vm.task_state;
    observed.final = out_of_retries;
    const InstancePhase before = r->phase;
    if (!record(incident, observed)) continue;
    const InstanceRecord* after = findInstance(incident, observed.instance_id);
    if (after->phase == InstancePhase::kDone && before != InstancePhase::kDone) {
      spdlog::info("incident {}: instance {} ({}) runs on {}", incident.id, after->id, after->name,
                   after->new_host);
      continue;
    }
    if ((after->phase == InstancePhase::kRebuilding || after->phase == InstancePhase::kRequested) &&
        after->requested_at && now - *after->requested_at >= policy_.instance_timeout) {
      Event timed_out = event(EventKind::kInstanceTimedOut);
      timed_out.instance_id = after->id;
      timed_out.final = out_of_retries;
      timed_out.detail = "not running elsewhere " + seconds(policy_.instance_timeout) +
                         " after the evacuation request";
      (void)record(incident, timed_out);
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
  int in_flight = 0;
  for (auto& [id, incident] : open_) {
    if (incident.phase != Phase::kEvacuating) continue;
    for (size_t pos = 0; pos < incident.instances.size(); ++pos) {
      const InstanceRecord& r = incident.instances[pos];
      if (r.phase == InstancePhase::kRebuilding) in_flight += 1;
      // kRequested here means a request was journaled but the cloud shows none: ask again.
      if (r.phase == InstancePhase::kPending || r.phase == InstancePhase::kRequested) {
        candidates.push_back({r.priority, incident.detected_at, pos, id, r.id});
      }
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return std::tie(b.priority, a.detected_at, a.position) <
           std::tie(a.priority, b.detected_at, b.position);
  });
  const int slots = std::max(0, policy_.evacuation_concurrency - in_flight);
  if (candidates.size() > static_cast<size_t>(slots)) candidates.resize(slots);

  std::vector<EvacuationRequest> requests;
  std::vector<const Candidate*> sent;
  std::set<std::string> waiting;  // incidents whose reserved host is not ready this tick
  for (const Candidate& c : candidates) {
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
      Event none = event(EventKind::kNoTargetLeft);
      none.instance_id = c.instance_id;
      none.detail = target.why;
      spdlog::error("incident {}: instance {} not evacuated: {}", incident.id, c.instance_id,
                    target.why);
      (void)record(incident, none);
      continue;
    }
    Event requested = event(EventKind::kEvacuationRequested);
    requested.instance_id = c.instance_id;
    requested.host = target.host;
    if (!record(incident, requested)) continue;
    requests.push_back({c.instance_id, incident.node,
                        target.kind == Target::Kind::kHost ? std::optional<std::string>(target.host)
                                                           : std::nullopt});
    sent.push_back(&c);
  }
  if (requests.empty()) return;
  auto results = drivers_.evacuator->evacuate(requests);
  killPoint("effect:evacuation-requested");
  for (size_t i = 0; i < sent.size(); ++i) {
    Incident& incident = open_.at(sent[i]->incident_id);
    const InstanceRecord* r = findInstance(incident, sent[i]->instance_id);
    if (i < results.size() && results[i]) {
      Event accepted = event(EventKind::kEvacuationAccepted);
      accepted.instance_id = r->id;
      (void)record(incident, accepted);
      continue;
    }
    const std::string why = i < results.size() ? results[i].error().message : "no answer";
    if (!r->target_host.empty() && noValidHost(why)) {
      Event full = event(EventKind::kReservedHostFull);
      full.host = r->target_host;
      full.instance_id = r->id;
      full.detail =
          fmt::format("reserved host {} could not take {}: {}", r->target_host, r->id, why);
      spdlog::warn("incident {}: {}", incident.id, full.detail);
      (void)record(incident, full);
      continue;
    }
    Event rejected = event(EventKind::kEvacuationRejected);
    rejected.instance_id = r->id;
    rejected.final = r->attempts - r->full_host_attempts > policy_.evacuation_retries;
    rejected.detail = why;
    spdlog::warn("incident {}: evacuation of {} refused: {}", incident.id, r->id, rejected.detail);
    (void)record(incident, rejected);
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
    Event unusable = event(EventKind::kReservedHostUnusable);
    unusable.host = host;
    if (!failed_itself.empty()) {
      not_used.push_back(fmt::format("{} (unusable: {})", host, failed_itself));
      if (host == incident.node) continue;  // never recorded as a reserved host of itself
      unusable.detail = "reserved host " + host + " is not used: " + failed_itself;
      if (!record(incident, unusable)) return wait;
      continue;
    }
    if (mine != nullptr && mine->state == ReservedHostState::kEnabled) {
      return towards(host);
    }
    if (mine == nullptr && !enabled_by.empty()) {
      Event enabled = event(EventKind::kReservedHostEnabled);
      enabled.host = host;
      enabled.detail = "enabled by incident " + enabled_by;
      if (!record(incident, enabled)) return wait;
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
    auto service = drivers_.evacuator->computeService(reserved);
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
      unusable.detail = "reserved host " + host + " is not used: " + why;
      spdlog::warn("incident {}: {}", incident.id, unusable.detail);
      not_used.push_back(fmt::format("{} (unusable: {})", host, why));
      if (!record(incident, unusable)) return wait;
      continue;
    }
    Event enabled = event(EventKind::kReservedHostEnabled);
    enabled.host = host;
    if (!service->disabled) {
      enabled.detail = "its compute service was enabled already";
    } else {
      Event enabling = event(EventKind::kReservedHostEnabling);
      enabling.host = host;
      if (!record(incident, enabling)) return wait;
      spdlog::warn("incident {}: enabling the compute service of reserved host {}", incident.id,
                   host);
      auto on = drivers_.evacuator->enable(reserved);
      killPoint("effect:reserved-host-enabling");
      // Still "enabling" in the journal: the next tick reads the service and enables again.
      if (!on && retryLater(on.error(), "enabling")) return wait;
      if (!on) {
        reserved_trouble_since_.erase(trouble_key);
        unusable.detail = "cannot enable the compute service of reserved host " + host + ": " +
                          on.error().message +
                          (on.error().retryable ? kReservedHostRetriedNote : "");
        spdlog::warn("incident {}: {}", incident.id, unusable.detail);
        not_used.push_back(fmt::format("{} (unusable: {})", host, unusable.detail));
        if (!record(incident, unusable)) return wait;
        continue;
      }
      enabled.detail = "its compute service was enabled by freezer-dr";
    }
    if (!record(incident, enabled)) return wait;
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

bool Engine::advanceClosing(Incident& incident) {
  if (incident.phase == Phase::kNotified) {
    if (!record(incident, event(EventKind::kClosed))) return false;
    spdlog::info("incident {} done", incident.id);
    return true;
  }
  return record(incident, event(EventKind::kNotificationsQueued), completionNotifications(incident))
      .has_value();
}

Notification Engine::adminAlert(const Incident& incident, NotificationKind kind,
                                const std::string& subject, const std::string& summary) const {
  Notification n;
  n.kind = kind;
  n.audience = Audience::kAdmins;
  n.incident_id = incident.id;
  n.node = incident.node;
  n.at = clock_.now();
  n.subject = subject;
  n.summary = summary;
  return n;
}

std::vector<Notification> Engine::completionNotifications(const Incident& incident) const {
  const bool partial = incident.phase == Phase::kPartlyEvacuated;
  const NotificationKind kind =
      partial ? NotificationKind::kEvacuationPartial : NotificationKind::kEvacuationFinished;
  std::map<std::string, std::vector<InstanceOutcome>> by_project;
  std::vector<InstanceOutcome> all;
  for (const InstanceRecord& r : incident.instances) {
    InstanceOutcome o;
    o.id = r.id;
    o.name = r.name;
    o.from_host = incident.node;
    o.to_host = r.new_host;
    o.user_id = r.user_id;
    o.ok = r.phase == InstancePhase::kDone;
    o.reason = r.reason;
    o.disk = r.disk;
    if (r.finished_at) o.down_ms = toMillis(*r.finished_at) - toMillis(incident.detected_at);
    by_project[r.project_id].push_back(o);
    all.push_back(std::move(o));
  }
  std::vector<Notification> out;
  for (auto& [project, outcomes] : by_project) {
    Notification n;
    n.kind = kind;
    n.audience = Audience::kProject;
    n.project_id = project;
    n.incident_id = incident.id;
    n.node = incident.node;
    n.at = clock_.now();
    n.subject = partial ? "[freezer-dr] some of your instances could not be recovered"
                        : "[freezer-dr] your instances were recovered";
    n.summary = fmt::format("The compute host {} failed at {}. {} of your instances were on it.",
                            incident.node, formatTime(incident.detected_at), outcomes.size());
    n.instances = std::move(outcomes);
    out.push_back(std::move(n));
  }
  const auto ok = std::count_if(all.begin(), all.end(), [](const auto& o) { return o.ok; });
  Notification admins = adminAlert(
      incident, kind,
      fmt::format("[freezer-dr] {}: {} of {} instances recovered", incident.node, ok, all.size()),
      fmt::format("Node {} failed at {}, was fenced ({}) and its instances evacuated: {} of {} "
                  "running elsewhere.",
                  incident.node, formatTime(incident.detected_at), incident.fence.confirmed_by, ok,
                  all.size()));
  for (const ReservedHostUse& use : incident.reserved_hosts) {
    const auto landed = std::count_if(
        incident.instances.begin(), incident.instances.end(), [&](const InstanceRecord& r) {
          return r.phase == InstancePhase::kDone && r.new_host == use.host;
        });
    admins.summary +=
        fmt::format(" Reserved host {}: {}, {} instance(s) now on it{}.", use.host,
                    toString(use.state), landed, use.reason.empty() ? "" : " (" + use.reason + ")");
  }
  if (std::any_of(
          incident.reserved_hosts.begin(), incident.reserved_hosts.end(),
          [](const ReservedHostUse& u) { return u.state != ReservedHostState::kUnusable; })) {
    admins.summary +=
        " The reserved hosts used stay enabled: they are spares no longer; disable other hosts "
        "and name them in [evacuation] reserved-hosts to keep spares.";
  }
  admins.instances = std::move(all);
  out.push_back(std::move(admins));
  return out;
}

std::string Engine::startUnfence(const OperatorCommand& command) {
  const std::string& host = command.node;
  if (node(host) == nullptr) return "refused: " + host + " is not in the inventory";
  for (const auto& [id, incident] : open_) {
    if (incident.node != host) continue;
    return "refused: incident " + id + " of " + host + " is open (" +
           std::string(toString(incident.phase)) +
           "): its evacuations are not finished; unfence it once the incident is closed";
  }
  if (unfencing_.contains(host)) return "refused: " + host + " is already being unfenced";
  // The unfence is carried by the node's last incident: the one whose fence it undoes.
  auto recent = journal_.recentIncidents(4 * std::max<size_t>(nodes_.size(), 64));
  if (!recent) return "failed: cannot read the journal: " + recent.error().message;
  auto last = std::find_if(recent->begin(), recent->end(),
                           [&](const Incident& i) { return i.node == host; });
  if (last == recent->end()) {
    return "refused: freezer-dr has no incident of " + host + ": it did not fence it";
  }
  if (last->unfence.step == UnfenceStep::kDone) {
    return "refused: " + host + " is back in service already (unfenced after incident " + last->id +
           ")";
  }
  Incident incident = *last;
  Event requested = event(EventKind::kUnfenceRequested);
  requested.who = command.who;
  requested.deadline = requested.at + policy_.unfence_deadline;
  if (!record(incident, requested)) return "failed: could not journal the unfence";
  spdlog::warn("node {}: unfence asked by {} (incident {}); it must report within {}", host,
               command.who, incident.id, seconds(policy_.unfence_deadline));
  next_unfence_try_.erase(host);
  unfencing_.emplace(host, std::move(incident));
  return "done: unfencing " + host +
         ": powering it on; it returns to service once its compute "
         "service reports";
}

void Engine::advanceUnfences() {
  for (auto it = unfencing_.begin(); it != unfencing_.end();) {
    Incident& incident = it->second;
    for (int step = 0; step < kMaxStepsPerTick; ++step) {
      if (!advanceUnfence(incident)) break;
    }
    if (isUnfenceActive(incident.unfence.step)) {
      ++it;
      continue;
    }
    next_unfence_try_.erase(it->first);
    it = unfencing_.erase(it);
  }
}

bool Engine::abandonUnfence(Incident& incident, const std::string& why) {
  const UnfenceProgress& u = incident.unfence;
  Event abandoned = event(EventKind::kUnfenceAbandoned);
  abandoned.detail = "unfence of " + incident.node + " abandoned: " + why;
  const std::string last_problem = incident.problems.empty() ? "" : incident.problems.back();
  std::string summary =
      fmt::format("{} asked at {} to return {} to service. freezer-dr gave up: {}.", u.who,
                  u.requested_at ? formatTime(*u.requested_at) : "?", incident.node, why);
  if (!u.powered_on_by.empty()) {
    summary += " The node was powered on through " + u.powered_on_by + ".";
  }
  if (!last_problem.empty()) summary += " Last problem: " + last_problem + ".";
  summary +=
      " Its compute service is left forced down and disabled: check the node and its "
      "nova-compute, then run: freezer-dr unfence " +
      incident.node;
  spdlog::error("incident {}: {}", incident.id, abandoned.detail);
  return record(incident, abandoned,
                {adminAlert(incident, NotificationKind::kUnfenceFailed,
                            "[freezer-dr] " + incident.node + " could not be returned to service",
                            summary)})
      .has_value();
}

bool Engine::advanceUnfence(Incident& incident) {
  const UnfenceProgress& u = incident.unfence;
  if (!isUnfenceActive(u.step)) return false;
  const TimePoint now = clock_.now();
  const Node* n = node(incident.node);
  if (n == nullptr) {
    (void)abandonUnfence(incident, "the node is not in the inventory any more");
    return false;
  }
  for (const auto& [id, open] : open_) {
    if (open.node == incident.node) {
      (void)abandonUnfence(incident, "it failed again (incident " + id + ")");
      return false;
    }
  }
  if (u.deadline && now >= *u.deadline) {
    (void)abandonUnfence(incident,
                         fmt::format("it did not come back within {} ({})",
                                     seconds(policy_.unfence_deadline), toString(u.step)));
    return false;
  }
  if (auto it = next_unfence_try_.find(incident.node);
      it != next_unfence_try_.end() && now < it->second) {
    return false;
  }
  // REQUIRES: kRestoreRequested journaled. Unforce, then enable; then the admins are told.
  const auto restore_service = [&]() -> bool {
    auto restored = drivers_.evacuator->restore(*n);
    killPoint("effect:restore-requested");
    if (!restored) {
      Event failed = event(EventKind::kRestoreFailed);
      failed.detail = "cannot return the compute service of " + incident.node +
                      " to service: " + restored.error().message;
      spdlog::warn("incident {}: {}", incident.id, failed.detail);
      next_unfence_try_[incident.node] = now + policy_.unfence_poll;
      (void)record(incident, failed);
      return false;
    }
    Notification back = adminAlert(
        incident, NotificationKind::kNodeBackInService,
        "[freezer-dr] " + incident.node + " is back in service",
        fmt::format("{} asked at {} to return {} to service. It was powered on through {}, its "
                    "compute service reported again, and it is no longer forced down and is "
                    "enabled: the scheduler may place instances on it. The instances evacuated "
                    "by incident {} stay where they are.",
                    u.who, u.requested_at ? formatTime(*u.requested_at) : "?", incident.node,
                    u.powered_on_by, incident.id));
    if (!record(incident, event(EventKind::kBackInService), {std::move(back)})) return false;
    spdlog::warn("node {} is back in service (incident {})", incident.node, incident.id);
    if (auto saved = journal_.setSetting(kNodeUpPrefix + incident.node,
                                         std::to_string(toMillis(clock_.now())));
        !saved) {
      spdlog::warn("cannot journal that {} is up: {}", incident.node, saved.error().message);
    }
    recovered_nodes_.erase(incident.node);
    return false;
  };
  switch (u.step) {
    case UnfenceStep::kRequested:
    case UnfenceStep::kPoweringOn: {  // kPoweringOn here: resumed, the call may never have gone out
      if (!record(incident, event(EventKind::kPowerOnRequested))) return false;
      std::string errors;
      for (const NamedFencer& fencer : drivers_.fencers) {  // the first level that accepts
        auto on = fencer.fencer->powerOn(*n);
        killPoint("effect:power-on-requested");
        if (on) {
          Event done = event(EventKind::kPowerOnDone);
          done.who = fencer.name;
          spdlog::warn("node {}: powered on through {}; waiting for its compute service",
                       incident.node, fencer.name);
          return record(incident, done).has_value();
        }
        errors += (errors.empty() ? "" : "; ") + fencer.name + ": " + on.error().message;
      }
      Event failed = event(EventKind::kPowerOnFailed);
      failed.detail = "cannot power " + incident.node +
                      " on: " + (errors.empty() ? std::string("no fencer is configured") : errors);
      spdlog::warn("incident {}: {}", incident.id, failed.detail);
      next_unfence_try_[incident.node] = now + policy_.unfence_poll;
      (void)record(incident, failed);
      return false;
    }
    case UnfenceStep::kWaitingForCompute: {
      auto service = drivers_.evacuator->computeService(*n);
      next_unfence_try_[incident.node] = now + policy_.unfence_poll;
      if (!service) {
        spdlog::warn("node {}: cannot read its compute service: {}", incident.node,
                     service.error().message);
        return false;
      }
      // Nova says "down" while forced_down is set, whatever the service does: only a heartbeat
      // later than the power-on request shows that nova-compute runs again.
      if (!service->updated_at || !u.power_on_requested_at ||
          *service->updated_at <= *u.power_on_requested_at) {
        return false;
      }
      Event restore = event(EventKind::kRestoreRequested);
      restore.detail = "compute service of " + incident.node + " reported at " +
                       formatTime(*service->updated_at);
      if (!record(incident, restore)) return false;
      next_unfence_try_.erase(incident.node);
      return restore_service();
    }
    case UnfenceStep::kRestoring: {
      // Resumed, or the outcome of the last request could not be journaled: unforce and enable
      // are idempotent, so they are asked again.
      Event again = event(EventKind::kRestoreRequested);
      again.detail = "asked again";
      if (!record(incident, again)) return false;
      return restore_service();
    }
    case UnfenceStep::kNone:
    case UnfenceStep::kDone:
    case UnfenceStep::kAbandoned: break;
  }
  return false;
}

void Engine::deliverOutbox() {
  if (drivers_.notifiers.empty()) return;
  const TimePoint now = clock_.now();
  auto due = journal_.dueOutbox(now, 100);
  if (!due) {
    spdlog::warn("cannot read the notification outbox: {}", due.error().message);
    return;
  }
  for (const OutboxItem& item : *due) {
    auto it = std::find_if(drivers_.notifiers.begin(), drivers_.notifiers.end(),
                           [&](const NamedNotifier& n) { return n.name == item.notifier; });
    Status sent =
        it == drivers_.notifiers.end()
            ? fail(ErrorCode::kNotFound, "notifier '" + item.notifier + "' is no longer configured")
            : it->notifier->send(item.notification);
    if (sent) {
      if (auto marked = journal_.markDelivered(item.id, clock_.now()); !marked) {
        spdlog::warn("cannot mark notification {} delivered: {}", item.id, marked.error().message);
      }
      continue;
    }
    const Duration backoff =
        std::min(policy_.outbox_backoff_initial * (1 << std::min(item.attempts, 16)),
                 policy_.outbox_backoff_max);
    spdlog::warn("notifier {}: delivery of notification {} failed (attempt {}): {}", item.notifier,
                 item.id, item.attempts + 1, sent.error().message);
    if (auto marked = journal_.markAttemptFailed(item.id, sent.error().message, now + backoff);
        !marked) {
      spdlog::warn("cannot record the failed delivery of {}: {}", item.id, marked.error().message);
    }
  }
}

}  // namespace fdr::core
