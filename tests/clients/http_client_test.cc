#include "clients/http/http_client.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include "clients/http/redactor.h"
#include "clients/http/url.h"
#include "clients/http_fake_server_fixture.h"
#include "freezer/call_deadline.h"

namespace fdr::http {
namespace {

using fdr::testing::FakeHttpServer;
using fdr::testing::FakeReply;
using fdr::testing::FakeRequest;
using namespace std::chrono_literals;

ClientOptions testOptions() {
  ClientOptions o;
  o.connect_timeout = 2s;
  o.timeout = 5s;
  o.retry.max_attempts = 4;
  o.retry.initial_backoff = 500ms;
  o.retry.multiplier = 2;
  o.retry.jitter = 0;  // exact fake-clock arithmetic
  return o;
}

Request get(const std::string& url) {
  Request r;
  r.url = url;
  return r;
}

Request post(const std::string& url, std::string body = "{}") {
  Request r;
  r.method = Method::kPost;
  r.url = url;
  r.body = std::move(body);
  return r;
}

// Captures everything logged through spdlog's default logger while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return stream_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

// A clock that runs a hook on its first sleep, then behaves like FakeClock.
class HookClock final : public Clock {
 public:
  explicit HookClock(std::function<void()> hook) : hook_(std::move(hook)) {}
  [[nodiscard]] TimePoint now() const override { return fake_.now(); }
  bool sleepUntil(TimePoint deadline, const std::stop_token& stop) override {
    if (hook_) std::exchange(hook_, nullptr)();
    ++sleeps;
    return fake_.sleepUntil(deadline, stop);
  }
  int sleeps = 0;

 private:
  FakeClock fake_;
  std::function<void()> hook_;
};

TEST(HttpClientTest, GetReturnsBodyStatusAndRequestId) {
  FakeHttpServer server;
  server.on("GET", "/ping", [](const FakeRequest& r) {
    EXPECT_EQ(r.header("accept"), "application/json");
    return FakeReply::json(200, {{"pong", true}}).header("X-OpenStack-Request-ID", "req-123");
  });
  FakeClock clock;
  Client client(testOptions(), clock);
  auto response = client.send(get(server.url("/ping")));
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"pong":true})");
  EXPECT_EQ(response->request_id, "req-123");
  EXPECT_EQ(response->attempts, 1);
}

TEST(HttpClientTest, SendsBodyAndHeadersOfPutAndDelete) {
  FakeHttpServer server;
  server.on("PUT", "/thing", [](const FakeRequest& r) {
    EXPECT_EQ(r.body, R"({"a":1})");
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("x-custom"), "yes");
    return FakeReply::json(200, {{"ok", true}});
  });
  server.on("DELETE", "/thing", [](const FakeRequest&) { return FakeReply::empty(204); });
  FakeClock clock;
  Client client(testOptions(), clock);
  Request put;
  put.method = Method::kPut;
  put.url = server.url("/thing");
  put.body = R"({"a":1})";
  put.headers.push_back({"X-Custom", "yes"});
  auto r1 = client.send(put);
  ASSERT_TRUE(r1) << r1.error().toString();
  EXPECT_EQ(r1->status, 200);
  Request del;
  del.method = Method::kDelete;
  del.url = server.url("/thing");
  auto r2 = client.send(del);
  ASSERT_TRUE(r2) << r2.error().toString();
  EXPECT_EQ(r2->status, 204);
}

TEST(HttpClientTest, RetriesServerErrorsWithExponentialBackoff) {
  FakeHttpServer server;
  server.enqueue("GET", "/flaky", FakeReply::json(503, {{"message", "busy"}}));
  server.enqueue("GET", "/flaky", FakeReply::json(502, {{"message", "gateway"}}));
  server.onJson("GET", "/flaky", 200, {{"ok", true}});
  FakeClock clock;
  const TimePoint start = clock.now();
  Client client(testOptions(), clock);
  auto response = client.send(get(server.url("/flaky")));
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->attempts, 3);
  EXPECT_EQ(server.count("GET", "/flaky"), 3u);
  EXPECT_EQ(clock.now() - start, 500ms + 1000ms);  // simulated time: 0.5 s then 1 s
}

TEST(HttpClientTest, JitterKeepsBackoffWithinBounds) {
  FakeHttpServer server;
  server.enqueue("GET", "/flaky", FakeReply::empty(500));
  server.onJson("GET", "/flaky", 200, {});
  FakeClock clock;
  const TimePoint start = clock.now();
  ClientOptions options = testOptions();
  options.retry.jitter = 0.5;
  Client client(options, clock);
  auto response = client.send(get(server.url("/flaky")));
  ASSERT_TRUE(response);
  const Duration waited = clock.now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LE(waited, 500ms);
}

TEST(HttpClientTest, GivesUpAfterMaxAttemptsAndReportsTheLastResponse) {
  FakeHttpServer server;
  server.on("GET", "/down", [](const FakeRequest&) {
    return FakeReply::json(500, {{"computeFault", {{"code", 500}, {"message", "boom"}}}})
        .header("X-OpenStack-Request-ID", "req-last");
  });
  FakeClock clock;
  Client client(testOptions(), clock);
  Request request = get(server.url("/down"));
  auto response = client.send(request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->attempts, 4);
  EXPECT_EQ(server.count("GET", "/down"), 4u);
  auto status = checkStatus(request, *response, client.redactor());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(status.error().retryable);
  EXPECT_NE(status.error().message.find("GET /down: HTTP 500: boom"), std::string::npos)
      << status.error().message;
  EXPECT_NE(status.error().message.find("req-last"), std::string::npos);
  EXPECT_NE(status.error().message.find("after 4 attempts"), std::string::npos);
}

TEST(HttpClientTest, HonoursRetryAfterSeconds) {
  FakeHttpServer server;
  server.enqueue("GET", "/limited", FakeReply::empty(429).header("Retry-After", "7"));
  server.onJson("GET", "/limited", 200, {});
  FakeClock clock;
  const TimePoint start = clock.now();
  Client client(testOptions(), clock);
  auto response = client.send(get(server.url("/limited")));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(clock.now() - start, 7s);
}

TEST(HttpClientTest, RetryAfterBeyondTheLimitIsNotWaitedFor) {
  FakeHttpServer server;
  server.on("GET", "/limited",
            [](const FakeRequest&) { return FakeReply::empty(503).header("Retry-After", "3600"); });
  FakeClock clock;
  const TimePoint start = clock.now();
  Client client(testOptions(), clock);
  auto response = client.send(get(server.url("/limited")));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->attempts, 1);
  EXPECT_EQ(clock.now(), start);
}

TEST(HttpClientTest, ParsesRetryAfterForms) {
  const TimePoint now = fromMillis(784'111'777'000);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parseRetryAfter("5", now), Duration(5000));
  EXPECT_EQ(parseRetryAfter(" 0 ", now), Duration(0));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now), Duration(10'000));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now), Duration(0));
  EXPECT_FALSE(parseRetryAfter("soon", now));
  EXPECT_FALSE(parseRetryAfter("", now));
}

TEST(HttpClientTest, PostIsNotRepeatedAfterAServerError) {
  FakeHttpServer server;
  server.onJson("POST", "/action", 503, {{"message", "try later"}});
  FakeClock clock;
  Client client(testOptions(), clock);
  auto response = client.send(post(server.url("/action")));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(server.count("POST", "/action"), 1u);
}

TEST(HttpClientTest, PostIsNotRepeatedWhenTheConnectionDropsAfterSending) {
  FakeHttpServer server;
  server.on("POST", "/action", [](const FakeRequest&) { return FakeReply::drop(); });
  FakeClock clock;
  Client client(testOptions(), clock);
  auto response = client.send(post(server.url("/action")));
  ASSERT_FALSE(response);
  EXPECT_EQ(server.count("POST", "/action"), 1u);
  EXPECT_NE(response.error().message.find("not repeated"), std::string::npos)
      << response.error().message;
}

TEST(HttpClientTest, PostIsRetriedWhenTheConnectionWasRefused) {
  int port = 0;
  {
    FakeHttpServer probe;
    port = probe.port();
  }  // nothing listens on `port` now
  std::unique_ptr<FakeHttpServer> server;
  HookClock clock([&] {
    server = std::make_unique<FakeHttpServer>(port);
    server->onJson("POST", "/action", 202, {{"accepted", true}});
  });
  Client client(testOptions(), clock);
  auto response = client.send(post("http://127.0.0.1:" + std::to_string(port) + "/action"));
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(response->status, 202);
  EXPECT_EQ(response->attempts, 2);
  EXPECT_EQ(server->count("POST", "/action"), 1u);
}

TEST(HttpClientTest, ConnectionRefusedIsARetryableErrorNamingTheServer) {
  int port = 0;
  {
    FakeHttpServer probe;
    port = probe.port();
  }
  FakeClock clock;
  Client client(testOptions(), clock);
  auto response = client.send(get("http://127.0.0.1:" + std::to_string(port) + "/x"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(response.error().retryable);
  EXPECT_NE(
      response.error().message.find("cannot connect to http://127.0.0.1:" + std::to_string(port)),
      std::string::npos)
      << response.error().message;
  EXPECT_NE(response.error().message.find("after 4 attempts"), std::string::npos);
}

TEST(HttpClientTest, GetIsRetriedAfterADroppedConnection) {
  FakeHttpServer server;
  server.enqueue("GET", "/x", FakeReply::drop());
  server.onJson("GET", "/x", 200, {{"ok", true}});
  FakeClock clock;
  Client client(testOptions(), clock);
  auto response = client.send(get(server.url("/x")));
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(response->attempts, 2);
}

TEST(HttpClientTest, TruncatedBodyIsRetriedThenReported) {
  FakeHttpServer server;
  server.on("GET", "/big", [](const FakeRequest&) {
    return FakeReply::truncated(200, R"({"servers": [1, 2, 3, 4, 5, 6, 7, 8]})", 10);
  });
  FakeClock clock;
  Client client(testOptions(), clock);
  auto response = client.send(get(server.url("/big")));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message.find("truncated"), std::string::npos)
      << response.error().message;
  EXPECT_EQ(server.count("GET", "/big"), 4u);
}

TEST(HttpClientTest, TruncatedBodyOnceThenComplete) {
  FakeHttpServer server;
  server.enqueue("GET", "/big", FakeReply::truncated(200, R"({"a": 1})", 3));
  server.onJson("GET", "/big", 200, {{"a", 1}});
  FakeClock clock;
  Client client(testOptions(), clock);
  auto response = client.send(get(server.url("/big")));
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(response->body, R"({"a":1})");
}

TEST(HttpClientTest, ConflictAndNotFoundAreNotRetried) {
  FakeHttpServer server;
  server.onJson("GET", "/conflict", 409,
                {{"conflictingRequest", {{"code", 409}, {"message", "in task_state rebuilding"}}}});
  server.onJson("GET", "/missing", 404, {{"itemNotFound", {{"code", 404}, {"message", "gone"}}}});
  FakeClock clock;
  Client client(testOptions(), clock);
  Request conflict = get(server.url("/conflict"));
  auto r1 = client.send(conflict);
  ASSERT_TRUE(r1);
  auto s1 = checkStatus(conflict, *r1, client.redactor());
  ASSERT_FALSE(s1);
  EXPECT_EQ(s1.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(s1.error().retryable);
  EXPECT_NE(s1.error().message.find("in task_state rebuilding"), std::string::npos);
  Request missing = get(server.url("/missing"));
  auto r2 = client.send(missing);
  ASSERT_TRUE(r2);
  auto s2 = checkStatus(missing, *r2, client.redactor());
  ASSERT_FALSE(s2);
  EXPECT_EQ(s2.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(server.count("GET", "/conflict"), 1u);
  EXPECT_EQ(server.count("GET", "/missing"), 1u);
}

TEST(HttpClientTest, SlowServerHitsTheTimeout) {
  FakeHttpServer server;
  server.on("GET", "/slow", [](const FakeRequest&) {
    return FakeReply::json(200, {}).after(std::chrono::seconds(30));
  });
  FakeClock clock;
  ClientOptions options = testOptions();
  options.timeout = 300ms;  // bounds this test's real time
  options.retry.max_attempts = 2;
  Client client(options, clock);
  auto response = client.send(get(server.url("/slow")));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kTimedOut);
  EXPECT_TRUE(response.error().retryable);
  EXPECT_NE(response.error().message.find("within 300 ms"), std::string::npos)
      << response.error().message;
  EXPECT_EQ(server.count("GET", "/slow"), 2u);
}

// The call's deadline (freezer/call_deadline.h) bounds the whole call, retries and backoff
// included. These tests assert what the client did (attempts, error kind), never wall time.

SteadyTime steadyIn(Duration d) {
  return std::chrono::steady_clock::now() + d;
}

TEST(HttpClientTest, DeadlineEndsAnUnansweredCallWhateverTheRetries) {
  FakeHttpServer server;
  server.on("GET", "/hang", [](const FakeRequest&) {
    return FakeReply::json(200, {}).after(std::chrono::seconds(30));
  });
  FakeClock clock;
  // Without the deadline: 4 attempts of 5 s each, with backoff between them.
  Client client(testOptions(), clock);
  Result<Response> response;
  {
    CallDeadline deadline(steadyIn(300ms));
    response = client.send(get(server.url("/hang")));
  }
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kTimedOut) << response.error().message;
  EXPECT_TRUE(response.error().retryable);
  EXPECT_NE(
      response.error().message.find("the call's deadline passed (" + server.url("/hang") + ")"),
      std::string::npos)
      << response.error().message;
  EXPECT_NE(response.error().message.find("after 1 attempt"), std::string::npos)
      << response.error().message;
  EXPECT_EQ(server.count("GET", "/hang"), 1u);
}

TEST(HttpClientTest, RequestDeadlineBoundsTheCallLikeTheThreadsDeadline) {
  FakeHttpServer server;
  server.on("GET", "/hang", [](const FakeRequest&) {
    return FakeReply::json(200, {}).after(std::chrono::seconds(30));
  });
  FakeClock clock;
  Client client(testOptions(), clock);
  Request request = get(server.url("/hang"));
  request.deadline = steadyIn(300ms);
  auto response = client.send(request);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kTimedOut) << response.error().message;
  EXPECT_EQ(server.count("GET", "/hang"), 1u);
  EXPECT_FALSE(CallDeadline::current());  // the request's deadline did not outlive the call
}

TEST(HttpClientTest, NoRetryWhoseBackoffWouldEndPastTheDeadline) {
  FakeHttpServer server;
  server.onJson("GET", "/busy", 503, {{"message", "busy"}});
  FakeClock clock;
  const TimePoint start = clock.now();
  ClientOptions options = testOptions();
  options.retry.max_attempts = 5;
  options.retry.initial_backoff = 10s;
  Client client(options, clock);
  Result<Response> response;
  {
    CallDeadline deadline(steadyIn(5s));
    response = client.send(get(server.url("/busy")));
  }
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(response->status, 503);  // the last response, as when the retries run out
  EXPECT_EQ(response->attempts, 1);
  EXPECT_EQ(server.count("GET", "/busy"), 1u);
  EXPECT_EQ(clock.now(), start);  // no backoff slept
}

TEST(HttpClientTest, BackoffSleepsStopAtTheDeadline) {
  FakeHttpServer server;
  server.onJson("GET", "/busy", 503, {{"message", "busy"}});
  SystemClock clock;  // real sleeps: the deadline is real time
  ClientOptions options = testOptions();
  options.retry.max_attempts = 100;
  options.retry.initial_backoff = 100ms;
  options.retry.multiplier = 1;
  Client client(options, clock);
  Result<Response> response;
  {
    CallDeadline deadline(steadyIn(1s));
    response = client.send(get(server.url("/busy")));
  }
  ASSERT_TRUE(response) << response.error().toString();
  EXPECT_EQ(response->status, 503);
  // Every sleep of 100 ms ended before the 1 s deadline: at most 9 of them, so at most 10
  // attempts of the 100 allowed; and the first backoff fitted.
  EXPECT_GE(response->attempts, 2);
  EXPECT_LE(response->attempts, 10);
  EXPECT_EQ(server.count("GET", "/busy"), static_cast<size_t>(response->attempts));
}

TEST(HttpClientTest, AFailureNotRetriedBecauseOfTheDeadlineSaysSo) {
  int port = 0;
  {
    FakeHttpServer probe;
    port = probe.port();
  }
  FakeClock clock;
  ClientOptions options = testOptions();
  options.retry.initial_backoff = 10s;
  Client client(options, clock);
  Result<Response> response;
  {
    CallDeadline deadline(steadyIn(5s));
    response = client.send(get("http://127.0.0.1:" + std::to_string(port) + "/x"));
  }
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);  // the deadline has not passed
  EXPECT_TRUE(response.error().retryable);
  EXPECT_NE(response.error().message.find("after 1 attempt; not retried: the 10000 ms backoff "
                                          "would end past the call's deadline"),
            std::string::npos)
      << response.error().message;
}

TEST(HttpClientTest, DeadlinePassedBeforeTheCallSendsNothing) {
  FakeHttpServer server;
  server.onJson("GET", "/x", 200, {});
  FakeClock clock;
  Client client(testOptions(), clock);
  Result<Response> response;
  {
    CallDeadline deadline(steadyIn(-1ms));
    response = client.send(get(server.url("/x")));
  }
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kTimedOut);
  EXPECT_TRUE(response.error().retryable);
  EXPECT_NE(response.error().message.find("deadline passed before the request was sent (" +
                                          server.url("/x")),
            std::string::npos)
      << response.error().message;
  EXPECT_EQ(server.count("GET", "/x"), 0u);
  // And with no deadline in force the same call goes through.
  EXPECT_TRUE(client.send(get(server.url("/x"))));
}

TEST(HttpClientTest, ReusesTheConnection) {
  FakeHttpServer server;
  server.onJson("GET", "/x", 200, {{"ok", true}});
  FakeClock clock;
  Client client(testOptions(), clock);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.send(get(server.url("/x"))));
  EXPECT_EQ(server.count("GET", "/x"), 5u);
  EXPECT_EQ(server.connectionsAccepted(), 1);
}

TEST(HttpClientTest, ConcurrentCallsShareTheClient) {
  FakeHttpServer server;
  server.on("GET", "/x", [](const FakeRequest& r) {
    return FakeReply::json(200, {{"n", r.param("n")}}).after(2ms);
  });
  FakeClock clock;
  Client client(testOptions(), clock);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string n = std::to_string(t * 100 + i);
        auto r = client.send(get(server.url("/x?n=" + n)));
        if (r && r->status == 200 && r->body == R"({"n":")" + n + R"("})") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_LE(server.connectionsAccepted(), 8);
}

TEST(HttpClientTest, ResponseLargerThanTheLimitIsAnError) {
  FakeHttpServer server;
  server.on("GET", "/huge",
            [](const FakeRequest&) { return FakeReply::text(200, std::string(10'000, 'x')); });
  FakeClock clock;
  ClientOptions options = testOptions();
  options.max_response_bytes = 1000;
  Client client(options, clock);
  auto response = client.send(get(server.url("/huge")));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(server.count("GET", "/huge"), 1u);
}

TEST(HttpClientTest, SecretsNeverReachLogsOrErrors) {
  LogCapture logs;
  FakeHttpServer server;
  const std::string token = "gAAAAABtokenvalue0123456789";
  const std::string password = "hunter2-correct-horse";
  server.on("GET", "/secret", [&](const FakeRequest& r) {
    EXPECT_EQ(r.header("x-auth-token"), token);
    return FakeReply::json(
        401,
        {{"error",
          {{"code", 401}, {"message", "token " + token + " rejected for password " + password}}}});
  });
  server.enqueue("GET", "/secret", FakeReply::empty(503));
  FakeClock clock;
  Client client(testOptions(), clock);
  client.redactor().add(Secret(token));
  client.redactor().add(Secret(password));
  Request request = get(server.url("/secret"));
  request.headers.push_back({"X-Auth-Token", token, true});
  auto response = client.send(request);
  ASSERT_TRUE(response);
  Error error = statusError(request, *response, client.redactor());
  EXPECT_EQ(error.code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(error.message.find(token), std::string::npos) << error.message;
  EXPECT_EQ(error.message.find(password), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("***"), std::string::npos) << error.message;
  const std::string logged = logs.text();
  EXPECT_FALSE(logged.empty());
  EXPECT_EQ(logged.find(token), std::string::npos) << logged;
  EXPECT_EQ(logged.find(password), std::string::npos) << logged;
}

TEST(HttpClientTest, TlsOptionsAreApplied) {
  FakeHttpServer server;  // plain HTTP: the handshake never gets far
  FakeClock clock;
  ClientOptions options = testOptions();
  options.tls.ca_file = "/nonexistent/ca.pem";
  options.retry.max_attempts = 1;
  Client client(options, clock);
  auto response = client.send(get("https://127.0.0.1:" + std::to_string(server.port()) + "/x"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument) << response.error().message;
  EXPECT_NE(response.error().message.find("/nonexistent/ca.pem"), std::string::npos);
  EXPECT_FALSE(ClientOptions{}.tls.insecure);  // verification is on unless configured off
}

TEST(RedactorTest, MasksKnownShapesWithoutRegisteredValues) {
  EXPECT_EQ(scrubPatterns(R"({"user": {"name": "admin", "password": "s3cr\"et"}})"),
            R"({"user": {"name": "admin", "password": "***"}})");
  EXPECT_EQ(scrubPatterns(R"({"application_credential": {"id": "x", "secret": "abc"}})"),
            R"({"application_credential": {"id": "x", "secret": "***"}})");
  EXPECT_EQ(scrubPatterns("X-Auth-Token: abcdef\r\nAccept: x"), "X-Auth-Token: ***\r\nAccept: x");
  EXPECT_EQ(scrubPatterns("see https://admin:pa55@keystone:5000/v3 now"),
            "see https://admin:***@keystone:5000/v3 now");
  EXPECT_EQ(scrubPatterns(R"({"token": {"expires_at": "x"}})"),
            R"({"token": {"expires_at": "x"}})");
}

TEST(RedactorTest, MasksRegisteredValuesAndIgnoresTinyOnes) {
  Redactor r;
  r.add(Secret("abc"));  // too short to mask safely
  r.add(Secret("tok-0123456789"));
  EXPECT_EQ(r.scrub("abc tok-0123456789 tok-0123456789"), "abc *** ***");
}

TEST(HttpClientTest, ServerMessageFromOpenStackErrorBodies) {
  EXPECT_EQ(serverMessage(R"({"itemNotFound": {"code": 404, "message": "Server x not found"}})"),
            "Server x not found");
  EXPECT_EQ(serverMessage(R"({"error": {"code": 401, "message": "Unauthorized", "title": "U"}})"),
            "Unauthorized");
  EXPECT_EQ(serverMessage("<html>\nBad Gateway</html>"), "<html> Bad Gateway</html>");
  EXPECT_EQ(serverMessage(""), "");
}

TEST(UrlTest, Helpers) {
  EXPECT_EQ(urlEncode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
  EXPECT_EQ(joinUrl("http://x/v2.1/", "/servers"), "http://x/v2.1/servers");
  EXPECT_EQ(withQuery("http://x/s", {{"host", "c 1"}, {"limit", "2"}}),
            "http://x/s?host=c%201&limit=2");
  EXPECT_EQ(withQuery("http://x/s?a=1", {{"b", "2"}}), "http://x/s?a=1&b=2");
  EXPECT_EQ(pathOf("https://u:p@h:8774/compute/v2.1/servers?x=1"), "/compute/v2.1/servers?x=1");
  EXPECT_EQ(originOf("https://u:p@h:8774/compute"), "https://h:8774");
}

}  // namespace
}  // namespace fdr::http
