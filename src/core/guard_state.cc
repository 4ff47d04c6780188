#include "core/guard_state.h"

namespace fdr::core {
namespace {

// The field `key` of `j` as T; kCorruption naming `what.key` when missing or of another type.
template <class T>
Result<T> field(const nlohmann::json& j, const char* what, const char* key) {
  const auto it = j.find(key);
  if (it == j.end())
    return fail(ErrorCode::kCorruption, std::string(what) + "." + key + ": missing");
  T value{};
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) {
      return fail(ErrorCode::kCorruption, std::string(what) + "." + key + ": not a boolean");
    }
    value = it->get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) {
      return fail(ErrorCode::kCorruption, std::string(what) + "." + key + ": not a string");
    }
    value = it->get<std::string>();
  } else {
    if (!it->is_number_integer()) {
      return fail(ErrorCode::kCorruption, std::string(what) + "." + key + ": not an integer");
    }
    value = it->get<T>();
  }
  return value;
}

Result<nlohmann::json> parseObject(std::string_view text, const char* what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return fail(ErrorCode::kCorruption, std::string(what) + ": not a JSON object");
  }
  return j;
}

Result<std::vector<std::string>> strings(const nlohmann::json& j, const char* what,
                                         const char* key) {
  std::vector<std::string> out;
  const auto it = j.find(key);
  if (it == j.end()) return out;  // added later fields decode with a default
  if (!it->is_array()) {
    return fail(ErrorCode::kCorruption, std::string(what) + "." + key + ": not an array");
  }
  for (const auto& item : *it) {
    if (!item.is_string()) {
      return fail(ErrorCode::kCorruption, std::string(what) + "." + key + ": not strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

nlohmann::json toJson(const PauseState& pause) {
  return {{"paused", pause.paused},
          {"by", pause.by},
          {"at", toMillis(pause.at)},
          {"reason", pause.reason}};
}

namespace {

nlohmann::json entry(const FlappingNode& f) {
  return {{"node", f.node}, {"recoveries", f.recoveries}, {"since", toMillis(f.since)}};
}

nlohmann::json entry(const StormFailure& f) {
  return {{"node", f.node},
          {"failed_at", toMillis(f.failed_at)},
          {"counts_until", toMillis(f.counts_until)}};
}

nlohmann::json entry(const UnprotectedNode& u) {
  return {{"node", u.node}, {"cause", u.cause}, {"reason", u.reason}, {"since", toMillis(u.since)}};
}

nlohmann::json entry(const ServiceDown& d) {
  return {
      {"node", d.node}, {"source", d.source}, {"detail", d.detail}, {"since", toMillis(d.since)}};
}

template <typename T>
nlohmann::json entries(const std::vector<T>& items) {
  nlohmann::json out = nlohmann::json::array();
  for (const T& item : items) out.push_back(entry(item));
  return out;
}

// Appends the entries as a JSON array, one small tree at a time.
template <typename T>
void appendEntries(std::string& out, const std::vector<T>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += entry(items[i]).dump();
  }
  out += ']';
}

// Everything but the lists, which are left empty.
nlohmann::json withoutLists(const GuardState& guards) {
  return {
      {"isolation", guards.isolation},
      {"isolated_since", guards.isolated_since ? nlohmann::json(toMillis(*guards.isolated_since))
                                               : nlohmann::json(nullptr)},
      {"flapping", nlohmann::json::array()},
      {"deferred", guards.deferred},
      {"vetoes", guards.vetoes},
      {"storm", guards.storm},
      {"storm_since", guards.storm_since ? nlohmann::json(toMillis(*guards.storm_since))
                                         : nlohmann::json(nullptr)},
      {"storm_window", nlohmann::json::array()},
      {"unprotected", nlohmann::json::array()},
      {"services_down", nlohmann::json::array()},
      {"services_down_total", std::max(guards.services_down_total, guards.services_down.size())}};
}

}  // namespace

nlohmann::json toJson(const GuardState& guards) {
  nlohmann::json out = withoutLists(guards);
  out["flapping"] = entries(guards.flapping);
  out["storm_window"] = entries(guards.storm_window);
  out["unprotected"] = entries(guards.unprotected);
  out["services_down"] = entries(guards.services_down);
  return out;
}

std::string dumpGuardState(const GuardState& guards) {
  // The members in the tree's own order (nlohmann keeps keys sorted), each dumped alone.
  const nlohmann::json rest = withoutLists(guards);
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : rest.items()) {
    if (!first) out += ',';
    first = false;
    out += nlohmann::json(key).dump();
    out += ':';
    if (key == "flapping") {
      appendEntries(out, guards.flapping);
    } else if (key == "storm_window") {
      appendEntries(out, guards.storm_window);
    } else if (key == "unprotected") {
      appendEntries(out, guards.unprotected);
    } else if (key == "services_down") {
      appendEntries(out, guards.services_down);
    } else {
      out += value.dump();
    }
  }
  out += '}';
  return out;
}

std::string dumpGuardStateSummary(const GuardState& guards) {
  nlohmann::json out = withoutLists(guards);
  out["flapping"] = entries(guards.flapping);
  out["storm_window"] = entries(guards.storm_window);
  return out.dump();
}

Result<PauseState> pauseStateFromJson(std::string_view text) {
  auto j = parseObject(text, "pause");
  if (!j) return std::unexpected(j.error());
  auto paused = field<bool>(*j, "pause", "paused");
  if (!paused) return std::unexpected(paused.error());
  auto by = field<std::string>(*j, "pause", "by");
  if (!by) return std::unexpected(by.error());
  auto at = field<int64_t>(*j, "pause", "at");
  if (!at) return std::unexpected(at.error());
  auto reason = field<std::string>(*j, "pause", "reason");
  if (!reason) return std::unexpected(reason.error());
  return PauseState{
      .paused = *paused, .by = std::move(*by), .at = fromMillis(*at), .reason = std::move(*reason)};
}

Result<GuardState> guardStateFromJson(std::string_view text) {
  auto j = parseObject(text, "guards");
  if (!j) return std::unexpected(j.error());
  GuardState out;
  auto isolation = field<std::string>(*j, "guards", "isolation");
  if (!isolation) return std::unexpected(isolation.error());
  out.isolation = std::move(*isolation);
  if (auto it = j->find("isolated_since"); it != j->end() && !it->is_null()) {
    auto since = field<int64_t>(*j, "guards", "isolated_since");
    if (!since) return std::unexpected(since.error());
    out.isolated_since = fromMillis(*since);
  }
  if (auto it = j->find("flapping"); it != j->end()) {
    if (!it->is_array()) return fail(ErrorCode::kCorruption, "guards.flapping: not an array");
    for (const auto& item : *it) {
      if (!item.is_object()) {
        return fail(ErrorCode::kCorruption, "guards.flapping: not an array of objects");
      }
      auto node = field<std::string>(item, "guards.flapping[]", "node");
      if (!node) return std::unexpected(node.error());
      auto recoveries = field<int>(item, "guards.flapping[]", "recoveries");
      if (!recoveries) return std::unexpected(recoveries.error());
      auto since = field<int64_t>(item, "guards.flapping[]", "since");
      if (!since) return std::unexpected(since.error());
      out.flapping.push_back(
          {.node = std::move(*node), .recoveries = *recoveries, .since = fromMillis(*since)});
    }
  }
  auto deferred = strings(*j, "guards", "deferred");
  if (!deferred) return std::unexpected(deferred.error());
  out.deferred = std::move(*deferred);
  auto vetoes = strings(*j, "guards", "vetoes");
  if (!vetoes) return std::unexpected(vetoes.error());
  out.vetoes = std::move(*vetoes);
  // Added later: absent in what older versions wrote.
  if (auto it = j->find("storm"); it != j->end()) {
    auto storm = field<std::string>(*j, "guards", "storm");
    if (!storm) return std::unexpected(storm.error());
    out.storm = std::move(*storm);
  }
  if (auto it = j->find("storm_since"); it != j->end() && !it->is_null()) {
    auto since = field<int64_t>(*j, "guards", "storm_since");
    if (!since) return std::unexpected(since.error());
    out.storm_since = fromMillis(*since);
  }
  if (auto it = j->find("storm_window"); it != j->end()) {
    if (!it->is_array()) return fail(ErrorCode::kCorruption, "guards.storm_window: not an array");
    for (const auto& item : *it) {
      if (!item.is_object()) {
        return fail(ErrorCode::kCorruption, "guards.storm_window: not an array of objects");
      }
      auto node = field<std::string>(item, "guards.storm_window[]", "node");
      if (!node) return std::unexpected(node.error());
      auto failed_at = field<int64_t>(item, "guards.storm_window[]", "failed_at");
      if (!failed_at) return std::unexpected(failed_at.error());
      auto until = field<int64_t>(item, "guards.storm_window[]", "counts_until");
      if (!until) return std::unexpected(until.error());
      out.storm_window.push_back({.node = std::move(*node),
                                  .failed_at = fromMillis(*failed_at),
                                  .counts_until = fromMillis(*until)});
    }
  }
  if (auto it = j->find("unprotected"); it != j->end()) {
    if (!it->is_array()) return fail(ErrorCode::kCorruption, "guards.unprotected: not an array");
    for (const auto& item : *it) {
      if (!item.is_object()) {
        return fail(ErrorCode::kCorruption, "guards.unprotected: not an array of objects");
      }
      UnprotectedNode u;
      for (auto [key, into] : {std::pair{"node", &u.node}, std::pair{"cause", &u.cause},
                               std::pair{"reason", &u.reason}}) {
        auto value = field<std::string>(item, "guards.unprotected[]", key);
        if (!value) return std::unexpected(value.error());
        *into = std::move(*value);
      }
      auto since = field<int64_t>(item, "guards.unprotected[]", "since");
      if (!since) return std::unexpected(since.error());
      u.since = fromMillis(*since);
      out.unprotected.push_back(std::move(u));
    }
  }
  if (auto it = j->find("services_down"); it != j->end()) {
    if (!it->is_array()) {
      return fail(ErrorCode::kCorruption, "guards.services_down: not an array");
    }
    for (const auto& item : *it) {
      if (!item.is_object()) {
        return fail(ErrorCode::kCorruption, "guards.services_down: not an array of objects");
      }
      ServiceDown d;
      for (auto [key, into] : {std::pair{"node", &d.node}, std::pair{"source", &d.source},
                               std::pair{"detail", &d.detail}}) {
        auto value = field<std::string>(item, "guards.services_down[]", key);
        if (!value) return std::unexpected(value.error());
        *into = std::move(*value);
      }
      auto since = field<int64_t>(item, "guards.services_down[]", "since");
      if (!since) return std::unexpected(since.error());
      d.since = fromMillis(*since);
      out.services_down.push_back(std::move(d));
    }
  }
  out.services_down_total = out.services_down.size();
  if (auto it = j->find("services_down_total"); it != j->end()) {  // added later
    auto total = field<int64_t>(*j, "guards", "services_down_total");
    if (!total) return std::unexpected(total.error());
    if (*total < 0) return fail(ErrorCode::kCorruption, "guards.services_down_total: negative");
    out.services_down_total = std::max(out.services_down_total, static_cast<size_t>(*total));
  }
  return out;
}

}  // namespace fdr::core
