#include "clients/http/http_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <mutex>
#include <random>

#include <nlohmann/json.hpp>

#include "clients/http/url.h"

namespace fdr::http {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool isRetryableStatus(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// What one attempt produced.
struct Attempt {
  CURLcode code = CURLE_OK;
  std::string curl_message;  // libcurl's error buffer
  long status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  long request_bytes = 0;  // bytes of request headers sent: 0 = the request never left
  curl_off_t expected_length = -1;
  bool too_large = false;
  size_t max_bytes = 0;
  double seconds = 0;
  // The limits this attempt ran under: the client's, shortened to what was left of the call's
  // deadline (`deadline_left`, when one was in force).
  Duration connect_timeout{0};
  Duration timeout{0};
  std::optional<Duration> deadline_left;
};

size_t writeBody(char* data, size_t size, size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const size_t n = size * count;
  if (attempt->body.size() + n > attempt->max_bytes) {
    attempt->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  if (attempt->body.empty()) {
    // One allocation of the announced size (a 2 MB os-services document would otherwise be
    // grown by doubling, up to twice its size, copied at each step), plus the parsers' padding.
    if (auto length = attempt->headers.find("content-length"); length != attempt->headers.end()) {
      size_t announced = 0;
      const std::string& text = length->second;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), announced);
      if (error == std::errc() && end == text.data() + text.size() &&
          announced <= attempt->max_bytes) {
        attempt->body.reserve(announced + kBodyPadding);
      }
    }
  }
  attempt->body.append(data, n);
  return n;
}

size_t writeHeader(char* data, size_t size, size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    attempt->headers.clear();  // a new response (after 100 Continue, say)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  attempt->headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
  return n;
}

// Transport failures the same request may survive if repeated.
bool isRetryableTransport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return true;
    default: return false;
  }
}

// True when the failure proves the request was not delivered: nothing reached the server.
bool neverSent(const Attempt& a) {
  switch (a.code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT: return true;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR: return a.request_bytes == 0;
    default: return false;
  }
}

// The limit an attempt that timed out ran into: connecting, or the whole attempt.
Duration timeLimit(const Attempt& a) {
  return a.request_bytes == 0 ? std::min(a.connect_timeout, a.timeout) : a.timeout;
}

// True when the attempt timed out at the end of the call's deadline: its limit was all that was
// left of it (libcurl may give up a millisecond early, so what remains after it is not a test).
bool cutByDeadline(const Attempt& a) {
  return a.code == CURLE_OPERATION_TIMEDOUT && a.deadline_left && *a.deadline_left <= timeLimit(a);
}

Error transportError(const Request& request, const Attempt& a, const ClientOptions& options) {
  const std::string where = originOf(request.url);
  std::string what;
  ErrorCode code = ErrorCode::kUnavailable;
  switch (a.code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: what = "cannot resolve the host of " + where; break;
    case CURLE_COULDNT_CONNECT: what = "cannot connect to " + where; break;
    case CURLE_OPERATION_TIMEDOUT:
      code = ErrorCode::kTimedOut;
      what = (a.request_bytes == 0 ? "no connection to " : "no complete response from ") + where +
             " within " + std::to_string(timeLimit(a).count()) + " ms";
      if (cutByDeadline(a)) what += ", what was left of the call's deadline";
      break;
    case CURLE_PARTIAL_FILE:
      what = "response from " + where + " truncated: got " + std::to_string(a.body.size()) +
             " bytes" +
             (a.expected_length >= 0 ? " of " + std::to_string(a.expected_length) : std::string());
      break;
    case CURLE_GOT_NOTHING: what = where + " closed the connection without a response"; break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: what = "connection to " + where + " broken"; break;
    case CURLE_WRITE_ERROR:
      if (a.too_large) {
        code = ErrorCode::kCorruption;
        what = "response from " + where + " larger than " + std::to_string(a.max_bytes) + " bytes";
      } else {
        code = ErrorCode::kInternal;
        what = "cannot store the response from " + where;
      }
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
      what = "TLS certificate of " + where + " not trusted";
      break;
    case CURLE_SSL_CACERT_BADFILE:
      code = ErrorCode::kInvalidArgument;
      what = "cannot read the CA file '" + options.tls.ca_file + "'";
      break;
    case CURLE_SSL_CERTPROBLEM:
      code = ErrorCode::kInvalidArgument;
      what = "cannot use the client certificate '" + options.tls.client_cert + "'";
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      code = ErrorCode::kInvalidArgument;
      what = "bad URL";
      break;
    default: what = "transfer with " + where + " failed"; break;
  }
  std::string detail = a.curl_message.empty() ? curl_easy_strerror(a.code) : a.curl_message;
  return Error{code, request.describe() + ": " + what + " (" + detail + ")",
               isRetryableTransport(a.code)};
}

// "http://host:port/path?query" without userinfo, for messages (which are scrubbed too).
std::string shownUrl(const Request& request) {
  return originOf(request.url) + pathOf(request.url);
}

std::string attemptsText(int attempts) {
  return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

Duration backoffDelay(const RetryPolicy& policy, int attempt) {
  double base = static_cast<double>(policy.initial_backoff.count()) *
                std::pow(policy.multiplier, std::max(0, attempt - 1));
  base = std::min(base, static_cast<double>(policy.max_backoff.count()));
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  if (jitter > 0) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    base *= 1.0 - jitter * unit(rng);
  }
  return Duration(static_cast<int64_t>(base));
}

std::string requestIdOf(const std::map<std::string, std::string>& headers) {
  for (const char* name : {"x-openstack-request-id", "x-compute-request-id"}) {
    if (auto it = headers.find(name); it != headers.end()) return it->second;
  }
  return {};
}

}  // namespace

std::string_view toString(Method m) {
  switch (m) {
    case Method::kGet: return "GET";
    case Method::kHead: return "HEAD";
    case Method::kPost: return "POST";
    case Method::kPut: return "PUT";
    case Method::kPatch: return "PATCH";
    case Method::kDelete: return "DELETE";
  }
  return "GET";
}

bool Request::isIdempotent() const {
  if (idempotent) return *idempotent;
  return method != Method::kPost && method != Method::kPatch;
}

std::string Request::describe() const {
  if (!label.empty()) return label;
  return std::string(toString(method)) + " " + pathOf(url);
}

std::optional<std::string> Response::header(std::string_view name) const {
  if (auto it = headers.find(lower(name)); it != headers.end()) return it->second;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// libcurl plumbing: a pool of idle easy handles sharing one connection/DNS/TLS-session cache.

class Client::Impl {
 public:
  Impl() {
    globalInit();
    share_ = curl_share_init();
    if (share_ != nullptr) {
      curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &Impl::lock);
      curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
      curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
      curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
      curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
      curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    }
  }

  ~Impl() {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
    if (share_ != nullptr) curl_share_cleanup(share_);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  CURL* acquire() {
    {
      std::lock_guard lock(pool_mutex_);
      if (!idle_.empty()) {
        CURL* handle = idle_.back();
        idle_.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }

  void release(CURL* handle, size_t max_idle) {
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < max_idle) {
      idle_.push_back(handle);
    } else {
      curl_easy_cleanup(handle);
    }
  }

  // One attempt, its timeouts shortened to `deadline_left` (REQUIRES: positive) if given.
  Attempt perform(const Request& request, const ClientOptions& options,
                  std::optional<Duration> deadline_left) {
    Attempt a;
    a.max_bytes = options.max_response_bytes;
    a.deadline_left = deadline_left;
    a.connect_timeout =
        deadline_left ? std::min(options.connect_timeout, *deadline_left) : options.connect_timeout;
    a.timeout = deadline_left ? std::min(options.timeout, *deadline_left) : options.timeout;
    CURL* handle = acquire();
    if (handle == nullptr) {
      a.code = CURLE_FAILED_INIT;
      return a;
    }
    curl_easy_reset(handle);  // keeps the connection cache
    std::array<char, CURL_ERROR_SIZE> errbuf{};
    curl_slist* headers = nullptr;
    bool has_accept = false;
    bool has_content_type = false;
    for (const auto& h : request.headers) {
      const std::string name = lower(h.name);
      has_accept = has_accept || name == "accept";
      has_content_type = has_content_type || name == "content-type";
      headers = curl_slist_append(headers, (h.name + ": " + h.value).c_str());
    }
    if (!has_accept) headers = curl_slist_append(headers, "Accept: application/json");
    if (!request.body.empty() && !has_content_type) {
      headers = curl_slist_append(headers, "Content-Type: application/json");
    }
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip

    curl_easy_setopt(handle, CURLOPT_SHARE, share_);
    curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(a.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(a.timeout.count()));
    curl_easy_setopt(handle, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, errbuf.data());
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &writeBody);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &writeHeader);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!options.tls.ca_file.empty()) {
      curl_easy_setopt(handle, CURLOPT_CAINFO, options.tls.ca_file.c_str());
    }
    if (!options.tls.client_cert.empty()) {
      curl_easy_setopt(handle, CURLOPT_SSLCERT, options.tls.client_cert.c_str());
      const std::string& key =
          options.tls.client_key.empty() ? options.tls.client_cert : options.tls.client_key;
      curl_easy_setopt(handle, CURLOPT_SSLKEY, key.c_str());
    }
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, options.tls.insecure ? 0L : 1L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, options.tls.insecure ? 0L : 2L);

    switch (request.method) {
      case Method::kGet: curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L); break;
      case Method::kHead: curl_easy_setopt(handle, CURLOPT_NOBODY, 1L); break;
      case Method::kPost:
        curl_easy_setopt(handle, CURLOPT_POST, 1L);
        curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
        break;
      case Method::kPut:
      case Method::kPatch:
      case Method::kDelete:
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST,
                         std::string(toString(request.method)).c_str());
        if (!request.body.empty() || request.method != Method::kDelete) {
          curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                           static_cast<curl_off_t>(request.body.size()));
          curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
        }
        break;
    }

    a.code = curl_easy_perform(handle);
    a.curl_message = errbuf.data();
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &a.request_bytes);
    curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &a.expected_length);
    curl_easy_getinfo(handle, CURLINFO_TOTAL_TIME, &a.seconds);
    // Pointers into this frame must not outlive it.
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(headers);
    release(handle, options.max_idle_handles);
    return a;
  }

 private:
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->locks_[static_cast<size_t>(data) % kLocks].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->locks_[static_cast<size_t>(data) % kLocks].unlock();
  }

  static constexpr size_t kLocks = CURL_LOCK_DATA_LAST;
  CURLSH* share_ = nullptr;
  std::array<std::mutex, kLocks> locks_;
  std::mutex pool_mutex_;
  std::vector<CURL*> idle_;
};

Client::Client(ClientOptions options, Clock& clock)
    : options_(std::move(options)), clock_(clock), impl_(std::make_unique<Impl>()) {
  if (options_.tls.insecure) {
    spdlog::warn("http: TLS certificate verification is OFF (insecure = true)");
  }
  if (options_.retry.max_attempts < 1) options_.retry.max_attempts = 1;
}

Client::~Client() = default;

Result<Response> Client::send(const Request& request, std::stop_token stop) {
  std::optional<CallDeadline> own_deadline;
  if (request.deadline) own_deadline.emplace(*request.deadline);
  const bool idempotent = request.isIdempotent();
  const RetryPolicy& policy = options_.retry;
  std::string last;  // what the previous attempt got, for an error at the deadline
  for (int attempt = 1;; ++attempt) {
    const std::optional<Duration> left = CallDeadline::remaining();
    if (left && left->count() <= 0) {
      std::string message =
          request.describe() + ": the call's deadline passed before " +
          (attempt == 1 ? "the request was sent"
                        : "attempt " + std::to_string(attempt) + " (after " + last + ")") +
          " (" + shownUrl(request) + ")";
      message = redactor_.scrub(message);
      spdlog::debug("http: {}", message);
      return fail(ErrorCode::kTimedOut, std::move(message), /*retryable=*/true);
    }
    Attempt a = impl_->perform(request, options_, left);
    const std::string request_id = requestIdOf(a.headers);
    // What is left of the deadline for a backoff and another attempt.
    const std::optional<Duration> after = CallDeadline::remaining();
    Duration delay{0};
    if (a.code != CURLE_OK) {
      Error error = transportError(request, a, options_);
      const bool may_retry = error.retryable && (idempotent || neverSent(a));
      const bool last_attempt = !may_retry || attempt >= policy.max_attempts;
      if (!last_attempt) delay = backoffDelay(policy, attempt);
      const bool deadline_stops = !last_attempt && ((after && delay >= *after) || cutByDeadline(a));
      if (last_attempt || deadline_stops) {
        error.message += " after " + attemptsText(attempt);
        if (error.retryable && !idempotent && !neverSent(a)) {
          error.message += " (not repeated: the request may have reached the server)";
        }
        if ((after && after->count() <= 0) || cutByDeadline(a)) {
          // Past the deadline: whatever the last failure was, the call ran out of time.
          error.code = ErrorCode::kTimedOut;
          error.retryable = true;
          error.message += "; the call's deadline passed (" + shownUrl(request) + ")";
        } else if (deadline_stops) {
          error.message += "; not retried: the " + std::to_string(delay.count()) +
                           " ms backoff would end past the call's deadline (" +
                           std::to_string(after->count()) + " ms left)";
        }
        error.message = redactor_.scrub(error.message);
        spdlog::debug("http: {}", error.message);
        return std::unexpected(std::move(error));
      }
      spdlog::warn("http: {}; retrying in {} ms (attempt {} of {})", redactor_.scrub(error.message),
                   delay.count(), attempt + 1, policy.max_attempts);
      last = error.message;
    } else {
      spdlog::debug("http: {} -> {} in {:.0f} ms{}", redactor_.scrub(request.describe()), a.status,
                    a.seconds * 1000,
                    request_id.empty() ? std::string() : " (request " + request_id + ")");
      Response response;
      response.status = a.status;
      response.headers = std::move(a.headers);
      response.body = std::move(a.body);
      response.request_id = request_id;
      response.attempts = attempt;
      if (!isRetryableStatus(response.status) || !idempotent || attempt >= policy.max_attempts) {
        return response;
      }
      std::optional<Duration> retry_after;
      if (auto value = response.header("retry-after")) {
        retry_after = parseRetryAfter(*value, clock_.now());
      }
      if (retry_after && *retry_after > policy.max_retry_after) {
        spdlog::warn("http: {} -> {}; Retry-After {} ms exceeds the {} ms limit, giving up",
                     redactor_.scrub(request.describe()), response.status, retry_after->count(),
                     policy.max_retry_after.count());
        return response;
      }
      delay = retry_after ? *retry_after : backoffDelay(policy, attempt);
      if (after && delay >= *after) {
        spdlog::warn(
            "http: {} -> HTTP {}{}; not retried: the {} ms wait would end past the call's "
            "deadline ({} ms left)",
            redactor_.scrub(request.describe()), response.status,
            request_id.empty() ? std::string() : " (request " + request_id + ")", delay.count(),
            after->count());
        return response;
      }
      spdlog::warn("http: {} -> HTTP {}{}; retrying in {} ms (attempt {} of {})",
                   redactor_.scrub(request.describe()), response.status,
                   request_id.empty() ? std::string() : " (request " + request_id + ")",
                   delay.count(), attempt + 1, policy.max_attempts);
      last = "HTTP " + std::to_string(response.status);
    }
    if (!clock_.sleepUntil(clock_.now() + delay, stop)) {
      return fail(ErrorCode::kUnavailable,
                  redactor_.scrub(request.describe()) + ": interrupted while waiting to retry");
    }
  }
}

// ---------------------------------------------------------------------------------------------

std::string serverMessage(std::string_view body) {
  auto shorten = [](std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 300)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    if (text.size() > 300) out += "...";
    return std::string(trim(out));
  };
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return shorten(body);
  auto messageOf = [](const nlohmann::json& obj) -> std::optional<std::string> {
    if (!obj.is_object()) return std::nullopt;
    for (const char* key : {"message", "detail", "title"}) {
      if (auto it = obj.find(key); it != obj.end() && it->is_string()) {
        return it->get<std::string>();
      }
    }
    return std::nullopt;
  };
  if (auto m = messageOf(doc)) return shorten(*m);
  for (const auto& [key, value] : doc.items()) {
    if (auto m = messageOf(value)) return shorten(*m);
  }
  return shorten(body);
}

Error statusError(const Request& request, const Response& response, const Redactor& redactor) {
  ErrorCode code = ErrorCode::kInvalidArgument;
  bool retryable = false;
  const long s = response.status;
  if (s == 401 || s == 403) {
    code = ErrorCode::kPermissionDenied;
  } else if (s == 404) {
    code = ErrorCode::kNotFound;
  } else if (s == 409) {
    code = ErrorCode::kConflict;
  } else if (s == 408 || s == 504) {
    code = ErrorCode::kTimedOut;
    retryable = true;
  } else if (s == 429 || s >= 500) {
    code = ErrorCode::kUnavailable;
    retryable = s != 501 && s != 505;
  }
  std::string message = request.describe() + ": HTTP " + std::to_string(s);
  if (std::string server = serverMessage(response.body); !server.empty()) {
    message += ": " + server;
  }
  if (!response.request_id.empty()) message += " (request " + response.request_id + ")";
  if (response.attempts > 1) message += " after " + std::to_string(response.attempts) + " attempts";
  return Error{code, redactor.scrub(message), retryable};
}

Status checkStatus(const Request& request, const Response& response, const Redactor& redactor) {
  if (response.ok()) return {};
  return std::unexpected(statusError(request, response, redactor));
}

std::optional<Duration> parseRetryAfter(std::string_view value, TimePoint now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9) return Duration(std::chrono::seconds(999'999'999));
    return std::chrono::duration_cast<Duration>(
        std::chrono::seconds(std::stol(std::string(value))));
  }
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return std::nullopt;
  const TimePoint at = fromMillis(static_cast<int64_t>(timegm(&tm)) * 1000);
  return at > now ? at - now : Duration(0);
}

}  // namespace fdr::http
