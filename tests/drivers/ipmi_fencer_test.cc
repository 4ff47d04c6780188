// The IPMI fencer against real OpenIPMI ipmi_sim BMCs (lanplus, cipher suite 3) on loopback.
#include <sstream>

#include <gtest/gtest.h>

#include "drivers/fencing_harness_fixture.h"
#include "drivers/ipmi_sim_fixture.h"
#include "freezer/call_deadline.h"

namespace fdr::testing {
namespace {

// ipmi_sim answers Open Session with privilege 0: FreeIPMI needs its opensesspriv workaround.
std::map<std::string, std::string> simOptions(const std::string& timeout = "5s") {
  return {{"timeout", timeout}, {"workarounds", "opensesspriv"}};
}

class IpmiFencerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bmcs_.ok()) << bmcs_.error();
    auto made = FencerUnderTest::make("ipmi", simOptions());
    ASSERT_TRUE(made) << made.error().message;
    fencer_ = std::move(*made);
  }

  IpmiSimBmcs bmcs_{2};
  std::unique_ptr<FencerUnderTest> fencer_;
};

TEST_F(IpmiFencerTest, PowersOffAndOnAndReadsTheStateBack) {
  const Node node = bmcs_.node(0);
  auto state = (*fencer_)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);

  ASSERT_TRUE(succeeded((*fencer_)->powerOff(node)));
  EXPECT_EQ(bmcs_.powerIsOn(0), false);
  auto off = waitForPower(**fencer_, node, PowerState::kOff);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(*off, PowerState::kOff);

  Status again = (*fencer_)->powerOff(node);  // a node already off stays off
  EXPECT_TRUE(again) << again.error().message;
  EXPECT_EQ(bmcs_.powerIsOn(0), false);

  ASSERT_TRUE(succeeded((*fencer_)->powerOn(node)));
  auto on = waitForPower(**fencer_, node, PowerState::kOn);
  ASSERT_TRUE(on) << on.error().message;
  EXPECT_EQ(*on, PowerState::kOn);
  EXPECT_EQ(bmcs_.powerIsOn(0), true);
}

TEST_F(IpmiFencerTest, FencesOnlyTheNodeAsked) {
  ASSERT_TRUE(succeeded((*fencer_)->powerOff(bmcs_.node(1))));
  EXPECT_EQ(bmcs_.powerIsOn(1), false);
  EXPECT_EQ(bmcs_.powerIsOn(0), true);
  auto other = (*fencer_)->powerStatus(bmcs_.node(0));
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, PowerState::kOn);
}

TEST_F(IpmiFencerTest, SeesAPowerChangeMadeBehindItsBack) {
  ASSERT_TRUE(bmcs_.setPower(0, false)) << bmcs_.error();
  auto state = (*fencer_)->powerStatus(bmcs_.node(0));
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOff);
}

TEST_F(IpmiFencerTest, WrongPasswordIsPermissionDeniedAndNeverShown) {
  Node node = bmcs_.node(0);
  node.fencer_password = Secret("Wr0ng-s3cret");
  auto state = (*fencer_)->powerStatus(node);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kPermissionDenied) << state.error().message;
  EXPECT_FALSE(state.error().retryable);
  Status off = (*fencer_)->powerOff(node);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kPermissionDenied);
  for (const std::string& message : {state.error().message, off.error().message}) {
    EXPECT_NE(message.find("compute-0"), std::string::npos) << message;
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(bmcs_.port(0))), std::string::npos)
        << message;
    EXPECT_EQ(message.find("Wr0ng-s3cret"), std::string::npos) << message;
    EXPECT_EQ(message.find(bmcs_.password()), std::string::npos) << message;
  }
  EXPECT_EQ(bmcs_.powerIsOn(0), true);
}

TEST_F(IpmiFencerTest, FrozenBmcTimesOutWithinTheTimeoutThenRecovers) {
  auto quick = FencerUnderTest::make("ipmi", simOptions("1s"));
  ASSERT_TRUE(quick) << quick.error().message;
  ASSERT_TRUE(bmcs_.freeze(0)) << bmcs_.error();
  const Node node = bmcs_.node(0);

  auto state = (**quick)->powerStatus(node);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kTimedOut) << state.error().message;
  EXPECT_TRUE(state.error().retryable);
  EXPECT_NE(state.error().message.find("compute-0"), std::string::npos);
  Status off = (**quick)->powerOff(node);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kTimedOut);

  ASSERT_TRUE(bmcs_.thaw(0)) << bmcs_.error();
  auto back = waitForPower(***quick, node, PowerState::kOn);
  ASSERT_TRUE(back) << back.error().message;
}

TEST_F(IpmiFencerTest, FrozenBmcTimesOutAtTheCallsDeadline) {
  // The driver's timeout is far away; the deadline of the call is not.
  auto slow = FencerUnderTest::make("ipmi", simOptions("60s"));
  ASSERT_TRUE(slow) << slow.error().message;
  ASSERT_TRUE(bmcs_.freeze(0)) << bmcs_.error();
  Result<PowerState> state;
  {
    CallDeadline deadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
    state = (**slow)->powerStatus(bmcs_.node(0));
  }
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kTimedOut) << state.error().message;
  EXPECT_TRUE(state.error().retryable);
  EXPECT_NE(state.error().message.find("the call's deadline"), std::string::npos)
      << state.error().message;
  {
    CallDeadline passed(std::chrono::steady_clock::now() - std::chrono::milliseconds(1));
    Status off = (**slow)->powerOff(bmcs_.node(1));
    ASSERT_FALSE(off);
    EXPECT_EQ(off.error().code, ErrorCode::kTimedOut) << off.error().message;
  }
  // The power-off was never sent: the BMC that still answers reports the node on.
  auto on = (*fencer_)->powerStatus(bmcs_.node(1));
  ASSERT_TRUE(on) << on.error().message;
  EXPECT_EQ(*on, PowerState::kOn);
}

TEST_F(IpmiFencerTest, StoppedBmcIsAnErrorNotAHang) {
  auto quick = FencerUnderTest::make("ipmi", simOptions("1s"));
  ASSERT_TRUE(quick) << quick.error().message;
  ASSERT_TRUE(bmcs_.stop(1)) << bmcs_.error();
  auto state = (**quick)->powerStatus(bmcs_.node(1));
  ASSERT_FALSE(state);
  EXPECT_TRUE(state.error().code == ErrorCode::kTimedOut ||
              state.error().code == ErrorCode::kUnavailable)
      << state.error().message;
}

TEST_F(IpmiFencerTest, BmcRefusingPowerOffIsUnavailable) {
  ASSERT_TRUE(bmcs_.setMode(0, "refuse-off")) << bmcs_.error();
  Status off = (*fencer_)->powerOff(bmcs_.node(0));
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kUnavailable) << off.error().message;
  EXPECT_NE(off.error().message.find("refused"), std::string::npos) << off.error().message;
  EXPECT_EQ(bmcs_.powerIsOn(0), true);
}

// Success of powerOff() only means the BMC accepted it: the engine reads the state back.
TEST_F(IpmiFencerTest, StuckPowerShowsInTheStatusNotInTheCommand) {
  ASSERT_TRUE(bmcs_.setMode(0, "stuck")) << bmcs_.error();
  EXPECT_TRUE(succeeded((*fencer_)->powerOff(bmcs_.node(0))));
  auto state = (*fencer_)->powerStatus(bmcs_.node(0));
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);
}

TEST_F(IpmiFencerTest, FailingBmcIsUnavailableForStatus) {
  ASSERT_TRUE(bmcs_.setMode(0, "fail")) << bmcs_.error();
  auto state = (*fencer_)->powerStatus(bmcs_.node(0));
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kUnavailable) << state.error().message;
  EXPECT_TRUE(state.error().retryable);
}

TEST_F(IpmiFencerTest, WithoutTheWorkaroundTheSimRefusesThePrivilegeAndSaysWhatToTry) {
  auto plain = FencerUnderTest::make("ipmi", {{"timeout", "5s"}});
  ASSERT_TRUE(plain) << plain.error().message;
  auto state = (**plain)->powerStatus(bmcs_.node(0));
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kPermissionDenied) << state.error().message;
  EXPECT_NE(state.error().message.find("opensesspriv"), std::string::npos) << state.error().message;
}

TEST_F(IpmiFencerTest, PerNodeSettingsOverrideTheDriverOptions) {
  auto plain = FencerUnderTest::make("ipmi", {{"timeout", "5s"}});
  ASSERT_TRUE(plain) << plain.error().message;
  Node node = bmcs_.node(0);
  node.extra["ipmi-workarounds"] = "opensesspriv";
  auto state = (**plain)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);

  node.extra["ipmi-cipher-suite"] = "17";  // SHA-256: ipmi_sim does not implement it
  auto refused = (**plain)->powerStatus(node);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().code, ErrorCode::kTimedOut) << refused.error().message;
}

TEST_F(IpmiFencerTest, ChassisHookRunsOnEveryPowerChange) {
  const std::string marker = bmcs_.dir(0) + "/hook-calls";
  ASSERT_TRUE(bmcs_.setHook(0, "echo \"$1 $BMC_NAME $BMC_PREVIOUS_POWER\" >> " + marker))
      << bmcs_.error();
  ASSERT_TRUE(succeeded((*fencer_)->powerOff(bmcs_.node(0))));
  ASSERT_TRUE(succeeded((*fencer_)->powerOn(bmcs_.node(0))));
  // ipmi_sim runs a retransmitted Chassis Control again (UDP: a slow script makes the client
  // resend), so a hook may see the same state twice in a row: hooks must be idempotent.
  std::string transitions;
  std::string previous;
  std::istringstream calls(readFile(marker));
  for (std::string line; std::getline(calls, line);) {
    if (line.substr(0, line.find(' ')) != previous) transitions += line + "\n";
    previous = line.substr(0, line.find(' '));
  }
  EXPECT_EQ(transitions, "off bmc0 on\non bmc0 off\n") << readFile(marker);
}

TEST(IpmiFencerOptions, RejectsBadOptionsAtStartUp) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"cipher-suite", "5"},
                                                        {"privilege-level", "root"},
                                                        {"workarounds", "opensesspriv, magic"},
                                                        {"port", "70000"},
                                                        {"timeout", "0"}}) {
    auto made = FencerUnderTest::make("ipmi", {{key, value}});
    ASSERT_FALSE(made) << key << "=" << value;
    EXPECT_EQ(made.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(made.error().message.find(key == "port" ? "port" : key), std::string::npos)
        << made.error().message;
  }
}

TEST(IpmiFencerOptions, RejectsBadPerNodeSettingsAtStartUpNamingTheNode) {
  Node node;
  node.hostname = "compute-9";
  node.source = "servers.yml:12";
  node.extra["ipmi-privilege-level"] = "superuser";
  auto made = FencerUnderTest::make("ipmi", {}, {node});
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(made.error().message.find("compute-9"), std::string::npos) << made.error().message;
  EXPECT_NE(made.error().message.find("servers.yml:12"), std::string::npos);
}

TEST(IpmiFencerOptions, TheOriginalClassPathNamesTheDriver) {
  auto made = FencerUnderTest::make("freezer_dr.fencers.drivers.ipmi.driver.IpmiDriver", {});
  EXPECT_TRUE(made) << made.error().message;
}

TEST(IpmiFencerOptions, ANodeWithoutBmcAddressIsInvalid) {
  auto made = FencerUnderTest::make("ipmi", {});
  ASSERT_TRUE(made);
  Node node;
  node.hostname = "compute-x";
  auto state = (**made)->powerStatus(node);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(state.error().message.find("fencer-ip"), std::string::npos);
}

}  // namespace
}  // namespace fdr::testing
