// The fence-agent bridge: its stdin protocol, exit codes and timeout against small fake agents
// written by the tests, then real ClusterLabs agents (fence_ipmilan against ipmi_sim BMCs,
// fence_redfish against the simulated Redfish BMC).
#include <signal.h>

#include <gtest/gtest.h>

#include "drivers/fencer/fence_agent/fence_agent_fencer.h"
#include "drivers/fencing_harness_fixture.h"
#include "drivers/ipmi_sim_fixture.h"
#include "drivers/redfish_bmc_fixture.h"
#include "freezer/call_deadline.h"

namespace fdr::testing {
namespace {

// A fake agent that records how it was called (stdin, argv, environment) and keeps a power
// state in a file, answering as fencing.py agents do.
constexpr const char* kRecordingAgent = R"(#!/bin/bash
dir=$(dirname "$0")
input=$(cat)
printf '%s\n' "$input" > "$dir/stdin.txt"
printf '%s\n' "$0" "$@" > "$dir/argv.txt"
env > "$dir/env.txt"
action=$(printf '%s\n' "$input" | sed -n 's/^action=//p' | tail -n 1)
state=$(cat "$dir/state" 2>/dev/null || echo on)
case $action in
  status) echo "Status: ${state^^}"; [[ $state == on ]] && exit 0; exit 2 ;;
  off) echo off > "$dir/state"; echo "Success: Powered OFF" ;;
  on) echo on > "$dir/state"; echo "Success: Powered ON" ;;
  monitor) ;;
  *) echo "unknown action $action" >&2; exit 1 ;;
esac
)";

// Hangs, and leaves a grandchild behind in its process group.
constexpr const char* kHangingAgent = R"(#!/bin/bash
dir=$(dirname "$0")
cat > /dev/null
sleep 1000 &
echo $! > "$dir/grandchild.pid"
echo "connecting..."
wait
)";

constexpr const char* kGarbageAgent = R"(#!/bin/bash
cat > /dev/null
printf '\x01\x02 %%%% not a fence agent %%%%\n'
exit 3
)";

// Exits 0 (on) for status but says OFF.
constexpr const char* kLyingAgent = R"(#!/bin/bash
cat > /dev/null
echo "Status: OFF"
exit 0
)";

// Fails as fencing.py does, and echoes the password it was given (as a careless agent might).
constexpr const char* kFailingAgent = R"(#!/bin/bash
pw=$(sed -n 's/^password=//p')
echo "/usr/sbin/fence_x:5: DeprecationWarning: 'pipes' is deprecated" >&2
echo "2026-11-25 09:26:27,378 ERROR: login with '$pw' refused" >&2
echo "2026-11-25 09:26:27,379 ERROR: Failed: Unable to obtain correct plug status or plug is not available" >&2
exit 1
)";

constexpr const char* kTimingOutAgent = R"(#!/bin/bash
cat > /dev/null
echo "2026-11-25 09:26:57,753 ERROR: Connection timed out" >&2
exit 1
)";

class FakeAgentTest : public ::testing::Test {
 protected:
  std::string agent(const std::string& name, const char* body) {
    const std::string path = dir_.file(name);
    writeFile(path, body, 0755);
    return path;
  }

  std::unique_ptr<FencerUnderTest> make(const std::string& path,
                                        std::map<std::string, std::string> options = {},
                                        std::vector<Node> inventory = {}) {
    options["agent"] = path;
    if (!options.contains("timeout")) options["timeout"] = "20s";
    auto made = FencerUnderTest::make("fence-agent", options, std::move(inventory));
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }

  // The hung agent's child (it wrote its PID) was killed with the agent's process group: gone,
  // or a zombie nobody reaps (PID 1 of a container may not), either way not running.
  void expectGrandchildGone() {
    const std::string pid_text = readFile(dir_.file("grandchild.pid"));
    ASSERT_FALSE(pid_text.empty());
    const pid_t grandchild = std::stoi(pid_text);
    EXPECT_TRUE(eventually([&] {
      const std::string stat = readFile("/proc/" + std::to_string(grandchild) + "/stat");
      const size_t paren = stat.rfind(')');
      return stat.empty() || (paren != std::string::npos && stat.substr(paren + 2, 1) == "Z");
    })) << "grandchild "
        << grandchild << " still runs";
  }

  static Node node() {
    Node n;
    n.hostname = "compute-1";
    n.fencer_ip = "127.0.0.1";
    n.fencer_port = 623;
    n.fencer_user = "admin";
    n.fencer_password = Secret("s3cret-Pw");
    n.domain_name = "vm-1";
    return n;
  }

  TempDir dir_;
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

TEST_F(FakeAgentTest, SpeaksTheStdinProtocolWithThePasswordOnStdinOnly) {
  auto fencer = make(agent("fence_record", kRecordingAgent),
                     {{"agent-options", "lanplus=0, power_wait=0, cipher=1"}});
  ASSERT_TRUE(fencer);
  Node n = node();
  n.extra["cipher"] = "3";  // overrides the driver's agent-options
  n.extra["lanplus"] = "1";
  n.extra["ipmi-cipher-suite"] = "17";  // another driver's key: not for the agent
  n.extra["redfish-ca-file"] = "/x.pem";
  ASSERT_TRUE(succeeded((*fencer)->powerOff(n)));

  const auto input = lines(readFile(dir_.file("stdin.txt")));
  for (const char* expected : {"ip=127.0.0.1", "ipport=623", "username=admin", "password=s3cret-Pw",
                               "plug=vm-1", "cipher=3", "lanplus=1", "power_wait=0"}) {
    EXPECT_TRUE(contains(input, expected)) << expected << " missing in:\n"
                                           << readFile(dir_.file("stdin.txt"));
  }
  EXPECT_FALSE(contains(input, "cipher=1"));
  EXPECT_FALSE(contains(input, "lanplus=0"));
  for (const std::string& line : input) {
    EXPECT_FALSE(line.starts_with("ipmi") || line.starts_with("redfish")) << line;
  }
  ASSERT_FALSE(input.empty());
  EXPECT_EQ(input.back(), "action=off");

  EXPECT_EQ(lines(readFile(dir_.file("argv.txt"))).size(), 1u);  // no arguments at all
  const std::string env = readFile(dir_.file("env.txt"));
  EXPECT_EQ(env.find("s3cret-Pw"), std::string::npos);
  EXPECT_NE(env.find("PYTHONWARNINGS=ignore::DeprecationWarning"), std::string::npos);
}

TEST_F(FakeAgentTest, HonoursTheExitCodes) {
  auto fencer = make(agent("fence_record", kRecordingAgent));
  ASSERT_TRUE(fencer);
  auto fa = dynamic_cast<drivers::FenceAgentFencer*>(&fencer->get());
  ASSERT_NE(fa, nullptr);
  auto state = (*fencer)->powerStatus(node());
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);  // exit 0
  ASSERT_TRUE(succeeded((*fencer)->powerOff(node())));
  state = (*fencer)->powerStatus(node());
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOff);  // exit 2
  ASSERT_TRUE(succeeded((*fencer)->powerOn(node())));
  state = (*fencer)->powerStatus(node());
  ASSERT_TRUE(state);
  EXPECT_EQ(*state, PowerState::kOn);
  EXPECT_TRUE(fa->monitor(node()));
  EXPECT_EQ(lines(readFile(dir_.file("stdin.txt"))).back(), "action=monitor");
}

TEST_F(FakeAgentTest, KillsAHungAgentWithItsProcessGroupAtTheTimeout) {
  auto fencer = make(agent("fence_hang", kHangingAgent), {{"timeout", "1s"}});
  ASSERT_TRUE(fencer);
  Status off = (*fencer)->powerOff(node());
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kTimedOut) << off.error().message;
  EXPECT_TRUE(off.error().retryable);
  EXPECT_NE(off.error().message.find("compute-1"), std::string::npos);
  EXPECT_NE(off.error().message.find("connecting..."), std::string::npos) << off.error().message;

  expectGrandchildGone();
}

TEST_F(FakeAgentTest, KillsAHungAgentWithItsProcessGroupAtTheCallsDeadline) {
  // The agent's own timeout is far away; the deadline of the call is not.
  auto fencer = make(agent("fence_hang", kHangingAgent), {{"timeout", "600s"}});
  ASSERT_TRUE(fencer);
  Status off;
  {
    CallDeadline deadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
    off = (*fencer)->powerOff(node());
  }
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kTimedOut) << off.error().message;
  EXPECT_TRUE(off.error().retryable);
  EXPECT_NE(off.error().message.find("ran past the call's deadline"), std::string::npos)
      << off.error().message;

  expectGrandchildGone();
}

TEST_F(FakeAgentTest, AnAgentIsNotStartedOnceTheCallsDeadlinePassed) {
  auto fencer = make(agent("fence_rec", kRecordingAgent));
  ASSERT_TRUE(fencer);
  Status off;
  {
    CallDeadline deadline(std::chrono::steady_clock::now() - std::chrono::milliseconds(1));
    off = (*fencer)->powerOff(node());
  }
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kTimedOut) << off.error().message;
  EXPECT_TRUE(off.error().retryable);
  EXPECT_TRUE(readFile(dir_.file("stdin.txt")).empty());  // it never ran
}

TEST_F(FakeAgentTest, ExitCodesOutsideTheProtocolAreCorruption) {
  auto fencer = make(agent("fence_garbage", kGarbageAgent));
  ASSERT_TRUE(fencer);
  auto state = (*fencer)->powerStatus(node());
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kCorruption) << state.error().message;
  Status off = (*fencer)->powerOff(node());
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kCorruption);
  EXPECT_NE(off.error().message.find("exit 3"), std::string::npos) << off.error().message;
}

TEST_F(FakeAgentTest, AStatusContradictingTheExitCodeIsCorruption) {
  auto fencer = make(agent("fence_liar", kLyingAgent));
  ASSERT_TRUE(fencer);
  auto state = (*fencer)->powerStatus(node());
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kCorruption) << state.error().message;
}

TEST_F(FakeAgentTest, FailureQuotesTheAgentButMasksThePassword) {
  auto fencer = make(agent("fence_fail", kFailingAgent));
  ASSERT_TRUE(fencer);
  Status off = (*fencer)->powerOff(node());
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kUnavailable) << off.error().message;
  EXPECT_TRUE(off.error().retryable);
  const std::string& message = off.error().message;
  EXPECT_NE(message.find("Unable to obtain correct plug status"), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:623"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret-Pw"), std::string::npos) << message;
  EXPECT_EQ(message.find("DeprecationWarning"), std::string::npos) << message;
}

TEST_F(FakeAgentTest, AnAgentReportingATimeoutIsTimedOut) {
  auto fencer = make(agent("fence_slow", kTimingOutAgent));
  ASSERT_TRUE(fencer);
  auto state = (*fencer)->powerStatus(node());
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kTimedOut) << state.error().message;
}

TEST_F(FakeAgentTest, RejectsBadAgentsAndOptionsAtStartUp) {
  writeFile(dir_.file("fence_noexec"), "#!/bin/sh\n", 0644);
  struct Case {
    std::map<std::string, std::string> options;
    ErrorCode code;
  };
  for (const Case& c : std::vector<Case>{
           {{{"agent", "fence_does_not_exist"}}, ErrorCode::kNotFound},
           {{{"agent", "fence_x"}, {"agent-dir", dir_.path()}}, ErrorCode::kNotFound},
           {{{"agent", "relative/fence_x"}}, ErrorCode::kInvalidArgument},
           {{{"agent", "rm"}}, ErrorCode::kInvalidArgument},
           {{{"agent", dir_.file("fence_noexec")}}, ErrorCode::kPermissionDenied},
           {{{"agent", "fence_ipmilan"}, {"agent-options", "action=reboot"}},
            ErrorCode::kInvalidArgument},
           {{{"agent", "fence_ipmilan"}, {"agent-options", "bad key=1"}},
            ErrorCode::kInvalidArgument},
           {{}, ErrorCode::kInvalidArgument},  // agent is required
       }) {
    auto made = FencerUnderTest::make("fence-agent", c.options);
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, c.code) << made.error().message;
  }
}

TEST_F(FakeAgentTest, RefusesInventoryValuesThatWouldInjectKeys) {
  Node n = node();
  n.source = "servers.yml:7";
  n.extra["plug"] = "vm-1\naction=on";
  auto made = FencerUnderTest::make("fence-agent", {{"agent", "fence_ipmilan"}}, {n});
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(made.error().message.find("servers.yml:7"), std::string::npos) << made.error().message;

  auto fencer = make(agent("fence_record", kRecordingAgent));  // a node not in the inventory
  ASSERT_TRUE(fencer);
  Status off = (*fencer)->powerOff(n);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(readFile(dir_.file("stdin.txt")), "");  // the agent never ran
}

// --- real agents ---------------------------------------------------------------------------

std::map<std::string, std::string> ipmilanOptions(const std::string& timeout = "30s") {
  // cipher=3: ipmi_sim does not answer "Get Channel Cipher Suites" (ipmitool would wait 10 s).
  return {{"agent", "fence_ipmilan"},
          {"timeout", timeout},
          {"agent-options", "lanplus=1, cipher=3, power_wait=0"}};
}

class FenceIpmilanTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bmcs_.ok()) << bmcs_.error(); }
  IpmiSimBmcs bmcs_{1};
};

TEST_F(FenceIpmilanTest, PowersAnIpmiSimBmcOffAndOn) {
  auto fencer = FencerUnderTest::make("fence-agent", ipmilanOptions());
  ASSERT_TRUE(fencer) << fencer.error().message;
  const Node node = bmcs_.node(0);
  auto state = (**fencer)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);
  Status off = (**fencer)->powerOff(node);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(bmcs_.powerIsOn(0), false);
  state = (**fencer)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOff);
  Status on = (**fencer)->powerOn(node);
  ASSERT_TRUE(on) << on.error().message;
  EXPECT_EQ(bmcs_.powerIsOn(0), true);
  auto fa = dynamic_cast<drivers::FenceAgentFencer*>(&(*fencer)->get());
  ASSERT_NE(fa, nullptr);
  Status monitored = fa->monitor(node);
  EXPECT_TRUE(monitored) << monitored.error().message;
}

TEST_F(FenceIpmilanTest, WrongPasswordFailsWithoutShowingIt) {
  auto fencer = FencerUnderTest::make("fence-agent", ipmilanOptions());
  ASSERT_TRUE(fencer) << fencer.error().message;
  Node node = bmcs_.node(0);
  node.fencer_password = Secret("Wr0ng-s3cret");
  Status off = (**fencer)->powerOff(node);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kUnavailable) << off.error().message;
  EXPECT_EQ(off.error().message.find("Wr0ng-s3cret"), std::string::npos) << off.error().message;
  EXPECT_EQ(bmcs_.powerIsOn(0), true);
}

TEST_F(FenceIpmilanTest, PowerStuckOnFailsOnceTheAgentGivesUp) {
  auto options = ipmilanOptions();
  options["agent-options"] += ", power_timeout=2";
  auto fencer = FencerUnderTest::make("fence-agent", options);
  ASSERT_TRUE(fencer) << fencer.error().message;
  ASSERT_TRUE(bmcs_.setMode(0, "stuck")) << bmcs_.error();
  Status off = (**fencer)->powerOff(bmcs_.node(0));
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kUnavailable) << off.error().message;
  EXPECT_NE(off.error().message.find("Timed out waiting to power OFF"), std::string::npos)
      << off.error().message;
}

TEST_F(FenceIpmilanTest, FrozenBmcIsKilledAtTheTimeout) {
  auto fencer = FencerUnderTest::make("fence-agent", ipmilanOptions("2s"));
  ASSERT_TRUE(fencer) << fencer.error().message;
  ASSERT_TRUE(bmcs_.freeze(0)) << bmcs_.error();
  auto state = (**fencer)->powerStatus(bmcs_.node(0));
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kTimedOut) << state.error().message;
}

TEST(FenceRedfishTest, PowersTheSimulatedRedfishBmcOffThroughTheBridge) {
  RedfishBmc bmc;
  ASSERT_TRUE(bmc.ok()) << bmc.error();
  // fence_redfish always speaks https and does not take a CA file: ssl_insecure.
  auto fencer =
      FencerUnderTest::make("fence-agent", {{"agent", "fence_redfish"},
                                            {"timeout", "30s"},
                                            {"agent-options", "ssl_insecure=1, power_wait=0"}});
  ASSERT_TRUE(fencer) << fencer.error().message;
  Node node = bmc.node();
  node.extra["systems-uri"] = "/redfish/v1/Systems/1";
  auto state = (**fencer)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);
  Status off = (**fencer)->powerOff(node);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(bmc.power(), "Off");
  state = (**fencer)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOff);
}

}  // namespace
}  // namespace fdr::testing
