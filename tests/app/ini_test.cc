// The oslo.config-dialect INI reader: separators, comments, continuation lines, repeated keys,
// and the line number of every section and key.
#include "app/config/ini.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace fdr::config {
namespace {

bool hasError(const Diagnostics& diag, std::string_view where, std::string_view text) {
  for (const Diagnostic& d : diag.items()) {
    if (d.severity == Diagnostic::Severity::kError && d.where == where &&
        d.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Ini, ReadsSectionsAndKeysWithTheirLineNumbers) {
  Diagnostics diag;
  const IniFile ini = parseIni(
      "[DEFAULT]\n"       // 1
      "wait = 30\n"       // 2
      "\n"                // 3
      "[fencer]\n"        // 4
      "retries=2\n"       // 5
      "driver = ipmi\n",  // 6
      "fdr.conf", diag);
  EXPECT_FALSE(diag.hasErrors()) << diag.format();
  ASSERT_EQ(ini.sections.size(), 2U);
  EXPECT_EQ(ini.path, "fdr.conf");
  EXPECT_EQ(ini.sections[0].name, "DEFAULT");
  EXPECT_EQ(ini.sections[0].line, 1);
  const IniSection* fencer = ini.find("fencer");
  ASSERT_NE(fencer, nullptr);
  EXPECT_EQ(fencer->line, 4);
  ASSERT_NE(fencer->find("retries"), nullptr);
  EXPECT_EQ(fencer->find("retries")->value, "2");
  EXPECT_EQ(fencer->find("retries")->line, 5);
  EXPECT_EQ(fencer->find("driver")->value, "ipmi");
  EXPECT_EQ(fencer->find("driver")->line, 6);
  EXPECT_EQ(ini.find("DEFAULT")->find("wait")->value, "30");
  EXPECT_EQ(ini.find("nope"), nullptr);
}

TEST(Ini, ColonSeparatesTooAndTheFirstSeparatorWins) {
  Diagnostics diag;
  const IniFile ini = parseIni(
      "[notifiers]\n"
      "endpoint: http://mail:25\n"
      "options = port:2525,tls:true\n",
      "f", diag);
  EXPECT_FALSE(diag.hasErrors()) << diag.format();
  EXPECT_EQ(ini.find("notifiers")->find("endpoint")->value, "http://mail:25");
  EXPECT_EQ(ini.find("notifiers")->find("options")->value, "port:2525,tls:true");
}

TEST(Ini, HashAndSemicolonStartCommentLines) {
  Diagnostics diag;
  const IniFile ini = parseIni(
      "# a comment\n"
      "[monitoring]\n"
      "; another\n"
      "#driver = commented\n"
      "driver = fake # not a comment: oslo.config has no inline comments\n",
      "f", diag);
  EXPECT_FALSE(diag.hasErrors()) << diag.format();
  const IniSection* s = ini.find("monitoring");
  ASSERT_EQ(s->entries.size(), 1U);
  EXPECT_EQ(s->find("driver")->value, "fake # not a comment: oslo.config has no inline comments");
  EXPECT_EQ(s->find("driver")->line, 5);
}

TEST(Ini, IndentedLinesContinueTheValueUntilABlankLine) {
  Diagnostics diag;
  const IniFile ini = parseIni(
      "[DEFAULT]\n"              // 1
      "maintenance = node-1,\n"  // 2
      "  node-2,\n"              // 3
      "\tnode-3\n"               // 4
      "\n"                       // 5
      "wait = 3\n",              // 6
      "f", diag);
  EXPECT_FALSE(diag.hasErrors()) << diag.format();
  const IniEntry* e = ini.find("DEFAULT")->find("maintenance");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value, "node-1,\nnode-2,\nnode-3");
  EXPECT_EQ(e->line, 2);
  EXPECT_EQ(ini.find("DEFAULT")->find("wait")->line, 6);
}

TEST(Ini, SurroundingMatchingQuotesAreRemoved) {
  Diagnostics diag;
  const IniFile ini = parseIni("[s]\na = \"x y\"\nb = 'z'\nc = \"half\n", "f", diag);
  EXPECT_EQ(ini.find("s")->find("a")->value, "x y");
  EXPECT_EQ(ini.find("s")->find("b")->value, "z");
  EXPECT_EQ(ini.find("s")->find("c")->value, "\"half");
}

TEST(Ini, RepeatedKeyKeepsTheLastValueAndRecordsTheEarlierLines) {
  Diagnostics diag;
  const IniFile ini = parseIni("[s]\nk = 1\nk = 2\n[t]\n[s]\nk = 3\n", "f", diag);
  EXPECT_FALSE(diag.hasErrors()) << diag.format();
  ASSERT_EQ(ini.sections.size(), 2U);  // [s] reopened: merged
  const IniEntry* e = ini.find("s")->find("k");
  EXPECT_EQ(e->value, "3");
  EXPECT_EQ(e->line, 6);
  EXPECT_EQ(e->earlier_lines, (std::vector<int>{2, 3}));
}

TEST(Ini, WindowsLineEndingsAndAByteOrderMarkAreTolerated) {
  Diagnostics diag;
  const IniFile ini = parseIni("\xEF\xBB\xBF[s]\r\nk = v\r\n", "f", diag);
  EXPECT_FALSE(diag.hasErrors()) << diag.format();
  EXPECT_EQ(ini.find("s")->find("k")->value, "v");
}

TEST(Ini, SyntaxErrorsNameTheLineAndEveryOneIsReported) {
  Diagnostics diag;
  const IniFile ini = parseIni(
      "orphan = 1\n"    // 1: before any section
      "[ok]\n"          // 2
      "no separator\n"  // 3
      "= value\n"       // 4: no key
      "\n"              // 5
      "  continued\n"   // 6: nothing to continue
      "[broken\n"       // 7
      "lost = 1\n"      // 8: dropped, its header was reported
      "[]\n"            // 9
      "[fine]\n"        // 10
      "k = v\n",        // 11
      "bad.conf", diag);
  EXPECT_TRUE(hasError(diag, "bad.conf:1", "before any [section]")) << diag.format();
  EXPECT_TRUE(hasError(diag, "bad.conf:3", "expected 'key = value'")) << diag.format();
  EXPECT_TRUE(hasError(diag, "bad.conf:4", "option with no name")) << diag.format();
  EXPECT_TRUE(hasError(diag, "bad.conf:6", "continuation line")) << diag.format();
  EXPECT_TRUE(hasError(diag, "bad.conf:7", "closing ']'")) << diag.format();
  EXPECT_TRUE(hasError(diag, "bad.conf:9", "empty section name")) << diag.format();
  EXPECT_EQ(diag.items().size(), 6U) << diag.format();
  EXPECT_EQ(ini.find("fine")->find("k")->line, 11);
}

TEST(Ini, MissingFileIsAnErrorNamingThePath) {
  Diagnostics diag;
  const std::string path = "/nonexistent/freezer-dr.conf";
  EXPECT_FALSE(readIni(path, diag).has_value());
  ASSERT_TRUE(diag.hasErrors());
  EXPECT_NE(diag.format().find("cannot read config file '/nonexistent/freezer-dr.conf'"),
            std::string::npos)
      << diag.format();
}

}  // namespace
}  // namespace fdr::config
