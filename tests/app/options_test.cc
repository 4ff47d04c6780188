// Options: the typed check of a driver's raw options against its schema, and the parsers and
// diagnostics shared with the config loader.
#include "freezer/options.h"

#include <gtest/gtest.h>

#include <sstream>

#include "freezer/diagnostics.h"

namespace fdr {
namespace {

using std::chrono::milliseconds;

bool hasError(const Diagnostics& diag, std::string_view where, std::string_view text) {
  for (const Diagnostic& d : diag.items()) {
    if (d.severity == Diagnostic::Severity::kError && d.where.find(where) != std::string::npos &&
        d.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(ParseBool, AcceptsEveryDocumentedSpellingInAnyCase) {
  for (const char* yes : {"true", "True", "YES", "on", "1", " true "}) {
    EXPECT_EQ(parseBool(yes), true) << yes;
  }
  for (const char* no : {"false", "FALSE", "no", "Off", "0"}) {
    EXPECT_EQ(parseBool(no), false) << no;
  }
  for (const char* bad : {"", "maybe", "2", "t", "yess"}) {
    EXPECT_EQ(parseBool(bad), std::nullopt) << bad;
  }
}

TEST(ParseInt, AcceptsSignedDecimalsOnly) {
  EXPECT_EQ(parseInt("42"), 42);
  EXPECT_EQ(parseInt("-3"), -3);
  EXPECT_EQ(parseInt("+7"), 7);
  EXPECT_EQ(parseInt(" 5 "), 5);
  EXPECT_EQ(parseInt("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "4.2", "abc", "12abc", "0x10", "99999999999999999999", "--1"}) {
    EXPECT_EQ(parseInt(bad), std::nullopt) << bad;
  }
}

TEST(ParseDuration, PlainNumbersAreSecondsAndDecimalsAreAllowed) {
  EXPECT_EQ(parseDuration("30"), milliseconds(30'000));
  EXPECT_EQ(parseDuration("0.5"), milliseconds(500));
  EXPECT_EQ(parseDuration(".25"), milliseconds(250));
  EXPECT_EQ(parseDuration("0"), milliseconds(0));
  EXPECT_EQ(parseDuration("1.0005"), milliseconds(1001));  // rounded to the millisecond
}

TEST(ParseDuration, UnitsMillisecondsSecondsMinutesHours) {
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(parseDuration("2s"), milliseconds(2'000));
  EXPECT_EQ(parseDuration("1m"), milliseconds(60'000));
  EXPECT_EQ(parseDuration("1.5m"), milliseconds(90'000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parseDuration(" 2 s "), milliseconds(2'000));
  EXPECT_EQ(parseDuration("2S"), milliseconds(2'000));
}

TEST(ParseDuration, RefusesNegativeMalformedAndHugeValues) {
  for (const char* bad :
       {"", "-1", "1x", "1e3", ".", "ms", "1.2.3", "s", "1 2", "abc", "99999999999999999999"}) {
    EXPECT_EQ(parseDuration(bad), std::nullopt) << bad;
  }
}

TEST(SplitList, TrimsItemsAndDropsEmptyOnes) {
  EXPECT_EQ(splitList("a, b,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(splitList("a,\n  b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(splitList("").empty());
  EXPECT_TRUE(splitList(" , ").empty());
}

TEST(ClosestMatch, SuggestsOnlyCloseCandidates) {
  const std::vector<std::string> keys = {"retries", "driver", "credentials-file", "deadline"};
  EXPECT_EQ(closestMatch("retires", keys), "retries");
  EXPECT_EQ(closestMatch("drvier", keys), "driver");
  EXPECT_EQ(closestMatch("credentails-fil", keys), "credentials-file");  // 3 edits, 15 chars
  EXPECT_EQ(closestMatch("colour", keys), "");
  EXPECT_EQ(closestMatch("x", {}), "");
}

TEST(ClosestMatch, AllowsAThirdOfALongWordButTwoEditsForShortOnes) {
  // 3 edits: too many for a 6-letter word (limit 2), fine for a 9-letter word (limit 3).
  EXPECT_EQ(closestMatch("drxxxr", {"driver"}), "");
  EXPECT_EQ(closestMatch("dexxxline", {"deadline"}), "deadline");
  EXPECT_EQ(closestMatch("dxxxxline", {"deadline"}), "");  // 4 edits
}

TEST(Diagnostics, FormatsOneLinePerItemWithSeverityAndPlace) {
  Diagnostics diag;
  EXPECT_FALSE(diag.hasErrors());
  diag.warning("a.conf:3", "careful");
  EXPECT_FALSE(diag.hasErrors());
  diag.error("a.conf:7", "broken");
  diag.error("", "no place");
  EXPECT_TRUE(diag.hasErrors());
  EXPECT_EQ(diag.format(),
            "warning: a.conf:3: careful\nerror: a.conf:7: broken\nerror: no place\n");
}

OptionSpec spec(std::string name, OptionType type, bool required = false,
                std::optional<std::string> default_value = std::nullopt, bool secret = false) {
  return OptionSpec{.name = std::move(name),
                    .type = type,
                    .required = required,
                    .default_value = std::move(default_value),
                    .secret = secret,
                    .help = ""};
}

const OptionSchema& schema() {
  static const OptionSchema kSchema = {
      spec("host", OptionType::kString, /*required=*/true),
      spec("port", OptionType::kInt, false, "623"),
      spec("lanplus", OptionType::kBool, false, "true"),
      spec("timeout", OptionType::kDuration, false, "2s"),
      spec("nodes", OptionType::kList),
      spec("state-file", OptionType::kPath),
      spec("password", OptionType::kString, false, std::nullopt, /*secret=*/true),
  };
  return kSchema;
}

RawOptions raw(std::initializer_list<std::pair<const std::string, std::string>> values) {
  RawOptions out;
  int line = 1;
  for (const auto& [key, value] : values) {
    out[key] = RawOption{.value = value, .where = "fdr.conf:" + std::to_string(line++)};
  }
  return out;
}

TEST(Options, ReadsEveryTypeFromTheirText) {
  Diagnostics diag;
  const auto options = Options::parse(schema(),
                                      raw({{"host", "bmc-1"},
                                           {"port", "6230"},
                                           {"lanplus", "no"},
                                           {"timeout", "500ms"},
                                           {"nodes", "a, b"},
                                           {"state-file", "/tmp/state"},
                                           {"password", "hunter2"}}),
                                      "[fencer] driver ipmi", diag);
  ASSERT_TRUE(options.has_value()) << diag.format();
  EXPECT_TRUE(diag.items().empty()) << diag.format();
  EXPECT_EQ(options->getString("host"), "bmc-1");
  EXPECT_EQ(options->getInt("port"), 6230);
  EXPECT_FALSE(options->getBool("lanplus"));
  EXPECT_EQ(options->getDuration("timeout"), milliseconds(500));
  EXPECT_EQ(options->getList("nodes"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(options->getString("state-file"), "/tmp/state");
  EXPECT_EQ(options->getSecret("password").reveal(), "hunter2");
  std::ostringstream printed;
  printed << options->getSecret("password");
  EXPECT_EQ(printed.str(), "***");
}

TEST(Options, AppliesDefaultsAndLeavesUnsetOptionalsEmpty) {
  Diagnostics diag;
  const auto options = Options::parse(schema(), raw({{"host", "bmc-1"}}), "ctx", diag);
  ASSERT_TRUE(options.has_value()) << diag.format();
  EXPECT_TRUE(options->has("port"));
  EXPECT_EQ(options->getInt("port"), 623);
  EXPECT_TRUE(options->getBool("lanplus"));
  EXPECT_EQ(options->getDuration("timeout"), milliseconds(2'000));
  EXPECT_FALSE(options->has("nodes"));
  EXPECT_TRUE(options->getList("nodes").empty());
  EXPECT_FALSE(options->has("state-file"));
  EXPECT_EQ(options->getString("state-file"), "");
  EXPECT_TRUE(options->getSecret("password").empty());
}

TEST(Options, MissingRequiredOptionIsAnErrorNamingIt) {
  Diagnostics diag;
  EXPECT_FALSE(Options::parse(schema(), {}, "[fencer] driver ipmi", diag).has_value());
  EXPECT_TRUE(hasError(diag, "[fencer] driver ipmi", "missing required option 'host'"))
      << diag.format();
}

TEST(Options, RequiredOptionMayNotBeEmpty) {
  Diagnostics diag;
  EXPECT_FALSE(Options::parse(schema(), raw({{"host", " "}}), "ctx", diag).has_value());
  EXPECT_TRUE(hasError(diag, "fdr.conf:1", "'host'")) << diag.format();
}

TEST(Options, UnknownKeyIsAnErrorWithDidYouMeanAndTheValidKeys) {
  Diagnostics diag;
  EXPECT_FALSE(
      Options::parse(schema(), raw({{"host", "h"}, {"prot", "1"}}), "[fencer] driver ipmi", diag)
          .has_value());
  EXPECT_TRUE(hasError(diag, "fdr.conf:2", "unknown option 'prot' (did you mean 'port'?)"))
      << diag.format();
  EXPECT_TRUE(hasError(diag, "fdr.conf:2", "valid options: host, port, lanplus")) << diag.format();
  EXPECT_TRUE(hasError(diag, "", "[fencer] driver ipmi")) << diag.format();
}

TEST(Options, BadValuesAreErrorsNamingPlaceKeyAndExpectation) {
  Diagnostics diag;
  EXPECT_FALSE(Options::parse(
                   schema(),
                   raw({{"host", "h"}, {"lanplus", "maybe"}, {"port", "six"}, {"timeout", "soon"}}),
                   "ctx", diag)
                   .has_value());
  EXPECT_TRUE(hasError(diag, "fdr.conf:2", "option 'lanplus': expected a boolean"))
      << diag.format();
  EXPECT_TRUE(hasError(diag, "fdr.conf:3", "option 'port': expected an integer, got 'six'"))
      << diag.format();
  EXPECT_TRUE(hasError(diag, "fdr.conf:4", "option 'timeout': expected a duration"))
      << diag.format();
}

TEST(Options, AllErrorsAreReportedNotOnlyTheFirst) {
  Diagnostics diag;
  EXPECT_FALSE(
      Options::parse(schema(), raw({{"bogus", "1"}, {"port", "x"}}), "ctx", diag).has_value());
  EXPECT_TRUE(hasError(diag, "", "unknown option 'bogus'"));
  EXPECT_TRUE(hasError(diag, "", "option 'port'"));
  EXPECT_TRUE(hasError(diag, "", "missing required option 'host'"));
}

TEST(Options, BadDefaultInTheSchemaIsReportedAsTheDriversBug) {
  const OptionSchema broken = {spec("n", OptionType::kInt, false, "ten")};
  Diagnostics diag;
  EXPECT_FALSE(Options::parse(broken, {}, "[monitoring] driver x", diag).has_value());
  EXPECT_TRUE(hasError(diag, "[monitoring] driver x", "a bug in the driver's schema"))
      << diag.format();
}

TEST(Options, SecretValuesNeverAppearInMessages) {
  const OptionSchema secret_int = {spec("pin", OptionType::kInt, false, std::nullopt, true)};
  Diagnostics diag;
  EXPECT_FALSE(Options::parse(secret_int, raw({{"pin", "s3cr3t"}}), "ctx", diag).has_value());
  EXPECT_TRUE(diag.hasErrors());
  EXPECT_EQ(diag.format().find("s3cr3t"), std::string::npos) << diag.format();
}

TEST(OptionsDeathTest, ReadingAnOptionOutsideTheSchemaOrWithTheWrongTypeAborts) {
  Diagnostics diag;
  const auto options = Options::parse(schema(), raw({{"host", "h"}}), "ctx", diag);
  ASSERT_TRUE(options.has_value());
  EXPECT_DEATH((void)options->getString("no-such-option"), "not in the driver's schema");
  EXPECT_DEATH((void)options->getInt("host"), "wrong type");
}

}  // namespace
}  // namespace fdr
