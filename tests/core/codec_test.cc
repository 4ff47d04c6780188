#include "core/codec.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fdr {
namespace {

using nlohmann::json;
using ::testing::EndsWith;
using ::testing::HasSubstr;

TimePoint at(int64_t ms) {
  return fromMillis(1'700'000'000'000 + ms);
}

InstanceRecord fullRecord() {
  return InstanceRecord{.id = "3f1c-a",
                        .name = "web-1",
                        .project_id = "p1",
                        .user_id = "u1",
                        .priority = 7,
                        .former_status = "ACTIVE",
                        .phase = InstancePhase::kRebuilding,
                        .attempts = 2,
                        .requested_at = at(10),
                        .finished_at = at(20),
                        .new_host = "compute-2",
                        .reason = "retried once",
                        .boot_from_volume = false,
                        .image_id = "img-1",
                        .disk = "image-backed: its local disk is rebuilt from image img-1",
                        .target_host = "spare-1",
                        .full_host_attempts = 1};
}

FenceProgress fullFence() {
  return FenceProgress{.level = 1,
                       .attempt = 3,
                       .off_requested_at = at(1),
                       .next_check_at = at(2),
                       .attempt_deadline = at(3),
                       .deadline = at(4),
                       .checks = 5,
                       .last_power = PowerState::kOff,
                       .confirmed_by = "fencer:ipmi",
                       .confirmed_at = at(6)};
}

Incident fullIncident() {
  InstanceRecord skipped = fullRecord();
  skipped.id = "3f1c-b";
  skipped.phase = InstancePhase::kSkipped;
  skipped.requested_at.reset();
  skipped.finished_at.reset();
  skipped.priority = -1;
  return Incident{.id = "compute-1@1700000000000",
                  .node = "compute-1",
                  .phase = Phase::kEvacuating,
                  .detected_at = at(0),
                  .updated_at = at(100),
                  .fenced_at = at(30),
                  .compute_down_at = at(40),
                  .evacuated_at = std::nullopt,
                  .closed_at = std::nullopt,
                  .fence = fullFence(),
                  .force_down_attempts = 1,
                  .instances = {fullRecord(), skipped},
                  .problems = {"fencer ipmi: timed out", "é ünïcode ✓"},
                  .unfence = UnfenceProgress{.step = UnfenceStep::kWaitingForCompute,
                                             .who = "alice",
                                             .requested_at = at(200),
                                             .deadline = at(800),
                                             .power_on_attempts = 2,
                                             .power_on_requested_at = at(210),
                                             .powered_on_by = "ipmi",
                                             .restored_at = std::nullopt},
                  .revision = 12,
                  .reserved_hosts = {ReservedHostUse{.host = "spare-1",
                                                     .state = ReservedHostState::kFull,
                                                     .reason = "No valid host was found.",
                                                     .at = at(60)},
                                     ReservedHostUse{.host = "spare-2",
                                                     .state = ReservedHostState::kEnabled,
                                                     .reason = "",
                                                     .at = std::nullopt}}};
}

Event fullEvent() {
  return Event{.at = at(50), .payload = events::InstancesListed{.records = {fullRecord()}}};
}

// One event of every kind, every field of its payload set (not to its default).
std::vector<Event> fullEvents() {
  const std::string detail = "line one\nline \"two\"";
  const std::vector<EventPayload> payloads = {
      events::Detected{.node = "compute-1", .detail = detail},
      events::PowerOffRequested{.level = 2,
                                .attempt = 1,
                                .fencer = "ipmi",
                                .attempt_deadline = at(60),
                                .fence_deadline = at(70)},
      events::PowerOffFailed{.detail = detail},
      events::PowerObserved{
          .fencer = "ipmi", .power = PowerState::kOn, .next_check_at = at(55), .detail = detail},
      events::FenceConfirmed{.fencer = "ipmi"},
      events::FenceFailed{.detail = detail},
      events::OperatorConfirmedFenced{.who = "alice", .detail = detail},
      events::ForceDownRequested{},
      events::ForceDownDone{},
      events::ForceDownFailed{.final = true, .detail = detail},
      events::InstancesListed{.records = {fullRecord()}, .detail = "capacity: 1 of them fit"},
      events::InstancesListFailed{.detail = detail},
      events::EvacuationRequested{.instance_id = "3f1c-a", .host = "spare-1"},
      events::EvacuationAccepted{.instance_id = "3f1c-a"},
      events::EvacuationRejected{.instance_id = "3f1c-a", .final = true, .detail = detail},
      events::InstanceObserved{.instance_id = "3f1c-a",
                               .host = "compute-2",
                               .status = "REBUILD",
                               .task_state = "rebuild_spawning",
                               .final = true},
      events::InstanceTimedOut{.instance_id = "3f1c-a", .final = true, .detail = detail},
      events::ReservedHostEnabling{.host = "spare-1"},
      events::ReservedHostEnabled{.host = "spare-1", .detail = detail},
      events::ReservedHostFull{.host = "spare-1", .instance_id = "3f1c-a", .detail = detail},
      events::ReservedHostUnusable{.host = "spare-1", .detail = detail},
      events::NoTargetLeft{.instance_id = "3f1c-a", .detail = detail},
      events::NotificationsQueued{},
      events::Closed{},
      events::Cancelled{.who = "alice", .detail = detail},
      events::UnfenceRequested{.who = "alice", .deadline = at(80)},
      events::PowerOnRequested{},
      events::PowerOnDone{.fencer = "ipmi"},
      events::PowerOnFailed{.detail = detail},
      events::RestoreRequested{.detail = detail},
      events::RestoreFailed{.detail = detail},
      events::BackInService{},
      events::UnfenceAbandoned{.detail = detail},
  };
  std::vector<Event> out;
  for (const EventPayload& p : payloads) out.push_back(Event{.at = at(50), .payload = p});
  return out;
}

// The journal keys each kind has, besides "kind" and "at" (the format of codec.h).
const std::map<EventKind, std::set<std::string>>& keysOfKind() {
  static const std::map<EventKind, std::set<std::string>> keys = {
      {EventKind::kDetected, {"node", "detail"}},
      {EventKind::kPowerOffRequested,
       {"level", "attempt", "who", "attempt_deadline", "fence_deadline"}},
      {EventKind::kPowerOffFailed, {"detail"}},
      {EventKind::kPowerObserved, {"who", "power", "next_check_at", "detail"}},
      {EventKind::kFenceConfirmed, {"who"}},
      {EventKind::kFenceFailed, {"detail"}},
      {EventKind::kOperatorConfirmedFenced, {"who", "detail"}},
      {EventKind::kForceDownRequested, {}},
      {EventKind::kForceDownDone, {}},
      {EventKind::kForceDownFailed, {"final", "detail"}},
      {EventKind::kInstancesListed, {"records", "detail"}},
      {EventKind::kInstancesListFailed, {"detail"}},
      {EventKind::kEvacuationRequested, {"instance_id", "host"}},
      {EventKind::kEvacuationAccepted, {"instance_id"}},
      {EventKind::kEvacuationRejected, {"instance_id", "final", "detail"}},
      {EventKind::kInstanceObserved, {"instance_id", "host", "status", "task_state", "final"}},
      {EventKind::kInstanceTimedOut, {"instance_id", "final", "detail"}},
      {EventKind::kReservedHostEnabling, {"host"}},
      {EventKind::kReservedHostEnabled, {"host", "detail"}},
      {EventKind::kReservedHostFull, {"host", "instance_id", "detail"}},
      {EventKind::kReservedHostUnusable, {"host", "detail"}},
      {EventKind::kNoTargetLeft, {"instance_id", "detail"}},
      {EventKind::kNotificationsQueued, {}},
      {EventKind::kClosed, {}},
      {EventKind::kCancelled, {"who", "detail"}},
      {EventKind::kUnfenceRequested, {"who", "deadline"}},
      {EventKind::kPowerOnRequested, {}},
      {EventKind::kPowerOnDone, {"who"}},
      {EventKind::kPowerOnFailed, {"detail"}},
      {EventKind::kRestoreRequested, {"detail"}},
      {EventKind::kRestoreFailed, {"detail"}},
      {EventKind::kBackInService, {}},
      {EventKind::kUnfenceAbandoned, {"detail"}},
  };
  return keys;
}

// The payload of the kind at `index`, every field at its default.
template <size_t... I>
EventPayload emptyPayload(size_t index, std::index_sequence<I...> /*indexes*/) {
  EventPayload payload;
  ((index == I ? static_cast<void>(payload.emplace<I>()) : void()), ...);
  return payload;
}
EventPayload emptyPayload(EventKind kind) {
  return emptyPayload(static_cast<size_t>(kind),
                      std::make_index_sequence<std::variant_size_v<EventPayload>>());
}

std::string kindNote(const Event& e) {
  return " (event kind '" + std::string(toString(e.kind())) + "')";
}

Notification fullNotification() {
  return Notification{
      .kind = NotificationKind::kEvacuationPartial,
      .audience = Audience::kProject,
      .project_id = "p1",
      .incident_id = "compute-1@1700000000000",
      .node = "compute-1",
      .at = at(90),
      .subject = "2 instances moved, 1 did not",
      .summary = "compute-1 failed at ...",
      .instances = {InstanceOutcome{.id = "a",
                                    .name = "web-1",
                                    .from_host = "compute-1",
                                    .to_host = "compute-2",
                                    .user_id = "u1",
                                    .ok = true,
                                    .reason = "",
                                    .down_ms = 41'250,
                                    .disk = "boots from a volume: its disk is kept"},
                    InstanceOutcome{.id = "b",
                                    .name = "db-1",
                                    .from_host = "compute-1",
                                    .to_host = "",
                                    .ok = false,
                                    .reason = "no valid host",
                                    .down_ms = 0}}};
}

OutboxItem fullOutboxItem() {
  return OutboxItem{.id = 42,
                    .notifier = "email",
                    .notification = fullNotification(),
                    .attempts = 3,
                    .next_attempt_at = at(120),
                    .last_error = "smtp: 451",
                    .delivered_at = at(130)};
}

Instance fullInstance() {
  return Instance{.id = "3f1c-a",
                  .name = "web-1",
                  .project_id = "p1",
                  .user_id = "u1",
                  .host = "compute-1",
                  .status = "ACTIVE",
                  .task_state = "",
                  .metadata = {{"evacuate", "false"}, {"priority", "10"}},
                  .boot_from_volume = true,
                  .image_id = "",
                  .fault = "No valid host was found."};
}

// Encodes, serialises, parses and decodes: the path a record takes through the journal.
template <class T, class Decode>
T roundTrip(const T& value, Decode decode) {
  auto parsed = parseJson(dumpJson(toJson(value)));
  EXPECT_TRUE(parsed.has_value()) << parsed.error().toString();
  auto decoded = decode(*parsed);
  EXPECT_TRUE(decoded.has_value()) << decoded.error().toString();
  return decoded.value_or(T{});
}

TEST(CodecTest, IncidentRoundTrips) {
  EXPECT_EQ(roundTrip(fullIncident(), incidentFromJson), fullIncident());
  EXPECT_EQ(roundTrip(Incident{}, incidentFromJson), Incident{});
}

TEST(CodecTest, EventRoundTrips) {
  const std::vector<Event> full = fullEvents();
  ASSERT_EQ(full.size(), std::variant_size_v<EventPayload>);
  for (size_t k = 0; k < full.size(); ++k) {
    ASSERT_EQ(full[k].kind(), static_cast<EventKind>(k));
    EXPECT_EQ(roundTrip(full[k], eventFromJson), full[k]) << toString(full[k].kind());
  }
  EXPECT_EQ(roundTrip(Event{}, eventFromJson), Event{});
  // A full host with no instance named is written "" and read back as none.
  const Event no_instance{
      .at = at(1),
      .payload = events::ReservedHostFull{.host = "h", .instance_id = std::nullopt, .detail = ""}};
  EXPECT_EQ(toJson(no_instance)["instance_id"], "");
  EXPECT_EQ(roundTrip(no_instance, eventFromJson), no_instance);
}

// Every kind is written in the journal's one event format: all the keys, those of other kinds at
// their empty value.
TEST(CodecTest, EveryEventKindWritesEveryKey) {
  const json neutral = {{"node", ""},
                        {"level", 0},
                        {"attempt", 0},
                        {"attempt_deadline", nullptr},
                        {"fence_deadline", nullptr},
                        {"next_check_at", nullptr},
                        {"deadline", nullptr},
                        {"power", "unknown"},
                        {"who", ""},
                        {"instance_id", ""},
                        {"host", ""},
                        {"status", ""},
                        {"task_state", ""},
                        {"records", json::array()},
                        {"final", false},
                        {"detail", ""}};
  for (const Event& e : fullEvents()) {
    SCOPED_TRACE(std::string(toString(e.kind())));
    const json j = toJson(e);
    EXPECT_EQ(j.size(), neutral.size() + 2);
    EXPECT_EQ(j["kind"], toString(e.kind()));
    EXPECT_EQ(j["at"], toMillis(e.at));
    const std::set<std::string>& own = keysOfKind().at(e.kind());
    for (const auto& [key, value] : neutral.items()) {
      ASSERT_TRUE(j.contains(key)) << key;
      if (own.contains(key)) {
        EXPECT_NE(j[key], value) << key << " of a full event is not set";
      } else {
        EXPECT_EQ(j[key], value) << key;
      }
    }
  }
}

TEST(CodecTest, PartsRoundTrip) {
  EXPECT_EQ(roundTrip(fullRecord(), instanceRecordFromJson), fullRecord());
  EXPECT_EQ(roundTrip(fullFence(), fenceProgressFromJson), fullFence());
  EXPECT_EQ(roundTrip(FenceProgress{}, fenceProgressFromJson), FenceProgress{});
  EXPECT_EQ(roundTrip(fullInstance(), instanceFromJson), fullInstance());
}

// Notification and its parts have no operator==: compare their encodings.
TEST(CodecTest, NotificationAndOutboxRoundTrip) {
  EXPECT_EQ(toJson(roundTrip(fullNotification(), notificationFromJson)),
            toJson(fullNotification()));
  EXPECT_EQ(toJson(roundTrip(fullOutboxItem(), outboxItemFromJson)), toJson(fullOutboxItem()));
  OutboxItem pending = fullOutboxItem();
  pending.delivered_at.reset();
  const OutboxItem back = roundTrip(pending, outboxItemFromJson);
  EXPECT_FALSE(back.delivered_at.has_value());
  EXPECT_EQ(toJson(back), toJson(pending));
  const InstanceOutcome outcome = fullNotification().instances[0];
  EXPECT_EQ(toJson(roundTrip(outcome, instanceOutcomeFromJson)), toJson(outcome));
}

TEST(CodecTest, UsesTheWordsOfNamesAndMillisecondTimes) {
  const json j = toJson(fullIncident());
  EXPECT_EQ(j["phase"], "evacuating");
  EXPECT_EQ(j["detected_at"], 1'700'000'000'000);
  EXPECT_TRUE(j["closed_at"].is_null());
  EXPECT_EQ(j["fence"]["last_power"], "off");
  EXPECT_EQ(j["instances"][1]["phase"], "skipped");
  EXPECT_EQ(toJson(fullEvent())["kind"], "instances-listed");
  EXPECT_EQ(toJson(fullNotification())["kind"], "evacuation-partial");
  EXPECT_EQ(toJson(fullNotification())["audience"], "project");
}

TEST(CodecTest, EveryPhaseAndEventKindRoundTrips) {
  for (int p = 0; p <= static_cast<int>(Phase::kCancelled); ++p) {
    Incident incident;
    incident.phase = static_cast<Phase>(p);
    EXPECT_EQ(roundTrip(incident, incidentFromJson).phase, incident.phase) << p;
  }
  for (int k = 0; k <= static_cast<int>(EventKind::kUnfenceAbandoned); ++k) {
    const Event event{.at = at(k), .payload = emptyPayload(static_cast<EventKind>(k))};
    ASSERT_EQ(event.kind(), static_cast<EventKind>(k));
    EXPECT_EQ(roundTrip(event, eventFromJson), event) << k;
  }
  for (int k = 0; k <= static_cast<int>(NotificationKind::kUnfenceFailed); ++k) {
    Notification n;
    n.kind = static_cast<NotificationKind>(k);
    EXPECT_EQ(roundTrip(n, notificationFromJson).kind, n.kind) << k;
  }
  for (int r = 0; r <= static_cast<int>(ReservedHostState::kUnusable); ++r) {
    Incident incident;
    incident.reserved_hosts.push_back(ReservedHostUse{
        .host = "h", .state = static_cast<ReservedHostState>(r), .reason = "", .at = std::nullopt});
    EXPECT_EQ(roundTrip(incident, incidentFromJson).reserved_hosts, incident.reserved_hosts) << r;
  }
  for (int u = 0; u <= static_cast<int>(UnfenceStep::kAbandoned); ++u) {
    Incident incident;
    incident.unfence.step = static_cast<UnfenceStep>(u);
    EXPECT_EQ(roundTrip(incident, incidentFromJson).unfence.step, incident.unfence.step) << u;
  }
}

// Journals written before the unfence and the instance owners: the fields added since decode
// to their defaults.
TEST(CodecTest, RecordsWrittenBeforeLaterFieldsDecodeWithDefaults) {
  json incident = toJson(fullIncident());
  incident.erase("unfence");
  auto decoded = incidentFromJson(incident);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_EQ(decoded->unfence, UnfenceProgress{});
  EXPECT_EQ(decoded->instances, fullIncident().instances);

  // "deadline" came with the unfence: only unfence-requested has it.
  for (const Event& e : fullEvents()) {
    if (e.kind() == EventKind::kUnfenceRequested) continue;
    json event = toJson(e);
    event.erase("deadline");
    auto event_back = eventFromJson(event);
    ASSERT_TRUE(event_back.has_value()) << event_back.error().toString();
    EXPECT_EQ(*event_back, e);
  }

  json notification = toJson(fullNotification());
  for (json& o : notification["instances"]) o.erase("user_id");
  auto notification_back = notificationFromJson(notification);
  ASSERT_TRUE(notification_back.has_value()) << notification_back.error().toString();
  EXPECT_EQ(notification_back->instances[0].user_id, "");
  EXPECT_EQ(notification_back->instances[0].to_host, "compute-2");
}

// Journals written before reserved hosts and the disk note (issue #5).
TEST(CodecTest, RecordsWrittenBeforeReservedHostsAndDiskNotesDecodeWithDefaults) {
  json incident = toJson(fullIncident());
  incident.erase("reserved_hosts");
  for (json& r : incident["instances"]) {
    for (const char* key :
         {"boot_from_volume", "image_id", "disk", "target_host", "full_host_attempts"}) {
      r.erase(key);
    }
  }
  auto decoded = incidentFromJson(incident);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_TRUE(decoded->reserved_hosts.empty());
  ASSERT_EQ(decoded->instances.size(), 2U);
  const InstanceRecord& r = decoded->instances[0];
  EXPECT_FALSE(r.boot_from_volume);
  EXPECT_EQ(r.image_id, "");
  EXPECT_EQ(r.disk, "");
  EXPECT_EQ(r.target_host, "");
  EXPECT_EQ(r.full_host_attempts, 0);
  EXPECT_EQ(r.new_host, "compute-2");

  json outcome = toJson(fullNotification().instances[0]);
  outcome.erase("disk");
  auto outcome_back = instanceOutcomeFromJson(outcome);
  ASSERT_TRUE(outcome_back.has_value()) << outcome_back.error().toString();
  EXPECT_EQ(outcome_back->disk, "");

  json instance = toJson(fullInstance());
  instance.erase("fault");
  auto instance_back = instanceFromJson(instance);
  ASSERT_TRUE(instance_back.has_value()) << instance_back.error().toString();
  EXPECT_EQ(instance_back->fault, "");
}

// Takes every field out of `value`'s encoding, one at a time, and expects an error naming it.
// `added_later`: fields a journal written before them lacks (absent = default; see
// RecordsWrittenBeforeLaterFieldsDecodeWithDefaults).
template <class T, class Decode>
void expectEveryFieldRequired(const T& value, Decode decode, const std::string& root,
                              const std::set<std::string>& added_later = {}) {
  const json full = toJson(value);
  ASSERT_TRUE(full.is_object());
  for (const auto& [key, unused] : full.items()) {
    if (added_later.contains(key)) continue;
    json j = full;
    j.erase(key);
    auto decoded = decode(j);
    ASSERT_FALSE(decoded.has_value()) << root << "." << key << " missing was accepted";
    EXPECT_EQ(decoded.error().code, ErrorCode::kCorruption);
    EXPECT_EQ(decoded.error().message, root + "." + key + ": missing");
  }
}

// A value of another JSON type than the field holds.
json wrongTypeFor(const json& v) {
  if (v.is_string()) return 42;
  if (v.is_array() || v.is_object() || v.is_boolean() || v.is_null()) return "x";
  return json::array();  // numbers
}

// Gives every field a value of the wrong type, one at a time, and expects an error naming it.
template <class T, class Decode>
void expectEveryFieldTyped(const T& value, Decode decode, const std::string& root) {
  const json full = toJson(value);
  for (const auto& [key, v] : full.items()) {
    json j = full;
    j[key] = wrongTypeFor(v);
    auto decoded = decode(j);
    ASSERT_FALSE(decoded.has_value()) << root << "." << key << " of the wrong type was accepted";
    EXPECT_EQ(decoded.error().code, ErrorCode::kCorruption);
    EXPECT_THAT(decoded.error().message, HasSubstr(root + "." + key + ": expected"));
  }
}

TEST(CodecTest, EveryMissingFieldIsNamed) {
  expectEveryFieldRequired(fullIncident(), incidentFromJson, "incident",
                           {"unfence", "reserved_hosts"});
  expectEveryFieldRequired(fullFence(), fenceProgressFromJson, "fence");
  expectEveryFieldRequired(
      fullRecord(), instanceRecordFromJson, "instance_record",
      {"boot_from_volume", "image_id", "disk", "target_host", "full_host_attempts"});
  expectEveryFieldRequired(fullNotification(), notificationFromJson, "notification");
  expectEveryFieldRequired(fullNotification().instances[0], instanceOutcomeFromJson,
                           "instance_outcome", {"user_id", "disk"});
  expectEveryFieldRequired(fullOutboxItem(), outboxItemFromJson, "outbox_item");
  expectEveryFieldRequired(fullInstance(), instanceFromJson, "instance", {"fault"});
}

TEST(CodecTest, EveryWrongTypedFieldIsNamed) {
  expectEveryFieldTyped(fullIncident(), incidentFromJson, "incident");
  expectEveryFieldTyped(fullFence(), fenceProgressFromJson, "fence");
  expectEveryFieldTyped(fullRecord(), instanceRecordFromJson, "instance_record");
  expectEveryFieldTyped(fullNotification(), notificationFromJson, "notification");
  expectEveryFieldTyped(fullNotification().instances[0], instanceOutcomeFromJson,
                        "instance_outcome");
  expectEveryFieldTyped(fullOutboxItem(), outboxItemFromJson, "outbox_item");
  expectEveryFieldTyped(fullInstance(), instanceFromJson, "instance");
}

// An event must have the fields of its kind, named with the kind when one is missing; the
// fields of other kinds are not read (the journal's events have them, at their empty value).
TEST(CodecTest, EventFieldsOfItsKindAreRequired) {
  for (const Event& e : fullEvents()) {
    SCOPED_TRACE(std::string(toString(e.kind())));
    const std::set<std::string>& own = keysOfKind().at(e.kind());
    const json full = toJson(e);
    for (const auto& [key, unused] : full.items()) {
      json j = full;
      j.erase(key);
      auto decoded = eventFromJson(j);
      if (key == "kind" || key == "at") {
        ASSERT_FALSE(decoded.has_value()) << key;
        EXPECT_EQ(decoded.error().message, "event." + key + ": missing");
      } else if (own.contains(key)) {
        ASSERT_FALSE(decoded.has_value()) << key << " missing was accepted";
        EXPECT_EQ(decoded.error().code, ErrorCode::kCorruption);
        EXPECT_EQ(decoded.error().message, "event." + key + ": missing" + kindNote(e));
      } else {
        ASSERT_TRUE(decoded.has_value()) << key << ": " << decoded.error().toString();
        EXPECT_EQ(*decoded, e) << key;
      }
    }
  }
  json listed = toJson(fullEvent());
  listed["records"][0].erase("phase");
  auto decoded = eventFromJson(listed);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message,
            "event.records[0].phase: missing (event kind 'instances-listed')");
}

TEST(CodecTest, EventFieldsOfItsKindAreTyped) {
  for (const Event& e : fullEvents()) {
    SCOPED_TRACE(std::string(toString(e.kind())));
    const std::set<std::string>& own = keysOfKind().at(e.kind());
    const json full = toJson(e);
    for (const auto& [key, v] : full.items()) {
      json j = full;
      j[key] = wrongTypeFor(v);
      auto decoded = eventFromJson(j);
      if (key == "kind" || key == "at" || own.contains(key)) {
        ASSERT_FALSE(decoded.has_value()) << key << " of the wrong type was accepted";
        EXPECT_EQ(decoded.error().code, ErrorCode::kCorruption);
        EXPECT_THAT(decoded.error().message, HasSubstr("event." + key + ": expected"));
        if (own.contains(key)) {
          EXPECT_THAT(decoded.error().message, EndsWith(kindNote(e)));
        }
      } else {
        ASSERT_TRUE(decoded.has_value()) << key << ": " << decoded.error().toString();
        EXPECT_EQ(*decoded, e) << key;
      }
    }
  }
  // The times a kind cannot lack are no optionals: null is refused. (An absent fence deadline is
  // a retry's: null is read as none.)
  const std::vector<Event> full = fullEvents();
  for (const auto& [kind, key] :
       std::vector<std::pair<std::string, std::string>>{{"power-off-requested", "attempt_deadline"},
                                                        {"power-observed", "next_check_at"},
                                                        {"unfence-requested", "deadline"}}) {
    const auto e = std::find_if(full.begin(), full.end(),
                                [&](const Event& x) { return toString(x.kind()) == kind; });
    ASSERT_NE(e, full.end()) << kind;
    json j = toJson(*e);
    j[key] = nullptr;
    auto decoded = eventFromJson(j);
    ASSERT_FALSE(decoded.has_value()) << kind << " without " << key << " was accepted";
    EXPECT_EQ(decoded.error().message, "event." + key +
                                           ": expected a time in integer milliseconds, got null "
                                           "(event kind '" +
                                           kind + "')");
  }
  json retry = toJson(full[1]);
  retry["fence_deadline"] = nullptr;
  auto decoded = eventFromJson(retry);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_EQ(decoded->as<events::PowerOffRequested>()->fence_deadline, std::nullopt);
}

// Events as the code before per-kind payloads wrote them (one field bag shared by every kind;
// text captured from that code's toJson), including optional fields left empty: they decode to
// their payloads, and are written back byte for byte.
TEST(CodecTest, EventsInTheFormatOfOldJournalsDecodeAndAreWrittenBackTheSame) {
  InstanceRecord vm;
  vm.id = "vm-1";
  vm.name = "web-1";
  vm.former_status = "ACTIVE";
  const std::
      vector<std::pair<std::string, Event>>
          old =
              {
                  {R"({"at":1700000000000,"attempt":0,"attempt_deadline":null,"deadline":null,"detail":"probe: no answer","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"detected","level":0,"next_check_at":null,"node":"compute-1","power":"unknown","records":[],"status":"","task_state":"","who":""})",
                   Event{.at = at(0),
                         .payload =
                             events::Detected{.node = "compute-1", .detail = "probe: no answer"}}},
                  // A retry: no new fence deadline.
                  {R"({"at":1700000000010,"attempt":2,"attempt_deadline":1700000005010,"deadline":null,"detail":"","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"power-off-requested","level":1,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":"ipmi"})",
                   Event{.at = at(10),
                         .payload = events::PowerOffRequested{.level = 1,
                                                              .attempt = 2,
                                                              .fencer = "ipmi",
                                                              .attempt_deadline = at(5010),
                                                              .fence_deadline = std::nullopt}}},
                  {R"({"at":1700000000020,"attempt":0,"attempt_deadline":null,"deadline":null,"detail":"ipmi reads the power on","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"power-observed","level":0,"next_check_at":1700000000220,"node":"","power":"on","records":[],"status":"","task_state":"","who":"ipmi"})",
                   Event{.at = at(20),
                         .payload = events::PowerObserved{.fencer = "ipmi",
                                                          .power = PowerState::kOn,
                                                          .next_check_at = at(220),
                                                          .detail = "ipmi reads the power on"}}},
                  {R"({"at":1700000000050,"attempt":0,"attempt_deadline":null,"deadline":null,"detail":"","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"instances-listed","level":0,"next_check_at":null,"node":"","power":"unknown","records":[{"attempts":0,"boot_from_volume":false,"disk":"","finished_at":null,"former_status":"ACTIVE","full_host_attempts":0,"id":"vm-1","image_id":"","name":"web-1","new_host":"","phase":"pending","priority":0,"project_id":"","reason":"","requested_at":null,"target_host":"","user_id":""}],"status":"","task_state":"","who":""})",
                   Event{.at = at(50), .payload = events::InstancesListed{.records = {vm}}}},
                  // To the scheduler: no target host.
                  {R"({"at":1700000000060,"attempt":0,"attempt_deadline":null,"deadline":null,"detail":"","fence_deadline":null,"final":false,"host":"","instance_id":"vm-1","kind":"evacuation-requested","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":""})",
                   Event{
                       .at = at(60),
                       .payload = events::EvacuationRequested{.instance_id = "vm-1", .host = ""}}},
                  {R"({"at":1700000000070,"attempt":0,"attempt_deadline":null,"deadline":null,"detail":"","fence_deadline":null,"final":true,"host":"compute-2","instance_id":"vm-1","kind":"instance-observed","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"ACTIVE","task_state":"","who":""})",
                   Event{
                       .at = at(70),
                       .payload =
                           events::InstanceObserved{
                               .instance_id =
                                   "vm-1",
                               .host = "compute-2",
                               .status = "ACTIVE",
                               .task_state = "",
                               .final =
                                   true}}},
                  // No instance named.
                  {R"({"at":1700000000080,"attempt":0,"attempt_deadline":null,"deadline":null,"detail":"full","fence_deadline":null,"final":false,"host":"spare-1","instance_id":"","kind":"reserved-host-full","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":""})",
                   Event{
                       .at = at(80),
                       .payload = events::ReservedHostFull{.host = "spare-1",
                                                           .instance_id = std::nullopt,
                                                           .detail = "full"}}},
                  {R"({"at":1700000000090,"attempt":0,"attempt_deadline":null,"deadline":1700000600090,"detail":"","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"unfence-requested","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":"alice"})", Event{.at = at(
                                                                                                                                                                                                                                                                                                                                             90),
                                                                                                                                                                                                                                                                                                                                         .payload =
                                                                                                                                                                                                                                                                                                                                             events::
                                                                                                                                                                                                                                                                                                                                                 UnfenceRequested{
                                                                                                                                                                                                                                                                                                                                                     .who =
                                                                                                                                                                                                                                                                                                                                                         "alice",
                                                                                                                                                                                                                                                                                                                                                     .deadline = at(
                                                                                                                                                                                                                                                                                                                                                         600'090)}}},
                  {R"({"at":1700000000100,"attempt":0,"attempt_deadline":null,"deadline":null,"detail":"","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"closed","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":""})",
                   Event{.at = at(100), .payload = events::Closed{}}},
              };
  for (const auto& [text, expected] : old) {
    SCOPED_TRACE(std::string(toString(expected.kind())));
    auto parsed = parseJson(text);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().toString();
    auto decoded = eventFromJson(*parsed);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
    EXPECT_EQ(*decoded, expected);
    EXPECT_EQ(dumpJson(toJson(*decoded)), text);
  }
  // Written before the unfence (no "deadline" at all).
  auto parsed = parseJson(
      R"({"at":1700000000030,"attempt":0,"attempt_deadline":null,"detail":"","fence_deadline":null,"final":false,"host":"","instance_id":"","kind":"fence-confirmed","level":0,"next_check_at":null,"node":"","power":"unknown","records":[],"status":"","task_state":"","who":"ipmi"})");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().toString();
  auto decoded = eventFromJson(*parsed);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_EQ(*decoded, (Event{.at = at(30), .payload = events::FenceConfirmed{.fencer = "ipmi"}}));
}

TEST(CodecTest, NestedFieldsAreNamedByTheirPath) {
  json j = toJson(fullIncident());
  j["instances"][1].erase("phase");
  auto decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "incident.instances[1].phase: missing");

  j = toJson(fullIncident());
  j["fence"]["checks"] = "many";
  decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message,
            "incident.fence.checks: expected a 32-bit integer, got string");

  j = toJson(fullIncident());
  j["problems"][1] = 3;
  decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "incident.problems[1]: expected a string, got integer 3");

  json o = toJson(fullOutboxItem());
  o["notification"]["instances"][0]["ok"] = "yes";
  auto item = outboxItemFromJson(o);
  ASSERT_FALSE(item.has_value());
  EXPECT_THAT(item.error().message,
              HasSubstr("outbox_item.notification.instances[0].ok: expected"));

  json i = toJson(fullInstance());
  i["metadata"]["priority"] = 10;
  auto instance = instanceFromJson(i);
  ASSERT_FALSE(instance.has_value());
  EXPECT_THAT(instance.error().message, HasSubstr("instance.metadata.priority: expected a string"));
}

TEST(CodecTest, UnknownEnumWordsAreNamed) {
  json j = toJson(fullIncident());
  j["phase"] = "resting";
  auto incident = incidentFromJson(j);
  ASSERT_FALSE(incident.has_value());
  EXPECT_EQ(incident.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(incident.error().message, "incident.phase: unknown value \"resting\"");

  json e = toJson(Event{
      .at = at(1),
      .payload = events::PowerObserved{
          .fencer = "ipmi", .power = PowerState::kOff, .next_check_at = at(2), .detail = ""}});
  e["power"] = "sort-of";
  auto event = eventFromJson(e);
  ASSERT_FALSE(event.has_value());
  EXPECT_EQ(event.error().message,
            "event.power: unknown value \"sort-of\" (event kind 'power-observed')");
  e = toJson(fullEvent());
  e["kind"] = "exploded";
  event = eventFromJson(e);
  ASSERT_FALSE(event.has_value());
  EXPECT_EQ(event.error().message, "event.kind: unknown value \"exploded\"");

  json n = toJson(fullNotification());
  n["audience"] = "everyone";
  auto notification = notificationFromJson(n);
  ASSERT_FALSE(notification.has_value());
  EXPECT_EQ(notification.error().message, "notification.audience: unknown value \"everyone\"");
}

TEST(CodecTest, NumbersOutOfRangeOrFractionalAreRefused) {
  json j = toJson(fullIncident());
  j["force_down_attempts"] = int64_t{1} << 40;
  auto decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("incident.force_down_attempts: expected"));

  j = toJson(fullIncident());
  j["revision"] = -1;
  decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("incident.revision: expected a non-negative"));

  j = toJson(fullIncident());
  j["updated_at"] = 1.5;
  decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message,
            "incident.updated_at: expected a time in integer milliseconds, got number 1.5");

  j = toJson(fullIncident());
  j["detected_at"] = UINT64_MAX;
  decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("incident.detected_at: expected"));
}

TEST(CodecTest, NonObjectsAreRefused) {
  auto decoded = incidentFromJson(json::array());
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "incident: expected an object, got array");

  json j = toJson(fullIncident());
  j["instances"][0] = "web-1";
  decoded = incidentFromJson(j);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "incident.instances[0]: expected an object, got string");
}

TEST(CodecTest, UnknownFieldsAreIgnored) {
  json j = toJson(fullIncident());
  j["added_by_a_later_version"] = {{"x", 1}};
  auto decoded = incidentFromJson(j);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_EQ(*decoded, fullIncident());
}

TEST(CodecTest, ParseJsonReportsBadText) {
  auto parsed = parseJson("{\"id\": ");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kCorruption);
  EXPECT_THAT(parsed.error().message, HasSubstr("not valid JSON"));
  EXPECT_FALSE(parseJson("").has_value());
  EXPECT_TRUE(parseJson("{}").has_value());
}

TEST(CodecTest, DumpReplacesInvalidUtf8InsteadOfThrowing) {
  Incident incident = fullIncident();
  incident.problems.push_back(std::string("bad \xff byte"));
  const std::string text = dumpJson(toJson(incident));
  auto parsed = parseJson(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().toString();
  auto decoded = incidentFromJson(*parsed);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_EQ(decoded->problems.back(), "bad \xEF\xBF\xBD byte");
}

TEST(CodecTest, AudienceAndPowerWords) {
  EXPECT_EQ(audienceFromString("admins"), Audience::kAdmins);
  EXPECT_EQ(audienceFromString(toString(Audience::kProject)), Audience::kProject);
  EXPECT_EQ(audienceFromString("Admins"), std::nullopt);
  EXPECT_EQ(powerStateFromString("off"), PowerState::kOff);
  EXPECT_EQ(powerStateFromString("unknown"), PowerState::kUnknown);
  EXPECT_EQ(powerStateFromString(""), std::nullopt);
}

}  // namespace
}  // namespace fdr
