// Simulated IPMI BMCs for the tests: N OpenIPMI `ipmi_sim` processes on loopback UDP ports, one
// per node, started through lab/bmc/bmcsim.sh (generated lan.conf, chassis control script,
// readiness by a real power-status query) in a temporary directory, and stopped by their pids
// at destruction. Faults are the script's: modes (fail, refuse-off, stuck, hang, slow:N),
// freeze/thaw (SIGSTOP/SIGCONT), stop.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "drivers/fencing_harness_fixture.h"
#include "freezer/model.h"

namespace fdr::testing {

class IpmiSimBmcs {
 public:
  static constexpr const char* kUser = "admin";

  // Starts `count` BMCs named bmc0..bmc<count-1>, all powered on. Check ok() (and error()).
  explicit IpmiSimBmcs(int count, std::string password = "Sim-Pa55w0rd");
  ~IpmiSimBmcs();
  IpmiSimBmcs(const IpmiSimBmcs&) = delete;
  IpmiSimBmcs& operator=(const IpmiSimBmcs&) = delete;

  [[nodiscard]] bool ok() const { return error_.empty(); }
  [[nodiscard]] const std::string& error() const { return error_; }

  // The inventory entry of node i: hostname compute-<i>, its BMC's address, port, credentials.
  [[nodiscard]] Node node(int i) const;
  [[nodiscard]] int port(int i) const { return ports_.at(i); }
  [[nodiscard]] std::string name(int i) const { return "bmc" + std::to_string(i); }
  [[nodiscard]] std::string dir(int i) const { return run_dir_.path() + "/" + name(i); }
  [[nodiscard]] const std::string& password() const { return password_; }

  // The simulated power, read from the BMC's state file (what really happened).
  [[nodiscard]] std::optional<bool> powerIsOn(int i) const;
  [[nodiscard]] std::string log(int i) const;

  // bmcsim.sh commands; each returns whether the script succeeded (details in error()).
  bool setMode(int i, const std::string& mode);
  bool setPower(int i, bool on);
  bool setHook(int i, const std::string& command);
  bool freeze(int i);
  bool thaw(int i);
  bool stop(int i);

  [[nodiscard]] std::string script() const;

 private:
  bool run(const std::vector<std::string>& args, std::string* output = nullptr);

  TempDir run_dir_;
  std::string password_;
  std::vector<int> ports_;
  std::string error_;
};

}  // namespace fdr::testing
