// Invariant 4 on the real binary: `freezer-dr check` with the fake drivers is killed with
// SIGKILL at each journaled step (a test-only kill point, FREEZER_DR_KILL_AT), then run again.
// Every incident must finish and every instance of the failed node be evacuated exactly once,
// as counted by the fake cloud (a file both runs share).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "support/process.h"
#include "support/temp_dir.h"

namespace fdr::testing {
namespace {

constexpr const char* kInventory = R"(servers:
  - {id: 1, hostname: compute-1, ip-addr: 127.0.0.1}
  - {id: 2, hostname: compute-2, ip-addr: 127.0.0.1}
  - {id: 3, hostname: compute-3, ip-addr: 127.0.0.1}
  - {id: 4, hostname: compute-4, ip-addr: 127.0.0.1}
)";

std::string config(const TempDir& dir) {
  return "[DEFAULT]\n"
         "wait = 0.2\n"
         "poll-interval = 0.05\n"
         "journal = " +
         dir.file("journal.db") +
         "\n"
         "[monitoring]\n"
         "driver = fake\n"
         "[monitoring.fake]\n"
         "down-file = " +
         dir.file("down") +
         "\n"
         "[fencer]\n"
         "driver = fake\n"
         "credentials-file = " +
         dir.file("servers.yml") +
         "\n"
         "[fencer.fake]\n"
         "state-file = " +
         dir.file("power.json") +
         "\n"
         "[evacuation]\n"
         "driver = fake\n"
         "[evacuation.fake]\n"
         "cloud-file = " +
         dir.file("cloud.json") +
         "\n"
         "instances-per-node = 3\n"
         "rebuild-polls = 2\n"
         "[notifiers]\n"
         "driver = file\n"
         "endpoint = " +
         dir.file("notifications.jsonl") + "\n";
}

struct CrashBed {
  TempDir dir;
  CrashBed() {
    dir.write("servers.yml", kInventory);
    dir.write("freezer-dr.conf", config(dir));
    dir.write("down", "compute-2\n");
  }
  ProcessResult check(const std::map<std::string, std::string>& env = {}) const {
    return runProcess({binaryPath(), "--config-file", dir.file("freezer-dr.conf"), "check"}, env,
                      dir.path());
  }
  nlohmann::json cloud() const { return nlohmann::json::parse(slurp(dir.file("cloud.json"))); }
  nlohmann::json status() const {
    auto r =
        runProcess({binaryPath(), "--config-file", dir.file("freezer-dr.conf"), "status", "--json"},
                   {}, dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
};

// Every evacuation the fake cloud saw, per instance.
std::map<std::string, int> evacuationsPerInstance(const nlohmann::json& cloud) {
  std::map<std::string, int> count;
  for (const auto& e : cloud["evacuations"]) count[e["instance"].get<std::string>()] += 1;
  return count;
}

TEST(CrashTest, CleanRunRecoversTheFailedNode) {
  CrashBed setup;
  auto r = setup.check();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("phase done"), std::string::npos) << r.out;
  const auto count = evacuationsPerInstance(setup.cloud());
  EXPECT_EQ(count, (std::map<std::string, int>{
                       {"compute-2-vm1", 1}, {"compute-2-vm2", 1}, {"compute-2-vm3", 1}}));
}

class KillPointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KillPointTest, RestartFinishesAndEvacuatesEachInstanceOnce) {
  CrashBed setup;
  auto killed = setup.check({{"FREEZER_DR_KILL_AT", GetParam()}});
  ASSERT_EQ(killed.signal, SIGKILL)
      << "the kill point was never reached; exit " << killed.exit_code << "\n"
      << killed.out << killed.err;
  auto resumed = setup.check();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;

  const auto count = evacuationsPerInstance(setup.cloud());
  EXPECT_EQ(count, (std::map<std::string, int>{
                       {"compute-2-vm1", 1}, {"compute-2-vm2", 1}, {"compute-2-vm3", 1}}));
  const auto power = nlohmann::json::parse(slurp(setup.dir.file("power.json")));
  EXPECT_EQ(power["compute-2"], "off");
  for (const auto& [host, state] : power.items()) {
    if (host != "compute-2") ADD_FAILURE() << host << " was powered " << state;
  }

  const auto status = setup.status();
  ASSERT_TRUE(status.is_object());
  EXPECT_TRUE(status["open"].empty()) << status.dump(2);
  ASSERT_EQ(status["recent"].size(), 1u) << status.dump(2);
  EXPECT_EQ(status["recent"][0]["phase"], "done");
  for (const auto& instance : status["recent"][0]["instances"]) {
    EXPECT_EQ(instance["phase"], "done") << instance.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryJournaledStep, KillPointTest,
    ::testing::Values("after:detected", "after:power-off-requested", "effect:power-off-requested",
                      "after:power-observed", "after:fence-confirmed", "after:force-down-requested",
                      "effect:force-down-requested", "after:force-down-done",
                      "after:instances-listed", "after:evacuation-requested",
                      "after:evacuation-requested:2", "after:evacuation-requested:3",
                      "effect:evacuation-requested", "after:evacuation-accepted",
                      "after:evacuation-accepted:3", "after:instance-observed",
                      "after:instance-observed:4", "after:instance-observed:6",
                      "after:notifications-queued", "after:closed"),
    [](const ::testing::TestParamInfo<std::string>& param) {
      std::string name;
      for (char c : param.param) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

}  // namespace
}  // namespace fdr::testing
