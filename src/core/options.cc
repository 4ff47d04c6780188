#include "freezer/options.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace fdr {
namespace {

// Stored for an optional option that was neither given nor defaulted: reading it gives an empty
// value (has() says false). A NUL byte never comes from a config file: parse() refuses those.
const std::string kAbsent("\0absent", 7);

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view typeName(OptionType type) {
  switch (type) {
    case OptionType::kString: return "a string";
    case OptionType::kInt: return "an integer";
    case OptionType::kBool: return "a boolean (true/false, yes/no, on/off, 1/0)";
    case OptionType::kDuration: return "a duration (seconds, or with a unit: 500ms, 2s, 1m)";
    case OptionType::kList: return "a comma-separated list";
    case OptionType::kPath: return "a path";
  }
  return "a value";
}

std::string joined(const OptionSchema& schema) {
  std::string out;
  for (const OptionSpec& spec : schema) {
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out.empty() ? "(none)" : out;
}

[[noreturn]] void misuse(const std::string& name, std::string_view what) {
  std::fprintf(stderr, "fdr::Options: option '%s' %.*s (a bug in the caller)\n", name.c_str(),
               static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace

std::optional<bool> parseBool(const std::string& text) {
  const std::string word = lower(trim(text));
  if (word == "true" || word == "yes" || word == "on" || word == "1") return true;
  if (word == "false" || word == "no" || word == "off" || word == "0") return false;
  return std::nullopt;
}

std::optional<int64_t> parseInt(const std::string& text) {
  std::string_view digits = trim(text);
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  if (digits.empty()) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::optional<Duration> parseDuration(const std::string& text) {
  const std::string_view input = trim(text);
  // A decimal number: digits, optionally a fraction. No sign, no exponent.
  size_t i = 0;
  int64_t whole = 0;
  size_t whole_digits = 0;
  while (i < input.size() && std::isdigit(static_cast<unsigned char>(input[i]))) {
    if (whole > (std::numeric_limits<int64_t>::max() - 9) / 10) return std::nullopt;
    whole = whole * 10 + (input[i] - '0');
    ++whole_digits;
    ++i;
  }
  std::string_view fraction;
  if (i < input.size() && input[i] == '.') {
    const size_t start = ++i;
    while (i < input.size() && std::isdigit(static_cast<unsigned char>(input[i]))) ++i;
    fraction = input.substr(start, i - start);
  }
  if (whole_digits == 0 && fraction.empty()) return std::nullopt;
  const std::string unit = lower(trim(input.substr(i)));
  int64_t unit_ms = 0;
  if (unit.empty() || unit == "s") {
    unit_ms = 1000;
  } else if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    return std::nullopt;
  }
  if (whole > std::numeric_limits<int64_t>::max() / unit_ms - 1) return std::nullopt;
  // The fraction in exact integer arithmetic, rounded to the millisecond; digits beyond the
  // 9th cannot change a millisecond count of any unit here.
  int64_t numerator = 0;
  int64_t denominator = 1;
  for (size_t d = 0; d < fraction.size() && d < 9; ++d) {
    numerator = numerator * 10 + (fraction[d] - '0');
    denominator *= 10;
  }
  const int64_t fraction_ms = (numerator * unit_ms + denominator / 2) / denominator;
  return Duration(whole * unit_ms + fraction_ms);
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string_view item = trim(std::string_view(text).substr(start, comma - start));
    if (!item.empty()) items.emplace_back(item);
    start = comma + 1;
  }
  return items;
}

std::optional<Options> Options::parse(const OptionSchema& schema, const RawOptions& raw,
                                      const std::string& context, Diagnostics& diag) {
  const std::string prefix = context.empty() ? "" : context + ": ";
  bool ok = true;
  std::vector<std::string> names;
  names.reserve(schema.size());
  for (const OptionSpec& spec : schema) names.push_back(spec.name);

  for (const auto& [key, option] : raw) {
    bool known = false;
    for (const OptionSpec& spec : schema) known = known || spec.name == key;
    if (known) continue;
    std::string message = prefix + "unknown option '" + key + "'";
    const std::string suggestion = closestMatch(key, names);
    if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
    message += "; valid options: " + joined(schema);
    diag.error(option.where.empty() ? context : option.where, std::move(message));
    ok = false;
  }

  Options options;
  for (const OptionSpec& spec : schema) {
    const auto given = raw.find(spec.name);
    const bool from_config = given != raw.end();
    std::string where = from_config && !given->second.where.empty() ? given->second.where : context;
    std::optional<std::string> text;
    if (from_config) {
      text = given->second.value;
    } else if (spec.default_value) {
      text = spec.default_value;
    }
    Value value;
    value.type = spec.type;
    value.text = kAbsent;
    if (!text) {
      if (spec.required) {
        diag.error(where, prefix + "missing required option '" + spec.name + "' (" +
                              std::string(typeName(spec.type)) + ")");
        ok = false;
      }
      options.values_.emplace(spec.name, std::move(value));
      continue;
    }
    // A bad default is the driver's bug, not the operator's: say so.
    const std::string origin = from_config ? "" : " (its default; a bug in the driver's schema)";
    const std::string shown = spec.secret ? std::string("(secret, not shown)") : "'" + *text + "'";
    auto bad = [&](std::string_view expected) {
      diag.error(where, prefix + "option '" + spec.name + "': expected " + std::string(expected) +
                            ", got " + shown + origin);
      ok = false;
    };
    if (text->find('\0') != std::string::npos) {
      bad("text without NUL bytes");
      continue;
    }
    if (spec.required && from_config && trim(*text).empty()) {
      bad(std::string(typeName(spec.type)) + " (required, may not be empty)");
      continue;
    }
    value.text = *text;
    switch (spec.type) {
      case OptionType::kString:
      case OptionType::kPath: break;
      case OptionType::kInt:
        if (auto parsed = parseInt(*text)) {
          value.integer = *parsed;
        } else {
          bad(typeName(spec.type));
          continue;
        }
        break;
      case OptionType::kBool:
        if (auto parsed = parseBool(*text)) {
          value.boolean = *parsed;
        } else {
          bad(typeName(spec.type));
          continue;
        }
        break;
      case OptionType::kDuration:
        if (auto parsed = parseDuration(*text)) {
          value.duration = *parsed;
        } else {
          bad(typeName(spec.type));
          continue;
        }
        break;
      case OptionType::kList: value.list = splitList(*text); break;
    }
    options.values_.insert_or_assign(spec.name, std::move(value));
  }
  if (!ok) return std::nullopt;
  return options;
}

bool Options::has(const std::string& name) const {
  const auto it = values_.find(name);
  return it != values_.end() && it->second.text != kAbsent;
}

const Options::Value& Options::value(const std::string& name, OptionType type) const {
  const auto it = values_.find(name);
  if (it == values_.end()) misuse(name, "is not in the driver's schema");
  const OptionType actual = it->second.type;
  const bool text_like = type == OptionType::kString && actual == OptionType::kPath;
  if (actual != type && !text_like) misuse(name, "is read with the wrong type");
  return it->second;
}

std::string Options::getString(const std::string& name) const {
  const Value& v = value(name, OptionType::kString);
  return v.text == kAbsent ? std::string() : v.text;
}

int64_t Options::getInt(const std::string& name) const {
  return value(name, OptionType::kInt).integer;
}

bool Options::getBool(const std::string& name) const {
  return value(name, OptionType::kBool).boolean;
}

Duration Options::getDuration(const std::string& name) const {
  return value(name, OptionType::kDuration).duration;
}

std::vector<std::string> Options::getList(const std::string& name) const {
  return value(name, OptionType::kList).list;
}

Secret Options::getSecret(const std::string& name) const {
  return Secret(getString(name));
}

}  // namespace fdr
