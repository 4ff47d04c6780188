// Typed driver options: each driver declares a schema; raw strings from the config are checked
// against it once, at start-up, into an Options value the driver reads without further parsing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "freezer/clock.h"
#include "freezer/diagnostics.h"
#include "freezer/model.h"

namespace fdr {

enum class OptionType {
  kString,
  kInt,
  kBool,      // true/false, yes/no, on/off, 1/0
  kDuration,  // seconds, decimals allowed ("0.5"), or with a unit: "500ms", "2s", "1m"
  kList,      // comma-separated
  kPath,
};

struct OptionSpec {
  std::string name;
  OptionType type = OptionType::kString;
  bool required = false;
  std::optional<std::string> default_value;
  bool secret = false;  // never logged; a warning if the file holding it is world-readable
  std::string help;
};
using OptionSchema = std::vector<OptionSpec>;

struct RawOption {
  std::string value;
  std::string where;  // "file:line"
};
using RawOptions = std::map<std::string, RawOption>;

class Options {
 public:
  // Checks `raw` against `schema`: unknown keys (with a "did you mean"), bad types and missing
  // required options are reported to `diag` under `context` (e.g. "[fencer] driver ipmi").
  // Returns nullopt if any error was found.
  static std::optional<Options> parse(const OptionSchema& schema, const RawOptions& raw,
                                      const std::string& context, Diagnostics& diag);

  [[nodiscard]] bool has(const std::string& name) const;
  // REQUIRES: `name` is in the schema with the matching type (a bug otherwise: aborts).
  // getString also reads kPath options; getSecret reads kString options marked secret.
  [[nodiscard]] std::string getString(const std::string& name) const;
  [[nodiscard]] int64_t getInt(const std::string& name) const;
  [[nodiscard]] bool getBool(const std::string& name) const;
  [[nodiscard]] Duration getDuration(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> getList(const std::string& name) const;
  [[nodiscard]] Secret getSecret(const std::string& name) const;

 private:
  struct Value {
    OptionType type;
    std::string text;
    int64_t integer = 0;
    bool boolean = false;
    Duration duration{0};
    std::vector<std::string> list;
  };
  const Value& value(const std::string& name, OptionType type) const;
  std::map<std::string, Value> values_;
};

// Parsers shared by config and options; each returns nullopt on bad input.
std::optional<bool> parseBool(const std::string& text);
std::optional<int64_t> parseInt(const std::string& text);
std::optional<Duration> parseDuration(const std::string& text);
std::vector<std::string> splitList(const std::string& text);

}  // namespace fdr
