#include "drivers/redfish_bmc_fixture.h"

#include <sstream>

namespace fdr::testing {

RedfishBmc::RedfishBmc(Config config) : config_(std::move(config)) {
  std::vector<std::string> args = {"start", "bmc", "0", "--systems", config_.systems};
  if (config_.tls) args.emplace_back("--tls");
  std::string output;
  if (!run(args, &output)) return;
  std::istringstream words(output);
  int pid = 0;
  words >> pid >> port_;
  if (port_ <= 0) error_ = "redfishsim.sh start printed '" + output + "'";
}

RedfishBmc::~RedfishBmc() {
  run({"stop", "bmc"});
}

bool RedfishBmc::run(const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> argv = {"/bin/bash", sourceDir() + "/lab/bmc/redfishsim.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result =
      runCommand(argv, {"BMC_RUN_DIR=" + run_dir_.path(), "BMC_USER=" + std::string(kUser),
                        "BMC_PASSWORD=" + config_.password});
  if (output != nullptr) *output = result.output;
  if (result.exit_code != 0) {
    error_ = "redfishsim.sh";
    for (const auto& a : args) error_ += " " + a;
    error_ += ": " + result.output;
    return false;
  }
  return true;
}

std::string RedfishBmc::url() const {
  return std::string(config_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

Node RedfishBmc::node(const std::string& hostname) const {
  Node node;
  node.id = hostname;
  node.hostname = hostname;
  node.fencer_ip = "127.0.0.1";
  node.fencer_port = port_;
  node.fencer_user = kUser;
  node.fencer_password = Secret(config_.password);
  node.source = "servers.yml (test)";
  node.extra["redfish-scheme"] = config_.tls ? "https" : "http";
  if (config_.tls) node.extra["redfish-ca-file"] = caFile();
  return node;
}

std::string RedfishBmc::power(const std::string& system) const {
  std::string text = readFile(dir() + "/systems/" + system + "/power");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

int RedfishBmc::sessions() const {
  const std::string text = readFile(dir() + "/sessions");
  return text.empty() ? -1 : std::stoi(text);
}

std::string RedfishBmc::log() const {
  return readFile(dir() + "/log");
}

bool RedfishBmc::setMode(const std::string& mode) {
  return run({"mode", "bmc", mode});
}
bool RedfishBmc::setPower(const std::string& system, bool on) {
  return run({"power", "bmc", system, on ? "On" : "Off"});
}
bool RedfishBmc::freeze() {
  return run({"freeze", "bmc"});
}
bool RedfishBmc::thaw() {
  return run({"thaw", "bmc"});
}
bool RedfishBmc::stop() {
  return run({"stop", "bmc"});
}

}  // namespace fdr::testing
