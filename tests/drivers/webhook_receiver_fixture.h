// A real HTTP(S) receiver for the webhook notifier's tests: tests/drivers/webhook_receiver.py
// (Python's http.server) on 127.0.0.1 and a free port, stopped by its PID when the object dies.
// Each request is read back as received (method, path, headers, body) with the receiver's own
// check of the HMAC signature.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/notifier_process_fixture.h"

namespace fdr::testing {

struct WebhookReceiverOptions {
  std::string secret;  // verify X-Freezer-Signature with it
  bool tls = false;    // HTTPS with a self-signed certificate
};

class WebhookReceiver {
 public:
  explicit WebhookReceiver(WebhookReceiverOptions options = {}) {
    std::vector<std::string> argv = {kPython,    sourceDir() + "/tests/drivers/webhook_receiver.py",
                                     "--listen", "127.0.0.1:0",
                                     "--dir",    dir_.file("requests")};
    if (!options.secret.empty()) argv.insert(argv.end(), {"--secret", options.secret});
    if (options.tls) {
      cert_ = makeCertificate(dir_);
      if (!cert_.error.empty()) {
        error_ = cert_.error;
        return;
      }
      argv.insert(argv.end(), {"--tls", cert_.cert, cert_.key});
    }
    port_ = startServer(process_, argv, dir_.file("receiver.log"), &error_);
    scheme_ = options.tls ? "https" : "http";
  }

  [[nodiscard]] bool ok() const { return error_.empty() && port_ > 0; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::string url(const std::string& path = "/hooks/T000/B000/XyZsecretToken") const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  [[nodiscard]] const std::string& certFile() const { return cert_.cert; }
  [[nodiscard]] std::string log() const { return slurp(dir_.file("receiver.log")); }

  // The requests received so far, in order (each is stored before its response is sent).
  [[nodiscard]] std::vector<nlohmann::json> requests() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_.file("requests"), ec)) {
      if (e.path().extension() == ".json") names.push_back(e.path().string());
    }
    std::sort(names.begin(), names.end());
    std::vector<nlohmann::json> out;
    for (const auto& name : names)
      out.push_back(nlohmann::json::parse(slurp(name), nullptr, false));
    return out;
  }

  // The status of the following responses.
  void setStatus(int status) const { dir_.write("requests/.status", std::to_string(status)); }

 private:
  TempDir dir_;
  TestCertificate cert_;
  ChildProcess process_;
  int port_ = 0;
  std::string scheme_;
  std::string error_;
};

}  // namespace fdr::testing
