// The guards through the command line: `pause` / `resume` as an operator uses them (queued,
// carried out by the acting freezer-dr, shown by `status`), and the isolation check stopping
// `check` from fencing when the controller reaches none of its reference points.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "support/process.h"
#include "support/temp_dir.h"

namespace fdr::testing {
namespace {

class GuardsCliTest : public ::testing::Test {
 protected:
  GuardsCliTest() {
    dir_.write("servers.yml",
               "servers:\n"
               "  - {id: 1, hostname: compute-1}\n"
               "  - {id: 2, hostname: compute-2}\n"
               "  - {id: 3, hostname: compute-3}\n");
    dir_.write("down", "");
    writeConfig("");
  }
  void writeConfig(const std::string& monitoring_extra) {
    dir_.write("freezer-dr.conf",
               "[DEFAULT]\nwait = 0.2\npoll-interval = 0.05\njournal = " + dir_.file("journal.db") +
                   "\n[monitoring]\ndriver = fake\n" + monitoring_extra +
                   "[monitoring.fake]\ndown-file = " + dir_.file("down") +
                   "\n[fencer]\ndriver = fake\ncredentials-file = " + dir_.file("servers.yml") +
                   "\n[evacuation]\ndriver = fake\n[notifiers]\ndriver = file\nendpoint = " +
                   dir_.file("notes.jsonl") + "\n");
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {binaryPath(), "--config-file", dir_.file("freezer-dr.conf")});
    return runProcess(args, {}, dir_.path());
  }
  nlohmann::json statusJson() {
    auto r = run({"status", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  TempDir dir_;
};

TEST_F(GuardsCliTest, PauseAndResumeHaveHelp) {
  for (const char* sub : {"pause", "resume"}) {
    auto help = runProcess({binaryPath(), sub, "--help"}, {}, dir_.path());
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_NE(help.out.find("--reason"), std::string::npos) << sub << help.out;
  }
}

TEST_F(GuardsCliTest, PauseStopsFencingStatusShowsItAndResumeFences) {
  // `check` applies the queued command first, then sees compute-1 down.
  run({"check"});  // creates the journal: nothing down yet
  auto paused = run({"pause", "--reason", "switch upgrade in rack 4", "--who", "alice"});
  ASSERT_EQ(paused.exit_code, 0) << paused.err;
  EXPECT_NE(paused.out.find("queued: alice pauses automatic fencing (switch upgrade in rack 4)"),
            std::string::npos)
      << paused.out;
  // Not carried out yet: status says so.
  auto pending = run({"status"});
  EXPECT_NE(pending.out.find("pending: pause asked by alice"), std::string::npos) << pending.out;
  EXPECT_EQ(statusJson()["pending_commands"].size(), 1u);

  dir_.write("down", "compute-1\n");
  auto vetoed = run({"check"});
  EXPECT_EQ(vetoed.exit_code, 3) << vetoed.out << vetoed.err;
  EXPECT_NE(vetoed.out.find("not fenced: compute-1: automatic fencing is paused"),
            std::string::npos)
      << vetoed.out;
  EXPECT_EQ(vetoed.out.find("phase"), std::string::npos) << vetoed.out;  // no incident

  auto status = run({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("automatic fencing is PAUSED by alice since "), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find(": switch upgrade in rack 4"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("not fenced: compute-1: automatic fencing is paused"),
            std::string::npos)
      << status.out;
  nlohmann::json doc = statusJson();
  EXPECT_EQ(doc["paused"], true) << doc.dump();
  EXPECT_EQ(doc["pause"]["by"], "alice") << doc.dump();
  EXPECT_EQ(doc["pause"]["reason"], "switch upgrade in rack 4") << doc.dump();
  EXPECT_TRUE(doc["pending_commands"].empty()) << doc.dump();
  EXPECT_NE(slurp(dir_.file("notes.jsonl")).find("automatic fencing paused by alice"),
            std::string::npos);

  ASSERT_EQ(run({"resume", "--who", "bob"}).exit_code, 0);
  auto fenced = run({"check"});
  EXPECT_EQ(fenced.exit_code, 0) << fenced.out << fenced.err;
  EXPECT_NE(fenced.out.find("node compute-1  phase done"), std::string::npos) << fenced.out;
  doc = statusJson();
  EXPECT_EQ(doc["paused"], false) << doc.dump();
  EXPECT_EQ(doc["pause"]["by"], "bob") << doc.dump();
  EXPECT_NE(run({"status"}).out.find("automatic fencing is active (resumed by bob"),
            std::string::npos);
}

TEST_F(GuardsCliTest, AnIsolatedControllerFencesNothingAndStatusSaysSo) {
  // The kernel refuses to send to the broadcast address: the one reference point never answers.
  writeConfig("reference-points = 255.255.255.255:9\n");
  dir_.write("down", "compute-2\n");
  auto r = run({"check"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("isolation: the controller reaches 0 of its 1 reference points"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("not fenced: compute-2: the controller looks cut off"), std::string::npos)
      << r.out;
  auto status = run({"status"});
  EXPECT_NE(status.out.find("controller ISOLATED since "), std::string::npos) << status.out;
  const nlohmann::json doc = statusJson();
  EXPECT_NE(doc["isolation"].get<std::string>().find("255.255.255.255:9"), std::string::npos)
      << doc.dump();
}

}  // namespace
}  // namespace fdr::testing
