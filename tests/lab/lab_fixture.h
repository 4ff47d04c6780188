// Shared by the lab tests: the lab's coordinates (lab.env), an admin session on its Keystone and
// Nova, booting servers pinned to a host, and taking a host down and back up.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clients/http/http_client.h"
#include "clients/keystone/keystone_client.h"
#include "clients/nova/nova_client.h"
#include "freezer/clock.h"
#include "freezer/result.h"

namespace fdr::lab {

// $FDR_LAB_ENV, or /var/tmp/freezer-dr-lab/lab.env.
std::string labEnvPath();
// KEY=VALUE lines; nullopt if the file cannot be read.
std::optional<std::map<std::string, std::string>> readLabEnv(const std::string& path);
std::vector<std::string> splitCsv(const std::string& text);
// Polls `done` every 500 ms until it returns true or `limit` passes (real time: lab only).
bool waitUntil(std::chrono::seconds limit, const std::function<bool()>& done);

// Runs a function when it goes out of scope, however the test ends.
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  ~Cleanup() {
    if (fn_) fn_();
  }

 private:
  std::function<void()> fn_;
};

// An admin session on the lab. SetUp() FAILS the test with a clear message if the lab is not up.
class LabTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // POST /servers/{id}/action {"os-stop": null}.
  [[nodiscard]] Status stopServer(const std::string& id);
  // Boots a server pinned to `host` (zone "nova:host"); returns its id.
  [[nodiscard]] Result<std::string> bootOn(const std::string& host, const std::string& name,
                                           std::map<std::string, std::string> metadata = {});
  // Waits until the server has `status` with no task state; the last state seen otherwise.
  [[nodiscard]] Status waitForStatus(const std::string& id, const std::string& status,
                                     std::chrono::seconds limit);
  // Runs a shell command line (its output goes to stderr) with FDR_LAB_STATE set to this lab's
  // state; true on exit code 0.
  [[nodiscard]] bool shell(const std::string& command);
  // lab/compute.sh <action> <host>; true on exit code 0.
  [[nodiscard]] bool computeSh(const std::string& action, const std::string& host);
  // Deletes the servers whose name starts with `prefix` (leftovers of an interrupted run).
  void deleteLeftovers(const std::string& prefix);

  std::map<std::string, std::string> env_;  // lab.env, then wiring.env
  std::vector<std::string> hosts_;
  SystemClock clock_;
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<keystone::KeystoneClient> keystone_;
  std::unique_ptr<nova::NovaClient> nova_;
};

}  // namespace fdr::lab
