#include "app/status_report.h"

#include <fmt/format.h>

namespace fdr::app {
namespace {

std::string after(TimePoint start, const std::optional<TimePoint>& t) {
  if (!t) return "-";
  return fmt::format("+{:.1f}s", (toMillis(*t) - toMillis(start)) / 1000.0);
}

}  // namespace

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
      if (r.attempts > 1) line += fmt::format("  ({} requests)", r.attempts);
      if (!r.reason.empty()) line += "  reason: " + r.reason;
      out << line << "\n";
    }
  }
  for (const auto& p : i.problems) out << "  problem: " << p << "\n";
}

void printStatus(std::ostream& out, const std::vector<Incident>& open,
                 const std::vector<Incident>& recent, const std::vector<OutboxItem>& undelivered,
                 bool paused) {
  if (paused) out << "automatic fencing is PAUSED\n";
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
      out << fmt::format("  #{} {} via {}: {} attempt(s){}\n", item.id,
                         toString(item.notification.kind), item.notifier, item.attempts,
                         item.last_error.empty() ? "" : ", last error: " + item.last_error);
    }
  }
}

}  // namespace fdr::app
