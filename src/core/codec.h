// JSON forms of the records the journal stores (incidents, events, notifications, outbox items)
// and of the instances the evacuator reports.
//
// Encoding: every field is always written; enums use the words of src/core/names.cc; times are
// integer milliseconds since the epoch; an empty optional is written as null.
//
// Events keep the journal's one format from before each kind had a payload type of its own
// (include/freezer/incident_event.h): an object with "kind", "at" and the 16 fields every kind
// once shared ("node", "level", "attempt", "attempt_deadline", "fence_deadline",
// "next_check_at", "deadline", "power", "who", "instance_id", "host", "status", "task_state",
// "records", "final", "detail"). All are written, those the kind does not have at their empty
// value ("", 0, null, "unknown", [], false), so an older binary reads a newer journal; only the
// kind's own are read. A fencer's name is "who"; ReservedHostFull's absent instance is "".
//
// Decoding is defensive, because it reads what a disk (or another process) handed back: a missing
// field, a field of the wrong type or an unknown enum word is kCorruption naming the field by its
// path ("incident.instances[2].phase: missing"; for an event's field, with the event's kind:
// "event.instance_id: missing (event kind 'evacuation-requested')"). Unknown fields are ignored,
// so an older binary
// reads a newer journal. A field added later must be decoded with a default (not as required),
// or the journal's schema version must be bumped with a migration that rewrites old rows.
//
// No function here throws.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "freezer/incident.h"
#include "freezer/incident_event.h"
#include "freezer/journal.h"
#include "freezer/model.h"
#include "freezer/notifier.h"
#include "freezer/result.h"

namespace fdr {

nlohmann::json toJson(const InstanceRecord& record);
nlohmann::json toJson(const FenceProgress& fence);
nlohmann::json toJson(const UnfenceProgress& unfence);
nlohmann::json toJson(const ReservedHostUse& use);
nlohmann::json toJson(const Incident& incident);
nlohmann::json toJson(const Event& event);
nlohmann::json toJson(const InstanceOutcome& outcome);
nlohmann::json toJson(const Notification& notification);
nlohmann::json toJson(const OutboxItem& item);
nlohmann::json toJson(const Instance& instance);

[[nodiscard]] Result<InstanceRecord> instanceRecordFromJson(const nlohmann::json& j);
[[nodiscard]] Result<FenceProgress> fenceProgressFromJson(const nlohmann::json& j);
[[nodiscard]] Result<Incident> incidentFromJson(const nlohmann::json& j);
[[nodiscard]] Result<Event> eventFromJson(const nlohmann::json& j);
[[nodiscard]] Result<InstanceOutcome> instanceOutcomeFromJson(const nlohmann::json& j);
[[nodiscard]] Result<Notification> notificationFromJson(const nlohmann::json& j);
[[nodiscard]] Result<OutboxItem> outboxItemFromJson(const nlohmann::json& j);
[[nodiscard]] Result<Instance> instanceFromJson(const nlohmann::json& j);

// Parses text as JSON; kCorruption with the parser's message (and its byte offset) if it is not.
[[nodiscard]] Result<nlohmann::json> parseJson(std::string_view text);
// Serialises compactly. Invalid UTF-8 in a string is replaced (U+FFFD) rather than thrown.
[[nodiscard]] std::string dumpJson(const nlohmann::json& j);

// The words for the two enums names.cc does not parse: "admins"/"project", "on"/"off"/"unknown".
std::string_view toString(Audience audience);
std::optional<Audience> audienceFromString(std::string_view s);
std::optional<PowerState> powerStateFromString(std::string_view s);

}  // namespace fdr
