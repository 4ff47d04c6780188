#include "drivers/notifier/email/smtp_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "freezer/call_deadline.h"

namespace fdr::drivers::email {
namespace {

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Upload {
  const std::string* data = nullptr;
  size_t offset = 0;
};

size_t readBody(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data->size() - upload->offset);
  std::memcpy(buffer, upload->data->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// Frees a curl_slist on scope exit.
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string scrub(std::string text, const Secret& password) {
  const std::string& value = password.reveal();
  if (value.size() < 3) return text;
  for (size_t at = text.find(value); at != std::string::npos; at = text.find(value, at)) {
    text.replace(at, value.size(), "***");
  }
  return text;
}

}  // namespace

std::string smtpUrl(const SmtpOptions& options) {
  const std::string host =
      options.host.find(':') != std::string::npos && options.host.front() != '['
          ? "[" + options.host + "]"
          : options.host;
  return fmt::format("{}://{}:{}/{}", options.tls == SmtpTls::kImplicit ? "smtps" : "smtp", host,
                     options.port, options.helo_name);
}

struct SmtpSession::Impl {
  SmtpOptions options;
  std::string url;
  CURL* curl = nullptr;
};

SmtpSession::SmtpSession(const SmtpOptions& options) : impl_(std::make_unique<Impl>()) {
  globalInit();
  impl_->options = options;
  impl_->url = smtpUrl(options);
  impl_->curl = curl_easy_init();
}

SmtpSession::~SmtpSession() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);  // sends QUIT
}

std::expected<void, SmtpError> SmtpSession::send(const SmtpEnvelope& envelope,
                                                 const std::string& data) {
  const SmtpOptions& o = impl_->options;
  const std::string where = fmt::format("SMTP server {}:{}", o.host, o.port);
  CURL* curl = impl_->curl;
  if (curl == nullptr) {
    return std::unexpected(SmtpError{
        Error{ErrorCode::kInternal, "cannot create a libcurl handle", true}, 0, false, true});
  }
  Slist rcpt;
  for (const std::string& address : envelope.rcpt_to) {
    curl_slist* next = curl_slist_append(rcpt.get(), ("<" + address + ">").c_str());
    if (next == nullptr) {
      return std::unexpected(
          SmtpError{Error{ErrorCode::kInternal, "out of memory", true}, 0, false, true});
    }
    (void)rcpt.release();
    rcpt.reset(next);
  }
  Upload upload{&data, 0};
  char error_buffer[CURL_ERROR_SIZE] = {};
  const std::string from = "<" + envelope.mail_from + ">";

  curl_easy_setopt(curl, CURLOPT_URL, impl_->url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  // Within the call's deadline (include/freezer/call_deadline.h): a notification to many
  // recipients never outlives the delivery that sends it. 0 means "no limit" to libcurl.
  const auto timeout = CallDeadline::bound(o.timeout);
  if (timeout.count() <= 0) {
    return std::unexpected(SmtpError{
        Error{ErrorCode::kTimedOut,
              "the call's deadline passed before the message to the " + where + " was sent", true},
        0, false, true});
  }
  const auto connect_timeout = std::min(CallDeadline::bound(o.connect_timeout), timeout);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, &readBody);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));
  switch (o.tls) {
    case SmtpTls::kOff:
      curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_NONE));
      break;
    case SmtpTls::kOpportunistic:
      curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
      break;
    case SmtpTls::kStartTls:
    case SmtpTls::kImplicit:
      curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
      break;
  }
  if (!o.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, o.insecure ? 0L : 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, o.insecure ? 0L : 2L);
  if (!o.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, o.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, o.password.reveal().c_str());
  }

  const CURLcode code = curl_easy_perform(curl);
  long reply = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
  // Nothing of this call may outlive it in the handle.
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_READDATA, nullptr);
  if (code == CURLE_OK) return {};

  const std::string detail = scrub(
      error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(code), o.password);
  SmtpError e;
  e.reply_code = static_cast<int>(reply);
  auto set = [&](ErrorCode c, std::string what, bool retryable, bool session) {
    e.error = Error{c, what + " (" + detail + ")", retryable};
    e.session_failed = session;
  };
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      set(ErrorCode::kUnavailable, "cannot resolve the host of the " + where, true, true);
      break;
    case CURLE_COULDNT_CONNECT:
      set(ErrorCode::kUnavailable, "cannot connect to the " + where, true, true);
      break;
    case CURLE_OPERATION_TIMEDOUT:
      set(ErrorCode::kTimedOut,
          fmt::format("the {} did not complete the message within {} ms", where, timeout.count()),
          true, true);
      break;
    case CURLE_LOGIN_DENIED:
      set(ErrorCode::kPermissionDenied,
          "the " + where + " refused the login of user '" + o.username + "'", false, true);
      break;
    case CURLE_USE_SSL_FAILED:
      set(ErrorCode::kNotSupported, "the " + where + " does not offer STARTTLS and tls requires it",
          false, true);
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
      set(ErrorCode::kPermissionDenied,
          "the TLS certificate of the " + where + " is not trusted (set ca-file)", false, true);
      break;
    case CURLE_SSL_CACERT_BADFILE:
      set(ErrorCode::kInvalidArgument, "cannot read the CA file '" + o.ca_file + "'", false, true);
      break;
    case CURLE_SSL_CONNECT_ERROR:
      set(ErrorCode::kUnavailable, "TLS handshake with the " + where + " failed", true, true);
      break;
    default:
      if (reply >= 400 && reply < 500) {
        set(ErrorCode::kUnavailable,
            fmt::format("the {} answered {}: try again later", where, reply), true, false);
      } else if (reply == 530 || reply == 535 || reply == 538) {
        set(ErrorCode::kPermissionDenied,
            fmt::format("the {} requires authentication or TLS (reply {})", where, reply), false,
            true);
      } else if (reply >= 500) {
        set(ErrorCode::kInvalidArgument,
            fmt::format("the {} refused the message (reply {})", where, reply), false, false);
        e.recipient_refused = std::string_view(detail).find("RCPT") != std::string_view::npos;
      } else {
        set(ErrorCode::kUnavailable, "the transfer with the " + where + " failed", true, true);
      }
      break;
  }
  return std::unexpected(std::move(e));
}

}  // namespace fdr::drivers::email
