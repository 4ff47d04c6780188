// The freezer-dr command line as operators and scripts use it: exit codes, messages, the
// daemon's clean stop, the one-actor lock.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "support/process.h"
#include "support/temp_dir.h"

namespace fdr::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  CliTest() {
    dir_.write("servers.yml",
               "servers:\n"
               "  - {id: 1, hostname: compute-1, fencer-password: s3cr3t-pw}\n"
               "  - {id: 2, hostname: compute-2, fencer-password: s3cr3t-pw}\n"
               "  - {id: 3, hostname: compute-3, fencer-password: s3cr3t-pw}\n");
    dir_.write("down", "");
    writeConfig("");
  }
  void writeConfig(const std::string& extra) {
    dir_.write("freezer-dr.conf",
               "[DEFAULT]\nwait = 0.2\npoll-interval = 0.05\njournal = " + dir_.file("journal.db") +
                   "\n" + extra + "[monitoring]\ndriver = fake\n[monitoring.fake]\ndown-file = " +
                   dir_.file("down") +
                   "\n[fencer]\ndriver = fake\ncredentials-file = " + dir_.file("servers.yml") +
                   "\n[evacuation]\ndriver = fake\n[notifiers]\ndriver = file\nendpoint = " +
                   dir_.file("notes.jsonl") + "\n");
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {binaryPath(), "--config-file", dir_.file("freezer-dr.conf")});
    return runProcess(args, {}, dir_.path());
  }
  TempDir dir_;
};

TEST_F(CliTest, VersionAndHelp) {
  auto version = runProcess({binaryPath(), "--version"}, {}, dir_.path());
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("freezer-dr "), std::string::npos);
  for (const char* sub : {"run", "check", "validate", "status", "confirm-fenced", "fence"}) {
    auto help = runProcess({binaryPath(), sub, "--help"}, {}, dir_.path());
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_NE(help.out.find(sub), std::string::npos) << sub << help.out;
  }
}

TEST_F(CliTest, CheckWithNothingDownSaysSo) {
  auto r = run({"check"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "No failed nodes\n");
}

TEST_F(CliTest, DryRunChangesNothing) {
  dir_.write("down", "compute-1\n");
  auto r = run({"check", "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[dry-run] would power compute-1 off through fake"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("[dry-run] would evacuate instance compute-1-vm1"), std::string::npos)
      << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("journal.db")));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("notes.jsonl")));
}

TEST_F(CliTest, ValidateReportsEveryErrorWithFileAndLine) {
  dir_.write("freezer-dr.conf",
             "[DEFAULT]\nwiat = 3\n[fencer]\nretries = many\ncredentials-file = " +
                 dir_.file("servers.yml") + "\n[monitoring]\ndriver = nosuch\n");
  auto r = run({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("freezer-dr.conf:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'wait'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("freezer-dr.conf:4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("retries"), std::string::npos) << r.err;
}

TEST_F(CliTest, ValidateAcceptsAGoodConfigAndNeverPrintsSecrets) {
  auto r = run({"validate", "--log-level", "debug"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 node(s)"), std::string::npos) << r.out;
  EXPECT_EQ((r.out + r.err).find("s3cr3t-pw"), std::string::npos);
}

TEST_F(CliTest, MissingConfigFileIsNamed) {
  auto r = runProcess({binaryPath(), "--config-file", dir_.file("nope.conf"), "validate"}, {},
                      dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.conf"), std::string::npos) << r.err;
}

TEST_F(CliTest, FenceFailureExitsThreeAndConfirmFencedLetsItFinish) {
  writeConfig("");
  dir_.write("freezer-dr.conf",
             slurp(dir_.file("freezer-dr.conf")) + "[fencer.fake]\nfail = compute-2\n");
  dir_.write("down", "compute-2\n");
  // A short fence deadline keeps the test quick.
  std::string conf = slurp(dir_.file("freezer-dr.conf"));
  conf.replace(conf.find("[fencer]\n"), 9, "[fencer]\nattempt-timeout = 0.2\ndeadline = 0.5\n");
  dir_.write("freezer-dr.conf", conf);
  auto failed = run({"check"});
  EXPECT_EQ(failed.exit_code, 3) << failed.out << failed.err;
  EXPECT_NE(failed.out.find("phase fence-failed"), std::string::npos) << failed.out;

  auto confirmed = run({"confirm-fenced", "compute-2", "--who", "alice"});
  EXPECT_EQ(confirmed.exit_code, 0) << confirmed.err;
  auto resumed = run({"check"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("power-off confirmed by operator:alice"), std::string::npos)
      << resumed.out;
  EXPECT_NE(resumed.out.find("phase done"), std::string::npos) << resumed.out;
}

TEST_F(CliTest, DaemonStopsCleanlyOnSigtermAndHoldsTheLock) {
  pid_t daemon = startProcess({binaryPath(), "--config-file", dir_.file("freezer-dr.conf"), "run"},
                              {}, dir_.path());
  ASSERT_GT(daemon, 0);
  // Wait (bounded) until the daemon holds the journal lock: a second actor is refused.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  ProcessResult second;
  TempDir second_dir;
  while (std::chrono::steady_clock::now() < deadline) {
    second = runProcess({binaryPath(), "--config-file", dir_.file("freezer-dr.conf"), "check"}, {},
                        second_dir.path());
    if (second.exit_code == 2) break;
    std::this_thread::yield();
  }
  EXPECT_EQ(second.exit_code, 2) << second.out << second.err;
  EXPECT_NE(second.err.find("another freezer-dr"), std::string::npos) << second.err;
  // Status reads the journal while the daemon runs.
  auto status = run({"status", "--json"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(nlohmann::json::parse(status.out, nullptr, false).is_object()) << status.out;

  ASSERT_EQ(kill(daemon, SIGTERM), 0);
  auto stopped = waitProcess(daemon, dir_.path());
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.err.find("received SIGTERM"), std::string::npos) << stopped.err;
}

}  // namespace
}  // namespace fdr::testing
