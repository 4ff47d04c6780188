// The guards: what stands between "the detector says this node failed" and an automatic fence.
// In order, a failed node is not fenced when it is
//   - not in the inventory, or in maintenance ([DEFAULT] maintenance, or a source says an operator
//     took it out of service, as a Nova compute service disabled by hand);
//   - while automatic fencing is paused by an operator (`freezer-dr pause`);
//   - while it flaps (came back more than flap-max-recoveries times within flap-window);
//   - when every node of the inventory is down at once: the controller is more likely cut off
//     than every node dead (isolation, not a storm);
//   - when more nodes are down, or failed within the storm window, than the storm guard allows
//     (core/storm_guard.h);
//   - when the controller does not reach enough of its reference points (isolation check, run
//     only when a fence is about to be made);
// and at most max-fences-per-tick nodes are fenced per tick: the others wait for the next one.
//
// A veto fences nothing and evacuates nothing; the admins are alerted once per node and reason
// (flapping: once per flapping episode; storm and isolation: once per episode). Incidents already
// open go on: pausing or isolation never stops a fence in flight or an evacuation (see docs).
//
// The alerts go through the journal's outbox (Journal::enqueue), like an incident's
// notifications: queued durably here, delivered by OutboxDelivery (core/outbox_delivery.h) on
// the notifiers' own lanes, retried with backoff across restarts, and listed by `status` while
// undelivered. A notifier that is down never delays a decision. What was already alerted ("once per
// ...") is remembered in memory only: after a restart an alert still in force may be queued once
// more (a duplicate, never a loss). An alert that cannot be queued (the journal refuses the write)
// is not marked as told, so it is queued again at the next tick.
#include <algorithm>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/engine.h"
#include "core/guard_state.h"

namespace fdr::core {
namespace {

constexpr const char* kIsolationVeto = "the controller looks cut off from the network (isolation)";

std::string describeWindow(Duration window) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(window).count();
  if (s % 60 == 0) return fmt::format("{} min", s / 60);
  return fmt::format("{} s", s);
}

}  // namespace

bool Engine::alertAdmins(const std::string& node, const std::string& subject,
                         const std::string& summary) {
  Notification alert;
  alert.kind = NotificationKind::kGuardTripped;
  alert.node = node;
  alert.at = clock_.now();
  alert.subject = subject;
  alert.summary = summary;
  if (auto queued = journal_.enqueue({alert}, notifier_names_); !queued) {
    spdlog::error("cannot queue the alert '{}' in the journal (tried again at the next tick): {}",
                  subject, queued.error().message);
    return false;
  }
  return true;
}

void Engine::alertStorm(const StormVerdict& verdict) {
  if (!storm_.startEpisode()) return;
  constexpr size_t kNamed = 50;  // a storm over 10,000 nodes names the first 50
  std::string names;
  for (size_t i = 0; i < verdict.nodes.size() && i < kNamed; ++i) {
    names += (i == 0 ? "" : ", ") + verdict.nodes[i];
  }
  if (verdict.nodes.size() > kNamed) {
    names += fmt::format(" and {} more", verdict.nodes.size() - kNamed);
  }
  spdlog::error("{}: fencing nothing ({})", verdict.why, names);
  const bool queued = alertAdmins(
      "", "[freezer-dr] URGENT: storm guard: fencing nothing",
      fmt::format(
          "{}. Counted (down now, or failed within the storm window and not back in service): {}. "
          "freezer-dr fences nothing and evacuates nothing while the count is over the limits: "
          "failed nodes are reported, not fenced, and each failure counts for {} after it. This "
          "is one alert for the whole storm; `freezer-dr status` shows the current count. "
          "Recoveries already under way go on; `freezer-dr fence HOST` still works.",
          verdict.why, names, describeWindow(storm_.limits().window)));
  if (!queued) storm_.alertNotQueued();  // again at the next tick
}

std::optional<std::string> Engine::applyPause(const OperatorCommand& command) {
  const bool pause = command.kind == "pause";
  auto before = journal_.setting(kPausedSetting);
  if (!before) return "failed: cannot read the pause setting: " + before.error().message;
  const bool was_paused = before->value_or("") == "1";
  const PauseState state{
      .paused = pause, .by = command.who, .at = command.at, .reason = command.reason};
  // The details first: a crash between the two writes leaves the command pending, and it is
  // carried out again at the next start.
  if (auto saved = journal_.setSetting(kPauseSetting, toJson(state).dump()); !saved) {
    return "failed: could not journal the " + command.kind + ": " + saved.error().message;
  }
  if (auto saved = journal_.setSetting(kPausedSetting, pause ? "1" : "0"); !saved) {
    return "failed: could not journal the " + command.kind + ": " + saved.error().message;
  }
  paused_seen_ = pause;
  const std::string why = command.reason.empty() ? "" : " (" + command.reason + ")";
  if (!pause) {
    // Logged only: the guard-tripped notice is for what holds fencing back.
    spdlog::warn("automatic fencing resumed by {}{}", command.who, why);
    return was_paused ? "done: automatic fencing resumed"
                      : "done: automatic fencing was not paused";
  }
  spdlog::warn("automatic fencing PAUSED by {}{}: failed nodes are reported, not fenced",
               command.who, why);
  // The alert is queued after the pause is journaled, and the command is marked done only
  // after both (runOperatorCommands). A crash before the alert is queued, or a journal that
  // refuses it, leaves the command pending: it is carried out again (at the next tick or
  // start), the settings rewritten as they are and the alert queued then; never lost. A crash
  // after the alert is queued and before the command is marked done queues it a second time at
  // the next start: a duplicate at worst.
  if (!alertAdmins(
          "", "[freezer-dr] automatic fencing paused by " + command.who,
          "Automatic fencing was paused by " + command.who + " at " + formatTime(command.at) + why +
              ". Failed nodes are reported, not fenced, until someone runs `freezer-dr resume`. "
              "Recoveries already under way go on; `freezer-dr fence HOST` still works.")) {
    return std::nullopt;
  }
  return was_paused ? "done: automatic fencing stays paused" + why
                    : "done: automatic fencing paused" + why;
}

std::string Engine::checkIsolation() const {
  std::vector<ReferencePointResult> results = reference_points_;
  for (const ReferenceMonitor& ref : drivers_.reference_monitors) {
    const auto it = monitor_answered_.find(ref.monitor);
    const bool answered = it != monitor_answered_.end() && it->second;
    results.push_back({.name = ref.name,
                       .reachable = answered,
                       .detail = answered ? "answered this poll" : "its last poll failed"});
  }
  if (results.empty()) return {};  // nothing configured to check against
  const int total = static_cast<int>(results.size());
  const int needed = policy_.reference_points_required > 0
                         ? std::min(policy_.reference_points_required, total)
                         : total / 2 + 1;
  int reached = 0;
  std::string unreachable;
  for (const ReferencePointResult& r : results) {
    if (r.reachable) {
      reached += 1;
      continue;
    }
    if (!unreachable.empty()) unreachable += ", ";
    unreachable += r.name + " (" + r.detail + ")";
  }
  spdlog::debug("isolation check: {} of {} reference points reached ({} needed)", reached, total,
                needed);
  if (reached >= needed) return {};
  return fmt::format(
      "the controller reaches {} of its {} reference points ({} needed); "
      "unreachable: {}",
      reached, total, needed, unreachable);
}

void Engine::openIncidents(TickSummary& summary) {
  const TimePoint now = clock_.now();
  // Nodes this engine fenced already and that stay off count toward the storm guard for the
  // storm window after their failure (StormGuard keeps them), not as down nodes for ever.
  const std::set<std::string> all_down = detector_.downNodes(now);
  std::set<std::string> down;
  for (const std::string& hostname : all_down) {
    if (!recovered_nodes_.contains(hostname)) down.insert(hostname);
  }
  const StormVerdict storm_verdict = storm_.judge(now, down, nodes_.size());
  const std::string& storm = storm_verdict.why;
  summary.storm = storm;
  // Every node down at once: one controller cut off is far likelier than every host dead.
  const bool every_node_down = nodes_.size() >= 2 && !summary.failed.empty() &&
                               std::all_of(nodes_.begin(), nodes_.end(), [&](const Node& n) {
                                 return all_down.contains(n.hostname);
                               });
  if (every_node_down) {
    summary.isolation = fmt::format(
        "all {} nodes are down at once: the controller is more likely cut off than every node "
        "dead",
        nodes_.size());
  }

  // Operator pause: logged when the engine first sees it change (also when set before a start).
  std::string paused;
  if (auto value = journal_.setting(kPausedSetting); !value) {
    // Fail safe: a pause that cannot be read might be in force.
    spdlog::warn("cannot read the pause setting: {}", value.error().message);
    paused = "automatic fencing may be paused (the journal cannot be read)";
  } else if (value->value_or("") == "1") {
    paused = "automatic fencing is paused by an operator";
  }
  if (!paused_seen_ || *paused_seen_ != !paused.empty()) {
    if (!paused.empty()) spdlog::warn("{}: failed nodes are reported, not fenced", paused);
    if (paused.empty() && paused_seen_) spdlog::info("automatic fencing is active");
    paused_seen_ = !paused.empty();
  }

  // Flapping: the admins are told once per episode, whether or not the node is down now.
  summary.flapping = detector_.flappingNodes(now);
  for (auto it = flapping_since_.begin(); it != flapping_since_.end();) {
    if (summary.flapping.contains(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("node {} is no longer flapping", it->first);
    flapping_alerted_.erase(it->first);
    it = flapping_since_.erase(it);
  }
  for (const auto& [hostname, recoveries] : summary.flapping) {
    if (flapping_since_.emplace(hostname, now).second) {
      spdlog::warn("node {} is flapping: came back {} times within {}; not fenced while it flaps",
                   hostname, recoveries, describeWindow(policy_.detector.flap_window));
    }
    if (flapping_alerted_.contains(hostname)) continue;
    const bool queued = alertAdmins(
        hostname, "[freezer-dr] " + hostname + " is flapping: not fenced while it flaps",
        fmt::format("Node {} went down and came back {} times within {} (more than {}). "
                    "freezer-dr will not fence it while it flaps; if it stays down, it is fenced "
                    "at the latest {} after its last recovery. Check its network and its "
                    "hypervisor.",
                    hostname, recoveries, describeWindow(policy_.detector.flap_window),
                    policy_.detector.flap_max_recoveries,
                    describeWindow(policy_.detector.flap_window)));
    if (queued) flapping_alerted_.insert(hostname);
  }

  // A node no longer failed may fail again later: alert again then.
  for (auto it = alerted_vetoes_.begin(); it != alerted_vetoes_.end();) {
    const std::string hostname = it->substr(0, it->find('|'));
    it = summary.failed.contains(hostname) ? std::next(it) : alerted_vetoes_.erase(it);
  }

  // Logged and alerted once per node and guard (`guard` names it: the veto's text may change
  // while it holds, as the storm's count does), until the node is no longer failed.
  const auto veto_node = [&](const std::string& hostname, const char* guard,
                             const std::string& veto, bool alert) {
    summary.vetoes.push_back(hostname + ": " + veto);
    const std::string key = hostname + "|" + guard;
    if (!alerted_vetoes_.insert(key).second) return;
    spdlog::warn("node {} failed but will not be fenced: {}", hostname, veto);
    if (!alert) return;
    const bool queued = alertAdmins(
        hostname, "[freezer-dr] " + hostname + " failed: NOT fenced (" + veto + ")",
        "Node " + hostname + " is down by " + std::to_string(policy_.detector.min_sources) +
            " or more sources, but freezer-dr will not fence it: " + veto +
            ". Nothing is evacuated. Check the node and the network.");
    if (!queued) alerted_vetoes_.erase(key);  // again at the next tick
  };

  std::vector<std::string> candidates;
  bool storm_vetoed = false;
  for (const std::string& hostname : summary.failed) {
    const bool has_incident = std::any_of(open_.begin(), open_.end(), [&](const auto& entry) {
      return entry.second.node == hostname;
    });
    if (has_incident) continue;
    if (node(hostname) == nullptr) {
      veto_node(hostname, "inventory", "not in the inventory", true);
    } else if (std::find(policy_.maintenance.begin(), policy_.maintenance.end(), hostname) !=
               policy_.maintenance.end()) {
      veto_node(hostname, "maintenance", "in maintenance", true);
    } else if (auto m = operator_maintenance_.find(hostname); m != operator_maintenance_.end()) {
      veto_node(hostname, "out-of-service",
                "taken out of service by an operator (" + m->second + ")", true);
    } else if (!paused.empty()) {
      veto_node(hostname, "pause", paused, true);
    } else if (summary.flapping.contains(hostname)) {
      veto_node(hostname, "flapping", "flapping", false);  // the flapping alert said it
    } else if (every_node_down) {
      veto_node(hostname, "isolation", kIsolationVeto,
                false);  // one alert for the isolation, below
    } else if (!storm.empty()) {
      veto_node(hostname, "storm", storm, false);  // one alert per episode, below
      storm_vetoed = true;
    } else {
      candidates.push_back(hostname);
    }
  }

  if (storm_vetoed) alertStorm(storm_verdict);

  // The reference points are probed at every cycle (MonitorCycle), so that a controller cut off
  // from everything, whose monitors then see nothing down, knows it while it lasts. With a fence
  // to make, one cycle cut off vetoes it; with none, two cycles in a row raise the isolation (one
  // lost poll of a reference monitor is not an isolation).
  if (std::string cut_off = checkIsolation(); !cut_off.empty()) {
    isolated_cycles_ += 1;
    if (!candidates.empty() || isolated_cycles_ >= 2) summary.isolation = std::move(cut_off);
    for (const std::string& hostname : candidates) {
      veto_node(hostname, "isolation", kIsolationVeto, false);
    }
    candidates.clear();
  } else {
    isolated_cycles_ = 0;
  }

  if (summary.isolation.empty()) {
    if (isolated_since_ != TimePoint{}) spdlog::warn("the controller no longer looks cut off");
    isolated_since_ = TimePoint{};
    isolation_alerted_ = false;
  } else {
    if (isolated_since_ == TimePoint{}) {
      isolated_since_ = now;
      spdlog::error("isolation: {}; fencing nothing", summary.isolation);
    }
    // Queued once per episode (again at the next tick if the journal refused it); the outbox
    // retries its delivery: a cut-off controller may not reach its mail server either.
    if (!isolation_alerted_) {
      isolation_alerted_ = alertAdmins(
          "", "[freezer-dr] URGENT: the controller looks isolated: fencing nothing",
          "freezer-dr fences nothing while " + summary.isolation +
              ". Failed nodes are reported, not fenced, and nothing is evacuated. Check the "
              "controller's own network.");
    }
  }

  // The per-tick fence cap: the first ones (by host name) now, the others at the next tick.
  const size_t cap = static_cast<size_t>(std::max(policy_.max_fences_per_tick, 1));
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string& hostname = candidates[i];
    if (i >= cap) {
      summary.deferred.insert(hostname);
      continue;
    }
    (void)openIncident(hostname, "Node " + hostname + " is confirmed down by " +
                                     std::to_string(policy_.detector.min_sources) +
                                     " or more sources.");
  }
  if (!summary.deferred.empty()) {
    spdlog::info("{} failed node(s) wait for the next tick (at most {} new fence(s) per tick)",
                 summary.deferred.size(), cap);
  }
  publishGuards(summary);
}

void Engine::publishGuards(const TickSummary& summary) {
  GuardState state;
  state.isolation = summary.isolation;
  if (!summary.isolation.empty()) state.isolated_since = isolated_since_;
  for (const auto& [hostname, recoveries] : summary.flapping) {
    const auto since = flapping_since_.find(hostname);
    state.flapping.push_back(
        {.node = hostname,
         .recoveries = recoveries,
         .since = since == flapping_since_.end() ? TimePoint{} : since->second});
  }
  state.deferred.assign(summary.deferred.begin(), summary.deferred.end());
  state.storm = summary.storm;
  if (!summary.storm.empty()) state.storm_since = storm_.episodeSince();
  state.storm_window = storm_.recentFailures();
  state.vetoes = summary.vetoes;
  // The lists of one entry per node are built only when they (or the rest) changed.
  GuardsKey key{.small = dumpGuardStateSummary(state),
                .readiness = readiness_.version(),
                .services_down = services_down_version_};
  if (key == published_key_) return;
  state.unprotected = readiness_.unprotected();
  for (const auto& [node_source, down] : services_down_) {
    if (state.services_down.size() == kListedServicesDown) break;
    state.services_down.push_back(down);
  }
  state.services_down_total = services_down_.size();
  std::string text = dumpGuardState(state);
  if (!published_guards_) {
    // What an earlier run left (or, when none, the empty state `status` shows by default): a
    // quiet start writes nothing.
    auto stored = journal_.setting(kGuardsSetting);
    if (stored) published_guards_ = stored->value_or(toJson(GuardState{}).dump());
  }
  if (text == published_guards_) {
    published_key_ = std::move(key);
    return;
  }
  if (auto saved = journal_.setSetting(kGuardsSetting, text); !saved) {
    spdlog::warn("cannot journal the guards' state for status: {}", saved.error().message);
    return;
  }
  published_guards_ = std::move(text);
  published_key_ = std::move(key);
}

}  // namespace fdr::core
