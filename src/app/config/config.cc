// Loading freezer-dr.conf: the original freezer-dr's INI layout (freezer_dr/common/config.py),
// read the way oslo.config reads it, plus this project's options. Every problem is collected in
// Diagnostics with its file and line; nothing is silently ignored.
#include "app/config/config.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "app/config/ini.h"

namespace fdr::config {

void warnIfReadableByOthers(const std::string& path, const std::string& secret_where,
                            Diagnostics& diag) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  const unsigned mode = st.st_mode & 07777U;
  if ((mode & 077U) == 0) return;
  diag.warning(secret_where, fmt::format("'{}' holds a secret but group or others may read it "
                                         "(mode {:04o}): chmod 600 it",
                                         path, mode));
}

namespace {

// The original's default drivers, as freezer_dr/common/config.py names them.
constexpr std::string_view kDefaultMonitor =
    "freezer_dr.monitors.drivers.default.driver.StandardDriver";
constexpr std::string_view kDefaultFencer = "freezer_dr.fencers.drivers.ipmi.driver.IpmiDriver";
constexpr std::string_view kDefaultEvacuator =
    "freezer_dr.evacuators.drivers.default.standard.StandardEvacuator";
constexpr std::string_view kDefaultNotifier =
    "freezer_dr.notifiers.drivers.default.default_email.StandardEmail";

constexpr std::array<std::string_view, 7> kSections = {
    "DEFAULT", "monitoring", "fencer", "evacuation", "notifiers", "keystone_authtoken", "ha"};
// Sections holding one driver's options in the multi-driver style: [<stage>.<driver>].
constexpr std::array<std::string_view, 4> kDriverStages = {"monitoring", "fencer", "evacuation",
                                                           "notifiers"};

// oslo.log options the original accepted in [DEFAULT] and freezer-dr does not use.
// clang-format off
constexpr std::array<std::string_view, 29> kOsloLogOptions = {
    "log_config_append", "log_config", "log_format", "log_date_format", "watch_log_file",
    "use_syslog", "use_syslog_rfc_format", "syslog_log_facility", "use_journal", "use_json",
    "use_eventlog", "logging_context_format_string", "logging_default_format_string",
    "logging_debug_format_suffix", "logging_exception_prefix", "logging_user_identity_format",
    "default_log_levels", "publish_errors", "instance_format", "instance_uuid_format",
    "rate_limit_interval", "rate_limit_burst", "rate_limit_except_level", "fatal_deprecations",
    "log_rotation_type", "max_logfile_count", "max_logfile_size_mb", "log_rotate_interval",
    "log_rotate_interval_type"};
// clang-format on

bool isKnownSection(std::string_view name) {
  return std::find(kSections.begin(), kSections.end(), name) != kSections.end();
}

// oslo.config reads a file by an option's dest, so the original's `credentials-file` is written
// `credentials_file` in real configs. Both spellings are accepted: names compare with '_' as '-'.
std::string normalized(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string trimmed(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

// A key whose value is a credential: never shown, and the file must not be readable by others.
bool looksSecret(std::string_view key) {
  const std::string k = lower(key);
  return k.find("password") != std::string::npos || k.find("secret") != std::string::npos ||
         k.ends_with("token");
}

// The suggestion for a misspelt name, also when only the case differs.
std::string suggest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best = closestMatch(word, candidates);
  if (!best.empty()) return best;
  for (const std::string& candidate : candidates) {
    if (lower(candidate) == lower(word)) return candidate;
  }
  return {};
}

// A known option of a section: its documented spelling, and whether it is accepted only for
// compatibility (a warning says it has no effect).
struct Key {
  std::string name;
  std::string ignored_because;  // empty: used
};

class Loader {
 public:
  Loader(const IniFile& ini, Diagnostics& diag, bool with_inventory)
      : ini_(ini), diag_(diag), with_inventory_(with_inventory) {
    dir_ = std::filesystem::path(ini.path).parent_path();
    if (dir_.empty()) dir_ = ".";
  }

  Config run() {
    config_.path = ini_.path;
    readDefault();
    readMonitoring();
    readFencer();
    readEvacuation();
    readNotifiers();
    readKeystone();
    readHa();
    readOtherSections();
    if (!secret_where_.empty()) warnIfReadableByOthers(ini_.path, secret_where_, diag_);
    if (with_inventory_) readInventory();
    return std::move(config_);
  }

 private:
  // The options of one section, by normalized name, after unknown keys were reported.
  struct View {
    std::string section;
    const IniSection* ini = nullptr;
    std::map<std::string, const IniEntry*> entries;

    [[nodiscard]] const IniEntry* get(std::string_view name) const {
      const auto it = entries.find(normalized(name));
      return it == entries.end() ? nullptr : it->second;
    }
  };

  std::string at(int line) const { return ini_.path + ":" + std::to_string(line); }
  std::string at(const IniEntry& entry) const { return at(entry.line); }

  // Where a section's settings come from: its header, or the file when it is absent.
  std::string sectionWhere(const IniSection* section) const {
    return section == nullptr ? ini_.path : at(section->line);
  }

  void warnRepeated(const std::string& section, const IniEntry& entry) {
    if (entry.earlier_lines.empty()) return;
    std::vector<std::string> lines;
    for (int line : entry.earlier_lines) lines.push_back(std::to_string(line));
    diag_.warning(at(entry), fmt::format("[{}] '{}' is set more than once (also at line {}); the "
                                         "last value is used",
                                         section, entry.key, joined(lines)));
  }

  void noteSecret(const IniEntry& entry) {
    if (secret_where_.empty() && !trimmed(entry.value).empty()) secret_where_ = at(entry);
  }

  // Indexes a known section: unknown keys are errors with a "did you mean", keys accepted only
  // for compatibility get a warning, two spellings of one option are reported.
  View index(const std::string& name, const std::vector<Key>& keys) {
    View view{.section = name, .ini = ini_.find(name), .entries = {}};
    if (view.ini == nullptr) return view;
    std::vector<std::string> documented;
    std::vector<std::string> used;
    for (const Key& key : keys) {
      documented.push_back(key.name);
      if (key.ignored_because.empty()) used.push_back(key.name);
    }
    for (const IniEntry& entry : view.ini->entries) {
      const std::string norm = normalized(entry.key);
      const Key* known = nullptr;
      for (const Key& key : keys) {
        if (normalized(key.name) == norm) known = &key;
      }
      if (known == nullptr) {
        unknownOption(name, entry, documented, used);
        continue;
      }
      warnRepeated(name, entry);
      if (looksSecret(entry.key)) noteSecret(entry);
      if (!known->ignored_because.empty()) {
        diag_.warning(at(entry), fmt::format("[{}] '{}' is accepted but ignored: {}", name,
                                             entry.key, known->ignored_because));
      }
      const auto [it, inserted] = view.entries.emplace(norm, &entry);
      if (!inserted) {
        const IniEntry* first = it->second;
        const IniEntry* last = first->line < entry.line ? &entry : first;
        diag_.warning(at(*last), fmt::format("[{}] '{}' (line {}) and '{}' (line {}) are the same "
                                             "option; line {} is used",
                                             name, first->key, first->line, entry.key, entry.line,
                                             last->line));
        it->second = last;
      }
    }
    return view;
  }

  void unknownOption(const std::string& section, const IniEntry& entry,
                     const std::vector<std::string>& documented,
                     const std::vector<std::string>& used) {
    std::vector<std::string> norms;
    for (const std::string& name : documented) norms.push_back(normalized(name));
    const std::string match = suggest(normalized(entry.key), norms);
    std::string message = fmt::format("[{}] unknown option '{}'", section, entry.key);
    if (!match.empty()) {
      // Shown in the writer's own style: both spellings are accepted.
      std::string shown = match;
      for (const std::string& name : documented) {
        if (normalized(name) == match) shown = name;
      }
      if (entry.key.find('_') != std::string::npos && entry.key.find('-') == std::string::npos) {
        std::replace(shown.begin(), shown.end(), '-', '_');
      }
      message += fmt::format(" (did you mean '{}'?)", shown);
    } else {
      message += "; valid options: " + joined(used);
    }
    diag_.error(at(entry), std::move(message));
  }

  // --- typed readers: each reports a bad value with file, line, section, key and expectation.

  void badValue(const View& view, const IniEntry& entry, std::string_view expected) {
    const std::string shown =
        looksSecret(entry.key) ? std::string("(secret, not shown)") : "'" + entry.value + "'";
    diag_.error(at(entry), fmt::format("[{}] {}: expected {}, got {}", view.section, entry.key,
                                       expected, shown));
  }

  void readString(const View& view, std::string_view name, std::string& out) {
    if (const IniEntry* e = view.get(name)) out = trimmed(e->value);
  }

  void readSecret(const View& view, std::string_view name, Secret& out) {
    if (const IniEntry* e = view.get(name)) out = Secret(trimmed(e->value));
  }

  void readInt(const View& view, std::string_view name, int& out, int min,
               int max = std::numeric_limits<int>::max()) {
    const IniEntry* e = view.get(name);
    if (e == nullptr) return;
    const auto value = parseInt(e->value);
    if (!value || *value < min || *value > max) {
      badValue(view, *e,
               max == std::numeric_limits<int>::max()
                   ? fmt::format("an integer >= {}", min)
                   : fmt::format("an integer from {} to {}", min, max));
      return;
    }
    out = static_cast<int>(*value);
  }

  void readDuration(const View& view, std::string_view name, Duration& out, bool allow_zero) {
    const IniEntry* e = view.get(name);
    if (e == nullptr) return;
    const auto value = parseDuration(e->value);
    if (!value || (!allow_zero && value->count() == 0)) {
      badValue(view, *e,
               fmt::format("a {}duration: seconds (\"30\", \"0.5\") or with a unit (\"500ms\", "
                           "\"2s\", \"1m\")",
                           allow_zero ? "" : "non-zero "));
      return;
    }
    out = *value;
  }

  void readBool(const View& view, std::string_view name, bool& out) {
    const IniEntry* e = view.get(name);
    if (e == nullptr) return;
    const auto value = parseBool(e->value);
    if (!value) {
      badValue(view, *e, "a boolean (true/false, yes/no, on/off, 1/0)");
      return;
    }
    out = *value;
  }

  // One of `allowed` (compared in lower case); returns the lower-case value.
  std::optional<std::string> readChoice(const View& view, std::string_view name,
                                        const std::vector<std::string>& allowed) {
    const IniEntry* e = view.get(name);
    if (e == nullptr) return std::nullopt;
    const std::string value = lower(trimmed(e->value));
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      badValue(view, *e, "one of " + joined(allowed));
      return std::nullopt;
    }
    return value;
  }

  // oslo.config DictOpt: "key:value,key2:value2" (split at the first ':' of each pair).
  std::vector<std::pair<std::string, RawOption>> readDict(const View& view, std::string_view name) {
    std::vector<std::pair<std::string, RawOption>> out;
    const IniEntry* e = view.get(name);
    if (e == nullptr) return out;
    for (const std::string& pair : splitList(e->value)) {
      const size_t colon = pair.find(':');
      const std::string key = colon == std::string::npos ? "" : trimmed(pair.substr(0, colon));
      if (key.empty()) {
        const std::string shown = looksSecret(pair) ? "(secret, not shown)" : "'" + pair + "'";
        diag_.error(at(*e), fmt::format("[{}] {}: expected key:value pairs separated by ',', "
                                        "got {}",
                                        view.section, e->key, shown));
        continue;
      }
      std::string value = trimmed(pair.substr(colon + 1));
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      if (looksSecret(key) && !value.empty() && secret_where_.empty()) secret_where_ = at(*e);
      out.emplace_back(key, RawOption{.value = std::move(value), .where = at(*e)});
    }
    return out;
  }

  // A path as written: "~/" is the user's home; relative paths are read from the config file's
  // folder (not the daemon's working directory).
  std::string resolvePath(const std::string& text) const {
    std::filesystem::path path(text);
    if (text == "~" || text.starts_with("~/")) {
      const char* home = std::getenv("HOME");
      if (home != nullptr && *home != '\0') {
        path = std::filesystem::path(home) / (text.size() > 2 ? text.substr(2) : "");
      }
    }
    if (path.is_relative()) path = dir_ / path;
    return path.lexically_normal().string();
  }

  // `driver`: one name or a comma-separated list; the original's default when absent.
  std::vector<DriverChoice> readDrivers(const View& view, std::string_view fallback) {
    std::vector<DriverChoice> drivers;
    const IniEntry* e = view.get("driver");
    if (e == nullptr) {
      drivers.push_back(DriverChoice{
          .name = std::string(fallback), .options = {}, .where = sectionWhere(view.ini)});
      return drivers;
    }
    const std::vector<std::string> names = splitList(e->value);
    if (names.empty()) {
      badValue(view, *e, "a driver name (or a comma-separated list of them)");
      return drivers;
    }
    std::set<std::string> seen;
    for (const std::string& name : names) {
      if (!seen.insert(name).second) {
        diag_.error(at(*e), fmt::format("[{}] driver: '{}' is listed twice", view.section, name));
        continue;
      }
      drivers.push_back(DriverChoice{.name = name, .options = {}, .where = at(*e)});
    }
    return drivers;
  }

  static void put(RawOptions& options, std::string key, RawOption value) {
    options.insert_or_assign(std::move(key), std::move(value));
  }

  void putEntry(RawOptions& options, const IniEntry& entry, std::string key) {
    put(options, std::move(key), RawOption{.value = trimmed(entry.value), .where = at(entry)});
  }

  // --- sections

  void readDefault() {
    const std::string kOsloLog = "an oslo.log option freezer-dr does not use";
    std::vector<Key> keys = {
        {"wait", ""},
        {"poll-interval", ""},
        {"journal", ""},
        {"log-level", ""},
        {"storm-max-nodes", ""},
        {"storm-max-percent", ""},
        {"storm-window", ""},
        {"maintenance", ""},
        {"max-fences-per-tick", ""},
        {"debug", ""},
        {"verbose", ""},
        {"use_stderr", ""},
        {"log_file", ""},
        {"log_dir", ""},
        {"logfile", ""},
        {"logdir", ""},
        {"os-username", ""},
        {"os-password", ""},
        {"os-project-name", ""},
        {"os-project-domain-name", ""},
        {"os-user-domain-name", ""},
        {"os-tenant-name", ""},
        {"os-tenant-id", ""},
        {"os-auth-url", ""},
        {"os-region-name", ""},
        {"os-endpoint-type", ""},
        {"os-identity-api-version", ""},
        {"os-backup-url", "the Freezer backup service is not used by freezer-dr"},
        {"os-token", "set a password or an application credential in [keystone_authtoken]"},
    };
    for (std::string_view name : kOsloLogOptions) {
      keys.push_back({std::string(name), kOsloLog});
    }
    const View v = index("DEFAULT", keys);
    default_ = v;

    readDuration(v, "wait", config_.grace, /*allow_zero=*/true);
    readDuration(v, "poll-interval", config_.poll_interval, /*allow_zero=*/false);
    if (const IniEntry* e = v.get("journal")) {
      if (trimmed(e->value).empty()) {
        badValue(v, *e, "a file path");
      } else {
        config_.journal_path = resolvePath(trimmed(e->value));
      }
    }
    bool debug = false;
    readBool(v, "debug", debug);
    bool ignored = false;
    readBool(v, "verbose", ignored);
    readBool(v, "use_stderr", ignored);
    if (debug) config_.log_level = "debug";
    if (auto level =
            readChoice(v, "log-level",
                       {"trace", "debug", "info", "warning", "warn", "error", "critical", "off"})) {
      config_.log_level = *level == "warn" ? "warning" : *level;  // log-level wins over debug
    }
    std::string log_file;
    std::string log_dir;
    readString(v, "logfile", log_file);
    readString(v, "log_file", log_file);
    readString(v, "logdir", log_dir);
    readString(v, "log_dir", log_dir);
    if (!log_file.empty()) {
      std::filesystem::path file(log_file);
      if (file.is_relative() && !log_dir.empty()) file = std::filesystem::path(log_dir) / file;
      config_.log_file = file.lexically_normal().string();
    }
    readInt(v, "storm-max-nodes", config_.storm_max_nodes, 1);
    readInt(v, "storm-max-percent", config_.storm_max_percent, 1, 100);
    readDuration(v, "storm-window", config_.storm_window, /*allow_zero=*/true);
    if (const IniEntry* e = v.get("maintenance")) config_.maintenance = splitList(e->value);
    readInt(v, "max-fences-per-tick", config_.max_fences_per_tick, 1);
    if (auto version = readChoice(v, "os-identity-api-version", {"3", "3.0", "2", "2.0"})) {
      if (version->starts_with("2")) {
        diag_.warning(at(*v.get("os-identity-api-version")),
                      "[DEFAULT] os-identity-api-version: Identity v2 is gone from OpenStack; "
                      "freezer-dr uses v3");
      }
    }
  }

  void readMonitoring() {
    const View v = index("monitoring", {{"driver", ""},
                                        {"backend_name", ""},
                                        {"min-sources", ""},
                                        {"poll-timeout", ""},
                                        {"reference-points", ""},
                                        {"reference-points-required", ""},
                                        {"reference-timeout", ""},
                                        {"nova-reference", ""},
                                        {"flap-max-recoveries", ""},
                                        {"flap-window", ""},
                                        {"options", ""},
                                        // The original's first layout: the driver's login here.
                                        {"username", ""},
                                        {"password", ""},
                                        {"endpoint", ""},
                                        {"kwargs", ""}});
    config_.monitors = readDrivers(v, kDefaultMonitor);
    readInt(v, "min-sources", config_.min_sources, 1);
    readDuration(v, "poll-timeout", config_.poll_timeout, /*allow_zero=*/true);
    if (const IniEntry* e = v.get("poll-timeout");
        e != nullptr && config_.poll_timeout > config_.poll_interval) {
      diag_.error(at(*e), fmt::format("[monitoring] poll-timeout ({} ms) is longer than [DEFAULT] "
                                      "poll-interval ({} ms): a poll may not outlast its cycle",
                                      config_.poll_timeout.count(), config_.poll_interval.count()));
    }
    if (const IniEntry* e = v.get("reference-points")) {
      for (const std::string& text : splitList(e->value)) {
        auto point = drivers::parseReferencePoint(text);
        if (!point) {
          diag_.error(at(*e), fmt::format("[monitoring] {}: {}", e->key, point.error().message));
          continue;
        }
        config_.reference_points.push_back(std::move(*point));
      }
    }
    if (const IniEntry* e = v.get("reference-points-required")) {
      readInt(v, "reference-points-required", config_.reference_points_required, 1);
      config_.reference_points_required_where = at(*e);
    }
    readDuration(v, "reference-timeout", config_.reference_timeout, /*allow_zero=*/false);
    readBool(v, "nova-reference", config_.nova_reference);
    readInt(v, "flap-max-recoveries", config_.flap_max_recoveries, 1);
    readDuration(v, "flap-window", config_.flap_window, /*allow_zero=*/false);
    const auto dict = readDict(v, "options");
    for (DriverChoice& monitor : config_.monitors) {
      for (const auto& [key, value] : dict) put(monitor.options, key, value);
      for (const char* legacy : {"username", "password", "endpoint", "kwargs"}) {
        if (const IniEntry* e = v.get(legacy)) putEntry(monitor.options, *e, legacy);
      }
    }
    if (const IniEntry* e = v.get("backend_name")) {
      const std::string name = trimmed(e->value);
      const bool reserved = isKnownSection(name) || isDriverSectionName(name);
      if (name.empty() || reserved) {
        badValue(v, *e, "the name of a section of its own holding the driver's options");
      } else {
        backend_name_ = name;  // its section is known even when the error below is reported
        if (config_.monitors.size() > 1) {
          diag_.error(at(*e), fmt::format("[monitoring] backend_name: only for a single driver, "
                                          "but driver lists {}; use a [monitoring.<driver>] "
                                          "section per driver",
                                          config_.monitors.size()));
        }
        if (ini_.find(name) == nullptr) {
          diag_.warning(at(*e), fmt::format("[monitoring] backend_name: there is no section "
                                            "[{}]; the driver gets no options from it",
                                            name));
        }
      }
    }
  }

  void readFencer() {
    const View v =
        index("fencer",
              {{"driver", ""},
               {"credentials-file", ""},
               {"retries", ""},
               {"hold-period",
                "freezer-dr powers a failed node off hard at once and reads the power state back; "
                "there is no soft shutdown to wait for"},
               {"options", ""},
               {"attempt-timeout", ""},
               {"deadline", ""},
               {"unfence-deadline", ""},
               {"check-interval", ""},
               {"check-concurrency", ""}});
    config_.fencers = readDrivers(v, kDefaultFencer);
    readInt(v, "retries", config_.fence_retries, 1);
    if (const IniEntry* e = v.get("hold-period")) {
      if (!parseDuration(e->value)) badValue(v, *e, "a number of seconds");
    }
    readDuration(v, "attempt-timeout", config_.fence_attempt_timeout, false);
    readDuration(v, "deadline", config_.fence_deadline, false);
    readDuration(v, "unfence-deadline", config_.unfence_deadline, false);
    readDuration(v, "check-interval", config_.fence_check_interval, /*allow_zero=*/true);
    readInt(v, "check-concurrency", config_.fence_check_concurrency, 1, 256);
    if (config_.fence_check_interval > Duration::zero() &&
        config_.fence_check_interval < std::chrono::minutes(1)) {
      diag_.warning(at(*v.get("check-interval")),
                    "[fencer] check-interval below 1 min: each BMC is asked for its power state "
                    "that often, more than many BMCs tolerate (a test setting)");
    }
    if (config_.fence_deadline < config_.fence_attempt_timeout) {
      const IniEntry* e = v.get("deadline");
      diag_.warning(e != nullptr ? at(*e) : sectionWhere(v.ini),
                    "[fencer] deadline is shorter than attempt-timeout: a slow attempt is cut "
                    "short by the deadline");
    }
    const auto dict = readDict(v, "options");
    for (DriverChoice& level : config_.fencers) {
      for (const auto& [key, value] : dict) put(level.options, key, value);
    }
    if (const IniEntry* e = v.get("credentials-file")) {
      const std::string text = trimmed(e->value);
      if (text.empty()) {
        badValue(v, *e, "the path of the servers.yml inventory");
      } else {
        config_.credentials_file = resolvePath(text);
        credentials_entry_ = e;
      }
    }
  }

  void readEvacuation() {
    const View v = index(
        "evacuation",
        {{"driver", ""},
         {"wait", "freezer-dr sleeps for no fixed time: it waits on the state it observes in Nova"},
         {"retries", ""},
         {"shared-storage", ""},
         {"options", ""},
         {"concurrency", ""},
         {"max-rebuilds-per-host", ""},
         {"instance-timeout", ""},
         {"priority-key", ""},
         {"evacuate-all", ""},
         {"ha-enabled-key", ""},
         {"reserved-hosts", ""},
         {"reserved-hosts-fallback", ""},
         {"capacity-check", ""},
         {"capacity-check-timeout", ""}});
    std::vector<DriverChoice> drivers = readDrivers(v, kDefaultEvacuator);
    if (drivers.size() > 1) {
      diag_.error(at(*v.get("driver")),
                  fmt::format("[evacuation] driver: one evacuator only, got {} ({})",
                              drivers.size(), joinNames(drivers)));
    }
    if (!drivers.empty()) config_.evacuator = std::move(drivers.front());
    if (const IniEntry* e = v.get("wait")) {
      if (!parseDuration(e->value)) badValue(v, *e, "a number of seconds");
    }
    readInt(v, "retries", config_.evacuation_retries, 0);
    readBool(v, "shared-storage", config_.shared_storage);
    readBool(v, "evacuate-all", config_.evacuate_all);
    readBool(v, "capacity-check", config_.capacity_check);
    readDuration(v, "capacity-check-timeout", config_.capacity_check_timeout,
                 /*allow_zero=*/false);
    if (const IniEntry* e = v.get("reserved-hosts")) {
      std::set<std::string> seen;
      for (const std::string& host : splitList(e->value)) {
        if (!seen.insert(host).second) {
          diag_.error(at(*e), fmt::format("[evacuation] {}: '{}' is listed twice", e->key, host));
          continue;
        }
        config_.reserved_hosts.push_back(host);
      }
    }
    readBool(v, "reserved-hosts-fallback", config_.reserved_hosts_fallback);
    for (const std::string& name : config_.reserved_hosts) {
      // A reserved host may be in the inventory (watched, fenced if it fails: then it is not
      // used) or not (a spare freezer-dr only enables). Kept out of service by hand is not
      // the same as reserved: a host in maintenance is never a target.
      if (std::find(config_.maintenance.begin(), config_.maintenance.end(), name) !=
          config_.maintenance.end()) {
        const IniEntry* e = default_.get("maintenance");
        diag_.error(e != nullptr ? at(*e) : ini_.path,
                    fmt::format("[DEFAULT] maintenance: '{}' is also a reserved host in "
                                "[evacuation] reserved-hosts: a host in maintenance cannot take "
                                "evacuated instances",
                                name));
      }
    }
    readInt(v, "concurrency", config_.evacuation_concurrency, 1);
    readInt(v, "max-rebuilds-per-host", config_.max_rebuilds_per_host, 1);
    readDuration(v, "instance-timeout", config_.instance_timeout, false);
    if (const IniEntry* e = v.get("priority-key")) {
      if (trimmed(e->value).empty()) {
        badValue(v, *e, "an instance metadata key");
      } else {
        config_.priority_key = trimmed(e->value);
      }
    }
    if (const IniEntry* e = v.get("ha-enabled-key")) {
      if (trimmed(e->value).empty()) {
        badValue(v, *e, "an instance metadata key");
      } else {
        config_.ha_enabled_key = trimmed(e->value);
      }
    }
    // The evacuator driver decides how shared storage is told to the cloud.
    if (const IniEntry* e = v.get("shared-storage")) {
      putEntry(config_.evacuator.options, *e, "shared-storage");
    }
    for (const auto& [key, value] : readDict(v, "options")) {
      put(config_.evacuator.options, key, value);
    }
  }

  void readHa() {
    const View v = index("ha", {{"etcd-endpoints", ""},
                                {"cluster", ""},
                                {"name", ""},
                                {"lease-ttl", ""},
                                {"safety-margin", ""},
                                {"campaign-interval", ""},
                                {"request-timeout", ""},
                                {"ca-file", ""},
                                {"cert-file", ""},
                                {"key-file", ""},
                                {"insecure", ""}});
    if (v.ini == nullptr) return;
    HaConfig& ha = config_.ha;
    ha.where = sectionWhere(v.ini);
    if (const IniEntry* e = v.get("etcd-endpoints")) {
      for (const std::string& url : splitList(e->value)) {
        if (!url.starts_with("http://") && !url.starts_with("https://")) {
          diag_.error(at(*e), fmt::format("[ha] {}: '{}' is not an http:// or https:// URL of "
                                          "an etcd member",
                                          e->key, url));
          continue;
        }
        ha.etcd_endpoints.push_back(url);
      }
    }
    if (const IniEntry* e = v.get("cluster")) {
      const std::string name = trimmed(e->value);
      if (name.empty() || name.find_first_of("/ \t") != std::string::npos) {
        badValue(v, *e, "a name without '/' or spaces");
      } else {
        ha.cluster = name;
      }
    }
    readString(v, "name", ha.name);
    readDuration(v, "lease-ttl", ha.lease_ttl, false);
    readDuration(v, "safety-margin", ha.safety_margin, /*allow_zero=*/true);
    readDuration(v, "campaign-interval", ha.campaign_interval, false);
    readDuration(v, "request-timeout", ha.request_timeout, false);
    for (auto [key, out] :
         {std::pair{"ca-file", &ha.ca_file}, std::pair{"cert-file", &ha.cert_file},
          std::pair{"key-file", &ha.key_file}}) {
      if (const IniEntry* e = v.get(key)) *out = resolvePath(trimmed(e->value));
    }
    readBool(v, "insecure", ha.insecure);
    if (ha.lease_ttl < std::chrono::seconds(2)) {
      badValue(v, *v.get("lease-ttl"), "at least 2 s (etcd grants leases in whole seconds)");
    }
    if (ha.margin() * 2 > ha.lease_ttl) {
      const IniEntry* e = v.get("safety-margin");
      diag_.error(e != nullptr ? at(*e) : ha.where,
                  "[ha] safety-margin must be at most half of lease-ttl: a leader renews its lease "
                  "every third of it and must still be acting between two renewals");
    }
    if (ha.request_timeout >= ha.lease_ttl - ha.margin()) {
      const IniEntry* e = v.get("request-timeout");
      diag_.error(e != nullptr ? at(*e) : ha.where,
                  "[ha] request-timeout must be shorter than lease-ttl minus safety-margin: a "
                  "renewal that takes longer cannot keep the leader acting");
    }
    if (ha.etcd_endpoints.empty()) {
      diag_.error(ha.where,
                  "[ha] etcd-endpoints is required in the [ha] section (remove the "
                  "section to run single-node)");
    }
    if (ha.insecure) {
      diag_.warning(at(*v.get("insecure")),
                    "[ha] insecure = true: the etcd members' TLS certificates are not verified");
    }
  }

  void readNotifiers() {
    const View v = index("notifiers", {{"driver", ""},
                                       {"endpoint", ""},
                                       {"username", ""},
                                       {"password", ""},
                                       {"templates-dir", ""},
                                       {"options", ""},
                                       {"notify-list", ""},
                                       {"notify-from", ""}});
    config_.notifiers = readDrivers(v, kDefaultNotifier);
    if (const IniEntry* e = v.get("notify-list")) config_.notify_list = splitList(e->value);
    readString(v, "notify-from", config_.notify_from);
    const auto dict = readDict(v, "options");
    for (DriverChoice& notifier : config_.notifiers) {
      // Every notifier gets the section's common settings, as the original passed them.
      for (const char* name : {"endpoint", "username", "password", "templates-dir"}) {
        if (const IniEntry* e = v.get(name)) putEntry(notifier.options, *e, name);
      }
      // And the addresses, which the e-mail notifier needs (the webhook accepts and ignores
      // them). Not the file notifier: it addresses no one and its schema does not take them.
      if (notifier.name != "file") {
        for (const char* name : {"notify-list", "notify-from"}) {
          if (const IniEntry* e = v.get(name)) putEntry(notifier.options, *e, name);
        }
      }
      for (const auto& [key, value] : dict) put(notifier.options, key, value);
    }
  }

  void readKeystone() {
    const std::string kMiddleware = "a keystonemiddleware option freezer-dr does not use";
    std::vector<Key> keys = {{"auth_uri", ""},
                             {"www_authenticate_uri", ""},
                             {"auth_url", ""},
                             {"auth_plugin", ""},
                             {"auth_type", ""},
                             {"username", ""},
                             {"user_id", ""},
                             {"password", ""},
                             {"project_name", ""},
                             {"project_id", ""},
                             {"domain_name", ""},
                             {"project_domain_id", ""},
                             {"user_domain_id", ""},
                             {"project_domain_name", ""},
                             {"user_domain_name", ""},
                             {"kwargs", ""},
                             {"region_name", ""},
                             {"interface", ""},
                             {"cafile", ""},
                             {"insecure", ""},
                             {"application_credential_id", ""},
                             {"application_credential_name", ""},
                             {"application_credential_secret", ""}};
    for (const char* name : {"memcached_servers", "service_token_roles_required",
                             "service_token_roles", "service_type", "token_cache_time",
                             "delay_auth_decision", "auth_version", "signing_dir"}) {
      keys.push_back({name, kMiddleware});
    }
    const View v = index("keystone_authtoken", keys);
    KeystoneAuth& k = config_.keystone;
    k.where = v.ini != nullptr          ? at(v.ini->line)
              : default_.ini != nullptr ? at(default_.ini->line)
                                        : ini_.path;

    readString(v, "www_authenticate_uri", k.auth_url);
    readString(v, "auth_uri", k.auth_url);
    readString(v, "auth_url", k.auth_url);  // preferred over the two public URIs
    std::string plugin;
    readString(v, "auth_type", plugin);
    readString(v, "auth_plugin", plugin);
    readString(v, "username", k.username);
    readString(v, "user_id", k.user_id);
    readSecret(v, "password", k.password);
    readString(v, "project_name", k.project_name);
    readString(v, "project_id", k.project_id);
    readString(v, "domain_name", k.domain_name);
    readString(v, "project_domain_id", k.project_domain_id);
    readString(v, "user_domain_id", k.user_domain_id);
    readString(v, "project_domain_name", k.project_domain_name);
    readString(v, "user_domain_name", k.user_domain_name);
    readString(v, "region_name", k.region_name);
    readString(v, "cafile", k.cafile);
    readBool(v, "insecure", k.insecure);
    readString(v, "application_credential_id", k.application_credential_id);
    readString(v, "application_credential_name", k.application_credential_name);
    readSecret(v, "application_credential_secret", k.application_credential_secret);
    if (auto interface =
            readChoice(v, "interface",
                       {"public", "publicurl", "internal", "internalurl", "admin", "adminurl"})) {
      k.interface = interface->substr(0, interface->find("url"));
    }

    // kwargs (DictOpt): fills what the section did not set.
    const std::map<std::string, std::string*> fields = {
        {"auth_url", &k.auth_url},
        {"username", &k.username},
        {"user_id", &k.user_id},
        {"project_name", &k.project_name},
        {"project_id", &k.project_id},
        {"domain_name", &k.domain_name},
        {"project_domain_id", &k.project_domain_id},
        {"user_domain_id", &k.user_domain_id},
        {"project_domain_name", &k.project_domain_name},
        {"user_domain_name", &k.user_domain_name},
        {"region_name", &k.region_name},
        {"interface", &k.interface},
        {"cafile", &k.cafile}};
    for (const auto& [key, value] : readDict(v, "kwargs")) {
      const auto field = fields.find(key);
      if (field != fields.end()) {
        if (field->second->empty()) *field->second = value.value;
      } else if (key == "password") {
        if (k.password.empty()) k.password = Secret(value.value);
      } else {
        diag_.warning(value.where,
                      fmt::format("[keystone_authtoken] kwargs: '{}' is not a Keystone "
                                  "setting freezer-dr uses; ignored",
                                  key));
      }
    }

    // [DEFAULT] os-* fill only what [keystone_authtoken] left empty.
    const View& d = default_;
    auto fallback = [&](std::string_view name, std::string& out) {
      if (!out.empty()) return;
      readString(d, name, out);
    };
    fallback("os-auth-url", k.auth_url);
    fallback("os-username", k.username);
    fallback("os-project-name", k.project_name);
    fallback("os-tenant-name", k.project_name);
    fallback("os-tenant-id", k.project_id);
    fallback("os-project-domain-name", k.project_domain_name);
    fallback("os-user-domain-name", k.user_domain_name);
    fallback("os-region-name", k.region_name);
    if (k.password.empty()) readSecret(d, "os-password", k.password);
    if (auto type =
            readChoice(d, "os-endpoint-type",
                       {"public", "publicurl", "internal", "internalurl", "admin", "adminurl"})) {
      if (k.interface.empty()) k.interface = type->substr(0, type->find("url"));
    }

    const std::string chosen = lower(plugin);
    if (chosen.empty()) {
      k.auth_plugin =
          k.application_credential_secret.empty() ? "password" : "v3applicationcredential";
    } else if (chosen == "password" || chosen == "v3password") {
      k.auth_plugin = "password";
    } else if (chosen == "v3applicationcredential" || chosen == "applicationcredential") {
      k.auth_plugin = "v3applicationcredential";
    } else {
      const IniEntry* e =
          v.get("auth_plugin") != nullptr ? v.get("auth_plugin") : v.get("auth_type");
      badValue(v, *e, "password or v3applicationcredential");
    }
    if (k.configured() && k.auth_plugin == "v3applicationcredential" &&
        (k.application_credential_secret.empty() ||
         (k.application_credential_id.empty() && k.application_credential_name.empty()))) {
      diag_.error(k.where,
                  "[keystone_authtoken] v3applicationcredential needs "
                  "application_credential_secret and application_credential_id (or "
                  "_name)");
    }
  }

  bool isDriverSectionName(const std::string& name) const {
    for (std::string_view stage : kDriverStages) {
      if (name.size() > stage.size() && name.starts_with(stage) && name[stage.size()] == '.') {
        return true;
      }
    }
    return false;
  }

  std::vector<DriverChoice*> driversOf(const std::string& stage) {
    std::vector<DriverChoice*> out;
    if (stage == "monitoring") {
      for (DriverChoice& d : config_.monitors) out.push_back(&d);
    } else if (stage == "fencer") {
      for (DriverChoice& d : config_.fencers) out.push_back(&d);
    } else if (stage == "evacuation") {
      if (!config_.evacuator.name.empty()) out.push_back(&config_.evacuator);
    } else if (stage == "notifiers") {
      for (DriverChoice& d : config_.notifiers) out.push_back(&d);
    }
    return out;
  }

  static std::string joinNames(const std::vector<DriverChoice>& drivers) {
    std::vector<std::string> names;
    for (const DriverChoice& d : drivers) names.push_back(d.name);
    return joined(names);
  }

  // Copies a driver section's keys, as written, into the driver's raw options; the wiring checks
  // them against the driver's schema.
  void copyDriverSection(const IniSection& section, DriverChoice& driver) {
    for (const IniEntry& entry : section.entries) {
      warnRepeated(section.name, entry);
      if (looksSecret(entry.key)) noteSecret(entry);
      putEntry(driver.options, entry, entry.key);
    }
  }

  // The backend_name section, [<stage>.<driver>] sections, and unknown sections.
  void readOtherSections() {
    // backend_name first, so that a [monitoring.<driver>] section overrides it.
    if (!backend_name_.empty() && !config_.monitors.empty()) {
      if (const IniSection* s = ini_.find(backend_name_)) {
        copyDriverSection(*s, config_.monitors.front());
      }
    }
    std::vector<std::string> candidates(kSections.begin(), kSections.end());
    if (!backend_name_.empty()) candidates.push_back(backend_name_);
    for (std::string_view stage : kDriverStages) {
      for (DriverChoice* d : driversOf(std::string(stage))) {
        candidates.push_back(std::string(stage) + "." + d->name);
      }
    }

    for (const IniSection& section : ini_.sections) {
      const std::string& name = section.name;
      if (isKnownSection(name) || name == backend_name_) {
        continue;
      }
      if (isDriverSectionName(name)) {
        const size_t dot = name.find('.');
        const std::string stage = name.substr(0, dot);
        const std::string driver = name.substr(dot + 1);
        DriverChoice* target = nullptr;
        std::vector<std::string> configured;
        for (DriverChoice* d : driversOf(stage)) {
          configured.push_back(d->name);
          if (d->name == driver) target = d;
        }
        if (target != nullptr) {
          copyDriverSection(section, *target);
          continue;
        }
        std::string message = fmt::format(
            "[{}] holds options for driver '{}', but [{}] driver "
            "does not list it",
            name, driver, stage);
        const std::string match = suggest(driver, configured);
        if (!match.empty()) message += fmt::format(" (did you mean [{}.{}]?)", stage, match);
        message += "; drivers: " + joined(configured);
        diag_.error(at(section.line), std::move(message));
        continue;
      }
      std::string message = fmt::format("unknown section [{}]", name);
      const std::string match = suggest(name, candidates);
      if (!match.empty()) {
        message += fmt::format(" (did you mean [{}]?)", match);
      } else {
        message += "; valid sections: " + joined(candidates);
      }
      diag_.error(at(section.line), std::move(message));
    }
  }

  void readInventory() {
    if (config_.credentials_file.empty()) {
      diag_.warning(ini_.path,
                    "[fencer] credentials-file is not set: the node inventory "
                    "(servers.yml) is empty");
      return;
    }
    const std::string& path = config_.credentials_file;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      diag_.error(at(*credentials_entry_),
                  fmt::format("[fencer] {}: the inventory '{}' does not exist (a relative path "
                              "is read from the config file's folder)",
                              credentials_entry_->key, path));
      return;
    }
    auto nodes = loadInventory(path, diag_);
    if (!nodes) return;
    config_.nodes = std::move(*nodes);
    if (config_.nodes.empty()) return;
    for (const std::string& name : config_.maintenance) {
      const bool known = std::any_of(config_.nodes.begin(), config_.nodes.end(),
                                     [&](const Node& n) { return n.hostname == name; });
      if (!known) {
        const IniEntry* e = default_.get("maintenance");
        diag_.warning(
            e != nullptr ? at(*e) : ini_.path,
            fmt::format("[DEFAULT] maintenance: '{}' is not a hostname in {}", name, path));
      }
    }
  }

  const IniFile& ini_;
  Diagnostics& diag_;
  bool with_inventory_;
  std::filesystem::path dir_;
  Config config_;
  View default_;
  std::string backend_name_;
  const IniEntry* credentials_entry_ = nullptr;
  std::string secret_where_;  // the first secret set in the file
};

size_t errorCount(const Diagnostics& diag) {
  return static_cast<size_t>(std::count_if(
      diag.items().begin(), diag.items().end(),
      [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::kError; }));
}

}  // namespace

std::optional<Config> load(const std::string& path, Diagnostics& diag, Inventory inventory) {
  const size_t errors_before = errorCount(diag);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    diag.error(path, "cannot read config file '" + path + "': it is a directory");
    return std::nullopt;
  }
  std::optional<IniFile> ini = readIni(path, diag);
  if (!ini) return std::nullopt;
  Config config = Loader(*ini, diag, inventory == Inventory::kRead).run();
  if (errorCount(diag) > errors_before) return std::nullopt;
  return config;
}

std::vector<std::string> defaultConfigPaths() {
  // This project's own place first, then where the original freezer-dr's packages put it.
  return {"/etc/freezer-dr/freezer-dr.conf", "/etc/freezer/freezer-dr.conf"};
}

}  // namespace fdr::config
