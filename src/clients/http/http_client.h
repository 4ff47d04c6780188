// HTTP over libcurl for the OpenStack clients.
//
// - TLS is verified by default (system CAs or `ca_file`; optional client certificate).
//   `insecure` turns verification off, only when configured, with a warning in the log.
// - Every call is bounded: a connect timeout and a total timeout per attempt, and the deadline
//   of the call in force on the thread (freezer/call_deadline.h, or Request::deadline) over the
//   whole call: each attempt's timeouts are shortened to what is left, no backoff is waited for
//   that would end past it, and a call that reaches it fails kTimedOut (retryable).
// - Retries: connection errors, timeouts, truncated bodies, 5xx (500/502/503/504) and 429 are
//   retried with exponential backoff and jitter, honouring Retry-After. A request that is not
//   idempotent (POST, unless the caller says otherwise) is retried only when the failure proves
//   the request never reached the server (connection refused, name not resolved, nothing sent).
// - Connections are reused: idle easy handles are pooled per Client and share one connection
//   cache, DNS cache and TLS session cache (CURLSH with locks). Client is thread-safe.
// - Each call is logged (spdlog, debug; retries at warn) with X-OpenStack-Request-ID.
// - Secrets never reach a log or an error message: header values marked secret are never
//   printed, request bodies are never printed, and every message passes through the Redactor.
//
// send() returns the response of the last attempt for any HTTP status; a transport failure is
// an error. checkStatus() turns a non-2xx response into an Error.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "clients/http/redactor.h"
#include "freezer/call_deadline.h"
#include "freezer/clock.h"
#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr::http {

// Spare bytes the client keeps allocated after a response body it read with a Content-Length
// (the body is reserved at its full size, never grown by doubling): a JSON parser that reads in
// 64-byte blocks (simdjson) can then read the body in place, without copying it.
inline constexpr size_t kBodyPadding = 64;

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete };
std::string_view toString(Method m);

struct Header {
  std::string name;
  std::string value;
  bool secret = false;  // never logged; masked in any message
};

struct Request {
  Method method = Method::kGet;
  std::string url;
  std::vector<Header> headers;
  std::string body;  // sent as application/json unless a Content-Type header is given
  // Overrides the method's idempotency (POST false, others true). Set true for a POST that is
  // safe to repeat (e.g. asking Keystone for a token).
  std::optional<bool> idempotent;
  // What the request is, for logs and errors; default "<METHOD> <path>".
  std::string label;
  // A deadline for this call, retries and backoff included, on top of (never later than) the
  // CallDeadline in force on the calling thread.
  std::optional<SteadyTime> deadline;

  [[nodiscard]] bool isIdempotent() const;
  [[nodiscard]] std::string describe() const;
};

struct Response {
  long status = 0;
  // Header names lower-cased; repeated headers keep the last value.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string request_id;  // X-OpenStack-Request-ID (or X-Compute-Request-ID), if any
  int attempts = 1;        // how many times the request was sent

  [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

struct TlsOptions {
  std::string ca_file;      // empty: the system's CA bundle
  std::string client_cert;  // PEM, optional
  std::string client_key;   // PEM, optional (defaults to the cert file)
  bool insecure = false;    // skip verification: only when explicitly configured
};

struct RetryPolicy {
  int max_attempts = 4;  // 1 = no retry
  Duration initial_backoff{500};
  Duration max_backoff{std::chrono::seconds(20)};
  double multiplier = 2.0;
  double jitter = 0.5;  // fraction of each backoff that is randomised: 0 = none, 1 = full
  // A Retry-After longer than this is not waited for: the response is returned as is.
  Duration max_retry_after{std::chrono::seconds(60)};
};

struct ClientOptions {
  TlsOptions tls;
  Duration connect_timeout{std::chrono::seconds(5)};
  Duration timeout{std::chrono::seconds(30)};  // one attempt, connect included
  RetryPolicy retry;
  size_t max_response_bytes = 64 * 1024 * 1024;
  std::string user_agent = "freezer-dr";
  size_t max_idle_handles = 8;
};

class Client {
 public:
  // `clock` paces backoff sleeps; it must outlive the client.
  Client(ClientOptions options, Clock& clock);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request`, retrying as described above. `stop` interrupts backoff sleeps. Within the
  // call's deadline (see above): a retry whose backoff would end past it is not made (the last
  // response or error is returned, the error saying so), and an attempt cut short by it, or a
  // deadline already passed, is a kTimedOut error naming the URL.
  [[nodiscard]] Result<Response> send(const Request& request, std::stop_token stop = {});

  // Secrets registered here are masked in every log line and error message of this client.
  Redactor& redactor() { return redactor_; }
  [[nodiscard]] const Redactor& redactor() const { return redactor_; }
  [[nodiscard]] const ClientOptions& options() const { return options_; }

 private:
  class Impl;
  ClientOptions options_;
  Clock& clock_;
  Redactor redactor_;
  std::unique_ptr<Impl> impl_;
};

// Maps a response to an error when its status is not 2xx: 400 kInvalidArgument, 401/403
// kPermissionDenied, 404 kNotFound, 409 kConflict, 408/504 kTimedOut, 429 and 5xx kUnavailable
// (retryable), others kInvalidArgument. The message names the request, the status, the
// server's own message (extracted from an OpenStack JSON error body when possible, shortened)
// and the request id; it is scrubbed by `redactor`.
[[nodiscard]] Status checkStatus(const Request& request, const Response& response,
                                 const Redactor& redactor);
// The error checkStatus() would return (REQUIRES: !response.ok()).
[[nodiscard]] Error statusError(const Request& request, const Response& response,
                                const Redactor& redactor);

// The human-readable message of an OpenStack error body ({"itemNotFound": {"message": ...}},
// {"error": {"message": ...}}, {"message": ...}), or a shortened copy of the raw body.
[[nodiscard]] std::string serverMessage(std::string_view body);

// Parses a Retry-After value: delta-seconds or an HTTP-date (relative to `now`).
[[nodiscard]] std::optional<Duration> parseRetryAfter(std::string_view value, TimePoint now);

}  // namespace fdr::http
