#include "core/engine.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/engine_internal.h"
#include "core/guard_state.h"
#include "core/incident_machine.h"
#include "core/kill_point.h"

namespace fdr::core {

using namespace engine_internal;

namespace {

std::vector<std::string> hostnames(const std::vector<Node>& nodes) {
  std::vector<std::string> out;
  out.reserve(nodes.size());
  for (const Node& n : nodes) out.push_back(n.hostname);
  return out;
}

}  // namespace

Engine::Engine(EnginePolicy policy, EngineDrivers drivers, Journal& journal, Clock& clock,
               std::vector<Node> nodes, Executor& executor)
    : Engine(std::move(policy), std::move(drivers), journal, clock,
             std::make_shared<const std::vector<Node>>(std::move(nodes)), executor) {}

Engine::Engine(EnginePolicy policy, EngineDrivers drivers, Journal& journal, Clock& clock,
               std::shared_ptr<const std::vector<Node>> nodes, Executor& executor)
    : policy_(std::move(policy)),
      drivers_(std::move(drivers)),
      journal_(journal),
      clock_(clock),
      shared_nodes_(std::move(nodes)),
      nodes_(*shared_nodes_),
      calls_(executor, clock),
      cycle_(calls_, drivers_.monitors, drivers_.isolation, shared_nodes_, policy_.poll_interval,
             policy_.poll_timeout),
      outbox_(calls_, journal, clock, drivers_.notifiers,
              OutboxPolicy{.timeout = policy_.notify_timeout,
                           .parallel = policy_.notify_parallel,
                           .backoff_initial = policy_.outbox_backoff_initial,
                           .backoff_max = policy_.outbox_backoff_max}),
      detector_(policy_.detector),
      storm_(StormLimits{.max_nodes = policy_.storm_max_nodes,
                         .max_percent = policy_.storm_max_percent,
                         .window = policy_.storm_window}),
      readiness_(drivers_.fencers.empty() ? ReadinessPolicy{.interval = Duration::zero()}
                                          : policy_.readiness,
                 hostnames(nodes_), clock.now()) {
  for (const auto& n : drivers_.notifiers) notifier_names_.push_back(n.name);
  // The monitors' polls and the isolation probe only observe: a standby makes them too.
  if (drivers_.leadership != nullptr) {
    calls_.setLeadership(drivers_.leadership, {"monitor:", "isolation"});
  }
  for (size_t i = 0; i < nodes_.size(); ++i) node_index_.emplace(nodes_[i].hostname, i);
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
    // Its failure counts toward the storm guard for the storm window, unless the node was
    // returned to service (unfenced, or seen up: below).
    if (incident.unfence.step != UnfenceStep::kDone) {
      storm_.failed(incident.node, incident.detected_at);
    }
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
    } else {
      storm_.backInService(incident.node);
    }
  }
  // Unprotected nodes already reported by an earlier run: not alerted again for the same cause.
  if (auto guards = journal_.setting(kGuardsSetting); guards && *guards) {
    if (auto state = guardStateFromJson(**guards); state) {
      for (const UnprotectedNode& u : state->unprotected) readiness_.alreadyReported(u);
    } else {
      spdlog::warn(
          "the journal's guards state cannot be read ({}): unprotected nodes are "
          "reported again",
          state.error().message);
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
  resumed_ = true;
  return {};
}

Event Engine::event(EventPayload payload) const {
  return Event{.at = clock_.now(), .payload = std::move(payload)};
}

const Node* Engine::node(const std::string& hostname) const {
  const auto it = node_index_.find(hostname);
  return it == node_index_.end() ? nullptr : &nodes_[it->second];
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
    spdlog::error("incident {}: cannot journal '{}': {}", incident.id, toString(ev.kind()),
                  committed.error().message);
    return committed;
  }
  incident = std::move(*next);
  killPoint(fmt::format("after:{}", toString(ev.kind())));
  return {};
}

TickSummary Engine::tick() {
  // The answers that came back since the last tick, and the calls that ran past their deadline.
  calls_.collect();
  const Leadership* leadership = drivers_.leadership;
  if (deposed_ ||
      (leadership != nullptr && !leadership->acting(std::chrono::steady_clock::now()))) {
    return standbyTick();
  }
  if (!resumed_) {
    // Taking over: every open incident, exactly as a restarted daemon resumes them.
    spdlog::info("this controller leads (term {}): resuming the open incidents",
                 leadership != nullptr ? leadership->term() : 0);
    if (auto resumed = resume(); !resumed) {
      spdlog::error("cannot take over: {}; trying again at the next tick", resumed.error().message);
      TickSummary summary = detected_;
      summary.standby = true;
      return summary;
    }
  }
  acted_ = true;
  runOperatorCommands();
  if (auto cycle = cycle_.step(clock_.now())) detect(*cycle);
  TickSummary summary = detected_;

  for (auto& [id, incident] : open_) advance(incident);
  takeEvacuationAnswers();
  followEvacuations();
  requestEvacuations();
  for (auto& [id, incident] : open_) advance(incident);  // finish what evacuations completed
  advanceUnfences();
  checkReadiness();
  outbox_.step();

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
  if (auto undelivered = journal_.undeliveredCount(); undelivered) {
    summary.undelivered_notifications = *undelivered;
  }
  summary.unfencing = unfencing_.size();
  summary.deliveries_in_flight = outbox_.inFlight();
  return summary;
}

TickSummary Engine::standbyTick() {
  if (acted_ && !deposed_) {
    deposed_ = true;
    const LeadershipState state = drivers_.leadership->state();
    spdlog::error(
        "this controller is not the leader any more ({}): it stops acting; the "
        "calls it started are dropped",
        state.why.empty() ? "lease not renewed in time" : state.why);
  }
  if (auto cycle = cycle_.step(clock_.now())) detect(*cycle);
  TickSummary summary = detected_;
  summary.standby = true;
  summary.deposed = deposed_;
  return summary;
}

void Engine::detect(const MonitorCycle::Result& cycle) {
  TickSummary summary;
  for (size_t i = 0; i < drivers_.monitors.size() && i < cycle.answered.size(); ++i) {
    monitor_answered_[drivers_.monitors[i]] = cycle.answered[i];
  }
  reference_points_ = cycle.reference_points;
  operator_maintenance_.clear();
  const TimePoint now = clock_.now();
  // Hosts a monitor reports that the inventory lacks (the Nova monitor reports every compute
  // service, unknown): unprotected, as fencing readiness says. A failure of one is vetoed (not
  // in the inventory) as before.
  std::set<std::string> outside;
  for (const Observation& o : cycle.observations) {
    if (!node_index_.contains(o.node)) outside.insert(o.node);
  }
  const std::vector<Observation>& observations = cycle.observations;
  if (readiness_.enabled()) {
    const bool complete = std::all_of(cycle.answered.begin(), cycle.answered.end(),
                                      [](bool answered) { return answered; });
    for (ReadinessChange& change : readiness_.notInInventory(outside, complete, now)) {
      spdlog::warn("node {} is unprotected: {}", change.node, change.reason);
      readiness_pending_.push_back(std::move(change));
    }
  }
  for (const Observation& o : observations) {
    if (o.operator_maintenance) operator_maintenance_[o.node] = o.source + ": " + o.detail;
    const std::pair<std::string_view, std::string_view> key{o.node, o.source};
    if (!o.service_down || o.health != Health::kUp) {
      if (auto it = services_down_.find(key); it != services_down_.end()) {
        services_down_.erase(it);
        ++services_down_version_;
      }
      continue;
    }
    auto it = services_down_.find(key);
    if (it == services_down_.end()) {
      it = services_down_
               .emplace(std::pair{o.node, o.source},
                        ServiceDown{
                            .node = o.node, .source = o.source, .detail = o.detail, .since = now})
               .first;
      spdlog::warn("node {} is up but its service does not answer ({}: {}); not a failure", o.node,
                   o.source, o.detail);
      ++services_down_version_;
    }
    if (it->second.detail != o.detail) {
      it->second.detail = o.detail;
      ++services_down_version_;
    }
  }
  detector_.update(now, observations);
  const bool acting = resumed_ && !deposed_;  // a standby journals nothing
  const std::vector<std::string> recovered =
      acting ? std::vector<std::string>(recovered_nodes_.begin(), recovered_nodes_.end())
             : std::vector<std::string>();
  for (const std::string& node : recovered) {
    const std::optional<NodeVerdict> verdict = detector_.verdict(node, now);
    if (verdict && verdict->sources_known > 0 && verdict->sources_down == 0) {
      spdlog::info("node {} is up again", node);
      if (auto saved = journal_.setSetting(kNodeUpPrefix + node, std::to_string(toMillis(now)));
          saved) {
        recovered_nodes_.erase(node);
        storm_.backInService(node);
      } else {
        spdlog::warn("cannot journal that {} is up: {}", node, saved.error().message);
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
  // A standby only keeps its detector warm: the leader guards, opens incidents and journals.
  if (acting) openIncidents(summary);
  summary.observed = true;
  detected_ = std::move(summary);
}

void Engine::waitForWork(Duration max_wait, const std::stop_token& stop) {
  const TimePoint now = clock_.now();
  TimePoint until = now + max_wait;
  if (!cycle_.running()) until = std::min(until, cycle_.nextStart());
  if (auto deadline = calls_.nextDeadline()) until = std::min(until, *deadline);
  if (auto check = readiness_.nextDue();
      check && readiness_calls_.size() < readiness_.policy().concurrency) {
    until = std::min(until, *check);
  }
  if (until <= now) return;
  calls_.waitForResult(until - now, stop);
}

void Engine::abandonCalls(const std::string& incident_id) {
  const std::string prefix = callKey(incident_id, "");
  calls_.abandonPrefix(prefix);
  std::erase_if(reask_, [&](const std::string& key) { return key.starts_with(prefix); });
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
        const bool recorded =
            record(it->second, event(events::OperatorConfirmedFenced{
                                   .who = command.who,
                                   .detail = "power-off confirmed by hand by " + command.who}))
                .has_value();
        // The fencing calls still in flight answer a question nobody asks any more.
        if (recorded) abandonCalls(it->first);
        outcome = recorded ? "done: incident " + it->first + " resumes"
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
  const Event detected = event(events::Detected{.node = hostname, .detail = why});
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
  storm_.failed(hostname, detected.at);
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

bool Engine::advanceClosing(Incident& incident) {
  if (incident.phase == Phase::kNotified) {
    if (!record(incident, event(events::Closed{}))) return false;
    spdlog::info("incident {} done", incident.id);
    return true;
  }
  return record(incident, event(events::NotificationsQueued{}), completionNotifications(incident))
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

}  // namespace fdr::core
