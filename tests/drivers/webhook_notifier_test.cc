// The webhook notifier against a real HTTP(S) receiver (tests/drivers/webhook_receiver.py):
// the versioned JSON document, the HMAC signature checked by the receiver, the Slack form,
// statuses, TLS, a receiver that is down or hangs.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "drivers/notifier/webhook/payload.h"
#include "drivers/notifier/webhook/webhook_notifier.h"
#include "drivers/notifier_log_capture.h"
#include "drivers/webhook_receiver_fixture.h"
#include "freezer/registry.h"

namespace fdr::testing {
namespace {

using nlohmann::json;

constexpr const char* kSecret = "hmac-Secret-0123456789";
constexpr int64_t kAtMs = 1'795'600'000'000;

Notification partialEvacuation() {
  Notification n;
  n.kind = NotificationKind::kEvacuationPartial;
  n.audience = Audience::kAdmins;
  n.incident_id = "inc-42";
  n.node = "compute-7";
  n.at = fromMillis(kAtMs);
  n.subject = "[freezer-dr] compute-7: 1 of 2 instances recovered";
  n.summary =
      "Node compute-7 failed at 2026-11-25T09:40:00.000Z, was fenced (ipmi) and its "
      "instances evacuated: 1 of 2 running elsewhere.";
  n.instances = {
      {.id = "6f1c-aaaa",
       .name = "web-1",
       .from_host = "compute-7",
       .to_host = "compute-2",
       .user_id = "u-alice",
       .ok = true,
       .reason = "",
       .down_ms = 65'000,
       .disk = "boots from a volume: its disk is kept"},
      {.id = "6f1c-bbbb",
       .name = "db<1>&",
       .from_host = "compute-7",
       .to_host = "",
       .ok = false,
       .reason = "no valid host was found",
       .down_ms = 0},
  };
  return n;
}

class WebhookNotifierTest : public ::testing::Test {
 protected:
  Result<NotifierPtr> make(const std::string& driver, std::map<std::string, std::string> values) {
    Registry registry;
    if (auto added = drivers::registerWebhookNotifier(registry); !added) {
      return std::unexpected(added.error());
    }
    auto factory = registry.notifiers.find(driver);
    if (!factory) return std::unexpected(factory.error());
    RawOptions raw;
    for (auto& [k, v] : values) raw[k] = RawOption{v, "test"};
    Diagnostics diag;
    auto options = Options::parse((*factory)->schema, raw, driver, diag);
    if (!options) return fail(ErrorCode::kInvalidArgument, diag.format());
    return (*factory)->create(*options, context_);
  }

  NotifierPtr notifier(const std::string& driver, std::map<std::string, std::string> values) {
    auto made = make(driver, std::move(values));
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }

  LogCapture logs_;
  FakeClock clock_;
  std::vector<Node> nodes_;
  DriverContext context_{clock_, nodes_};
};

TEST_F(WebhookNotifierTest, PostsTheVersionedDocumentSignedWithTheSecret) {
  WebhookReceiver receiver({.secret = kSecret});
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  auto hook = notifier("webhook", {{"endpoint", receiver.url("/freezer")}, {"secret", kSecret}});
  ASSERT_NE(hook, nullptr);
  const Notification n = partialEvacuation();
  Status sent = hook->send(n);
  ASSERT_TRUE(sent) << sent.error().message << "\n" << receiver.log();

  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1U);
  const json& r = requests[0];
  EXPECT_EQ(r.at("method"), "POST");
  EXPECT_EQ(r.at("path"), "/freezer");
  EXPECT_EQ(r.at("headers").at("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.at("headers").at("x-freezer-event"), "evacuation-partial");
  EXPECT_EQ(r.at("signature_valid"), true) << r.dump();  // checked by Python's hmac

  const json body = json::parse(r.at("body").get<std::string>());
  EXPECT_EQ(body.at("schema"), "freezer-dr.notification");
  EXPECT_EQ(body.at("version"), 1);
  EXPECT_EQ(body.at("id"), r.at("headers").at("x-freezer-delivery"));
  EXPECT_EQ(body.at("id").get<std::string>().size(), 32U);
  EXPECT_EQ(body.at("kind"), "evacuation-partial");
  EXPECT_EQ(body.at("urgent"), false);
  EXPECT_EQ(body.at("audience"), "admins");
  EXPECT_TRUE(body.at("project_id").is_null());
  EXPECT_EQ(body.at("incident_id"), "inc-42");
  EXPECT_EQ(body.at("node"), "compute-7");
  EXPECT_EQ(body.at("at"), "2026-11-25T09:46:40.000Z");
  EXPECT_EQ(body.at("at_ms"), kAtMs);
  EXPECT_EQ(body.at("subject"), n.subject);
  EXPECT_EQ(body.at("summary"), n.summary);
  EXPECT_EQ(body.at("counts"), (json{{"total", 2}, {"recovered", 1}, {"failed", 1}}));
  ASSERT_EQ(body.at("instances").size(), 2U);
  EXPECT_EQ(body.at("instances")[0], (json{{"id", "6f1c-aaaa"},
                                           {"name", "web-1"},
                                           {"from_host", "compute-7"},
                                           {"to_host", "compute-2"},
                                           {"user_id", "u-alice"},
                                           {"ok", true},
                                           {"reason", nullptr},
                                           {"down_ms", 65000},
                                           {"disk", "boots from a volume: its disk is kept"}}));
  EXPECT_TRUE(body.at("instances")[1].at("to_host").is_null());
  EXPECT_TRUE(body.at("instances")[1].at("user_id").is_null());  // owner unknown
  EXPECT_TRUE(body.at("instances")[1].at("disk").is_null()) << "unknown: null";
  EXPECT_EQ(body.at("instances")[1].at("reason"), "no valid host was found");

  // A retry of the same notification is recognisable: same id, same body.
  ASSERT_TRUE(hook->send(n));
  const auto again = receiver.requests();
  ASSERT_EQ(again.size(), 2U);
  EXPECT_EQ(again[1].at("body"), r.at("body"));
  EXPECT_FALSE(logs_.contains(kSecret));
}

TEST(WebhookPayloadTest, EachInstanceNamesItsOwnerOrNull) {
  Notification n = partialEvacuation();
  n.audience = Audience::kProject;
  n.project_id = "demo";
  n.instances[1].user_id = "u-dave";
  const json body = json::parse(drivers::webhook::jsonPayload(n));
  EXPECT_EQ(body.at("instances")[0].at("user_id"), "u-alice");
  EXPECT_EQ(body.at("instances")[1].at("user_id"), "u-dave");
  n.instances[0].user_id.clear();
  const json unknown = json::parse(drivers::webhook::jsonPayload(n));
  EXPECT_TRUE(unknown.at("instances")[0].at("user_id").is_null());
}

TEST_F(WebhookNotifierTest, AReceiverWithAnotherSecretSeesABadSignature) {
  WebhookReceiver receiver({.secret = "another-secret"});
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  auto hook = notifier("webhook", {{"endpoint", receiver.url()}, {"secret", kSecret}});
  ASSERT_NE(hook, nullptr);
  ASSERT_TRUE(hook->send(partialEvacuation()));
  ASSERT_EQ(receiver.requests().size(), 1U);
  EXPECT_EQ(receiver.requests()[0].at("signature_valid"), false);

  auto unsigned_hook = notifier("webhook", {{"endpoint", receiver.url()}});
  ASSERT_NE(unsigned_hook, nullptr);
  ASSERT_TRUE(unsigned_hook->send(partialEvacuation()));
  EXPECT_FALSE(receiver.requests()[1].at("headers").contains("x-freezer-signature"));
}

TEST_F(WebhookNotifierTest, SignatureIsHmacSha256OfTheBody) {
  // RFC 4231 test case 2.
  EXPECT_EQ(drivers::webhook::signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(WebhookNotifierTest, TheSlackDriverPostsTextOnly) {
  WebhookReceiver receiver;
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  auto slack = notifier("freezer_dr.notifiers.drivers.slack.slack.SlackNotifier",
                        {{"endpoint", receiver.url()}, {"slack_timeout", "5"}});
  ASSERT_NE(slack, nullptr);
  Notification n = partialEvacuation();
  n.kind = NotificationKind::kRecoveryStuck;
  ASSERT_TRUE(slack->send(n));
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1U);
  const json body = json::parse(requests[0].at("body").get<std::string>());
  ASSERT_EQ(body.size(), 1U) << body.dump();
  const std::string text = body.at("text");
  EXPECT_TRUE(
      text.starts_with(":rotating_light: *[freezer-dr] compute-7: 1 of 2 instances "
                       "recovered*\n"))
      << text;
  EXPECT_NE(text.find("• web-1 (`6f1c-aaaa`): compute-7 → compute-2, down 1 min 05 s"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("• db&lt;1&gt;&amp; (`6f1c-bbbb`): *not recovered*: no valid host"),
            std::string::npos)
      << text;
}

TEST_F(WebhookNotifierTest, StatusesDecideWhetherTheErrorIsRetryable) {
  WebhookReceiver receiver;
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  auto hook = notifier("webhook", {{"endpoint", receiver.url()}, {"secret", kSecret}});
  ASSERT_NE(hook, nullptr);
  for (const auto& [status, retryable] : std::vector<std::pair<int, bool>>{
           {500, true}, {503, true}, {429, true}, {400, false}, {404, false}}) {
    receiver.setStatus(status);
    Status sent = hook->send(partialEvacuation());
    ASSERT_FALSE(sent) << status;
    EXPECT_EQ(sent.error().retryable, retryable) << status << ": " << sent.error().message;
    EXPECT_NE(sent.error().message.find("HTTP " + std::to_string(status)), std::string::npos)
        << sent.error().message;
    // The URL's path is a credential for Slack-style hooks: never in an error.
    EXPECT_EQ(sent.error().message.find("XyZsecretToken"), std::string::npos)
        << sent.error().message;
    EXPECT_EQ(sent.error().message.find(kSecret), std::string::npos);
  }
  receiver.setStatus(204);
  EXPECT_TRUE(hook->send(partialEvacuation()));
  EXPECT_EQ(receiver.requests().size(), 6U);  // one attempt each: the outbox retries
  EXPECT_FALSE(logs_.contains("XyZsecretToken")) << logs_.text();
  EXPECT_FALSE(logs_.contains(kSecret));
}

TEST_F(WebhookNotifierTest, AReceiverThatIsDownOrHangsIsARetryableError) {
  const LoopbackSocket closed(/*listening=*/false);
  auto down = notifier("webhook",
                       {{"endpoint", "http://127.0.0.1:" + std::to_string(closed.port()) + "/x"}});
  ASSERT_NE(down, nullptr);
  Status refused = down->send(partialEvacuation());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(refused.error().retryable);

  const LoopbackSocket silent(/*listening=*/true);
  auto hangs =
      notifier("webhook", {{"endpoint", "http://127.0.0.1:" + std::to_string(silent.port()) + "/x"},
                           {"timeout", "1s"},
                           {"connect-timeout", "1s"}});
  ASSERT_NE(hangs, nullptr);
  Status timed_out = hangs->send(partialEvacuation());
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().code, ErrorCode::kTimedOut) << timed_out.error().message;
  EXPECT_TRUE(timed_out.error().retryable);
}

TEST_F(WebhookNotifierTest, HttpsIsVerifiedUnlessTold) {
  WebhookReceiver receiver({.secret = "", .tls = true});
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  auto untrusted = notifier("webhook", {{"endpoint", receiver.url()}});
  ASSERT_NE(untrusted, nullptr);
  Status refused = untrusted->send(partialEvacuation());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not trusted"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(receiver.requests().empty());

  auto trusted =
      notifier("webhook", {{"endpoint", receiver.url()}, {"ca-file", receiver.certFile()}});
  ASSERT_NE(trusted, nullptr);
  Status sent = trusted->send(partialEvacuation());
  ASSERT_TRUE(sent) << sent.error().message;

  auto insecure = notifier("webhook", {{"endpoint", receiver.url()}, {"insecure", "true"}});
  ASSERT_NE(insecure, nullptr);
  EXPECT_TRUE(insecure->send(partialEvacuation()));
  EXPECT_EQ(receiver.requests().size(), 2U);
}

TEST_F(WebhookNotifierTest, ConfigMistakesAreCaughtAtStartUp) {
  auto no_url = make("webhook", {});
  ASSERT_FALSE(no_url);
  // driver = email, webhook with the SMTP host in [notifiers] endpoint.
  auto smtp_host = make("webhook", {{"endpoint", "smtp.example.test"},
                                    {"username", "mailer"},
                                    {"password", "x-secret"},
                                    {"notify-list", "ops@example.test"},
                                    {"notify-from", "fdr@example.test"},
                                    {"templates-dir", "/etc/freezer-dr/templates"}});
  ASSERT_FALSE(smtp_host);
  EXPECT_NE(smtp_host.error().message.find("[notifiers.webhook]"), std::string::npos);
  auto bad_format =
      make("webhook", {{"endpoint", "https://hooks.example.test/x"}, {"format", "xml"}});
  ASSERT_FALSE(bad_format);
  auto proxy = make("slack", {{"endpoint", "https://hooks.example.test/x"},
                              {"slack_proxy", "http://proxy:3128"}});
  ASSERT_FALSE(proxy);
  EXPECT_EQ(proxy.error().code, ErrorCode::kNotSupported);
  // The shared [notifiers] keys are accepted (and not used).
  EXPECT_TRUE(make("webhook", {{"endpoint", "https://hooks.example.test/x"},
                               {"username", "mailer"},
                               {"notify-list", "ops@example.test"}}));
}

}  // namespace
}  // namespace fdr::testing
