#include "core/codec.h"

#include <climits>
#include <concepts>
#include <cstdint>
#include <map>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace fdr {
namespace {

using nlohmann::json;

json timeJson(TimePoint t) {
  return toMillis(t);
}

json timeJson(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return toMillis(*t);
}

std::optional<int64_t> asInt64(const json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

std::string describe(const json& v) {
  if (v.is_number_integer()) return "integer " + v.dump();
  if (v.is_number_float()) return "number " + v.dump();
  return v.type_name();
}

// Reads the fields of one JSON object. The first problem is kept (with the field's path) and
// every later read is skipped, so a decoder reads straight through and checks status() once.
class Fields {
 public:
  // `note`, if any, ends every error message (" (event kind 'closed')").
  Fields(const json& j, std::string path, std::string note = "")
      : j_(j), path_(std::move(path)), note_(std::move(note)) {
    if (!j_.is_object()) {
      setError(path_ + ": expected an object, got " + std::string(j_.type_name()));
    }
  }

  [[nodiscard]] Status status() const {
    if (error_) return fail(ErrorCode::kCorruption, *error_);
    return {};
  }

  // For fields added after the first journals were written: absent = keep the default.
  [[nodiscard]] bool has(std::string_view key) const {
    return !error_ && j_.is_object() && j_.contains(key);
  }

  void get(std::string_view key, std::string& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (!v->is_string()) return wrongType(key, "a string", *v);
    out = v->get_ref<const std::string&>();
  }

  void get(std::string_view key, bool& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return wrongType(key, "a boolean", *v);
    out = v->get<bool>();
  }

  void get(std::string_view key, int64_t& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    const auto n = asInt64(*v);
    if (!n) return wrongType(key, "an integer", *v);
    out = *n;
  }

  void get(std::string_view key, int& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    const auto n = asInt64(*v);
    if (!n || *n < INT_MIN || *n > INT_MAX) return wrongType(key, "a 32-bit integer", *v);
    out = static_cast<int>(*n);
  }

  void get(std::string_view key, uint64_t& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (v->is_number_unsigned()) {
      out = v->get<uint64_t>();
      return;
    }
    const auto n = asInt64(*v);
    if (!n || *n < 0) return wrongType(key, "a non-negative integer", *v);
    out = static_cast<uint64_t>(*n);
  }

  void get(std::string_view key, TimePoint& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    const auto n = asInt64(*v);
    if (!n) return wrongType(key, "a time in integer milliseconds", *v);
    out = fromMillis(*n);
  }

  void get(std::string_view key, std::optional<TimePoint>& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (v->is_null()) {
      out.reset();
      return;
    }
    const auto n = asInt64(*v);
    if (!n) return wrongType(key, "a time in integer milliseconds or null", *v);
    out = fromMillis(*n);
  }

  // An empty string is none.
  void get(std::string_view key, std::optional<std::string>& out) {
    std::string value;
    get(key, value);
    if (error_) return;
    out = value.empty() ? std::nullopt : std::optional<std::string>(std::move(value));
  }

  void get(std::string_view key, PowerState& out) { getEnum(key, out, &powerStateFromString); }

  void get(std::string_view key, std::vector<InstanceRecord>& out);

  void get(std::string_view key, std::vector<std::string>& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (!v->is_array()) return wrongType(key, "an array of strings", *v);
    std::vector<std::string> values;
    for (size_t i = 0; i < v->size(); ++i) {
      const json& item = (*v)[i];
      if (!item.is_string()) {
        return setError(pathOf(key) + "[" + std::to_string(i) + "]: expected a string, got " +
                        describe(item));
      }
      values.push_back(item.get_ref<const std::string&>());
    }
    out = std::move(values);
  }

  void get(std::string_view key, std::map<std::string, std::string>& out) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (!v->is_object()) return wrongType(key, "an object of strings", *v);
    std::map<std::string, std::string> values;
    for (const auto& [k, item] : v->items()) {
      if (!item.is_string()) {
        return setError(pathOf(key) + "." + k + ": expected a string, got " + describe(item));
      }
      values.emplace(k, item.get_ref<const std::string&>());
    }
    out = std::move(values);
  }

  template <class E>
  void getEnum(std::string_view key, E& out, std::optional<E> (*parse)(std::string_view)) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (!v->is_string()) return wrongType(key, "a string", *v);
    const auto parsed = parse(v->get_ref<const std::string&>());
    if (!parsed) return setError(pathOf(key) + ": unknown value " + v->dump());
    out = *parsed;
  }

  // decode(const json&, const std::string& path) -> Result<T>
  template <class T, class Decode>
  void getObject(std::string_view key, T& out, Decode decode) {
    const json* v = field(key);
    if (v == nullptr) return;
    auto decoded = decode(*v, pathOf(key));
    if (!decoded) return setError(decoded.error().message);
    out = std::move(*decoded);
  }

  template <class T, class Decode>
  void getArray(std::string_view key, std::vector<T>& out, Decode decode) {
    const json* v = field(key);
    if (v == nullptr) return;
    if (!v->is_array()) return wrongType(key, "an array", *v);
    std::vector<T> values;
    values.reserve(v->size());
    for (size_t i = 0; i < v->size(); ++i) {
      auto decoded = decode((*v)[i], pathOf(key) + "[" + std::to_string(i) + "]");
      if (!decoded) return setError(decoded.error().message);
      values.push_back(std::move(*decoded));
    }
    out = std::move(values);
  }

 private:
  const json* field(std::string_view key) {
    if (error_) return nullptr;
    const auto it = j_.find(key);
    if (it == j_.end()) {
      setError(pathOf(key) + ": missing");
      return nullptr;
    }
    return &*it;
  }

  std::string pathOf(std::string_view key) const { return path_ + "." + std::string(key); }

  void wrongType(std::string_view key, std::string_view expected, const json& got) {
    setError(pathOf(key) + ": expected " + std::string(expected) + ", got " + describe(got));
  }

  void setError(std::string message) {
    if (!error_) error_ = note_.empty() ? std::move(message) : message + " (" + note_ + ")";
  }

  const json& j_;
  std::string path_;
  std::string note_;
  std::optional<std::string> error_;
};

Result<InstanceRecord> decodeInstanceRecord(const json& j, const std::string& path) {
  InstanceRecord r;
  Fields f(j, path);
  f.get("id", r.id);
  f.get("name", r.name);
  f.get("project_id", r.project_id);
  f.get("user_id", r.user_id);
  f.get("priority", r.priority);
  f.get("former_status", r.former_status);
  f.getEnum("phase", r.phase, &instancePhaseFromString);
  f.get("attempts", r.attempts);
  f.get("requested_at", r.requested_at);
  f.get("finished_at", r.finished_at);
  f.get("new_host", r.new_host);
  f.get("reason", r.reason);
  // Added later: journals written before them decode with the defaults.
  if (f.has("boot_from_volume")) f.get("boot_from_volume", r.boot_from_volume);
  if (f.has("image_id")) f.get("image_id", r.image_id);
  if (f.has("disk")) f.get("disk", r.disk);
  if (f.has("target_host")) f.get("target_host", r.target_host);
  if (f.has("full_host_attempts")) f.get("full_host_attempts", r.full_host_attempts);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return r;
}

Result<ReservedHostUse> decodeReservedHostUse(const json& j, const std::string& path) {
  ReservedHostUse u;
  Fields f(j, path);
  f.get("host", u.host);
  f.getEnum("state", u.state, &reservedHostStateFromString);
  f.get("reason", u.reason);
  f.get("at", u.at);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return u;
}

Result<FenceProgress> decodeFenceProgress(const json& j, const std::string& path) {
  FenceProgress p;
  Fields f(j, path);
  f.get("level", p.level);
  f.get("attempt", p.attempt);
  f.get("off_requested_at", p.off_requested_at);
  f.get("next_check_at", p.next_check_at);
  f.get("attempt_deadline", p.attempt_deadline);
  f.get("deadline", p.deadline);
  f.get("checks", p.checks);
  f.getEnum("last_power", p.last_power, &powerStateFromString);
  f.get("confirmed_by", p.confirmed_by);
  f.get("confirmed_at", p.confirmed_at);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return p;
}

Result<UnfenceProgress> decodeUnfenceProgress(const json& j, const std::string& path) {
  UnfenceProgress u;
  Fields f(j, path);
  f.getEnum("step", u.step, &unfenceStepFromString);
  f.get("who", u.who);
  f.get("requested_at", u.requested_at);
  f.get("deadline", u.deadline);
  f.get("power_on_attempts", u.power_on_attempts);
  f.get("power_on_requested_at", u.power_on_requested_at);
  f.get("powered_on_by", u.powered_on_by);
  f.get("restored_at", u.restored_at);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return u;
}

Result<Incident> decodeIncident(const json& j, const std::string& path) {
  Incident i;
  Fields f(j, path);
  f.get("id", i.id);
  f.get("node", i.node);
  f.getEnum("phase", i.phase, &phaseFromString);
  f.get("detected_at", i.detected_at);
  f.get("updated_at", i.updated_at);
  f.get("fenced_at", i.fenced_at);
  f.get("compute_down_at", i.compute_down_at);
  f.get("evacuated_at", i.evacuated_at);
  f.get("closed_at", i.closed_at);
  f.getObject("fence", i.fence, &decodeFenceProgress);
  f.get("force_down_attempts", i.force_down_attempts);
  f.getArray("instances", i.instances, &decodeInstanceRecord);
  if (f.has("reserved_hosts")) {
    f.getArray("reserved_hosts", i.reserved_hosts, &decodeReservedHostUse);
  }
  f.get("problems", i.problems);
  if (f.has("unfence")) f.getObject("unfence", i.unfence, &decodeUnfenceProgress);
  f.get("revision", i.revision);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return i;
}

void Fields::get(std::string_view key, std::vector<InstanceRecord>& out) {
  getArray(key, out, &decodeInstanceRecord);
}

// The fields of each event kind, by their journal key: one list for the encoder and the
// decoder, which call v(key, field) for each (P is the payload type, const or not). The keys are
// those of the journal's one event format, from before each kind had a payload type of its own:
// toJson(const Event&) writes them all.
template <class P, class T>
concept PayloadOf = std::same_as<std::remove_const_t<P>, T>;

// The kinds without fields.
template <class P, class V>
requires std::is_empty_v<P>
void eventFields(P& /*payload*/, V&& /*v*/) {}

template <PayloadOf<events::Detected> P, class V>
void eventFields(P& p, V&& v) {
  v("node", p.node);
  v("detail", p.detail);
}
template <PayloadOf<events::PowerOffRequested> P, class V>
void eventFields(P& p, V&& v) {
  v("level", p.level);
  v("attempt", p.attempt);
  v("who", p.fencer);
  v("attempt_deadline", p.attempt_deadline);
  v("fence_deadline", p.fence_deadline);
}
template <PayloadOf<events::PowerOffFailed> P, class V>
void eventFields(P& p, V&& v) {
  v("detail", p.detail);
}
template <PayloadOf<events::PowerObserved> P, class V>
void eventFields(P& p, V&& v) {
  v("who", p.fencer);
  v("power", p.power);
  v("next_check_at", p.next_check_at);
  v("detail", p.detail);
}
template <PayloadOf<events::FenceConfirmed> P, class V>
void eventFields(P& p, V&& v) {
  v("who", p.fencer);
}
template <PayloadOf<events::FenceFailed> P, class V>
void eventFields(P& p, V&& v) {
  v("detail", p.detail);
}
template <PayloadOf<events::OperatorConfirmedFenced> P, class V>
void eventFields(P& p, V&& v) {
  v("who", p.who);
  v("detail", p.detail);
}
template <PayloadOf<events::ForceDownFailed> P, class V>
void eventFields(P& p, V&& v) {
  v("final", p.final);
  v("detail", p.detail);
}
template <PayloadOf<events::InstancesListed> P, class V>
void eventFields(P& p, V&& v) {
  v("records", p.records);
  v("detail", p.detail);
}
template <PayloadOf<events::InstancesListFailed> P, class V>
void eventFields(P& p, V&& v) {
  v("detail", p.detail);
}
template <PayloadOf<events::EvacuationRequested> P, class V>
void eventFields(P& p, V&& v) {
  v("instance_id", p.instance_id);
  v("host", p.host);
}
template <PayloadOf<events::EvacuationAccepted> P, class V>
void eventFields(P& p, V&& v) {
  v("instance_id", p.instance_id);
}
template <PayloadOf<events::EvacuationRejected> P, class V>
void eventFields(P& p, V&& v) {
  v("instance_id", p.instance_id);
  v("final", p.final);
  v("detail", p.detail);
}
template <PayloadOf<events::InstanceObserved> P, class V>
void eventFields(P& p, V&& v) {
  v("instance_id", p.instance_id);
  v("host", p.host);
  v("status", p.status);
  v("task_state", p.task_state);
  v("final", p.final);
}
template <PayloadOf<events::InstanceTimedOut> P, class V>
void eventFields(P& p, V&& v) {
  v("instance_id", p.instance_id);
  v("final", p.final);
  v("detail", p.detail);
}
template <PayloadOf<events::ReservedHostEnabling> P, class V>
void eventFields(P& p, V&& v) {
  v("host", p.host);
}
template <PayloadOf<events::ReservedHostEnabled> P, class V>
void eventFields(P& p, V&& v) {
  v("host", p.host);
  v("detail", p.detail);
}
template <PayloadOf<events::ReservedHostFull> P, class V>
void eventFields(P& p, V&& v) {
  v("host", p.host);
  v("instance_id", p.instance_id);  // "" when none
  v("detail", p.detail);
}
template <PayloadOf<events::ReservedHostUnusable> P, class V>
void eventFields(P& p, V&& v) {
  v("host", p.host);
  v("detail", p.detail);
}
template <PayloadOf<events::NoTargetLeft> P, class V>
void eventFields(P& p, V&& v) {
  v("instance_id", p.instance_id);
  v("detail", p.detail);
}
template <PayloadOf<events::Cancelled> P, class V>
void eventFields(P& p, V&& v) {
  v("who", p.who);
  v("detail", p.detail);
}
template <PayloadOf<events::UnfenceRequested> P, class V>
void eventFields(P& p, V&& v) {
  v("who", p.who);
  v("deadline", p.deadline);
}
template <PayloadOf<events::PowerOnDone> P, class V>
void eventFields(P& p, V&& v) {
  v("who", p.fencer);
}
template <PayloadOf<events::PowerOnFailed> P, class V>
void eventFields(P& p, V&& v) {
  v("detail", p.detail);
}
template <PayloadOf<events::RestoreRequested> P, class V>
void eventFields(P& p, V&& v) {
  v("detail", p.detail);
}
template <PayloadOf<events::RestoreFailed> P, class V>
void eventFields(P& p, V&& v) {
  v("detail", p.detail);
}
template <PayloadOf<events::UnfenceAbandoned> P, class V>
void eventFields(P& p, V&& v) {
  v("detail", p.detail);
}

// The payload of `kind` with every field at its default.
template <size_t... I>
EventPayload emptyPayload(EventKind kind, std::index_sequence<I...> /*indexes*/) {
  EventPayload payload;
  ((static_cast<size_t>(kind) == I ? static_cast<void>(payload.emplace<I>()) : void()), ...);
  return payload;
}

// Decodes the fields of the event's kind, and only those: the journal's events have every field
// (toJson), those of other kinds at their empty value. A field of its kind that is
// missing, null where a time is required, or of the wrong type is kCorruption naming the field
// and the kind ("event.instance_id: missing (event kind 'evacuation-requested')").
Result<Event> decodeEvent(const json& j, const std::string& path) {
  Event e;
  EventKind kind = EventKind::kDetected;
  Fields f(j, path);
  f.getEnum("kind", kind, &eventKindFromString);
  f.get("at", e.at);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  e.payload = emptyPayload(kind, std::make_index_sequence<std::variant_size_v<EventPayload>>());
  Fields fields(j, path, "event kind '" + std::string(toString(kind)) + "'");
  std::visit(
      [&](auto& payload) {
        eventFields(payload, [&](const char* key, auto& field) { fields.get(key, field); });
      },
      e.payload);
  if (auto s = fields.status(); !s) return std::unexpected(s.error());
  return e;
}

Result<InstanceOutcome> decodeInstanceOutcome(const json& j, const std::string& path) {
  InstanceOutcome o;
  Fields f(j, path);
  f.get("id", o.id);
  f.get("name", o.name);
  f.get("from_host", o.from_host);
  f.get("to_host", o.to_host);
  if (f.has("user_id")) f.get("user_id", o.user_id);
  f.get("ok", o.ok);
  f.get("reason", o.reason);
  f.get("down_ms", o.down_ms);
  if (f.has("disk")) f.get("disk", o.disk);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return o;
}

Result<Notification> decodeNotification(const json& j, const std::string& path) {
  Notification n;
  Fields f(j, path);
  f.getEnum("kind", n.kind, &notificationKindFromString);
  f.getEnum("audience", n.audience, &audienceFromString);
  f.get("project_id", n.project_id);
  f.get("incident_id", n.incident_id);
  f.get("node", n.node);
  f.get("at", n.at);
  f.get("subject", n.subject);
  f.get("summary", n.summary);
  f.getArray("instances", n.instances, &decodeInstanceOutcome);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return n;
}

Result<OutboxItem> decodeOutboxItem(const json& j, const std::string& path) {
  OutboxItem o;
  Fields f(j, path);
  f.get("id", o.id);
  f.get("notifier", o.notifier);
  f.getObject("notification", o.notification, &decodeNotification);
  f.get("attempts", o.attempts);
  f.get("next_attempt_at", o.next_attempt_at);
  f.get("last_error", o.last_error);
  f.get("delivered_at", o.delivered_at);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return o;
}

Result<Instance> decodeInstance(const json& j, const std::string& path) {
  Instance i;
  Fields f(j, path);
  f.get("id", i.id);
  f.get("name", i.name);
  f.get("project_id", i.project_id);
  f.get("user_id", i.user_id);
  f.get("host", i.host);
  f.get("status", i.status);
  f.get("task_state", i.task_state);
  f.get("metadata", i.metadata);
  f.get("boot_from_volume", i.boot_from_volume);
  f.get("image_id", i.image_id);
  if (f.has("fault")) f.get("fault", i.fault);
  if (auto s = f.status(); !s) return std::unexpected(s.error());
  return i;
}

// The public entry points: the decoders above only use non-throwing accessors after checking
// types, but nlohmann::json is an exception-throwing library, so the boundary catches its
// exceptions and turns them into values.
template <class T>
Result<T> decodeAt(const json& j, const char* root,
                   Result<T> (*decode)(const json&, const std::string&)) {
  try {
    return decode(j, root);
  } catch (const json::exception& e) {
    return fail(ErrorCode::kCorruption, std::string(root) + ": " + e.what());
  }
}

}  // namespace

std::string_view toString(Audience audience) {
  switch (audience) {
    case Audience::kAdmins: return "admins";
    case Audience::kProject: return "project";
  }
  return "?";
}

std::optional<Audience> audienceFromString(std::string_view s) {
  for (const Audience a : {Audience::kAdmins, Audience::kProject}) {
    if (toString(a) == s) return a;
  }
  return std::nullopt;
}

std::optional<PowerState> powerStateFromString(std::string_view s) {
  for (const PowerState p : {PowerState::kOn, PowerState::kOff, PowerState::kUnknown}) {
    if (toString(p) == s) return p;
  }
  return std::nullopt;
}

json toJson(const InstanceRecord& r) {
  return json{
      {"id", r.id},
      {"name", r.name},
      {"project_id", r.project_id},
      {"user_id", r.user_id},
      {"priority", r.priority},
      {"former_status", r.former_status},
      {"phase", toString(r.phase)},
      {"attempts", r.attempts},
      {"requested_at", timeJson(r.requested_at)},
      {"finished_at", timeJson(r.finished_at)},
      {"new_host", r.new_host},
      {"reason", r.reason},
      {"boot_from_volume", r.boot_from_volume},
      {"image_id", r.image_id},
      {"disk", r.disk},
      {"target_host", r.target_host},
      {"full_host_attempts", r.full_host_attempts},
  };
}

json toJson(const ReservedHostUse& u) {
  return json{
      {"host", u.host},
      {"state", toString(u.state)},
      {"reason", u.reason},
      {"at", timeJson(u.at)},
  };
}

json toJson(const FenceProgress& p) {
  return json{
      {"level", p.level},
      {"attempt", p.attempt},
      {"off_requested_at", timeJson(p.off_requested_at)},
      {"next_check_at", timeJson(p.next_check_at)},
      {"attempt_deadline", timeJson(p.attempt_deadline)},
      {"deadline", timeJson(p.deadline)},
      {"checks", p.checks},
      {"last_power", toString(p.last_power)},
      {"confirmed_by", p.confirmed_by},
      {"confirmed_at", timeJson(p.confirmed_at)},
  };
}

json toJson(const UnfenceProgress& u) {
  return json{
      {"step", toString(u.step)},
      {"who", u.who},
      {"requested_at", timeJson(u.requested_at)},
      {"deadline", timeJson(u.deadline)},
      {"power_on_attempts", u.power_on_attempts},
      {"power_on_requested_at", timeJson(u.power_on_requested_at)},
      {"powered_on_by", u.powered_on_by},
      {"restored_at", timeJson(u.restored_at)},
  };
}

json toJson(const Incident& i) {
  json instances = json::array();
  for (const auto& r : i.instances) instances.push_back(toJson(r));
  json reserved = json::array();
  for (const auto& u : i.reserved_hosts) reserved.push_back(toJson(u));
  return json{
      {"id", i.id},
      {"node", i.node},
      {"phase", toString(i.phase)},
      {"detected_at", timeJson(i.detected_at)},
      {"updated_at", timeJson(i.updated_at)},
      {"fenced_at", timeJson(i.fenced_at)},
      {"compute_down_at", timeJson(i.compute_down_at)},
      {"evacuated_at", timeJson(i.evacuated_at)},
      {"closed_at", timeJson(i.closed_at)},
      {"fence", toJson(i.fence)},
      {"force_down_attempts", i.force_down_attempts},
      {"instances", std::move(instances)},
      {"reserved_hosts", std::move(reserved)},
      {"problems", i.problems},
      {"unfence", toJson(i.unfence)},
      {"revision", i.revision},
  };
}

json eventFieldJson(const std::string& v) {
  return v;
}
json eventFieldJson(const std::optional<std::string>& v) {
  return v.value_or("");
}
json eventFieldJson(int v) {
  return v;
}
json eventFieldJson(bool v) {
  return v;
}
json eventFieldJson(TimePoint v) {
  return timeJson(v);
}
json eventFieldJson(const std::optional<TimePoint>& v) {
  return timeJson(v);
}
json eventFieldJson(PowerState v) {
  return toString(v);
}
json eventFieldJson(const std::vector<InstanceRecord>& v) {
  json records = json::array();
  for (const auto& r : v) records.push_back(toJson(r));
  return records;
}

json toJson(const Event& e) {
  // Every field of the journal's event format, those of the event's kind set below: an older
  // binary reads every kind.
  json j{
      {"kind", toString(e.kind())},
      {"at", timeJson(e.at)},
      {"node", ""},
      {"level", 0},
      {"attempt", 0},
      {"attempt_deadline", nullptr},
      {"fence_deadline", nullptr},
      {"next_check_at", nullptr},
      {"deadline", nullptr},
      {"power", toString(PowerState::kUnknown)},
      {"who", ""},
      {"instance_id", ""},
      {"host", ""},
      {"status", ""},
      {"task_state", ""},
      {"records", json::array()},
      {"final", false},
      {"detail", ""},
  };
  std::visit(
      [&](const auto& payload) {
        eventFields(payload,
                    [&](const char* key, const auto& field) { j[key] = eventFieldJson(field); });
      },
      e.payload);
  return j;
}

json toJson(const InstanceOutcome& o) {
  return json{
      {"id", o.id},           {"name", o.name},       {"from_host", o.from_host},
      {"to_host", o.to_host}, {"user_id", o.user_id}, {"ok", o.ok},
      {"reason", o.reason},   {"down_ms", o.down_ms}, {"disk", o.disk},
  };
}

json toJson(const Notification& n) {
  json instances = json::array();
  for (const auto& o : n.instances) instances.push_back(toJson(o));
  return json{
      {"kind", toString(n.kind)},
      {"audience", toString(n.audience)},
      {"project_id", n.project_id},
      {"incident_id", n.incident_id},
      {"node", n.node},
      {"at", timeJson(n.at)},
      {"subject", n.subject},
      {"summary", n.summary},
      {"instances", std::move(instances)},
  };
}

json toJson(const OutboxItem& o) {
  return json{
      {"id", o.id},
      {"notifier", o.notifier},
      {"notification", toJson(o.notification)},
      {"attempts", o.attempts},
      {"next_attempt_at", timeJson(o.next_attempt_at)},
      {"last_error", o.last_error},
      {"delivered_at", timeJson(o.delivered_at)},
  };
}

json toJson(const Instance& i) {
  return json{
      {"id", i.id},
      {"name", i.name},
      {"project_id", i.project_id},
      {"user_id", i.user_id},
      {"host", i.host},
      {"status", i.status},
      {"task_state", i.task_state},
      {"metadata", i.metadata},
      {"boot_from_volume", i.boot_from_volume},
      {"image_id", i.image_id},
      {"fault", i.fault},
  };
}

Result<InstanceRecord> instanceRecordFromJson(const json& j) {
  return decodeAt(j, "instance_record", &decodeInstanceRecord);
}
Result<FenceProgress> fenceProgressFromJson(const json& j) {
  return decodeAt(j, "fence", &decodeFenceProgress);
}
Result<Incident> incidentFromJson(const json& j) {
  return decodeAt(j, "incident", &decodeIncident);
}
Result<Event> eventFromJson(const json& j) {
  return decodeAt(j, "event", &decodeEvent);
}
Result<InstanceOutcome> instanceOutcomeFromJson(const json& j) {
  return decodeAt(j, "instance_outcome", &decodeInstanceOutcome);
}
Result<Notification> notificationFromJson(const json& j) {
  return decodeAt(j, "notification", &decodeNotification);
}
Result<OutboxItem> outboxItemFromJson(const json& j) {
  return decodeAt(j, "outbox_item", &decodeOutboxItem);
}
Result<Instance> instanceFromJson(const json& j) {
  return decodeAt(j, "instance", &decodeInstance);
}

Result<json> parseJson(std::string_view text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return fail(ErrorCode::kCorruption, std::string("not valid JSON: ") + e.what());
  }
}

std::string dumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace fdr
