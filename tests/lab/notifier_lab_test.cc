// The e-mail notifier's users against the lab's real Keystone (lab/up.sh): who holds a role on a
// project, with their e-mail, and a whole round (registry factory, shared KeystoneClient in the
// DriverContext, real SMTP capture). The lab's coordinates come from
// /var/tmp/freezer-dr-lab/lab.env (or $FDR_LAB_ENV). Without it these tests FAIL: CI brings the
// lab up before running them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "clients/http/http_client.h"
#include "clients/http/json_fields.h"
#include "clients/http/url.h"
#include "clients/keystone/credentials.h"
#include "clients/keystone/keystone_client.h"
#include "drivers/notifier/email/email_notifier.h"
#include "drivers/notifier/email/keystone_recipient_directory.h"
#include "drivers/smtp_capture_fixture.h"
#include "freezer/clock.h"
#include "freezer/registry.h"
#include "lab/lab_fixture.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;

// The lab's admin session comes from tests/lab/lab_fixture.
class NotifierLabTest : public lab::LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (HasFatalFailure()) return;
    for (const char* key : {"FDR_LAB_DEMO_PROJECT", "FDR_LAB_OTHER_PROJECT", "FDR_LAB_EMAIL_alice",
                            "FDR_LAB_EMAIL_carol", "FDR_LAB_EMAIL_dave"}) {
      if (env_[key].empty()) GTEST_FAIL() << lab::labEnvPath() << " has no " << key;
    }
    auto token = keystone_->token();
    ASSERT_TRUE(token) << "the lab's Keystone at " << env_["FDR_LAB_AUTH_URL"]
                       << " does not answer: " << token.error().toString();
  }

  // The id of the project or user named `name` (GET /v3/<collection>?name=...).
  std::string idOf(const std::string& collection, const std::string& name) {
    http::Request request;
    request.url = http::withQuery(keystone_->identityUrl() + "/" + collection, {{"name", name}});
    auto response = keystone_->call(request);
    if (!response) {
      ADD_FAILURE() << response.error().toString();
      return "";
    }
    auto doc = http::parseJson(response->body, request.describe());
    if (!doc || !doc->contains(collection) || doc->at(collection).empty()) {
      ADD_FAILURE() << "no " << collection << " named " << name << " in the lab";
      return "";
    }
    return doc->at(collection).at(0).at("id").get<std::string>();
  }

  static std::map<std::string, drivers::email::Recipient> byName(
      const std::vector<drivers::email::Recipient>& recipients) {
    std::map<std::string, drivers::email::Recipient> out;
    for (const auto& r : recipients) out[r.name] = r;
    return out;
  }
};

TEST_F(NotifierLabTest, TheDirectoryListsTheUsersOfAProjectWithTheirAddresses) {
  drivers::email::KeystoneRecipientDirectory directory(*keystone_);
  const std::string demo = idOf("projects", env_["FDR_LAB_DEMO_PROJECT"]);
  const std::string other = idOf("projects", env_["FDR_LAB_OTHER_PROJECT"]);
  ASSERT_FALSE(demo.empty());
  ASSERT_FALSE(other.empty());

  auto demo_users = directory.usersOf(demo, {});
  ASSERT_TRUE(demo_users) << demo_users.error().toString();
  const auto in_demo = byName(*demo_users);
  ASSERT_TRUE(in_demo.contains("alice")) << demo_users->size();
  ASSERT_TRUE(in_demo.contains("carol"));
  EXPECT_EQ(in_demo.at("alice").email, env_["FDR_LAB_EMAIL_alice"]);
  EXPECT_EQ(in_demo.at("carol").email, env_["FDR_LAB_EMAIL_carol"]);
  // The original mailed every user of the domain (peer-runs §4.1): dave is not in demo.
  EXPECT_FALSE(in_demo.contains("dave"));

  auto other_users = directory.usersOf(other, {});
  ASSERT_TRUE(other_users) << other_users.error().toString();
  const auto in_other = byName(*other_users);
  EXPECT_TRUE(in_other.contains("dave"));
  EXPECT_FALSE(in_other.contains("alice"));
  EXPECT_FALSE(in_other.contains("carol"));

  // An instance's owner is told even without a role on the project.
  const std::string dave = idOf("users", "dave");
  const std::string alice = idOf("users", "alice");
  auto with_owners = directory.usersOf(demo, {alice, dave});
  ASSERT_TRUE(with_owners) << with_owners.error().toString();
  const auto owners = byName(*with_owners);
  ASSERT_TRUE(owners.contains("dave"));
  EXPECT_TRUE(owners.at("dave").owner);
  EXPECT_TRUE(owners.at("alice").owner);
  EXPECT_FALSE(owners.at("carol").owner);
  EXPECT_EQ(std::count_if(with_owners->begin(), with_owners->end(),
                          [](const auto& r) { return r.name == "alice"; }),
            1);

  // A project deleted since: nobody holds a role on it, but its instances' owners are told.
  auto gone = directory.usersOf("no-such-project-id", {});
  ASSERT_TRUE(gone) << gone.error().toString();
  EXPECT_TRUE(gone->empty());
  auto gone_with_owner = directory.usersOf("no-such-project-id", {dave});
  ASSERT_TRUE(gone_with_owner) << gone_with_owner.error().toString();
  ASSERT_EQ(gone_with_owner->size(), 1U);
  EXPECT_EQ(gone_with_owner->at(0).name, "dave");
}

TEST_F(NotifierLabTest, EachProjectsMailReachesItsOwnUsersOnly) {
  SmtpCapture smtp;
  ASSERT_TRUE(smtp.ok()) << smtp.error();
  Registry registry;
  ASSERT_TRUE(drivers::registerEmailNotifier(registry));
  auto factory = registry.notifiers.find("email");
  ASSERT_TRUE(factory) << factory.error().message;
  RawOptions raw = {
      {"endpoint", {"127.0.0.1", "test"}},
      {"port", {std::to_string(smtp.port()), "test"}},
      {"notify-from", {"freezer-dr@example.test", "test"}},
      {"notify-list", {"ops@example.test", "test"}},
  };
  Diagnostics diag;
  auto options = Options::parse((*factory)->schema, raw, "email", diag);
  ASSERT_TRUE(options) << diag.format();
  std::vector<Node> nodes;
  DriverContext context{clock_, nodes, keystone_.get()};
  auto notifier = (*factory)->create(*options, context);
  ASSERT_TRUE(notifier) << notifier.error().message;

  for (const auto& [project, expected, absent] :
       std::vector<std::tuple<std::string, std::set<std::string>, std::set<std::string>>>{
           {env_["FDR_LAB_DEMO_PROJECT"],
            {env_["FDR_LAB_EMAIL_alice"], env_["FDR_LAB_EMAIL_carol"]},
            {env_["FDR_LAB_EMAIL_dave"]}},
           {env_["FDR_LAB_OTHER_PROJECT"],
            {env_["FDR_LAB_EMAIL_dave"]},
            {env_["FDR_LAB_EMAIL_alice"], env_["FDR_LAB_EMAIL_carol"]}}}) {
    const size_t before = smtp.messages().size();
    Notification n;
    n.kind = NotificationKind::kEvacuationFinished;
    n.audience = Audience::kProject;
    n.project_id = idOf("projects", project);
    n.incident_id = "lab-" + project;
    n.node = "fake-host-1";
    n.at = clock_.now();
    n.subject = "[freezer-dr] your instances were recovered";
    n.summary = "The compute host fake-host-1 failed. 1 of your instances were on it.";
    n.instances = {{.id = "i-1",
                    .name = "vm-" + project,
                    .from_host = "fake-host-1",
                    .to_host = "fake-host-2",
                    .user_id = "",
                    .ok = true,
                    .reason = "",
                    .down_ms = 42'000}};
    Status sent = (*notifier)->send(n);
    ASSERT_TRUE(sent) << sent.error().message;
    const auto mails = smtp.messages();
    std::set<std::string> rcpts;
    for (size_t i = before; i < mails.size(); ++i) {
      for (const auto& r : mails[i].rcptTos()) rcpts.insert(r);
      EXPECT_NE(mails[i].text().find("vm-" + project), std::string::npos);
    }
    for (const auto& address : expected) EXPECT_TRUE(rcpts.contains(address)) << address;
    for (const auto& address : absent) EXPECT_FALSE(rcpts.contains(address)) << address;
  }
}

}  // namespace
}  // namespace fdr::testing
