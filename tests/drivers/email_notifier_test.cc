// The e-mail notifier against a real SMTP server (lab/smtp/smtp-capture.py on aiosmtpd):
// envelopes, headers and bodies as a mail client parses them, STARTTLS, SMTPS, AUTH, refusals,
// a server that is down or hangs. Users come from a fake RecipientDirectory (the Keystone one is
// tested against the lab in tests/lab/notifier_lab_test.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "drivers/notifier/email/email_notifier.h"
#include "drivers/notifier/email/recipient_directory.h"
#include "drivers/notifier_log_capture.h"
#include "drivers/smtp_capture_fixture.h"
#include "freezer/call_deadline.h"
#include "freezer/registry.h"

namespace fdr::testing {
namespace {

using drivers::email::Recipient;
using namespace std::chrono_literals;

constexpr int64_t kNowMs = 1'795'600'000'000;  // Wed, 25 Nov 2026 09:46:40 UTC
constexpr const char* kPassword = "Sm7p-pa55-w0rd!";

// Users by project, or an error; counts the calls.
struct DirectoryState {
  std::map<std::string, std::vector<Recipient>> projects;
  std::map<std::string, Recipient> users;  // by id: instance owners outside the project
  std::optional<Error> error;
  int calls = 0;
  std::vector<std::vector<std::string>> owners_asked;  // per call
  // When set, each call waits for it first (a directory that hangs), telling `entered`.
  std::optional<std::shared_future<void>> gate;
  std::promise<void> entered;
};

class FakeDirectory final : public drivers::email::RecipientDirectory {
 public:
  explicit FakeDirectory(std::shared_ptr<DirectoryState> state) : state_(std::move(state)) {}
  // As the Keystone directory: the project's users, then each owner once (marked as owner).
  Result<std::vector<Recipient>> usersOf(const std::string& project_id,
                                         const std::vector<std::string>& owners) override {
    ++state_->calls;
    state_->owners_asked.push_back(owners);
    if (state_->gate) {
      state_->entered.set_value();
      state_->gate->wait();
    }
    if (state_->error) return std::unexpected(*state_->error);
    auto it = state_->projects.find(project_id);
    std::vector<Recipient> out =
        it == state_->projects.end() ? std::vector<Recipient>{} : it->second;
    for (const std::string& id : owners) {
      auto known =
          std::find_if(out.begin(), out.end(), [&](const Recipient& r) { return r.user_id == id; });
      if (known != out.end()) {
        known->owner = true;
      } else if (auto user = state_->users.find(id); user != state_->users.end()) {
        out.push_back(user->second);
        out.back().owner = true;
      }
    }
    return out;
  }

 private:
  std::shared_ptr<DirectoryState> state_;
};

Notification adminNotification(NotificationKind kind) {
  Notification n;
  n.kind = kind;
  n.audience = Audience::kAdmins;
  n.incident_id = "inc-42";
  n.node = "compute-7";
  n.at = fromMillis(kNowMs - 60'000);
  n.subject = "[freezer-dr] URGENT: compute-7 could not be fenced";
  n.summary = "freezer-dr could not confirm that compute-7 is powered off: BMC unreachable.";
  return n;
}

Notification projectNotification(const std::string& project, bool partial = false) {
  Notification n;
  n.kind = partial ? NotificationKind::kEvacuationPartial : NotificationKind::kEvacuationFinished;
  n.audience = Audience::kProject;
  n.project_id = project;
  n.incident_id = "inc-42";
  n.node = "compute-7";
  n.at = fromMillis(kNowMs - 1000);
  n.subject = "[freezer-dr] your instances were recovered";
  n.summary =
      "The compute host compute-7 failed at 2026-11-25T09:40:00.000Z. 2 of your instances "
      "were on it.";
  n.instances = {
      {.id = "6f1c-aaaa",
       .name = "web-1",
       .from_host = "compute-7",
       .to_host = "compute-2",
       .ok = true,
       .reason = "",
       .down_ms = 65'000,
       .disk = "boots from a volume: its disk is kept"},
      {.id = "6f1c-bbbb",
       .name = "db-1",
       .from_host = "compute-7",
       .to_host = partial ? "" : "compute-3",
       .ok = !partial,
       .reason = partial ? "no valid host was found" : "",
       .down_ms = partial ? 0 : 3'725'000},
  };
  return n;
}

class EmailNotifierTest : public ::testing::Test {
 protected:
  EmailNotifierTest() {
    directory_->projects["demo"] = {
        {.user_id = "u-alice", .name = "Alice Ünal", .email = "alice@example.test", .owner = true},
        {.user_id = "u-carol", .name = "carol", .email = "carol@example.test", .owner = false},
        {.user_id = "u-bob", .name = "bob", .email = "", .owner = false},
    };
    directory_->projects["other"] = {
        {.user_id = "u-dave", .name = "dave", .email = "dave@example.test", .owner = false},
    };
    directory_->projects["mute"] = {
        {.user_id = "u-eve", .name = "eve", .email = "", .owner = false},
    };
  }

  Result<NotifierPtr> make(int port, std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> values = {
        {"endpoint", "127.0.0.1"},
        {"port", std::to_string(port)},
        {"notify-from", "freezer-dr@example.test"},
        {"notify-list", "ops@example.test, oncall@example.test"},
        {"helo-name", "fdr-test"},
        {"timeout", "10s"},
        {"connect-timeout", "5s"},
    };
    for (auto& [k, v] : extra) values[k] = v;
    RawOptions raw;
    for (auto& [k, v] : values) raw[k] = RawOption{v, "test"};
    Diagnostics diag;
    auto options = Options::parse(drivers::emailNotifierSchema(), raw, "email", diag);
    if (!options) return fail(ErrorCode::kInvalidArgument, diag.format());
    return drivers::makeEmailNotifier(*options, context_,
                                      std::make_unique<FakeDirectory>(directory_));
  }

  // A notifier for `smtp` (asserting that it could be made).
  NotifierPtr notifierFor(const SmtpCapture& smtp, std::map<std::string, std::string> extra = {}) {
    auto made = make(smtp.port(), std::move(extra));
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }

  void expectNoSecretLogged(const std::string& secret) {
    EXPECT_FALSE(logs_.contains(secret)) << logs_.text();
  }

  LogCapture logs_;
  FakeClock clock_{fromMillis(kNowMs)};
  std::vector<Node> nodes_;
  DriverContext context_{clock_, nodes_};
  std::shared_ptr<DirectoryState> directory_ = std::make_shared<DirectoryState>();
};

std::set<std::string> envelopeRecipients(const std::vector<CapturedMail>& mails) {
  std::set<std::string> out;
  for (const auto& m : mails) {
    for (const auto& r : m.rcptTos()) out.insert(r);
  }
  return out;
}

// Every line of the message (headers and body) within RFC 5322's 78 + CRLF recommendation.
void expectShortLines(const std::string& raw) {
  std::istringstream in(raw);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_LE(line.size(), 79U) << "line too long: " << line;
  }
}

TEST_F(EmailNotifierTest, AdminsReceiveTheirMailInTheEnvelopeNotJustACcHeader) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"reply-to", "cloud-team@example.test"}});
  ASSERT_NE(notifier, nullptr);

  Status sent = notifier->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_TRUE(sent) << sent.error().message << "\n" << smtp.log();

  const auto mails = smtp.messages();
  // One copy per admin address, each its own transaction: one refused address cannot hold
  // the others back.
  ASSERT_EQ(mails.size(), 2U);
  EXPECT_EQ(envelopeRecipients(mails),
            (std::set<std::string>{"ops@example.test", "oncall@example.test"}));
  for (const auto& m : mails) {
    ASSERT_FALSE(m.envelope.is_discarded()) << m.raw;
    EXPECT_EQ(m.rcptTos().size(), 1U);
    EXPECT_EQ(m.mailFrom(), "freezer-dr@example.test");
    EXPECT_TRUE(m.defects().empty()) << m.envelope.dump();
    EXPECT_EQ(m.header("From"), "freezer-dr <freezer-dr@example.test>");
    EXPECT_EQ(m.header("To"), "ops@example.test, oncall@example.test");
    EXPECT_EQ(m.headerCount("Cc"), 0);
    EXPECT_EQ(m.header("Reply-To"), "cloud-team@example.test");
    EXPECT_EQ(m.header("Subject"), "[freezer-dr] URGENT: compute-7 could not be fenced");
    EXPECT_EQ(m.rawHeader("Date"), "Wed, 25 Nov 2026 09:46:40 +0000");
    EXPECT_EQ(m.header("MIME-Version"), "1.0");
    EXPECT_EQ(m.parsed().at("content_type"), "text/plain");
    EXPECT_NE(m.rawHeader("Content-Type").find("charset=UTF-8"), std::string::npos);
    EXPECT_EQ(m.rawHeader("Content-Transfer-Encoding"), "quoted-printable");
    EXPECT_EQ(m.rawHeader("Auto-Submitted"), "auto-generated");
    EXPECT_EQ(m.rawHeader("X-Freezer-Kind"), "fence-failed");
    EXPECT_EQ(m.rawHeader("X-Freezer-Incident"), "inc-42");
    EXPECT_EQ(m.rawHeader("Importance"), "high");
    EXPECT_EQ(m.rawHeader("References"), "<incident.inc-42@example.test>");
    EXPECT_TRUE(m.rawHeader("Message-ID").starts_with("<freezer-dr."));
    EXPECT_TRUE(m.rawHeader("Message-ID").ends_with("@example.test>"));
    EXPECT_NE(m.text().find("URGENT: compute node compute-7 could NOT be fenced"),
              std::string::npos)
        << m.text();
    EXPECT_NE(m.text().find("freezer-dr confirm-fenced compute-7"), std::string::npos);
    EXPECT_NE(m.text().find("BMC unreachable"), std::string::npos);
    EXPECT_NE(m.text().find("Incident inc-42, 2026-11-25 09:45:40 UTC."), std::string::npos);
    expectShortLines(m.raw);
  }
  // The same message to both: one Message-ID.
  EXPECT_EQ(mails[0].rawHeader("Message-ID"), mails[1].rawHeader("Message-ID"));
}

struct KindCase {
  NotificationKind kind;
  std::string phrase;  // only in this kind's admin template
};

class EmailKindTest : public EmailNotifierTest, public ::testing::WithParamInterface<KindCase> {};

TEST_P(EmailKindTest, EachKindHasItsOwnAdminTemplate) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"notify-list", "ops@example.test"}});
  ASSERT_NE(notifier, nullptr);
  Notification n = adminNotification(GetParam().kind);
  n.subject = "subject of " + std::string(toString(GetParam().kind));
  ASSERT_TRUE(notifier->send(n));
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1U);
  EXPECT_EQ(mails[0].header("Subject"), n.subject);
  EXPECT_EQ(mails[0].rawHeader("X-Freezer-Kind"), toString(GetParam().kind));
  EXPECT_NE(mails[0].text().find(GetParam().phrase), std::string::npos) << mails[0].text();
  // Whatever the kind, no template says "successfully evacuated" (the original's bug 13).
  EXPECT_EQ(mails[0].text().find("successfully"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, EmailKindTest,
    ::testing::Values(
        KindCase{NotificationKind::kFailureConfirmed, "Compute node compute-7 has failed."},
        KindCase{NotificationKind::kFenceFailed, "could NOT be fenced"},
        KindCase{NotificationKind::kGuardTripped, "but freezer-dr will NOT fence it"},
        KindCase{NotificationKind::kEvacuationFinished, "all its instances run elsewhere"},
        KindCase{NotificationKind::kEvacuationPartial, "did NOT come back"},
        KindCase{NotificationKind::kNodeBackInService, "is back in service"},
        KindCase{NotificationKind::kRecoveryStuck, "its recovery cannot go on"},
        KindCase{NotificationKind::kUnfenceFailed, "could not be returned to service"}),
    [](const ::testing::TestParamInfo<KindCase>& kind_case) {
      std::string name(toString(kind_case.param.kind));
      std::erase(name, '-');
      return name;
    });

TEST_F(EmailNotifierTest, EachUserOfTheProjectGetsTheirOwnMessage) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp);
  ASSERT_NE(notifier, nullptr);

  ASSERT_TRUE(notifier->send(projectNotification("demo")));
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 2U);  // alice and carol; bob has no address; dave is another project
  EXPECT_EQ(envelopeRecipients(mails),
            (std::set<std::string>{"alice@example.test", "carol@example.test"}));
  for (const auto& m : mails) {
    ASSERT_EQ(m.rcptTos().size(), 1U);
    const bool alice = m.rcptTos()[0] == "alice@example.test";
    EXPECT_TRUE(m.defects().empty()) << m.envelope.dump();
    EXPECT_EQ(m.header("To"),
              alice ? "Alice Ünal <alice@example.test>" : "carol <carol@example.test>");
    EXPECT_EQ(m.header("Subject"),
              "[freezer-dr] Your instances on compute-7 were restarted on another host");
    EXPECT_EQ(m.rawHeader("X-Freezer-Kind"), "evacuation-finished");
    const std::string text = m.text();
    EXPECT_NE(text.find(alice ? "Hello Alice Ünal," : "Hello carol,"), std::string::npos) << text;
    EXPECT_NE(text.find("web-1 (6f1c-aaaa)"), std::string::npos) << text;
    EXPECT_NE(text.find("now on compute-2, back 1 min 05 s after"), std::string::npos) << text;
    EXPECT_NE(text.find("db-1 (6f1c-bbbb)"), std::string::npos) << text;
    EXPECT_NE(text.find("now on compute-3, back 1 h 02 min after"), std::string::npos) << text;
    // What happened to each disk, when known: under web-1; db-1's is not known, no line.
    const size_t disk = text.find("      disk: boots from a volume: its disk is kept");
    ASSERT_NE(disk, std::string::npos) << text;
    EXPECT_LT(text.find("web-1 (6f1c-aaaa)"), disk) << text;
    EXPECT_GT(text.find("db-1 (6f1c-bbbb)"), disk) << text;
    EXPECT_EQ(text.find("disk:", text.find("db-1 (6f1c-bbbb)")), std::string::npos) << text;
    EXPECT_NE(text.find("The compute host compute-7 failed at"), std::string::npos) << text;
    EXPECT_EQ(text.find("\n\n\n"), std::string::npos) << "blank lines left by the template";
  }
  EXPECT_NE(mails[0].rawHeader("Message-ID"), mails[1].rawHeader("Message-ID"));
  // The user without an address is reported, not silently skipped.
  EXPECT_TRUE(logs_.contains("without a usable e-mail address, not notified: bob (u-bob)"))
      << logs_.text();
}

// The admins' result messages say what happened to each instance's disk, as the users' do.
TEST_F(EmailNotifierTest, TheAdminsResultListsEachInstancesDiskWhenKnown) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"notify-list", "ops@example.test"}});
  ASSERT_NE(notifier, nullptr);
  for (const bool partial : {false, true}) {
    Notification n = projectNotification("demo", partial);
    n.audience = Audience::kAdmins;
    n.project_id.clear();
    ASSERT_TRUE(notifier->send(n));
    const auto mails = smtp.messages();
    ASSERT_FALSE(mails.empty());
    const std::string text = mails.back().text();
    const size_t web = text.find("web-1 (6f1c-aaaa)");
    const size_t disk = text.find("      disk: boots from a volume: its disk is kept");
    ASSERT_NE(web, std::string::npos) << text;
    ASSERT_NE(disk, std::string::npos) << (partial ? "partial: " : "finished: ") << text;
    EXPECT_LT(web, disk) << text;
    // db-1's disk is not known: its entry (up to the end of its list) has no disk line.
    const size_t db = text.find("db-1 (6f1c-bbbb)");
    ASSERT_NE(db, std::string::npos) << text;
    EXPECT_EQ(text.substr(db, text.find("\n\n", db) - db).find("disk:"), std::string::npos) << text;
    EXPECT_EQ(text.find("\n\n\n"), std::string::npos) << "blank lines left by the template";
  }
}

TEST_F(EmailNotifierTest, InstanceOwnersAreMailedOnceEvenOutsideTheProject) {
  directory_->users["u-frank"] = {
      .user_id = "u-frank", .name = "frank", .email = "frank@example.test", .owner = false};
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp);
  ASSERT_NE(notifier, nullptr);
  Notification n = projectNotification("other");
  n.instances[0].user_id = "u-frank";  // owns web-1 but holds no role on the project
  n.instances[1].user_id = "u-dave";   // owns db-1 and is a member
  n.instances.push_back(n.instances[0]);
  n.instances.back().id = "6f1c-cccc";  // frank owns a second instance: still one mail
  ASSERT_TRUE(notifier->send(n));
  ASSERT_EQ(directory_->owners_asked.size(), 1U);
  EXPECT_EQ(directory_->owners_asked[0], (std::vector<std::string>{"u-frank", "u-dave"}));
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 2U);
  EXPECT_EQ(envelopeRecipients(mails),
            (std::set<std::string>{"dave@example.test", "frank@example.test"}));
}

TEST_F(EmailNotifierTest, PartialEvacuationTellsUsersWhatDidNotComeBack) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp);
  ASSERT_NE(notifier, nullptr);
  ASSERT_TRUE(notifier->send(projectNotification("other", /*partial=*/true)));
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1U);
  EXPECT_EQ(mails[0].rcptTos(), std::vector<std::string>{"dave@example.test"});
  const std::string text = mails[0].text();
  EXPECT_NE(text.find("NOT running (1):"), std::string::npos) << text;
  EXPECT_NE(text.find("db-1 (6f1c-bbbb): no valid host was found"), std::string::npos) << text;
  EXPECT_NE(text.find("Running again (1):"), std::string::npos) << text;
  EXPECT_NE(text.find("now on compute-2"), std::string::npos) << text;
}

TEST_F(EmailNotifierTest, NonAsciiSubjectsAreEncodedWordsAndLongOnesAreFolded) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"notify-list", "ops@example.test"}});
  ASSERT_NE(notifier, nullptr);
  Notification n = adminNotification(NotificationKind::kFailureConfirmed);
  n.node = "nœud-Zürich-7";
  n.subject =
      "[freezer-dr] nœud-Zürich-7 est tombé en panne: clôture en cours — l'évacuation "
      "des instances suivra dès que l'arrêt sera confirmé";
  ASSERT_TRUE(notifier->send(n));
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1U);
  EXPECT_TRUE(mails[0].rawHeader("Subject").starts_with("=?UTF-8?B?"));
  EXPECT_EQ(mails[0].header("Subject"), n.subject);
  EXPECT_NE(mails[0].text().find("Compute node nœud-Zürich-7 has failed."), std::string::npos);
  EXPECT_TRUE(mails[0].defects().empty()) << mails[0].envelope.dump();
  expectShortLines(mails[0].raw);

  Notification ascii = adminNotification(NotificationKind::kFailureConfirmed);
  ascii.subject =
      "[freezer-dr] a subject long enough to need folding because it goes on and on "
      "well past seventy-eight characters";
  ASSERT_TRUE(notifier->send(ascii));
  const auto again = smtp.messages();
  ASSERT_EQ(again.size(), 2U);
  EXPECT_EQ(again[1].header("Subject"), ascii.subject);
  expectShortLines(again[1].raw);
}

TEST_F(EmailNotifierTest, LongLinesAndNonAsciiBodiesSurviveBothTransferEncodings) {
  for (const std::string encoding : {"quoted-printable", "base64"}) {
    SmtpCapture smtp;
    ASSERT_TRUE(smtp.ok()) << smtp.error();
    auto notifier = notifierFor(smtp, {{"body-encoding", encoding}});
    ASSERT_NE(notifier, nullptr);
    Notification n = projectNotification("other");
    n.instances[0].name = "très-long-nom-" + std::string(150, 'x') + "=fin";
    ASSERT_TRUE(notifier->send(n));
    const auto mails = smtp.messages();
    ASSERT_EQ(mails.size(), 1U);
    EXPECT_EQ(mails[0].rawHeader("Content-Transfer-Encoding"), encoding);
    EXPECT_NE(mails[0].text().find(n.instances[0].name), std::string::npos) << mails[0].text();
    EXPECT_TRUE(mails[0].defects().empty()) << mails[0].envelope.dump();
    expectShortLines(mails[0].raw);
  }
}

TEST_F(EmailNotifierTest, AProjectWithNobodyToMailGoesToTheAdminsSayingSo) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"notify-list", "ops@example.test"}});
  ASSERT_NE(notifier, nullptr);
  ASSERT_TRUE(notifier->send(projectNotification("mute")));
  auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1U);
  EXPECT_EQ(mails[0].rcptTos(), std::vector<std::string>{"ops@example.test"});
  EXPECT_TRUE(mails[0].header("Subject").starts_with("[nobody to notify in project mute] "));
  EXPECT_NE(mails[0].text().find("Nobody in project mute could be told"), std::string::npos);

  ASSERT_TRUE(notifier->send(projectNotification("unknown-project")));
  EXPECT_EQ(smtp.messages().size(), 2U);

  auto quiet = notifierFor(smtp, {{"orphans-to-admins", "false"}});
  ASSERT_NE(quiet, nullptr);
  ASSERT_TRUE(quiet->send(projectNotification("mute")));
  EXPECT_EQ(smtp.messages().size(), 2U);
  EXPECT_TRUE(logs_.contains("project mute has no user to mail; nobody is told"));
}

TEST_F(EmailNotifierTest, UsersOffMailsNoUserAndDoesNotAskTheDirectory) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"users", "false"}});
  ASSERT_NE(notifier, nullptr);
  ASSERT_TRUE(notifier->send(projectNotification("demo")));
  EXPECT_TRUE(smtp.messages().empty());
  EXPECT_EQ(directory_->calls, 0);
}

TEST_F(EmailNotifierTest, ADirectoryFailureIsRetryableAndSendsNothing) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp);
  ASSERT_NE(notifier, nullptr);
  directory_->error = Error{ErrorCode::kUnavailable, "keystone: cannot connect", true};
  Status sent = notifier->send(projectNotification("demo"));
  ASSERT_FALSE(sent);
  EXPECT_TRUE(sent.error().retryable);
  EXPECT_NE(sent.error().message.find("keystone: cannot connect"), std::string::npos);
  EXPECT_TRUE(smtp.messages().empty());
  directory_->error.reset();
  ASSERT_TRUE(notifier->send(projectNotification("demo")));
  EXPECT_EQ(smtp.messages().size(), 2U);
}

TEST_F(EmailNotifierTest, ARetryAfterAPartialFailureMailsOnlyWhoWasMissed) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp);
  ASSERT_NE(notifier, nullptr);
  const Notification n = projectNotification("demo");

  smtp.setTempFailures({"carol@example.test"});
  Status first = notifier->send(n);
  ASSERT_FALSE(first);
  EXPECT_TRUE(first.error().retryable) << first.error().message;
  EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(envelopeRecipients(smtp.messages()), std::set<std::string>{"alice@example.test"});

  smtp.setTempFailures({});
  ASSERT_TRUE(notifier->send(n));  // the outbox's retry
  ASSERT_TRUE(notifier->send(n));  // and one more: nobody gets it twice
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 2U);
  EXPECT_EQ(mails[1].rcptTos(), std::vector<std::string>{"carol@example.test"});
}

TEST_F(EmailNotifierTest, AnAddressTheServerRefusesIsSkippedNotRetriedForever) {
  SmtpCaptureOptions options;
  options.reject_rcpt = {"oncall@example.test"};
  SmtpCapture smtp(options);
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp);
  ASSERT_NE(notifier, nullptr);
  Status sent = notifier->send(adminNotification(NotificationKind::kRecoveryStuck));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(envelopeRecipients(smtp.messages()), std::set<std::string>{"ops@example.test"});
  EXPECT_TRUE(logs_.contains("oncall@example.test refused by the server")) << logs_.text();
}

TEST_F(EmailNotifierTest, ServerRepliesDecideWhetherTheErrorIsRetryable) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"notify-list", "ops@example.test"}});
  ASSERT_NE(notifier, nullptr);
  const Notification n = adminNotification(NotificationKind::kFenceFailed);

  smtp.setReply("451 4.3.0 busy, try later");
  Status busy = notifier->send(n);
  ASSERT_FALSE(busy);
  EXPECT_TRUE(busy.error().retryable);
  EXPECT_NE(busy.error().message.find("451"), std::string::npos) << busy.error().message;

  smtp.setReply("554 5.7.1 rejected as spam");
  Status refused = notifier->send(n);
  ASSERT_FALSE(refused);
  EXPECT_FALSE(refused.error().retryable);
  EXPECT_NE(refused.error().message.find("554"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(smtp.messages().empty());

  smtp.setReply("");
  ASSERT_TRUE(notifier->send(n));
  EXPECT_EQ(smtp.messages().size(), 1U);
}

TEST_F(EmailNotifierTest, AServerThatIsDownIsARetryableErrorAtOnce) {
  const LoopbackSocket closed(/*listening=*/false);  // holds a port nobody listens on
  auto made =
      make(closed.port(), {{"username", "mailer"}, {"password", kPassword}, {"tls", "off"}});
  ASSERT_TRUE(made) << made.error().message;
  Status sent = (*made)->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(sent.error().retryable);
  EXPECT_NE(sent.error().message.find("cannot connect to the SMTP server 127.0.0.1:" +
                                      std::to_string(closed.port())),
            std::string::npos)
      << sent.error().message;
  EXPECT_EQ(sent.error().message.find(kPassword), std::string::npos);
  expectNoSecretLogged(kPassword);
}

TEST_F(EmailNotifierTest, AServerThatNeverAnswersTimesOutWithinTheTimeout) {
  const LoopbackSocket silent(/*listening=*/true);  // accepts, never greets
  auto made = make(silent.port(), {{"timeout", "1s"}, {"connect-timeout", "1s"}});
  ASSERT_TRUE(made) << made.error().message;
  Status sent = (*made)->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kTimedOut) << sent.error().message;
  EXPECT_TRUE(sent.error().retryable);
}

TEST_F(EmailNotifierTest, TheCallsDeadlineBoundsEachMessageBelowTheTimeout) {
  const LoopbackSocket silent(/*listening=*/true);  // accepts, never greets
  auto made = make(silent.port(), {{"timeout", "30s"}, {"connect-timeout", "10s"}});
  ASSERT_TRUE(made) << made.error().message;
  Status sent;
  {
    const CallDeadline deadline(std::chrono::steady_clock::now() + 300ms);
    sent = (*made)->send(adminNotification(NotificationKind::kFenceFailed));
  }
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kTimedOut) << sent.error().message;
  // The limit given to libcurl is what was left of the deadline, not the 30 s option.
  const std::string& m = sent.error().message;
  const size_t at = m.find("within ");
  ASSERT_NE(at, std::string::npos) << m;
  EXPECT_LE(std::stoi(m.substr(at + 7)), 300) << m;

  // A deadline already past: nothing is sent, the error says why.
  const CallDeadline past(std::chrono::steady_clock::now() - 1ms);
  sent = (*made)->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kTimedOut);
  EXPECT_NE(sent.error().message.find("deadline passed"), std::string::npos)
      << sent.error().message;
}

TEST_F(EmailNotifierTest, AHungUserLookupDoesNotHoldBackTheAdminsMail) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp);
  ASSERT_NE(notifier, nullptr);
  std::promise<void> release;
  directory_->gate = release.get_future().share();
  std::future<void> entered = directory_->entered.get_future();
  // The users' notice waits in the directory (Keystone hung) on its own delivery thread...
  std::thread users([&] { EXPECT_TRUE(notifier->send(projectNotification("demo"))); });
  entered.wait();
  // ...while an alert for the admins goes out (the limit only keeps a regression from hanging
  // the test: waiting behind the lookup would wait for ever).
  auto admins = std::async(std::launch::async, [&] {
    return notifier->send(adminNotification(NotificationKind::kFenceFailed));
  });
  const bool sent_meanwhile = admins.wait_for(60s) == std::future_status::ready;
  EXPECT_TRUE(sent_meanwhile) << "the admins' mail waited for the users' lookup";
  if (sent_meanwhile) {
    EXPECT_TRUE(admins.get());
    EXPECT_EQ(envelopeRecipients(smtp.messages()),
              (std::set<std::string>{"ops@example.test", "oncall@example.test"}));
  }
  release.set_value();
  if (!sent_meanwhile) {
    EXPECT_TRUE(admins.get());
  }
  users.join();
  EXPECT_EQ(envelopeRecipients(smtp.messages()),
            (std::set<std::string>{"ops@example.test", "oncall@example.test", "alice@example.test",
                                   "carol@example.test"}));
}

TEST_F(EmailNotifierTest, StartTlsAndAuthDeliverAndThePasswordIsNeverLogged) {
  SmtpCaptureOptions options;
  options.user = "mailer";
  options.password = kPassword;
  options.tls = true;
  options.require_tls = true;
  SmtpCapture smtp(options);
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  // tls = auto with a login means STARTTLS required.
  auto notifier = notifierFor(smtp, {{"username", "mailer"},
                                     {"password", kPassword},
                                     {"ca-file", smtp.certFile()},
                                     {"notify-list", "ops@example.test"}});
  ASSERT_NE(notifier, nullptr);
  Status sent = notifier->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_TRUE(sent) << sent.error().message << "\n" << smtp.log();
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1U);
  EXPECT_EQ(mails[0].envelope.at("auth_user"), "mailer");
  EXPECT_EQ(mails[0].envelope.at("tls"), true);
  expectNoSecretLogged(kPassword);
}

TEST_F(EmailNotifierTest, SmtpsDelivers) {
  SmtpCaptureOptions options;
  options.user = "mailer";
  options.password = kPassword;
  options.smtps = true;
  SmtpCapture smtp(options);
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"endpoint", "smtps://127.0.0.1"},
                                     {"username", "mailer"},
                                     {"password", kPassword},
                                     {"ca-file", smtp.certFile()},
                                     {"notify-list", "ops@example.test"}});
  ASSERT_NE(notifier, nullptr);
  Status sent = notifier->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_TRUE(sent) << sent.error().message << "\n" << smtp.log();
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1U);
  EXPECT_EQ(mails[0].envelope.at("tls"), true);
  EXPECT_EQ(mails[0].envelope.at("auth_user"), "mailer");
}

TEST_F(EmailNotifierTest, AnUntrustedCertificateIsRefused) {
  SmtpCaptureOptions options;
  options.tls = true;
  SmtpCapture smtp(options);
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"tls", "starttls"}});  // no ca-file: the system's CAs
  ASSERT_NE(notifier, nullptr);
  Status sent = notifier->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kPermissionDenied) << sent.error().message;
  EXPECT_NE(sent.error().message.find("ca-file"), std::string::npos) << sent.error().message;
  EXPECT_TRUE(smtp.messages().empty());

  auto insecure = notifierFor(smtp, {{"tls", "starttls"}, {"insecure", "true"}});
  ASSERT_NE(insecure, nullptr);
  EXPECT_TRUE(insecure->send(adminNotification(NotificationKind::kFenceFailed)));
}

TEST_F(EmailNotifierTest, AWrongPasswordIsRefusedWithoutShowingIt) {
  SmtpCaptureOptions options;
  options.user = "mailer";
  options.password = kPassword;
  options.tls = true;
  SmtpCapture smtp(options);
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  const std::string wrong = "not-the-Pa55word";
  auto notifier = notifierFor(
      smtp, {{"username", "mailer"}, {"password", wrong}, {"ca-file", smtp.certFile()}});
  ASSERT_NE(notifier, nullptr);
  Status sent = notifier->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::kPermissionDenied) << sent.error().message;
  EXPECT_FALSE(sent.error().retryable);
  EXPECT_EQ(sent.error().message.find(wrong), std::string::npos);
  expectNoSecretLogged(wrong);

  // Without TLS the server does not even offer AUTH: required STARTTLS fails before any login.
  auto plain = notifierFor(smtp, {{"username", "mailer"}, {"password", kPassword}, {"tls", "off"}});
  ASSERT_NE(plain, nullptr);
  Status refused = plain->send(adminNotification(NotificationKind::kFenceFailed));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message.find(kPassword), std::string::npos);
  expectNoSecretLogged(kPassword);
}

TEST_F(EmailNotifierTest, TemplatesDirReplacesTemplatesAndAddsAnHtmlPart) {
  TempDir templates;
  templates.write("user-evacuation-finished.txt",
                  "Subject: Custom: {{node}} for {{recipient_name}}\n\n"
                  "Custom text for {{recipient_name}}:\n"
                  "{{#instances}}* {{name}} -> {{to_host}}\n{{/instances}}");
  templates.write("user-evacuation-finished.html",
                  "<p>Hello {{recipient_name}}</p><ul>{{#instances}}<li>{{name}}</li>"
                  "{{/instances}}</ul>");
  templates.write("user_success.jinja", "{{ original }}");
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  auto notifier = notifierFor(smtp, {{"templates-dir", templates.path()}});
  ASSERT_NE(notifier, nullptr);
  EXPECT_TRUE(logs_.contains("user_success.jinja")) << logs_.text();

  Notification n = projectNotification("other");
  n.instances[0].name = "<script>&";
  ASSERT_TRUE(notifier->send(n));
  const auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1U);
  EXPECT_EQ(mails[0].header("Subject"), "Custom: compute-7 for dave");
  EXPECT_EQ(mails[0].parsed().at("content_type"), "multipart/alternative");
  EXPECT_TRUE(mails[0].defects().empty()) << mails[0].envelope.dump();
  EXPECT_NE(mails[0].text().find("Custom text for dave:"), std::string::npos);
  EXPECT_NE(mails[0].text().find("* <script>& -> compute-2"), std::string::npos);  // text: as is
  EXPECT_NE(mails[0].html().find("<li>&lt;script&gt;&amp;</li>"), std::string::npos)
      << mails[0].html();  // HTML: escaped

  // Admin mail still from the built-in template.
  ASSERT_TRUE(notifier->send(adminNotification(NotificationKind::kFenceFailed)));
  EXPECT_NE(smtp.messages().back().text().find("could NOT be fenced"), std::string::npos);
}

TEST_F(EmailNotifierTest, ABrokenTemplateIsAStartUpErrorNamingTheFile) {
  TempDir templates;
  templates.write("admin-fence-failed.txt", "Hello {{#node}} unclosed");
  auto made = make(25, {{"templates-dir", templates.path()}});
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().message.find(templates.file("admin-fence-failed.txt")), std::string::npos)
      << made.error().message;
  auto missing = make(25, {{"templates-dir", templates.file("nope")}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("is not a readable directory"), std::string::npos);
}

TEST_F(EmailNotifierTest, ConfigMistakesAreCaughtAtStartUp) {
  auto no_from = make(25, {{"notify-from", ""}});
  ASSERT_FALSE(no_from);
  EXPECT_NE(no_from.error().message.find("notify-from"), std::string::npos);
  auto bad_admin = make(25, {{"notify-list", "ops@example.test, not an address"}});
  ASSERT_FALSE(bad_admin);
  EXPECT_NE(bad_admin.error().message.find("'not an address'"), std::string::npos);
  auto half_login = make(25, {{"username", "mailer"}});
  ASSERT_FALSE(half_login);
  auto bad_tls = make(25, {{"tls", "maybe"}});
  ASSERT_FALSE(bad_tls);
  auto bad_endpoint = make(25, {{"endpoint", "http://mail.example.test"}});
  ASSERT_FALSE(bad_endpoint);
  // The original's spellings work.
  EXPECT_TRUE(make(25, {{"tls", "True"}}));
  EXPECT_TRUE(make(0, {{"endpoint", "smtp://mail.example.test:2525"}}));
}

TEST(EmailNotifierRegistryTest, TheOriginalsClassPathSelectsItAndUsersNeedKeystone) {
  Registry registry;
  ASSERT_TRUE(drivers::registerEmailNotifier(registry));
  auto factory =
      registry.notifiers.find("freezer_dr.notifiers.drivers.default.default_email.StandardEmail");
  ASSERT_TRUE(factory) << factory.error().message;
  EXPECT_EQ((*factory)->name, "email");

  RawOptions raw = {{"notify-from", {"freezer-dr@example.test", "test"}}};
  Diagnostics diag;
  auto options = Options::parse((*factory)->schema, raw, "email", diag);
  ASSERT_TRUE(options) << diag.format();
  FakeClock clock;
  std::vector<Node> nodes;
  DriverContext context{clock, nodes};  // no Keystone
  auto made = (*factory)->create(*options, context);
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().message.find("[keystone_authtoken]"), std::string::npos);
  EXPECT_NE(made.error().message.find("users = false"), std::string::npos);

  raw["users"] = {"false", "test"};
  auto admins_only = Options::parse((*factory)->schema, raw, "email", diag);
  ASSERT_TRUE(admins_only) << diag.format();
  EXPECT_TRUE((*factory)->create(*admins_only, context));
}

}  // namespace
}  // namespace fdr::testing
