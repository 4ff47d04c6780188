// Controller HA on the real binary (issue #15, safety invariant 3): two or three freezer-dr
// daemons on one etcd cluster (three real etcd members on loopback), the fake drivers sharing
// their files (power states, the fake cloud's evacuations). Only the leader acts; a standby
// takes over an open incident from the shared journal and every instance is evacuated exactly
// once; a paused or cut-off leader stops acting and, woken, performs nothing.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "support/etcd_cluster.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kInventory = R"(servers:
  - {id: 1, hostname: compute-1, ip-addr: 127.0.0.1}
  - {id: 2, hostname: compute-2, ip-addr: 127.0.0.1}
  - {id: 3, hostname: compute-3, ip-addr: 127.0.0.1}
  - {id: 4, hostname: compute-4, ip-addr: 127.0.0.1}
)";

std::string joinEndpoints(const std::vector<std::string>& endpoints) {
  std::string out;
  for (const auto& e : endpoints) out += (out.empty() ? "" : ",") + e;
  return out;
}

// One daemon: its own directory for its config (its [ha] name) and output.
struct Daemon {
  std::string name;
  std::string dir;
  pid_t pid = -1;
  ProcessResult result;  // once it ended
  bool ended = false;

  bool running() {
    if (pid <= 0 || ended) return false;
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == 0) return true;
    ended = true;
    result.out = slurp(dir + "/stdout");
    result.err = slurp(dir + "/stderr");
    if (r == pid && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (r == pid && WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    return false;
  }
  std::string log() const { return slurp(dir + "/stderr"); }
};

class HaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::available()) GTEST_SKIP() << EtcdCluster::whyUnavailable();
    cluster_ = std::make_unique<EtcdCluster>(3);
    ASSERT_TRUE(cluster_->ready()) << cluster_->error();
    dir_.write("servers.yml", kInventory);
  }

  void TearDown() override {
    for (auto& [name, d] : daemons_) {
      if (d.running()) {
        kill(d.pid, SIGCONT);
        kill(d.pid, SIGKILL);
        waitpid(d.pid, nullptr, 0);
      }
    }
  }

  std::string config(const std::string& name) const {
    return "[DEFAULT]\n"
           "wait = 0.3\n"
           "poll-interval = 0.1\n"
           "[monitoring]\n"
           "driver = fake\n"
           "[monitoring.fake]\n"
           "down-file = " +
           dir_.file("down") +
           "\n"
           "[fencer]\n"
           "driver = fake\n"
           "credentials-file = " +
           dir_.file("servers.yml") +
           "\n"
           "[fencer.fake]\n"
           "state-file = " +
           dir_.file("power.json") +
           "\n"
           "[evacuation]\n"
           "driver = fake\n"
           "[evacuation.fake]\n"
           "cloud-file = " +
           dir_.file("cloud.json") +
           "\n"
           "instances-per-node = 3\n"
           "rebuild-polls = 6\n"
           "[notifiers]\n"
           "driver = file\n"
           "endpoint = " +
           dir_.file("notifications.jsonl") +
           "\n"
           "[ha]\n"
           "etcd-endpoints = " +
           joinEndpoints(cluster_->endpoints()) +
           "\n"
           "cluster = test\n"
           "name = " +
           name +
           "\n"
           "lease-ttl = 3s\n"
           "request-timeout = 1s\n"
           "campaign-interval = 0.1s\n";
  }

  Daemon& start(const std::string& name, const std::map<std::string, std::string>& env = {}) {
    Daemon& d = daemons_[name];
    d.name = name;
    d.dir = dir_.path() + "/" + name;
    std::filesystem::create_directories(d.dir);
    dir_.write(name + "/freezer-dr.conf", config(name));
    d.pid = startProcess({binaryPath(), "--config-file", d.dir + "/freezer-dr.conf", "run"}, env,
                         d.dir);
    EXPECT_GT(d.pid, 0);
    return d;
  }

  nlohmann::json status() const {
    auto r = runProcess(
        {binaryPath(), "--config-file", dir_.path() + "/a/freezer-dr.conf", "status", "--json"}, {},
        dir_.path());
    if (r.exit_code != 0) return nlohmann::json();
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  std::string leader() const {
    const auto s = status();
    if (!s.is_object() || !s.contains("ha") || !s["ha"]["leader"].is_string()) return "";
    return s["ha"]["leader"].get<std::string>();
  }

  bool waitForLeader(const std::string& name) {
    return pollUntil(
        20s, [&] { return leader() == name; }, 100ms);
  }

  bool recovered() {
    const auto s = status();
    return s.is_object() && s["open"].empty() && !s["recent"].empty() &&
           s["recent"][0]["phase"] == "done";
  }

  std::map<std::string, int> evacuations() const {
    std::map<std::string, int> count;
    if (!std::filesystem::exists(dir_.file("cloud.json"))) return count;
    const auto cloud = nlohmann::json::parse(slurp(dir_.file("cloud.json")), nullptr, false);
    if (!cloud.is_object()) return count;
    for (const auto& e : cloud["evacuations"]) count[e["instance"].get<std::string>()] += 1;
    return count;
  }

  const std::map<std::string, int> kOnceEach{
      {"compute-2-vm1", 1}, {"compute-2-vm2", 1}, {"compute-2-vm3", 1}};

  std::unique_ptr<EtcdCluster> cluster_;
  TempDir dir_;
  std::map<std::string, Daemon> daemons_;
};

TEST_F(HaTest, OnlyTheLeaderActsAndStatusShowsEveryController) {
  start("a");
  ASSERT_TRUE(waitForLeader("a")) << daemons_["a"].log();
  start("b");
  ASSERT_TRUE(pollUntil(10s, [&] {
    const auto s = status();
    return s.is_object() && s["ha"]["controllers"].size() == 2;
  })) << status().dump(2);
  dir_.write("down", "compute-2\n");
  ASSERT_TRUE(pollUntil(30s, [&] { return recovered(); })) << status().dump(2);
  EXPECT_EQ(evacuations(), kOnceEach);
  EXPECT_EQ(leader(), "a");
  const std::string b_log = daemons_["b"].log();
  EXPECT_EQ(b_log.find("power"), std::string::npos) << "the standby acted:\n" << b_log;
}

TEST_F(HaTest, LeaderKilledMidEvacuationTheStandbyFinishesAndEvacuatesEachInstanceOnce) {
  // The leader dies (SIGKILL, a test-only kill point) right after journaling its second
  // evacuation request: one request made, one journaled and perhaps not sent, one not yet.
  start("a", {{"FREEZER_DR_KILL_AT", "after:evacuation-requested:2"}});
  ASSERT_TRUE(waitForLeader("a")) << daemons_["a"].log();
  start("b");
  ASSERT_TRUE(pollUntil(10s, [&] { return status()["ha"]["controllers"].size() == 2; }));
  dir_.write("down", "compute-2\n");
  ASSERT_TRUE(pollUntil(30s, [&] { return !daemons_["a"].running(); }));
  ASSERT_EQ(daemons_["a"].result.signal, SIGKILL) << daemons_["a"].result.err;
  ASSERT_TRUE(waitForLeader("b")) << daemons_["b"].log();
  ASSERT_TRUE(pollUntil(30s, [&] { return recovered(); }))
      << status().dump(2) << daemons_["b"].log();
  EXPECT_EQ(evacuations(), kOnceEach);
}

TEST_F(HaTest, APausedLeaderIsReplacedAndWokenPerformsNothing) {
  Daemon& a = start("a");
  ASSERT_TRUE(waitForLeader("a")) << a.log();
  start("b");
  ASSERT_TRUE(pollUntil(10s, [&] { return status()["ha"]["controllers"].size() == 2; }));
  ASSERT_EQ(kill(a.pid, SIGSTOP), 0);
  ASSERT_TRUE(waitForLeader("b")) << "no takeover past the TTL";
  dir_.write("down", "compute-2\n");
  ASSERT_TRUE(pollUntil(30s, [&] { return recovered(); })) << status().dump(2);
  ASSERT_EQ(kill(a.pid, SIGCONT), 0);
  ASSERT_TRUE(pollUntil(20s, [&] { return !a.running(); })) << "the old leader kept running";
  EXPECT_EQ(a.result.exit_code, 4) << "deposed: " << a.result.err;
  EXPECT_NE(a.result.err.find("not the leader any more"), std::string::npos) << a.result.err;
  EXPECT_EQ(evacuations(), kOnceEach);
  EXPECT_EQ(leader(), "b");
}

TEST_F(HaTest, WithoutAQuorumNobodyFences) {
  Daemon& a = start("a");
  ASSERT_TRUE(waitForLeader("a")) << a.log();
  Daemon& b = start("b");
  ASSERT_TRUE(pollUntil(10s, [&] { return status()["ha"]["controllers"].size() == 2; }));
  cluster_->stop(1);
  cluster_->stop(2);
  // The leader cannot renew its lease: it stops acting and exits before the lease can expire.
  ASSERT_TRUE(pollUntil(20s, [&] { return !a.running(); })) << a.log();
  EXPECT_EQ(a.result.exit_code, 4) << a.result.err;
  dir_.write("down", "compute-2\n");
  // Three TTLs with a node down and no quorum: the standby never leads, nothing is fenced.
  EXPECT_FALSE(pollUntil(9s, [&] {
    return std::filesystem::exists(dir_.file("power.json")) &&
           slurp(dir_.file("power.json")).find("off") != std::string::npos;
  })) << slurp(dir_.file("power.json"));
  EXPECT_TRUE(b.running()) << b.result.err;
  EXPECT_TRUE(evacuations().empty());
}

}  // namespace
}  // namespace fdr::testing
