// Message building of the e-mail notifier (pure functions) and its templates.
#include <gtest/gtest.h>

#include <algorithm>

#include "drivers/notifier/email/mime.h"
#include "drivers/notifier/email/templates.h"

namespace fdr::drivers::email {
namespace {

TEST(EmailMimeTest, QuotedPrintableKeepsLinesShortAndEscapesWhatItMust) {
  EXPECT_EQ(quotedPrintable("plain text\n"), "plain text\r\n");
  EXPECT_EQ(quotedPrintable("a=b\r\nc"), "a=3Db\r\nc\r\n");
  EXPECT_EQ(quotedPrintable("trailing space \nx"), "trailing space=20\r\nx\r\n");
  EXPECT_EQ(quotedPrintable("é"), "=C3=A9\r\n");
  const std::string long_line(200, 'a');
  const std::string qp = quotedPrintable(long_line);
  size_t start = 0;
  std::string decoded;
  while (start < qp.size()) {
    const size_t end = qp.find("\r\n", start);
    const std::string line = qp.substr(start, end - start);
    EXPECT_LE(line.size(), 76U);
    decoded += line.ends_with("=") ? line.substr(0, line.size() - 1) : line;
    start = end + 2;
  }
  EXPECT_EQ(decoded, long_line);
  // An escape is never split by a soft break.
  const std::string accents = quotedPrintable(std::string(40, 'x') + std::string(20, '\xff'));
  EXPECT_EQ(accents.find("=\r\nF"), std::string::npos) << accents;
}

TEST(EmailMimeTest, Base64MatchesTheRfcVectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
}

TEST(EmailMimeTest, HeaderTextIsEncodedOnlyWhenNeededAndNeverSplitsACharacter) {
  EXPECT_EQ(encodeHeaderText("plain subject"), "plain subject");
  EXPECT_EQ(encodeHeaderText("é"), "=?UTF-8?B?w6k=?=");
  std::string many;
  for (int i = 0; i < 40; ++i) many += "é";
  const std::string encoded = encodeHeaderText(many);
  size_t words = 0;
  for (size_t at = encoded.find("=?UTF-8?B?"); at != std::string::npos;
       at = encoded.find("=?UTF-8?B?", at + 1)) {
    ++words;
    const size_t end = encoded.find("?=", at + 10);
    EXPECT_LE(end + 2 - at, 75U);
    // Each word holds whole characters: an even number of bytes of "é".
    const std::string b64 = encoded.substr(at + 10, end - at - 10);
    EXPECT_EQ((b64.size() / 4 * 3 - std::count(b64.begin(), b64.end(), '=')) % 2, 0U) << b64;
  }
  EXPECT_GE(words, 2U);
  EXPECT_EQ(headerSafe("a\r\nBcc: evil@example.test"), "a  Bcc: evil@example.test");
}

TEST(EmailMimeTest, MailboxesAreQuotedOrEncoded) {
  EXPECT_EQ(formatMailbox({"", "a@b.test"}), "a@b.test");
  EXPECT_EQ(formatMailbox({"Alice", "a@b.test"}), "Alice <a@b.test>");
  EXPECT_EQ(formatMailbox({"Doe, John \"JD\"", "j@b.test"}), "\"Doe, John \\\"JD\\\"\" <j@b.test>");
  EXPECT_EQ(formatMailbox({"Zoë", "z@b.test"}), "=?UTF-8?B?Wm/Dqw==?= <z@b.test>");
}

TEST(EmailMimeTest, AddressesAreChecked) {
  EXPECT_TRUE(isValidAddress("alice@example.test"));
  EXPECT_TRUE(isValidAddress("first.last+tag@sub.example.test"));
  EXPECT_FALSE(isValidAddress("alice"));
  EXPECT_FALSE(isValidAddress("@example.test"));
  EXPECT_FALSE(isValidAddress("a@"));
  EXPECT_FALSE(isValidAddress("a b@example.test"));
  EXPECT_FALSE(isValidAddress("a@b@c"));
  EXPECT_FALSE(isValidAddress("a@example.test>\r\nRCPT TO:<x@y"));
  EXPECT_EQ(domainOf("a@b.test"), "b.test");
}

TEST(EmailMimeTest, DatesAreRfc5322InUtc) {
  EXPECT_EQ(formatDate(fromMillis(1'795'600'000'123)), "Wed, 25 Nov 2026 09:46:40 +0000");
  EXPECT_EQ(formatDate(fromMillis(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST(EmailTemplatesTest, EveryKindAndAudienceHasABuiltInTemplate) {
  const auto& builtins = builtinTemplates();
  for (const char* name :
       {"admin-failure-confirmed.txt", "admin-fence-failed.txt", "admin-guard-tripped.txt",
        "admin-evacuation-finished.txt", "admin-evacuation-partial.txt",
        "admin-node-back-in-service.txt", "admin-recovery-stuck.txt", "admin-default.txt",
        "user-evacuation-finished.txt", "user-evacuation-partial.txt", "user-default.txt"}) {
    EXPECT_TRUE(builtins.contains(name)) << name;
  }
  auto set = TemplateSet::load("");
  ASSERT_TRUE(set) << set.error().message;
}

TEST(EmailTemplatesTest, AKindWithoutAUserTemplateFallsBackToTheDefault) {
  auto set = TemplateSet::load("");
  ASSERT_TRUE(set) << set.error().message;
  Notification n;
  n.kind = NotificationKind::kRecoveryStuck;
  n.audience = Audience::kProject;
  n.project_id = "p1";
  n.node = "compute-1";
  n.subject = "engine subject";
  n.summary = "the summary";
  n.instances = {{.id = "i1",
                  .name = "",
                  .from_host = "compute-1",
                  .to_host = "",
                  .ok = false,
                  .reason = "stuck",
                  .down_ms = 0}};
  MailContext context;
  context.recipient_name = "Zoë";
  context.recipient_email = "z@b.test";
  auto mail = set->render(n, context);
  ASSERT_TRUE(mail) << mail.error().message;
  EXPECT_EQ(mail->template_name, "user-default.txt");
  EXPECT_EQ(mail->subject, "engine subject");
  EXPECT_NE(mail->text.find("Hello Zoë,"), std::string::npos) << mail->text;
  EXPECT_NE(mail->text.find("i1 (i1): not recovered: stuck"), std::string::npos) << mail->text;
  EXPECT_TRUE(mail->html.empty());
}

TEST(EmailTemplatesTest, DownTimesReadLikeAPersonWouldWriteThem) {
  EXPECT_EQ(formatDown(400), "0 s");
  EXPECT_EQ(formatDown(42'000), "42 s");
  EXPECT_EQ(formatDown(65'000), "1 min 05 s");
  EXPECT_EQ(formatDown(3'725'000), "1 h 02 min");
  EXPECT_EQ(formatUtc(fromMillis(1'795'600'000'000)), "2026-11-25 09:46:40 UTC");
}

}  // namespace
}  // namespace fdr::drivers::email
