// A real SMTP server for the e-mail notifier's tests: lab/smtp/smtp-capture.py (Debian's
// python3-aiosmtpd) on 127.0.0.1 and a free port, in a temporary directory, stopped by its PID
// when the object dies. Each message it accepts is read back with its envelope (MAIL FROM,
// RCPT TO) and as Python's email package parses it. Header-only (tests/lab uses it too).
#pragma once

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/notifier_process_fixture.h"

namespace fdr::testing {

struct SmtpCaptureOptions {
  std::string user;  // with password: AUTH required
  std::string password;
  bool tls = false;                      // offer STARTTLS (self-signed certificate)
  bool require_tls = false;              // refuse MAIL before STARTTLS
  bool smtps = false;                    // implicit TLS
  std::string refuse;                    // a reply to every DATA, e.g. "554 5.7.1 no"
  std::vector<std::string> reject_rcpt;  // answered 550 at RCPT TO
};

struct CapturedMail {
  nlohmann::json envelope;  // smtp-capture.py's NNNNNN.json
  std::string raw;          // the DATA as received

  [[nodiscard]] std::string mailFrom() const { return envelope.value("mail_from", ""); }
  [[nodiscard]] std::vector<std::string> rcptTos() const {
    return envelope.value("rcpt_tos", std::vector<std::string>{});
  }
  [[nodiscard]] const nlohmann::json& parsed() const { return envelope.at("parsed"); }
  // A header decoded by Python's parser (RFC 2047 words decoded, folding removed); "" if none.
  [[nodiscard]] std::string header(const std::string& name) const {
    const auto& headers = parsed().at("headers");
    if (!headers.contains(name)) return "";
    return headers.at(name).at(0).get<std::string>();
  }
  [[nodiscard]] int headerCount(const std::string& name) const {
    const auto& headers = parsed().at("headers");
    return headers.contains(name) ? static_cast<int>(headers.at(name).size()) : 0;
  }
  // The header as it went over the wire (folding removed), "" if none.
  [[nodiscard]] std::string rawHeader(const std::string& name) const {
    const std::string head = raw.substr(0, raw.find("\r\n\r\n"));
    const std::string key = "\r\n" + name + ": ";
    const std::string text = "\r\n" + head;
    const size_t at = text.find(key);
    if (at == std::string::npos) return "";
    std::string value;
    size_t pos = at + key.size();
    while (true) {
      const size_t end = text.find("\r\n", pos);
      value += text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (end == std::string::npos || end + 2 >= text.size() ||
          (text[end + 2] != ' ' && text[end + 2] != '\t')) {
        break;
      }
      pos = end + 2;
    }
    return value;
  }
  // The text and HTML parts as a mail client shows them: decoded, line ends as "\n" (on the
  // wire they are CRLF), so that tests can look for blank lines.
  [[nodiscard]] std::string text() const { return part("text"); }
  [[nodiscard]] std::string html() const { return part("html"); }
  [[nodiscard]] std::vector<std::string> defects() const {
    return parsed().value("defects", std::vector<std::string>{});
  }
  // A decoded part ("text", "html") with CRLF line ends turned into "\n".
  [[nodiscard]] std::string part(const char* name) const {
    const auto& p = parsed().at(name);
    std::string out = p.is_string() ? p.get<std::string>() : "";
    for (size_t at = out.find("\r\n"); at != std::string::npos; at = out.find("\r\n", at)) {
      out.erase(at, 1);
    }
    return out;
  }
};

class SmtpCapture {
 public:
  explicit SmtpCapture(SmtpCaptureOptions options = {}) : options_(std::move(options)) {
    if (dir_.path().empty()) {
      error_ = "cannot create a temporary directory";
      return;
    }
    std::vector<std::string> argv = {kPython,    sourceDir() + "/lab/smtp/smtp-capture.py",
                                     "--listen", "127.0.0.1:0",
                                     "--dir",    inbox()};
    if (options_.tls || options_.smtps) {
      cert_ = makeCertificate(dir_);
      if (!cert_.error.empty()) {
        error_ = cert_.error;
        return;
      }
      argv.insert(argv.end(), {"--tls", cert_.cert, cert_.key});
      if (options_.smtps) argv.push_back("--smtps");
      if (options_.require_tls) argv.push_back("--require-tls");
    }
    if (!options_.user.empty())
      argv.insert(argv.end(), {"--auth", options_.user + ":" + options_.password});
    if (!options_.refuse.empty()) argv.insert(argv.end(), {"--refuse", options_.refuse});
    for (const auto& a : options_.reject_rcpt) argv.insert(argv.end(), {"--reject-rcpt", a});
    port_ = startServer(process_, argv, dir_.file("smtp.log"), &error_);
  }

  [[nodiscard]] bool ok() const { return error_.empty() && port_ > 0; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return process_.pid(); }
  [[nodiscard]] const std::string& certFile() const { return cert_.cert; }
  [[nodiscard]] std::string inbox() const { return dir_.file("inbox"); }
  [[nodiscard]] std::string log() const { return slurp(dir_.file("smtp.log")); }

  // Every message accepted so far, in order. A message is stored before the server answers
  // the end of DATA, so everything a successful send() sent is here.
  [[nodiscard]] std::vector<CapturedMail> messages() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(inbox(), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".json")) names.push_back(name.substr(0, name.size() - 5));
    }
    std::sort(names.begin(), names.end());
    std::vector<CapturedMail> out;
    for (const auto& base : names) {
      CapturedMail m;
      m.envelope = nlohmann::json::parse(slurp(inbox() + "/" + base + ".json"), nullptr, false);
      m.raw = slurp(inbox() + "/" + base + ".eml");
      out.push_back(std::move(m));
    }
    return out;
  }

  // These addresses get "451 try again later" at RCPT TO from now on; {} ends that.
  void setTempFailures(const std::vector<std::string>& addresses) const {
    std::string text;
    for (const auto& a : addresses) text += a + "\n";
    dir_.write("inbox/.tempfail-rcpt", text);
  }

  // Every following DATA gets this reply ("451 4.3.0 busy"); "" goes back to accepting.
  void setReply(const std::string& reply) const {
    const std::string path = inbox() + "/.reply";
    if (reply.empty()) {
      std::filesystem::remove(path);
    } else {
      dir_.write("inbox/.reply", reply + "\n");
    }
  }

 private:
  SmtpCaptureOptions options_;
  TempDir dir_;
  TestCertificate cert_;
  ChildProcess process_;
  int port_ = 0;
  std::string error_;
};

}  // namespace fdr::testing
