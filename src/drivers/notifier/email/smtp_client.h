// SMTP submission over libcurl: plain, STARTTLS (opportunistic or required) or SMTPS, AUTH,
// bounded by a connect timeout and a total timeout per message. One SmtpSession per batch of
// messages reuses one connection. Never retries: the caller (the outbox) does.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "freezer/clock.h"
#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr::drivers::email {

enum class SmtpTls {
  kOff,            // never TLS (a local relay)
  kOpportunistic,  // STARTTLS when the server offers it
  kStartTls,       // STARTTLS required: refuse to go on without it
  kImplicit,       // SMTPS: TLS from the first byte (port 465)
};

struct SmtpOptions {
  std::string host;
  int port = 25;
  SmtpTls tls = SmtpTls::kOpportunistic;
  std::string helo_name = "localhost";  // EHLO argument
  std::string username;                 // empty: no AUTH
  Secret password;
  std::string ca_file;  // empty: the system's CA bundle
  bool insecure = false;
  Duration connect_timeout{std::chrono::seconds(10)};
  Duration timeout{std::chrono::seconds(30)};  // per message, connect included
};

struct SmtpEnvelope {
  std::string mail_from;
  std::vector<std::string> rcpt_to;
};

// What a failed transaction means for its recipients.
struct SmtpError {
  Error error;
  int reply_code = 0;  // the server's last SMTP reply code, 0 if none
  // True when the server refused the recipient(s) permanently (5xx to RCPT TO): repeating the
  // same message to the same address will not help.
  bool recipient_refused = false;
  // True when the failure is about the connection or the server, not this message: the rest of
  // a batch would fail the same way.
  bool session_failed = false;
};

// "smtp://host:port/helo" or "smtps://...", IPv6 hosts in brackets.
[[nodiscard]] std::string smtpUrl(const SmtpOptions& options);

class SmtpSession {
 public:
  explicit SmtpSession(const SmtpOptions& options);
  ~SmtpSession();
  SmtpSession(const SmtpSession&) = delete;
  SmtpSession& operator=(const SmtpSession&) = delete;

  // Sends one message (CRLF line ends). Any recipient refused fails the whole transaction
  // (nothing is delivered): send one recipient per call to handle each address on its own.
  [[nodiscard]] std::expected<void, SmtpError> send(const SmtpEnvelope& envelope,
                                                    const std::string& data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fdr::drivers::email
