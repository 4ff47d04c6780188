#include "clients/keystone/keystone_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "clients/openstack_fake_fixture.h"
#include "freezer/call_deadline.h"
#include "support/poll.h"

namespace fdr::keystone {
namespace {

using fdr::testing::FakeOpenStack;
using fdr::testing::FakeReply;
using fdr::testing::FakeRequest;
using fdr::testing::pollUntil;
using nlohmann::json;
using namespace std::chrono_literals;

http::Request get(const std::string& url) {
  http::Request r;
  r.url = url;
  return r;
}

TEST(KeystoneTimeTest, ParsesKeystoneTimestamps) {
  EXPECT_EQ(parseIsoTime("2026-01-02T03:04:05.123456Z"), fromMillis(1767323045123));
  EXPECT_EQ(parseIsoTime("2026-01-02T03:04:05Z"), fromMillis(1767323045000));
  EXPECT_EQ(parseIsoTime("2026-01-02T03:04:05.000000"), fromMillis(1767323045000));
  EXPECT_EQ(parseIsoTime("2026-01-02T03:04:05+00:00"), fromMillis(1767323045000));
  EXPECT_FALSE(parseIsoTime("2026-01-02"));
  EXPECT_FALSE(parseIsoTime("2026-13-02T03:04:05Z"));
  EXPECT_FALSE(parseIsoTime("2026-01-02T03:04:05+02:00"));
}

TEST(KeystoneUrlTest, IdentityV3Url) {
  EXPECT_EQ(identityV3Url("http://k:5000/v3/"), "http://k:5000/v3");
  EXPECT_EQ(identityV3Url("http://k:5000/v2.0"), "http://k:5000/v3");
  EXPECT_EQ(identityV3Url("http://k/identity"), "http://k/identity/v3");
  EXPECT_EQ(identityV3Url("http://k:5000/"), "http://k:5000/v3");
}

TEST(KeystoneClientTest, PasswordAuthByNamesAndTheTokenIsCached) {
  FakeOpenStack os;
  os.server.on("GET", "/compute/v2.1/x", [&](const FakeRequest& r) {
    EXPECT_EQ(r.header("x-auth-token"), os.token(1));
    return FakeReply::json(200, {{"ok", true}});
  });
  os.start();
  for (int i = 0; i < 3; ++i) {
    auto response = os.keystone->call(get(os.compute("/x")));
    ASSERT_TRUE(response) << response.error().toString();
  }
  EXPECT_EQ(os.tokensIssued(), 1);
  const json body = os.lastAuthBody();
  const json& identity = body["auth"]["identity"];
  EXPECT_EQ(identity["methods"], json::array({"password"}));
  EXPECT_EQ(identity["password"]["user"]["name"], "admin");
  EXPECT_EQ(identity["password"]["user"]["domain"]["id"], "default");
  EXPECT_EQ(identity["password"]["user"]["password"], FakeOpenStack::kPassword);
  EXPECT_EQ(body["auth"]["scope"]["project"]["name"], "admin");
  EXPECT_EQ(body["auth"]["scope"]["project"]["domain"]["id"], "default");
  auto token = os.keystone->token();
  ASSERT_TRUE(token);
  EXPECT_EQ(token->user_id, "u-admin");
  EXPECT_EQ(token->project_id, "p-admin");
}

TEST(KeystoneClientTest, PasswordAuthByIds) {
  FakeOpenStack os;
  Credentials c = os.credentials();
  c.username.clear();
  c.user_id = "u-42";
  c.project_name.clear();
  c.project_id = "p-42";
  os.start(c);
  ASSERT_TRUE(os.keystone->token());
  const json body = os.lastAuthBody();
  EXPECT_EQ(body["auth"]["identity"]["password"]["user"],
            json({{"id", "u-42"}, {"password", FakeOpenStack::kPassword}}));
  EXPECT_EQ(body["auth"]["scope"], json({{"project", {{"id", "p-42"}}}}));
}

TEST(KeystoneClientTest, ApplicationCredentialById) {
  FakeOpenStack os;
  Credentials c = os.credentials();
  c.method = AuthMethod::kApplicationCredential;
  c.application_credential_id = "ac-1";
  c.application_credential_secret = Secret("ac-secret-1");
  os.start(c);
  ASSERT_TRUE(os.keystone->token());
  const json body = os.lastAuthBody();
  EXPECT_EQ(body["auth"]["identity"]["methods"], json::array({"application_credential"}));
  EXPECT_EQ(body["auth"]["identity"]["application_credential"],
            json({{"id", "ac-1"}, {"secret", "ac-secret-1"}}));
  EXPECT_FALSE(body["auth"].contains("scope"));
}

TEST(KeystoneClientTest, ApplicationCredentialByNameWithItsUser) {
  FakeOpenStack os;
  Credentials c = os.credentials();
  c.method = AuthMethod::kApplicationCredential;
  c.application_credential_name = "freezer";
  c.application_credential_secret = Secret("ac-secret-1");
  os.start(c);
  ASSERT_TRUE(os.keystone->token());
  EXPECT_EQ(os.lastAuthBody()["auth"]["identity"]["application_credential"],
            json({{"name", "freezer"},
                  {"secret", "ac-secret-1"},
                  {"user", {{"name", "admin"}, {"domain", {{"id", "default"}}}}}}));
}

TEST(KeystoneClientTest, TokenIsRenewedShortlyBeforeItExpires) {
  FakeOpenStack os;
  os.start(os.credentials(), KeystoneOptions{.expiry_margin = 2min});
  ASSERT_TRUE(os.keystone->token());
  os.clock.advance(57min);
  ASSERT_TRUE(os.keystone->token());
  EXPECT_EQ(os.tokensIssued(), 1);
  os.clock.advance(1min + 1s);  // 58m01s: inside the 2-minute margin
  auto token = os.keystone->token();
  ASSERT_TRUE(token);
  EXPECT_EQ(os.tokensIssued(), 2);
  EXPECT_EQ(token->id.reveal(), os.token(2));
}

TEST(KeystoneClientTest, ShortLivedTokenIsRenewedAtHalfItsLife) {
  FakeOpenStack os;
  os.token_lifetime = 60s;
  os.start(os.credentials(), KeystoneOptions{.expiry_margin = 2min});
  ASSERT_TRUE(os.keystone->token());
  os.clock.advance(29s);
  ASSERT_TRUE(os.keystone->token());
  EXPECT_EQ(os.tokensIssued(), 1);
  os.clock.advance(2s);
  ASSERT_TRUE(os.keystone->token());
  EXPECT_EQ(os.tokensIssued(), 2);
}

TEST(KeystoneClientTest, ReauthenticatesOnceOn401) {
  FakeOpenStack os;
  os.server.on("GET", "/compute/v2.1/x", [&](const FakeRequest& r) {
    if (r.header("x-auth-token") == os.token(1)) {
      return FakeReply::json(401, {{"error", {{"code", 401}, {"message", "expired"}}}});
    }
    return FakeReply::json(200, {{"ok", true}});
  });
  os.start();
  auto response = os.keystone->call(get(os.compute("/x")));
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(os.tokensIssued(), 2);
  EXPECT_EQ(os.server.count("GET", "/compute/v2.1/x"), 2u);
  // The new token is cached.
  ASSERT_TRUE(os.keystone->call(get(os.compute("/x"))));
  EXPECT_EQ(os.tokensIssued(), 2);
}

TEST(KeystoneClientTest, Persistent401IsPermissionDeniedAfterOneReauth) {
  FakeOpenStack os;
  os.server.onJson(
      "GET", "/compute/v2.1/x", 401,
      {{"error", {{"code", 401}, {"message", "The request requires authentication"}}}});
  os.start();
  auto response = os.keystone->call(get(os.compute("/x")));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(os.tokensIssued(), 2);
  EXPECT_EQ(os.server.count("GET", "/compute/v2.1/x"), 2u);
}

TEST(KeystoneClientTest, PostIsResentAfter401) {
  FakeOpenStack os;
  os.server.enqueue("POST", "/compute/v2.1/action", FakeReply::empty(401));
  os.server.onJson("POST", "/compute/v2.1/action", 202, {});
  os.start();
  http::Request request;
  request.method = http::Method::kPost;
  request.url = os.compute("/action");
  request.body = "{}";
  auto response = os.keystone->call(request);
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(os.server.count("POST", "/compute/v2.1/action"), 2u);
}

TEST(KeystoneClientTest, RefusedCredentialsNameTheUserButNotThePassword) {
  FakeOpenStack os;
  os.server.on("POST", "/identity/v3/auth/tokens", [](const FakeRequest&) {
    return FakeReply::json(401,
                           {{"error",
                             {{"code", 401},
                              {"message", "The request you have made requires authentication."},
                              {"title", "Unauthorized"}}}})
        .header("X-OpenStack-Request-ID", "req-denied");
  });
  os.start();
  auto token = os.keystone->token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(token.error().message.find("user admin"), std::string::npos) << token.error().message;
  EXPECT_NE(token.error().message.find("req-denied"), std::string::npos);
  EXPECT_EQ(token.error().message.find(FakeOpenStack::kPassword), std::string::npos);
}

TEST(KeystoneClientTest, TokenResponseWithoutSubjectTokenIsCorrupt) {
  FakeOpenStack os;
  os.server.onJson("POST", "/identity/v3/auth/tokens", 201,
                   {{"token", {{"expires_at", "2099-01-01T00:00:00Z"}, {"user", {{"id", "u"}}}}}});
  os.start();
  auto token = os.keystone->token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kCorruption);
  EXPECT_NE(token.error().message.find("X-Subject-Token"), std::string::npos);
}

TEST(KeystoneClientTest, TokenResponseWithBadFieldsNamesTheField) {
  FakeOpenStack os;
  os.server.on("POST", "/identity/v3/auth/tokens", [](const FakeRequest&) {
    return FakeReply::json(201, {{"token",
                                  {{"expires_at", "2099-01-01T00:00:00Z"},
                                   {"user", {{"id", "u"}}},
                                   {"catalog", {{{"type", "compute"}, {"endpoints", "nope"}}}}}}})
        .header("X-Subject-Token", "tok-bad-0000");
  });
  os.start();
  auto token = os.keystone->token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kCorruption);
  EXPECT_NE(token.error().message.find("'token.catalog[0].endpoints' has type string"),
            std::string::npos)
      << token.error().message;
}

TEST(KeystoneClientTest, MalformedTokenResponse) {
  FakeOpenStack os;
  os.server.on("POST", "/identity/v3/auth/tokens", [](const FakeRequest&) {
    return FakeReply::text(201, "{\"token\": {").header("X-Subject-Token", "tok-bad-0000");
  });
  os.start();
  auto token = os.keystone->token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kCorruption);
  EXPECT_NE(token.error().message.find("malformed JSON"), std::string::npos);
}

TEST(KeystoneClientTest, KeystoneDownIsRetriedThenUnavailable) {
  FakeOpenStack os;
  os.server.onJson("POST", "/identity/v3/auth/tokens", 503, {{"message", "down"}});
  os.start();
  auto token = os.keystone->token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(token.error().retryable);
  // Authentication is marked safe to repeat, so 5xx is retried like a GET.
  EXPECT_EQ(os.server.count("POST", "/identity/v3/auth/tokens"), 4u);
}

TEST(KeystoneClientTest, AuthenticationCutShortByTheDeadlineIsNotCached) {
  FakeOpenStack os;
  // The first authentication is never answered in time; the next ones are.
  os.server.enqueue("POST", "/identity/v3/auth/tokens",
                    FakeReply::json(503, {}).after(std::chrono::seconds(30)));
  os.start();
  Result<Token> cut;
  {
    CallDeadline deadline(std::chrono::steady_clock::now() + 300ms);
    cut = os.keystone->token();
  }
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::kTimedOut) << cut.error().message;
  EXPECT_TRUE(cut.error().retryable);
  EXPECT_NE(cut.error().message.find("deadline"), std::string::npos) << cut.error().message;
  EXPECT_EQ(os.server.count("POST", "/identity/v3/auth/tokens"), 1u);  // not retried past it
  // The failure was not kept: the next call authenticates, and succeeds.
  auto token = os.keystone->token();
  ASSERT_TRUE(token) << token.error().toString();
  EXPECT_EQ(token->id.reveal(), os.token(1));
  EXPECT_EQ(os.server.count("POST", "/identity/v3/auth/tokens"), 2u);
}

TEST(KeystoneClientTest, ReauthenticationAfter401RunsWithinTheDeadline) {
  FakeOpenStack os;
  os.server.on("GET", "/compute/v2.1/x", [&](const FakeRequest& r) {
    if (r.header("x-auth-token") == os.token(1)) return FakeReply::empty(401);
    return FakeReply::json(200, {{"ok", true}});
  });
  os.start();
  ASSERT_TRUE(os.keystone->token());  // token 1, which the service will refuse
  os.server.enqueue("POST", "/identity/v3/auth/tokens",
                    FakeReply::json(503, {}).after(std::chrono::seconds(30)));
  Result<http::Response> response;
  {
    CallDeadline deadline(std::chrono::steady_clock::now() + 300ms);
    response = os.keystone->call(get(os.compute("/x")));
  }
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kTimedOut) << response.error().message;
  EXPECT_EQ(os.server.count("POST", "/identity/v3/auth/tokens"), 2u);
  EXPECT_EQ(os.server.count("GET", "/compute/v2.1/x"), 1u);  // not resent without a token
  // Neither the refused token nor the failure was kept.
  auto again = os.keystone->call(get(os.compute("/x")));
  ASSERT_TRUE(again) << again.error().toString();
  EXPECT_EQ(os.tokensIssued(), 2);
}

TEST(KeystoneClientTest, WaitingForAnotherCallersAuthenticationEndsAtTheDeadline) {
  FakeOpenStack os;
  // The first caller's first attempt is answered late (then retried and served).
  os.server.enqueue("POST", "/identity/v3/auth/tokens",
                    FakeReply::json(503, {}).after(std::chrono::seconds(3)));
  os.start();
  Result<Token> first;
  std::thread other([&] { first = os.keystone->token(); });
  ASSERT_TRUE(pollUntil(std::chrono::seconds(10),
                        [&] { return os.server.count("POST", "/identity/v3/auth/tokens") >= 1; }));
  Result<Token> second;
  {
    CallDeadline deadline(std::chrono::steady_clock::now() + 200ms);
    second = os.keystone->token();
  }
  other.join();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kTimedOut) << second.error().message;
  EXPECT_TRUE(second.error().retryable);
  EXPECT_NE(second.error().message.find("another caller was authenticating"), std::string::npos)
      << second.error().message;
  ASSERT_TRUE(first) << first.error().toString();
  EXPECT_EQ(os.tokensIssued(), 1);
}

TEST(KeystoneClientTest, EndpointByTypeInterfaceAndRegion) {
  FakeOpenStack os;
  os.server.on("POST", "/identity/v3/auth/tokens", [&](const FakeRequest&) {
    json catalog = json::array(
        {{{"type", "compute"},
          {"endpoints",
           {{{"interface", "public"}, {"region_id", "RegionOne"}, {"url", "http://pub1/v2.1"}},
            {{"interface", "internal"}, {"region_id", "RegionOne"}, {"url", "http://int1/v2.1"}},
            {{"interface", "public"}, {"region_id", "RegionTwo"}, {"url", "http://pub2/v2.1"}},
            {{"interface", "admin"}, {"region", "RegionTwo"}, {"url", "http://adm2/v2.1"}}}}}});
    return FakeReply::json(201, {{"token",
                                  {{"expires_at", "2099-01-01T00:00:00Z"},
                                   {"user", {{"id", "u"}}},
                                   {"catalog", catalog}}}})
        .header("X-Subject-Token", "tok-cat-0000");
  });
  os.start();
  EXPECT_EQ(os.keystone->endpoint("compute").value_or(""), "http://pub1/v2.1");
  EXPECT_EQ(os.keystone->endpoint("compute", Interface::kInternal).value_or(""),
            "http://int1/v2.1");
  EXPECT_EQ(os.keystone->endpoint("compute", Interface::kPublic, "RegionTwo").value_or(""),
            "http://pub2/v2.1");
  EXPECT_EQ(os.keystone->endpoint("compute", Interface::kAdmin, "RegionTwo").value_or(""),
            "http://adm2/v2.1");
  auto missing = os.keystone->endpoint("compute", Interface::kInternal, "RegionTwo");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("public in RegionOne"), std::string::npos)
      << missing.error().message;
  auto no_service = os.keystone->endpoint("volumev3");
  ASSERT_FALSE(no_service);
  EXPECT_NE(no_service.error().message.find("no such service"), std::string::npos);
}

TEST(KeystoneClientTest, ProjectRecipients) {
  FakeOpenStack os;
  os.server.on("GET", "/identity/v3/role_assignments", [](const FakeRequest& r) {
    EXPECT_EQ(r.param("scope.project.id"), "p-1");
    EXPECT_EQ(r.param("include_names"), "true");
    EXPECT_TRUE(r.hasParam("effective"));
    return FakeReply::json(200, {{"role_assignments",
                                  {{{"role", {{"id", "r-m"}, {"name", "member"}}},
                                    {"user", {{"id", "u-1"}, {"name", "alice"}}},
                                    {"scope", {{"project", {{"id", "p-1"}}}}}},
                                   {{"role", {{"id", "r-r"}, {"name", "reader"}}},
                                    {"user", {{"id", "u-1"}, {"name", "alice"}}},
                                    {"scope", {{"project", {{"id", "p-1"}}}}}},
                                   {{"role", {{"id", "r-m"}}},
                                    {"user", {{"id", "u-2"}}},
                                    {"scope", {{"project", {{"id", "p-1"}}}}}},
                                   {{"role", {{"id", "r-m"}}},
                                    {"user", {{"id", "u-gone"}}},
                                    {"scope", {{"project", {{"id", "p-1"}}}}}},
                                   {{"role", {{"id", "r-m"}}},
                                    {"user", {{"id", "u-off"}}},
                                    {"scope", {{"project", {{"id", "p-1"}}}}}}}},
                                 {"links", {{"next", nullptr}}}});
  });
  os.server.onJson(
      "GET", "/identity/v3/users/u-1", 200,
      {{"user",
        {{"id", "u-1"}, {"name", "alice"}, {"email", "alice@example.org"}, {"enabled", true}}}});
  os.server.onJson("GET", "/identity/v3/users/u-2", 200,
                   {{"user", {{"id", "u-2"}, {"name", "bob"}, {"enabled", true}}}});
  os.server.onJson(
      "GET", "/identity/v3/users/u-off", 200,
      {{"user", {{"id", "u-off"}, {"name", "carol"}, {"email", "c@x"}, {"enabled", false}}}});
  os.server.onJson(
      "GET", "/identity/v3/users/u-owner", 200,
      {{"user", {{"id", "u-owner"}, {"name", "dave"}, {"email", "dave@example.org"}}}});
  os.start();
  auto recipients = os.keystone->projectRecipients("p-1", "u-owner");
  ASSERT_TRUE(recipients) << recipients.error().toString();
  ASSERT_EQ(recipients->size(), 3u);
  EXPECT_EQ((*recipients)[0].user_id, "u-owner");
  EXPECT_TRUE((*recipients)[0].owner);
  EXPECT_EQ((*recipients)[0].email, "dave@example.org");
  EXPECT_EQ((*recipients)[1].email, "alice@example.org");
  EXPECT_FALSE((*recipients)[1].owner);
  EXPECT_EQ((*recipients)[2].name, "bob");
  EXPECT_EQ((*recipients)[2].email, "");
  EXPECT_EQ(os.server.count("GET", "/identity/v3/users/u-1"), 1u);  // each user looked up once
}

TEST(KeystoneClientTest, UserWithAWrongTypedEmailIsAnError) {
  FakeOpenStack os;
  os.server.onJson("GET", "/identity/v3/users/u-1", 200,
                   {{"user", {{"id", "u-1"}, {"email", json::array({"a@b"})}}}});
  os.start();
  auto user = os.keystone->user("u-1");
  ASSERT_FALSE(user);
  EXPECT_EQ(user.error().code, ErrorCode::kCorruption);
  EXPECT_NE(user.error().message.find("'user.email' has type array"), std::string::npos)
      << user.error().message;
  EXPECT_NE(user.error().message.find("/identity/v3/users/u-1"), std::string::npos);
}

}  // namespace
}  // namespace fdr::keystone
