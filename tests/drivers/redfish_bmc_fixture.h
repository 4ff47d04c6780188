// A simulated Redfish BMC for the tests: lab/bmc/redfish_bmc.py (Python standard library; see
// there why not C++) started through lab/bmc/redfishsim.sh on 127.0.0.1, port 0 (the server
// picks a free port and reports it: no race), HTTPS with its own self-signed CA by default,
// in a temporary directory, stopped by its pid at destruction. Faults: modes (fail, stuck,
// hang, garbage, refuse-redundant, slow:N), freeze/thaw, stop.
#pragma once

#include <string>

#include "drivers/fencing_harness_fixture.h"
#include "freezer/model.h"

namespace fdr::testing {

class RedfishBmc {
 public:
  struct Config {
    bool tls = true;
    std::string systems = "1";  // comma-separated ComputerSystem ids
    std::string password = "Sim-Pa55w0rd";
  };
  static constexpr const char* kUser = "admin";

  RedfishBmc() : RedfishBmc(Config{}) {}
  explicit RedfishBmc(Config config);
  ~RedfishBmc();
  RedfishBmc(const RedfishBmc&) = delete;
  RedfishBmc& operator=(const RedfishBmc&) = delete;

  [[nodiscard]] bool ok() const { return error_.empty(); }
  [[nodiscard]] const std::string& error() const { return error_; }

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const;  // https://127.0.0.1:<port>
  [[nodiscard]] std::string dir() const { return run_dir_.path() + "/bmc"; }
  [[nodiscard]] std::string caFile() const { return dir() + "/tls/cert.pem"; }
  [[nodiscard]] const std::string& password() const { return config_.password; }

  // An inventory entry for this BMC: fencer-ip, fencer-port, credentials and, with TLS, the
  // BMC's own CA as redfish-ca-file.
  [[nodiscard]] Node node(const std::string& hostname = "compute-r") const;

  // "On" or "Off" from the state file (what really happened); the number of open sessions.
  [[nodiscard]] std::string power(const std::string& system = "1") const;
  [[nodiscard]] int sessions() const;
  [[nodiscard]] std::string log() const;

  bool setMode(const std::string& mode);
  bool setPower(const std::string& system, bool on);
  bool freeze();
  bool thaw();
  bool stop();

 private:
  bool run(const std::vector<std::string>& args, std::string* output = nullptr);

  Config config_;
  TempDir run_dir_;
  int port_ = 0;
  std::string error_;
};

}  // namespace fdr::testing
