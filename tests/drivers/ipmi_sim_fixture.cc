#include "drivers/ipmi_sim_fixture.h"

namespace fdr::testing {

IpmiSimBmcs::IpmiSimBmcs(int count, std::string password) : password_(std::move(password)) {
  for (int i = 0; i < count && ok(); ++i) {
    // The port is free when chosen; another process may take it before ipmi_sim binds it, so
    // a failed start is retried on another port.
    bool started = false;
    std::string last;
    for (int attempt = 0; attempt < 3 && !started; ++attempt) {
      const int port = freeUdpPort();
      std::string output;
      started = run({"start", name(i), std::to_string(port)}, &output);
      if (started) {
        ports_.push_back(port);
      } else {
        last = output;
      }
    }
    if (!started)
      error_ = "cannot start " + name(i) + ": " + last;
    else
      error_.clear();
  }
}

IpmiSimBmcs::~IpmiSimBmcs() {
  run({"stop-all"});
}

std::string IpmiSimBmcs::script() const {
  return sourceDir() + "/lab/bmc/bmcsim.sh";
}

bool IpmiSimBmcs::run(const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> argv = {"/bin/bash", script()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result =
      runCommand(argv, {"BMC_RUN_DIR=" + run_dir_.path(), "BMC_USER=" + std::string(kUser),
                        "BMC_PASSWORD=" + password_});
  if (output != nullptr) *output = result.output;
  if (result.exit_code != 0) {
    error_ = "bmcsim.sh";
    for (const auto& a : args) error_ += " " + a;
    error_ += ": " + result.output;
    return false;
  }
  return true;
}

Node IpmiSimBmcs::node(int i) const {
  Node node;
  node.id = std::to_string(i);
  node.hostname = "compute-" + std::to_string(i);
  node.ip_addr = "127.0.0.1";
  node.fencer_ip = "127.0.0.1";
  node.fencer_port = port(i);
  node.fencer_user = kUser;
  node.fencer_password = Secret(password_);
  node.source = "servers.yml (test)";
  return node;
}

std::optional<bool> IpmiSimBmcs::powerIsOn(int i) const {
  const std::string power = readFile(dir(i) + "/power");
  if (power.starts_with("1")) return true;
  if (power.starts_with("0")) return false;
  return std::nullopt;
}

std::string IpmiSimBmcs::log(int i) const {
  return readFile(dir(i) + "/log");
}

bool IpmiSimBmcs::setMode(int i, const std::string& mode) {
  return run({"mode", name(i), mode});
}
bool IpmiSimBmcs::setPower(int i, bool on) {
  return run({"power", name(i), on ? "1" : "0"});
}
bool IpmiSimBmcs::setHook(int i, const std::string& command) {
  return run({"hook", name(i), command});
}
bool IpmiSimBmcs::freeze(int i) {
  return run({"freeze", name(i)});
}
bool IpmiSimBmcs::thaw(int i) {
  return run({"thaw", name(i)});
}
bool IpmiSimBmcs::stop(int i) {
  return run({"stop", name(i)});
}

}  // namespace fdr::testing
