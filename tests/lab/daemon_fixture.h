// End-to-end tests on the lab: freezer-dr runs as a daemon (the real binary) with the config
// lab/wire.sh generates (probe + nova monitors, IPMI fencing through each host's ipmi_sim BMC,
// Nova evacuation, e-mail to the capturing SMTP server), and the tests crash fake hosts for real.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lab/lab_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace fdr::lab {

// One message the lab's SMTP server captured.
struct CapturedMail {
  std::string file;
  std::vector<std::string> rcpt_tos;
  std::string subject;
  std::string text;
};

class DaemonLabTest : public LabTest {
 protected:
  // Every host up, enabled and powered on; a fresh journal for this test.
  void SetUp() override;
  // Stops the daemon, prints its log if the test failed, brings killed hosts back, deletes the
  // test's servers.
  void TearDown() override;

  // Adds `key = value` to [section] of this test's config (before startDaemon()).
  void setOption(const std::string& section, const std::string& key, const std::string& value);
  // freezer-dr run, as a daemon; `env` adds to its environment (FREEZER_DR_KILL_AT...).
  void startDaemon(const std::map<std::string, std::string>& env = {});
  // Waits for the daemon to exit (after a kill point) or sends it `signal`; returns the result.
  fdr::testing::ProcessResult stopDaemon(int signal);
  // The daemon's result once it has exited on its own (non-blocking), else nullopt.
  std::optional<fdr::testing::ProcessResult> pollDaemon();
  // freezer-dr --config-file <this test's config> ARGS...
  fdr::testing::ProcessResult cli(const std::vector<std::string>& args);
  // `status --json`, parsed (null on error).
  nlohmann::json status();
  // The newest incident (open or recent) of `host` in `status --json`, or null.
  nlohmann::json incidentOf(const std::string& host);
  // Polls the incident of `host` until `done` holds; returns the last seen (null if none).
  nlohmann::json waitIncident(const std::string& host, std::chrono::seconds limit,
                              const std::function<bool(const nlohmann::json&)>& done);

  // Boots `count` servers on `host` in `project` (lab/servers.sh); their ids.
  std::vector<std::string> bootServers(const std::string& host, const std::string& project,
                                       int count);
  // Crashes `host` (lab/host.sh kill) and remembers to bring it back.
  [[nodiscard]] bool killHost(const std::string& host);
  // lab/bmc/bmcsim.sh ARGS (BMC names: bmc-<host>).
  [[nodiscard]] bool bmcsim(const std::string& args);
  // "on", "off" or "" from the BMC's power file (the simulated chassis).
  std::string bmcPower(const std::string& host);

  // Messages captured since SetUp.
  std::vector<CapturedMail> newMail();
  // Waits until a captured message satisfies `match`.
  std::optional<CapturedMail> waitMail(std::chrono::seconds limit,
                                       const std::function<bool(const CapturedMail&)>& match);

  std::string prefix_;  // names of this test's servers
  fdr::testing::TempDir dir_;
  std::string config_;
  std::set<std::string> killed_;

 private:
  // The lab's captured mail as it was before the test (file name → modification time): a message
  // is this test's when its file is not here or was written again since (a restarted capture
  // server may reuse numbers).
  std::map<std::string, std::filesystem::file_time_type> mail_before_;
  pid_t daemon_ = -1;
  int daemon_runs_ = 0;
};

}  // namespace fdr::lab
