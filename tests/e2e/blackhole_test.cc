// Issue #12 with real processes: the daemon (`freezer-dr run`) while its dependencies hang.
// Keystone and Nova are a loopback listener that accepts and never answers; the mail server is
// the real SMTP capture server stopped with SIGSTOP (the kernel still completes connects, nothing
// answers); the reference point is a port whose SYNs are dropped. The isolation verdict and its
// alert must be queued while everything hangs; once the path to the reference point is back, a
// failed node (fake monitor, fencer and cloud) is recovered to `done` while the mail server
// still hangs; after SIGCONT the mail arrives. Never asserts on wall time: each wait is for an
// outcome, with a limit far above what it needs.
#include <signal.h>
#include <sys/types.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "drivers/smtp_capture_fixture.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/silent_tcp.h"
#include "support/temp_dir.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kInventory = R"(servers:
  - {id: 1, hostname: compute-1, ip-addr: 127.0.0.1}
  - {id: 2, hostname: compute-2, ip-addr: 127.0.0.1}
  - {id: 3, hostname: compute-3, ip-addr: 127.0.0.1}
)";

class BlackholeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nova_.ok()) << nova_.error();
    ASSERT_TRUE(reference_.ok()) << reference_.error();
    ASSERT_TRUE(smtp_.ok()) << smtp_.error();
    dir_.write("servers.yml", kInventory);
    dir_.write("down", "");
    dir_.write(
        "freezer-dr.conf",
        "[DEFAULT]\nwait = 0.5\npoll-interval = 0.25\njournal = " + dir_.file("journal.db") +
            "\n[keystone_authtoken]\nauth_url = http://" + nova_.address() +
            "/identity/v3\nusername = admin\npassword = blackhole-secret-42\n"
            "project_name = admin\nuser_domain_name = Default\nproject_domain_name = Default\n"
            "[monitoring]\ndriver = fake, nova\nreference-points = " +
            reference_.address() +
            "\nreference-points-required = 1\nreference-timeout = 0.2\n"
            "[monitoring.fake]\ndown-file = " +
            dir_.file("down") + "\n[fencer]\ndriver = fake\ncredentials-file = " +
            dir_.file("servers.yml") + "\n[fencer.fake]\nstate-file = " + dir_.file("power.json") +
            "\n[evacuation]\ndriver = fake\n[evacuation.fake]\ncloud-file = " +
            dir_.file("cloud.json") +
            "\ninstances-per-node = 3\nrebuild-polls = 2\n"
            "[notifiers]\ndriver = email\nendpoint = 127.0.0.1:" +
            std::to_string(smtp_.port()) +
            "\nnotify-list = ops@example.test\nnotify-from = freezer-dr@example.test\n");
  }
  void TearDown() override {
    if (smtp_stopped_) ::kill(smtp_.pid(), SIGCONT);
    if (daemon_ > 0) {
      ::kill(daemon_, SIGTERM);
      const ProcessResult r = waitProcess(daemon_, dir_.file("daemon"));
      daemon_ = -1;
      EXPECT_EQ(r.exit_code, 0) << r.err;
      // Invariant 5: the Keystone password never reaches the log.
      EXPECT_EQ(r.err.find("blackhole-secret-42"), std::string::npos);
    }
  }
  void startDaemon() {
    // Its own directory for its output: the status runs write theirs into dir_.
    std::filesystem::create_directories(dir_.file("daemon"));
    daemon_ = startProcess({binaryPath(), "--config-file", dir_.file("freezer-dr.conf"),
                            "--log-level", "debug", "run"},
                           {}, dir_.file("daemon"));
    ASSERT_GT(daemon_, 0);
  }
  void stopSmtp() {
    ASSERT_EQ(::kill(smtp_.pid(), SIGSTOP), 0);
    smtp_stopped_ = true;
  }
  void resumeSmtp() {
    ASSERT_EQ(::kill(smtp_.pid(), SIGCONT), 0);
    smtp_stopped_ = false;
  }
  nlohmann::json status() const {
    const ProcessResult r = runProcess(
        {binaryPath(), "--config-file", dir_.file("freezer-dr.conf"), "status", "--json"}, {},
        dir_.path());
    nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !doc.is_object()) return nlohmann::json::object();
    return doc;
  }
  static std::string isolation(const nlohmann::json& doc) {
    return doc.contains("isolation") && doc["isolation"].is_string()
               ? doc["isolation"].get<std::string>()
               : "";
  }
  static bool hasAlert(const nlohmann::json& doc, const std::string& kind) {
    if (!doc.contains("undelivered_notifications")) return false;
    for (const auto& item : doc["undelivered_notifications"]) {
      if (item.dump().find(kind) != std::string::npos) return true;
    }
    return false;
  }
  // Undelivered notifications for this audience ("admins", "project").
  static int undelivered(const nlohmann::json& doc, const std::string& audience) {
    int n = 0;
    if (!doc.contains("undelivered_notifications")) return -1;
    for (const auto& item : doc["undelivered_notifications"]) {
      if (item["notification"].value("audience", "") == audience) ++n;
    }
    return n;
  }
  // The phase of compute-1's latest incident; "" if none.
  static std::string phaseOf(const nlohmann::json& doc) {
    for (const char* list : {"open", "recent"}) {
      if (!doc.contains(list)) continue;
      for (const auto& i : doc[list]) {
        if (i.value("node", "") == "compute-1") return i.value("phase", "");
      }
    }
    return "";
  }
  std::string log() const { return slurp(dir_.file("daemon/stderr")); }

  SilentServer nova_;        // Keystone and Nova: accepts, never answers
  BlackholePort reference_;  // the reference point: SYNs dropped
  SmtpCapture smtp_;         // the real SMTP server, stopped during the test
  TempDir dir_;
  pid_t daemon_ = -1;
  bool smtp_stopped_ = false;
};

TEST_F(BlackholeTest, IsolationIsAlertedWhileEverythingHangsAndRecoveryDoesNotWaitForMail) {
  stopSmtp();
  startDaemon();

  // Everything hangs: the verdict and its alert are journaled meanwhile.
  nlohmann::json doc;
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        doc = status();
        return !isolation(doc).empty() && hasAlert(doc, "isolat");
      },
      100ms))
      << doc.dump(2) << "\n"
      << log();
  EXPECT_NE(isolation(doc).find(reference_.address()), std::string::npos) << doc.dump(2);
  EXPECT_GT(nova_.connections(), 0) << "the daemon never called the hung Keystone/Nova";
  EXPECT_TRUE(smtp_.messages().empty());

  // The path to the reference point comes back (Nova and the mail server still hang); then a
  // node fails and is recovered on the fake drivers without waiting for either.
  reference_.open();
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        doc = status();
        return doc.contains("isolation") && isolation(doc).empty();
      },
      100ms))
      << doc.dump(2) << "\n"
      << log();
  dir_.write("down", "compute-1\n");
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        doc = status();
        return phaseOf(doc) == "done";
      },
      100ms))
      << doc.dump(2) << "\n"
      << log();
  EXPECT_GT(reference_.accepted(), 0);
  EXPECT_TRUE(smtp_.messages().empty()) << "the mail server is stopped";
  EXPECT_TRUE(hasAlert(doc, "incident")) << "the recovery's notices wait in the outbox\n"
                                         << doc.dump(2);

  // The mail server resumes: what waited for it is delivered. The users' notice still waits:
  // their addresses come from Keystone, which still hangs.
  resumeSmtp();
  ASSERT_TRUE(pollUntil(
      120s,
      [&] {
        doc = status();
        return undelivered(doc, "admins") == 0 && doc.contains("undelivered_notifications");
      },
      200ms))
      << doc.dump(2) << "\n"
      << log();
  EXPECT_EQ(undelivered(doc, "project"), 1) << doc.dump(2);
  std::string subjects;
  for (const CapturedMail& m : smtp_.messages()) subjects += m.header("Subject") + "\n";
  EXPECT_NE(subjects.find("compute-1"), std::string::npos) << subjects;
  EXPECT_NE(subjects.find("isolat"), std::string::npos) << subjects;

  // SIGTERM while the users' lookup still hangs on Keystone: the daemon does not wait for it.
  ::kill(daemon_, SIGTERM);
  const ProcessResult stopped = waitProcess(daemon_, dir_.file("daemon"));
  daemon_ = -1;
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.err.find("still running after 2 s (no answer yet); exiting without them"),
            std::string::npos)
      << stopped.err;
  EXPECT_EQ(stopped.err.find("blackhole-secret-42"), std::string::npos);
}

}  // namespace
}  // namespace fdr::testing
