#include "app/status_report.h"

#include <fmt/format.h>

#include "core/codec.h"

namespace fdr::app {
namespace {

std::string after(TimePoint start, const std::optional<TimePoint>& t) {
  if (!t) return "-";
  return fmt::format("+{:.1f}s", (toMillis(*t) - toMillis(start)) / 1000.0);
}

// An operator's unfence of the incident's node: who asked, where it is, what happened last.
void printUnfence(std::ostream& out, const UnfenceProgress& u) {
  const TimePoint asked = u.requested_at.value_or(TimePoint{});
  std::string line = fmt::format("  unfence: {} (asked by {}", toString(u.step), u.who);
  if (u.requested_at) line += " at " + formatTime(*u.requested_at);
  line += ")";
  if (u.power_on_requested_at) {
    line += fmt::format("; power-on {} {}",
                        u.powered_on_by.empty() ? "asked" : "accepted by " + u.powered_on_by,
                        after(asked, u.power_on_requested_at));
    if (u.power_on_attempts > 1) line += fmt::format(" ({} attempts)", u.power_on_attempts);
  }
  if (u.restored_at) line += "; back in service " + after(asked, u.restored_at);
  if (isUnfenceActive(u.step) && u.deadline) {
    line += "; gives up at " + formatTime(*u.deadline);
  }
  out << line << "\n";
}

}  // namespace

Result<GuardsReport> readGuards(Journal& journal) {
  GuardsReport report;
  auto paused = journal.setting(core::kPausedSetting);
  if (!paused) return std::unexpected(paused.error());
  report.paused = paused->value_or("") == "1";
  auto pause = journal.setting(core::kPauseSetting);
  if (!pause) return std::unexpected(pause.error());
  if (*pause) {
    auto decoded = core::pauseStateFromJson(**pause);
    if (!decoded) return withContext(decoded.error(), "journal setting 'pause'");
    report.pause = std::move(*decoded);
  }
  auto guards = journal.setting(core::kGuardsSetting);
  if (!guards) return std::unexpected(guards.error());
  if (*guards) {
    auto decoded = core::guardStateFromJson(**guards);
    if (!decoded) return withContext(decoded.error(), "journal setting 'guards'");
    report.guards = std::move(*decoded);
  }
  auto pending = journal.pendingCommands();
  if (!pending) return std::unexpected(pending.error());
  for (OperatorCommand& command : *pending) {
    if (command.kind == "pause" || command.kind == "resume") {
      report.pending.push_back(std::move(command));
    }
  }
  return report;
}

void printGuards(std::ostream& out, const GuardsReport& g) {
  if (g.paused) {
    out << "automatic fencing is PAUSED";
    if (g.pause && g.pause->paused) {
      out << fmt::format(" by {} since {}", g.pause->by, formatTime(g.pause->at));
      if (!g.pause->reason.empty()) out << ": " << g.pause->reason;
    }
    out << "\n";
  } else if (g.pause && !g.pause->paused) {
    out << fmt::format("automatic fencing is active (resumed by {} at {})\n", g.pause->by,
                       formatTime(g.pause->at));
  }
  for (const OperatorCommand& c : g.pending) {
    out << fmt::format(
        "pending: {} asked by {} at {}{}; not carried out yet (is freezer-dr "
        "running?)\n",
        c.kind, c.who, formatTime(c.at), c.reason.empty() ? "" : " (" + c.reason + ")");
  }
  if (!g.guards) return;
  const core::GuardState& s = *g.guards;
  if (!s.isolation.empty()) {
    out << "controller ISOLATED";
    if (s.isolated_since) out << " since " << formatTime(*s.isolated_since);
    out << ": " << s.isolation << "; fencing nothing\n";
  }
  for (const core::FlappingNode& f : s.flapping) {
    out << fmt::format(
        "flapping: {} (came back {} times within the flap window; since {}): not "
        "fenced while it flaps\n",
        f.node, f.recoveries, formatTime(f.since));
  }
  if (!s.storm.empty()) {
    out << "STORM";
    if (s.storm_since) out << " since " << formatTime(*s.storm_since);
    out << ": " << s.storm << "; fencing nothing\n";
  }
  for (const core::StormFailure& f : s.storm_window) {
    out << fmt::format("counts toward the storm guard until {}: {} (failed at {})\n",
                       formatTime(f.counts_until), f.node, formatTime(f.failed_at));
  }
  for (const core::UnprotectedNode& u : s.unprotected) {
    out << fmt::format("UNPROTECTED since {}: {}: fencing it would fail ({})\n",
                       formatTime(u.since), u.node, u.reason);
  }
  for (const core::ServiceDown& d : s.services_down) {
    out << fmt::format("SERVICE DOWN since {}: {} ({}): {}; the node answers, so it is up\n",
                       formatTime(d.since), d.node, d.source, d.detail);
  }
  if (s.services_down_total > s.services_down.size()) {
    out << fmt::format("SERVICE DOWN: {} more (the first {} are listed)\n",
                       s.services_down_total - s.services_down.size(), s.services_down.size());
  }
  for (const std::string& node : s.deferred) {
    out << "waiting for the next tick (fence cap): " << node << "\n";
  }
  for (const std::string& veto : s.vetoes) out << "not fenced: " << veto << "\n";
}

void addGuardsJson(nlohmann::json& doc, const GuardsReport& g) {
  doc["paused"] = g.paused;
  doc["pause"] = g.pause ? core::toJson(*g.pause) : nlohmann::json(nullptr);
  const core::GuardState none;
  nlohmann::json guards = core::toJson(g.guards ? *g.guards : none);
  for (const char* key :
       {"isolation", "isolated_since", "flapping", "deferred", "vetoes", "storm", "storm_since",
        "storm_window", "unprotected", "services_down", "services_down_total"}) {
    doc[key] = std::move(guards[key]);
  }
  doc["pending_commands"] = nlohmann::json::array();
  for (const OperatorCommand& c : g.pending) {
    doc["pending_commands"].push_back(
        {{"kind", c.kind}, {"who", c.who}, {"at", toMillis(c.at)}, {"reason", c.reason}});
  }
}

nlohmann::json undeliveredJson(const std::vector<OutboxItem>& undelivered) {
  nlohmann::json items = nlohmann::json::array();
  for (const OutboxItem& item : undelivered) {
    nlohmann::json j = toJson(item);
    const std::string& incident_id = item.notification.incident_id;
    j["incident_id"] = incident_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(incident_id);
    j["admin_alert"] = incident_id.empty();
    items.push_back(std::move(j));
  }
  return items;
}

void printCluster(std::ostream& out, const ClusterStatus& cluster) {
  if (cluster.leader) {
    out << fmt::format("Cluster '{}': {} leads (term {})\n", cluster.cluster, *cluster.leader,
                       cluster.term);
  } else {
    out << fmt::format("Cluster '{}': no controller leads: nothing is fenced or evacuated\n",
                       cluster.cluster);
  }
  for (const ha::MemberRecord& m : cluster.members) {
    const auto age =
        std::chrono::duration_cast<std::chrono::seconds>(cluster.read_at - m.heartbeat);
    out << fmt::format("  {} {}: last heartbeat {} ({} s ago){}\n", m.role, m.name,
                       formatTime(m.heartbeat), age.count(), m.why.empty() ? "" : "; " + m.why);
  }
}

nlohmann::json toJson(const ClusterStatus& cluster) {
  nlohmann::json members = nlohmann::json::array();
  for (const ha::MemberRecord& m : cluster.members) {
    members.push_back({{"name", m.name},
                       {"role", m.role},
                       {"term", m.term},
                       {"heartbeat", formatTime(m.heartbeat)},
                       {"why", m.why}});
  }
  return {{"cluster", cluster.cluster},
          {"leader", cluster.leader ? nlohmann::json(*cluster.leader) : nlohmann::json()},
          {"term", cluster.term},
          {"controllers", members}};
}

void printIncident(std::ostream& out, const Incident& i) {
  out << fmt::format("incident {}  node {}  phase {}\n", i.id, i.node, toString(i.phase));
  out << fmt::format("  detected {}  fenced {}  compute-down {}  evacuated {}  closed {}\n",
                     formatTime(i.detected_at), after(i.detected_at, i.fenced_at),
                     after(i.detected_at, i.compute_down_at), after(i.detected_at, i.evacuated_at),
                     after(i.detected_at, i.closed_at));
  if (!i.fence.confirmed_by.empty()) {
    out << fmt::format("  power-off confirmed by {}\n", i.fence.confirmed_by);
  } else if (i.phase == Phase::kFencing || i.phase == Phase::kFenceFailed) {
    out << fmt::format("  fencing: level {}, attempt {}, last power state {}\n", i.fence.level + 1,
                       i.fence.attempt, toString(i.fence.last_power));
  }
  if (!i.instances.empty()) {
    size_t done = 0;
    for (const auto& r : i.instances) done += r.phase == InstancePhase::kDone ? 1 : 0;
    out << fmt::format("  instances: {} of {} running elsewhere\n", done, i.instances.size());
    for (const auto& r : i.instances) {
      std::string line = fmt::format("    {:<36} {:<20} {:<10}", r.id, r.name, toString(r.phase));
      if (!r.new_host.empty()) line += " -> " + r.new_host;
      if (r.finished_at && r.phase == InstancePhase::kDone) {
        line += fmt::format("  down {:.1f}s",
                            (toMillis(*r.finished_at) - toMillis(i.detected_at)) / 1000.0);
      }
      if (!r.target_host.empty()) line += "  asked: reserved host " + r.target_host;
      if (r.attempts > 1) line += fmt::format("  ({} requests)", r.attempts);
      if (!r.reason.empty()) line += "  reason: " + r.reason;
      out << line << "\n";
      if (!r.disk.empty()) out << "      disk: " << r.disk << "\n";
    }
  }
  for (const ReservedHostUse& u : i.reserved_hosts) {
    out << fmt::format("  reserved host {}: {}{}\n", u.host, toString(u.state),
                       u.reason.empty() ? "" : " (" + u.reason + ")");
  }
  if (i.unfence.step != UnfenceStep::kNone) printUnfence(out, i.unfence);
  for (const auto& p : i.problems) out << "  problem: " << p << "\n";
}

void printStatus(std::ostream& out, const std::vector<Incident>& open,
                 const std::vector<Incident>& recent, const std::vector<OutboxItem>& undelivered,
                 const GuardsReport& guards) {
  printGuards(out, guards);
  out << fmt::format("open incidents: {}\n", open.size());
  for (const auto& i : open) printIncident(out, i);
  size_t closed = 0;
  for (const auto& i : recent) {
    if (!isTerminal(i.phase)) continue;
    if (closed++ == 0) out << "recent closed incidents:\n";
    printIncident(out, i);
  }
  if (!undelivered.empty()) {
    out << fmt::format("undelivered notifications: {}\n", undelivered.size());
    for (const auto& item : undelivered) {
      const Notification& n = item.notification;
      // An alert of the guards (a veto, a pause, isolation) belongs to no incident.
      const std::string about = !n.incident_id.empty() ? "incident " + n.incident_id
                                : n.node.empty()       ? "admin alert"
                                                       : "admin alert, node " + n.node;
      out << fmt::format(
          "  #{} {} ({}) via {}: {} attempt(s), next {}{}\n    {}\n", item.id, toString(n.kind),
          about, item.notifier, item.attempts, formatTime(item.next_attempt_at),
          item.last_error.empty() ? "" : ", last error: " + item.last_error, n.subject);
    }
  }
}

}  // namespace fdr::app
