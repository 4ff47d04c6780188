// The freezer-dr command line as operators and scripts use it: exit codes, messages, the
// daemon's clean stop, the one-actor lock.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "support/poll.h"
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
  for (const char* sub :
       {"run", "check", "validate", "status", "confirm-fenced", "fence", "unfence"}) {
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

// `status` reads the journal only: not the inventory, which on a large cloud is most of the cost
// of reading the config (a broken one does not hide the journal either); validate still reads it.
TEST_F(CliTest, StatusDoesNotReadTheInventory) {
  dir_.write("servers.yml", "servers:\n  - {hostname: compute-1\n");  // unclosed: a YAML error
  auto status = run({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("no journal yet"), std::string::npos) << status.out;
  EXPECT_EQ(status.err.find("servers.yml"), std::string::npos) << status.err;
  auto validate = run({"validate"});
  EXPECT_EQ(validate.exit_code, 1);
  EXPECT_NE(validate.err.find("servers.yml:"), std::string::npos) << validate.err;
}

// The bmc monitor's fencer-options belong to another driver's schema: validate checks them
// too, naming the config line, instead of leaving the mistake to the daemon's start.
TEST_F(CliTest, ValidateChecksTheBmcMonitorsFencerOptions) {
  std::string conf = slurp(dir_.file("freezer-dr.conf"));
  conf.replace(conf.find("[monitoring]\ndriver = fake\n"), 26,
               "[monitoring]\ndriver = fake, bmc\n[monitoring.bmc]\nfencer = fake\n"
               "fencer-options = no-such-option=1\n");
  dir_.write("freezer-dr.conf", conf);
  auto bad = run({"validate"});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("fencer-options"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("no-such-option"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("freezer-dr.conf:"), std::string::npos) << bad.err;

  conf.replace(conf.find("no-such-option=1"), 16, "");
  dir_.write("freezer-dr.conf", conf);
  auto good = run({"validate"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
}

// FreeIPMI and libvirt (with GLib, GnuTLS, ICU: 6 MiB resident) are opened by their fencers when
// first created, not loaded with every process: the binary does not need them.
TEST_F(CliTest, TheBinaryLoadsTheFencersLibrariesOnlyWhenConfigured) {
  auto dump = runProcess({"/usr/bin/objdump", "-p", binaryPath()}, {}, dir_.path());
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  ASSERT_NE(dump.out.find("NEEDED"), std::string::npos) << dump.out;
  EXPECT_EQ(dump.out.find("libfreeipmi"), std::string::npos) << dump.out;
  EXPECT_EQ(dump.out.find("libvirt"), std::string::npos) << dump.out;
}

// The probe monitor's options are checked by validate, not only when the daemon starts: a port
// out of range and an unknown way of waiting on the connects are named with the config file.
TEST_F(CliTest, ValidateChecksTheProbeMonitorsOptions) {
  const std::string conf = slurp(dir_.file("freezer-dr.conf"));
  const auto with_probe = [&conf](const std::string& options) {
    std::string out = conf;
    out.replace(out.find("[monitoring]\ndriver = fake\n"), 26,
                "[monitoring]\ndriver = fake, probe\n[monitoring.probe]\n" + options);
    return out;
  };
  dir_.write("freezer-dr.conf", with_probe("port = 70000\n"));
  auto bad_port = run({"validate"});
  EXPECT_EQ(bad_port.exit_code, 1) << bad_port.out << bad_port.err;
  EXPECT_NE(bad_port.err.find("port must be 1..65535"), std::string::npos) << bad_port.err;
  EXPECT_NE(bad_port.err.find("freezer-dr.conf"), std::string::npos) << bad_port.err;

  dir_.write("freezer-dr.conf", with_probe("port = 22\nio = select\n"));
  auto bad_io = run({"validate"});
  EXPECT_EQ(bad_io.exit_code, 1) << bad_io.out << bad_io.err;
  EXPECT_NE(bad_io.err.find("io must be auto, io_uring or epoll"), std::string::npos)
      << bad_io.err;

  dir_.write("freezer-dr.conf", with_probe("port = 22\nio = epoll\n"));
  auto good = run({"validate"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
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

// A reserved host on the fake cloud: enabled, it takes what it has room for; the rest goes to
// the scheduler (the fallback); status and the users' notice say where each went and what
// happened to its disk.
TEST_F(CliTest, AReservedHostTakesWhatItCanAndStatusShowsIt) {
  dir_.write("cloud.json",
             R"({"services": {"compute-1": {}, "compute-2": {},
                              "compute-3": {"disabled": true, "capacity": 1}},
                 "instances": [
                   {"id": "vm-a", "name": "vm-a", "host": "compute-2", "status": "ACTIVE",
                    "project_id": "demo", "user_id": "u"},
                   {"id": "vm-b", "name": "vm-b", "host": "compute-2", "status": "ACTIVE",
                    "project_id": "demo", "user_id": "u"}]})");
  std::string conf = slurp(dir_.file("freezer-dr.conf"));
  conf.replace(conf.find("[evacuation]\ndriver = fake\n"), 27,
               "[evacuation]\ndriver = fake\nreserved-hosts = compute-3\n"
               "[evacuation.fake]\ncloud-file = " +
                   dir_.file("cloud.json") + "\n");
  dir_.write("freezer-dr.conf", conf);
  ASSERT_EQ(run({"fence", "compute-2", "--who", "bob"}).exit_code, 0);
  auto fenced = run({"check"});
  ASSERT_EQ(fenced.exit_code, 0) << fenced.out << fenced.err;

  auto status = run({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("phase done"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("reserved host compute-3: full (reserved host compute-3 could not "
                            "take "),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("-> compute-3  down"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("-> compute-1  down"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("asked: reserved host compute-3"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("      disk: image-backed: its local disk is rebuilt from its image"),
            std::string::npos)
      << status.out;

  auto json_status = run({"status", "--json"});
  ASSERT_EQ(json_status.exit_code, 0) << json_status.err;
  const auto doc = nlohmann::json::parse(json_status.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << json_status.out;
  const auto& incident = doc["recent"][0];
  ASSERT_EQ(incident["reserved_hosts"].size(), 1U) << incident.dump(2);
  EXPECT_EQ(incident["reserved_hosts"][0]["host"], "compute-3");
  EXPECT_EQ(incident["reserved_hosts"][0]["state"], "full");
  for (const auto& r : incident["instances"]) {
    EXPECT_EQ(r["phase"], "done") << r.dump();
    EXPECT_NE(r["disk"].get<std::string>().find("rebuilt from its image"), std::string::npos);
  }
  const auto cloud = nlohmann::json::parse(slurp(dir_.file("cloud.json")), nullptr, false);
  EXPECT_FALSE(cloud["services"]["compute-3"].value("disabled", true)) << "enabled by freezer-dr";

  const std::string notes = slurp(dir_.file("notes.jsonl"));
  EXPECT_NE(notes.find("\"disk\":\"image-backed: its local disk is rebuilt from its image"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("Reserved host compute-3: full, 1 instance(s) now on it"), std::string::npos)
      << notes;
}

TEST_F(CliTest, UnfenceBringsAFencedNodeBackIntoService) {
  ASSERT_EQ(run({"check"}).exit_code, 0);  // creates the journal
  auto fence = run({"fence", "compute-2", "--who", "bob"});
  ASSERT_EQ(fence.exit_code, 0) << fence.err;
  auto fenced = run({"check"});
  ASSERT_EQ(fenced.exit_code, 0) << fenced.out << fenced.err;
  ASSERT_NE(fenced.out.find("phase done"), std::string::npos) << fenced.out;

  auto unknown = run({"unfence", "compute-9"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("compute-9 is not in the inventory"), std::string::npos)
      << unknown.err;

  auto queued = run({"unfence", "compute-2", "--who", "alice"});
  ASSERT_EQ(queued.exit_code, 0) << queued.err;
  EXPECT_NE(queued.out.find("queued: alice asks to unfence compute-2"), std::string::npos)
      << queued.out;
  auto unfenced = run({"check"});
  EXPECT_EQ(unfenced.exit_code, 0) << unfenced.out << unfenced.err;
  EXPECT_NE(unfenced.out.find("compute-2 is back in service (unfenced by alice)"),
            std::string::npos)
      << unfenced.out << unfenced.err;
  const std::string notes = slurp(dir_.file("notes.jsonl"));
  EXPECT_NE(notes.find("node-back-in-service"), std::string::npos) << notes;

  auto status = run({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const auto doc = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << status.out;
  ASSERT_FALSE(doc["recent"].empty());
  EXPECT_EQ(doc["recent"][0]["unfence"]["step"], "done");
  EXPECT_EQ(doc["recent"][0]["unfence"]["who"], "alice");

  // Once back in service, a second unfence is refused by the daemon (nothing to undo).
  ASSERT_EQ(run({"unfence", "compute-2"}).exit_code, 0);
  auto again = run({"check"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(again.out.find("back in service"), std::string::npos) << again.out;
}

TEST_F(CliTest, DaemonStopsCleanlyOnSigtermAndHoldsTheLock) {
  pid_t daemon = startProcess({binaryPath(), "--config-file", dir_.file("freezer-dr.conf"), "run"},
                              {}, dir_.path());
  ASSERT_GT(daemon, 0);
  // Wait (bounded) until the daemon holds the journal lock: it says "watching" only once the
  // journal is open (a `check` run before that could take the lock first and keep the daemon
  // out). Then a second actor is refused.
  ASSERT_TRUE(
      pollUntil(std::chrono::seconds(30),
                [&] { return slurp(dir_.file("stderr")).find("watching") != std::string::npos; }))
      << "the daemon did not start: " << slurp(dir_.file("stderr"));
  TempDir second_dir;
  const ProcessResult second =
      runProcess({binaryPath(), "--config-file", dir_.file("freezer-dr.conf"), "check"}, {},
                 second_dir.path());
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
