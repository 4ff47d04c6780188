// Unfence (freezer-dr unfence HOST): power on through the first fencing level that accepts,
// wait for the compute service to report after the power-on, then unforce and enable it. Carried
// by the node's last (closed) incident, journaled step by step like an incident; every call runs
// off the decision thread (fence lane, cloud lane) and is answered at a later tick.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/engine.h"
#include "core/engine_internal.h"
#include "core/incident_machine.h"
#include "core/kill_point.h"

namespace fdr::core {

using namespace engine_internal;

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
  const TimePoint now = clock_.now();
  const Event requested{.at = now,
                        .payload = events::UnfenceRequested{
                            .who = command.who, .deadline = now + policy_.unfence_deadline}};
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
  const std::string detail = "unfence of " + incident.node + " abandoned: " + why;
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
  spdlog::error("incident {}: {}", incident.id, detail);
  calls_.abandonPrefix(callKey(incident.node, ""));
  powering_on_.erase(incident.node);
  return record(incident, event(events::UnfenceAbandoned{.detail = detail}),
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
  const std::string restore_key = callKey(incident.node, "restore");
  // REQUIRES: kRestoreRequested journaled and the call started; handles its answer.
  const auto restored_service = [&](const Status& restored) -> bool {
    if (!restored) {
      const std::string why = "cannot return the compute service of " + incident.node +
                              " to service: " + restored.error().message;
      spdlog::warn("incident {}: {}", incident.id, why);
      next_unfence_try_[incident.node] = now + policy_.unfence_poll;
      (void)record(incident, event(events::RestoreFailed{.detail = why}));
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
    if (!record(incident, event(events::BackInService{}), {std::move(back)})) return false;
    spdlog::warn("node {} is back in service (incident {})", incident.node, incident.id);
    if (auto saved = journal_.setSetting(kNodeUpPrefix + incident.node,
                                         std::to_string(toMillis(clock_.now())));
        !saved) {
      spdlog::warn("cannot journal that {} is up: {}", incident.node, saved.error().message);
    }
    recovered_nodes_.erase(incident.node);
    storm_.backInService(incident.node);
    return false;
  };
  const auto start_restore = [&] {
    calls_.start<void>(restore_key, kCloudLane, policy_.cloud_call_timeout,
                       [e = drivers_.evacuator, node = *n] {
                         Status restored = e->restore(node);
                         killPoint("effect:restore-requested");
                         return restored;
                       });
  };
  switch (u.step) {
    case UnfenceStep::kRequested:
    case UnfenceStep::kPoweringOn: {  // kPoweringOn here: resumed, the call may never have gone out
      // The first fencing level that accepts, one call at a time.
      const auto ask = [&](size_t level) {
        calls_.start<void>(callKey(incident.node, fmt::format("power-on|{}", level)), kFenceLane,
                           policy_.fence_attempt_timeout,
                           [f = drivers_.fencers[level].fencer, node = *n] {
                             Status on = f->powerOn(node);
                             killPoint("effect:power-on-requested");
                             return on;
                           });
      };
      auto asking = powering_on_.find(incident.node);
      if (asking == powering_on_.end()) {
        if (!record(incident, event(events::PowerOnRequested{}))) return false;
        asking = powering_on_.emplace(incident.node, PowerOn{}).first;
        if (!drivers_.fencers.empty()) {
          ask(0);
          return false;
        }
      }
      PowerOn& p = asking->second;
      if (p.level < drivers_.fencers.size()) {
        auto on = calls_.take<void>(callKey(incident.node, fmt::format("power-on|{}", p.level)));
        if (!on) return false;  // in flight
        const NamedFencer& fencer = drivers_.fencers[p.level];
        if (*on) {
          powering_on_.erase(asking);
          const Event done = event(events::PowerOnDone{.fencer = fencer.name});
          spdlog::warn("node {}: powered on through {}; waiting for its compute service",
                       incident.node, fencer.name);
          return record(incident, done).has_value();
        }
        p.errors += (p.errors.empty() ? "" : "; ") + fencer.name + ": " + on->error().message;
        if (++p.level < drivers_.fencers.size()) {
          ask(p.level);
          return false;
        }
      }
      const std::string why =
          "cannot power " + incident.node +
          " on: " + (p.errors.empty() ? std::string("no fencer is configured") : p.errors);
      powering_on_.erase(asking);
      spdlog::warn("incident {}: {}", incident.id, why);
      next_unfence_try_[incident.node] = now + policy_.unfence_poll;
      (void)record(incident, event(events::PowerOnFailed{.detail = why}));
      return false;
    }
    case UnfenceStep::kWaitingForCompute: {
      const std::string key = callKey(incident.node, "compute-service");
      auto answer = calls_.take<ServiceState>(key);
      if (!answer) {
        calls_.start<ServiceState>(
            key, kCloudLane, policy_.cloud_call_timeout,
            [e = drivers_.evacuator, node = *n] { return e->computeService(node); });
        return false;
      }
      const Result<ServiceState>& service = *answer;
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
      if (!record(incident, event(events::RestoreRequested{
                                .detail = "compute service of " + incident.node + " reported at " +
                                          formatTime(*service->updated_at)}))) {
        return false;
      }
      next_unfence_try_.erase(incident.node);
      start_restore();
      return false;
    }
    case UnfenceStep::kRestoring: {
      if (calls_.started(restore_key)) {
        auto restored = calls_.take<void>(restore_key);
        if (!restored) return false;  // in flight
        return restored_service(*restored);
      }
      // Resumed, or the outcome of the last request could not be journaled: unforce and enable
      // are idempotent, so they are asked again.
      if (!record(incident, event(events::RestoreRequested{.detail = "asked again"}))) return false;
      start_restore();
      return false;
    }
    case UnfenceStep::kNone:
    case UnfenceStep::kDone:
    case UnfenceStep::kAbandoned: break;
  }
  return false;
}

}  // namespace fdr::core
