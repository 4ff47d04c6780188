// What `freezer-dr status` prints: incidents with per-instance outcomes and timings.
#pragma once

#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/guard_state.h"
#include "freezer/incident.h"
#include "freezer/journal.h"
#include "ha/etcd_election.h"

namespace fdr::app {

// The guards as the acting daemon journaled them (settings "paused", "pause", "guards"), and
// the pause / resume commands it has not carried out yet.
struct GuardsReport {
  bool paused = false;
  std::optional<core::PauseState> pause;   // who paused or resumed last; none: never
  std::optional<core::GuardState> guards;  // none: no daemon wrote them yet
  std::vector<OperatorCommand> pending;    // pause / resume not applied yet
};

// Reads the report from `journal`; a setting that cannot be decoded is an error naming it.
[[nodiscard]] Result<GuardsReport> readGuards(Journal& journal);

// Controller HA: the leader key's holder and every controller's entry, read from etcd.
struct ClusterStatus {
  std::string cluster;
  std::optional<std::string> leader;  // none: no controller leads (etcd lost its quorum, ...)
  int64_t term = 0;
  std::vector<ha::MemberRecord> members;
  TimePoint read_at;
};
void printCluster(std::ostream& out, const ClusterStatus& cluster);
[[nodiscard]] nlohmann::json toJson(const ClusterStatus& cluster);

void printIncident(std::ostream& out, const Incident& incident);
void printGuards(std::ostream& out, const GuardsReport& guards);
void printStatus(std::ostream& out, const std::vector<Incident>& open,
                 const std::vector<Incident>& recent, const std::vector<OutboxItem>& undelivered,
                 const GuardsReport& guards);
// The `status --json` fields of the guards: "paused", "pause", "isolation", "flapping",
// "deferred", "vetoes", "pending_commands".
void addGuardsJson(nlohmann::json& doc, const GuardsReport& guards);
// The `status --json` "undelivered_notifications": each outbox item (core::toJson) with
// "incident_id" (null for an admin alert that belongs to no incident) and "admin_alert".
[[nodiscard]] nlohmann::json undeliveredJson(const std::vector<OutboxItem>& undelivered);

}  // namespace fdr::app
