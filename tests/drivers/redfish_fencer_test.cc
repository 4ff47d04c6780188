// The Redfish fencer against the simulated Redfish BMC (lab/bmc/redfish_bmc.py): HTTPS with the
// BMC's own CA, Basic and session authentication, faults.
#include <gtest/gtest.h>

#include "drivers/fencing_harness_fixture.h"
#include "drivers/redfish_bmc_fixture.h"
#include "freezer/call_deadline.h"

namespace fdr::testing {
namespace {

std::unique_ptr<FencerUnderTest> makeRedfish(std::map<std::string, std::string> options = {}) {
  if (!options.contains("timeout")) options["timeout"] = "10s";
  auto made = FencerUnderTest::make("redfish", options);
  EXPECT_TRUE(made) << made.error().message;
  return made ? std::move(*made) : nullptr;
}

void expectFullCycle(Fencer& fencer, const Node& node, RedfishBmc& bmc,
                     const std::string& system = "1") {
  auto state = fencer.powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);
  Status off = fencer.powerOff(node);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(bmc.power(system), "Off");
  auto now = waitForPower(fencer, node, PowerState::kOff);
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_EQ(*now, PowerState::kOff);
  Status again = fencer.powerOff(node);
  EXPECT_TRUE(again) << again.error().message;
  Status on = fencer.powerOn(node);
  ASSERT_TRUE(on) << on.error().message;
  EXPECT_EQ(bmc.power(system), "On");
  now = waitForPower(fencer, node, PowerState::kOn);
  ASSERT_TRUE(now) << now.error().message;
}

class RedfishFencerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bmc_.ok()) << bmc_.error(); }
  RedfishBmc bmc_;
};

TEST_F(RedfishFencerTest, BasicAuthOverVerifiedTls) {
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  expectFullCycle(fencer->get(), bmc_.node(), bmc_);
  EXPECT_NE(bmc_.log().find("ResetType ForceOff -> 204"), std::string::npos) << bmc_.log();
  EXPECT_NE(bmc_.log().find("ResetType On -> 204"), std::string::npos) << bmc_.log();
}

TEST_F(RedfishFencerTest, SessionAuthLogsOutAfterEachCall) {
  auto fencer = makeRedfish({{"auth", "session"}});
  ASSERT_TRUE(fencer);
  expectFullCycle(fencer->get(), bmc_.node(), bmc_);
  EXPECT_EQ(bmc_.sessions(), 0);
  EXPECT_NE(bmc_.log().find("POST /redfish/v1/SessionService/Sessions user admin -> 201"),
            std::string::npos)
      << bmc_.log();
  EXPECT_NE(bmc_.log().find("DELETE /redfish/v1/SessionService/Sessions/"), std::string::npos);
}

TEST_F(RedfishFencerTest, TlsIsVerifiedByDefault) {
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  Node node = bmc_.node();
  node.extra.erase("redfish-ca-file");  // the system CAs do not know this BMC
  auto state = (*fencer)->powerStatus(node);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kPermissionDenied) << state.error().message;
  EXPECT_NE(state.error().message.find("TLS"), std::string::npos) << state.error().message;
  EXPECT_EQ(bmc_.power(), "On");

  node.extra["redfish-insecure"] = "yes";  // explicitly allowed for this node only
  auto insecure = (*fencer)->powerStatus(node);
  ASSERT_TRUE(insecure) << insecure.error().message;

  auto with_ca = makeRedfish({{"ca-file", bmc_.caFile()}});  // or a driver-wide CA
  ASSERT_TRUE(with_ca);
  node.extra.erase("redfish-insecure");
  auto verified = (*with_ca)->powerStatus(node);
  ASSERT_TRUE(verified) << verified.error().message;
}

TEST_F(RedfishFencerTest, WrongPasswordIsPermissionDeniedAndNeverShown) {
  for (const char* auth : {"basic", "session"}) {
    auto fencer = makeRedfish({{"auth", auth}});
    ASSERT_TRUE(fencer);
    Node node = bmc_.node();
    node.fencer_password = Secret("Wr0ng-s3cret");
    Status off = (*fencer)->powerOff(node);
    ASSERT_FALSE(off) << auth;
    EXPECT_EQ(off.error().code, ErrorCode::kPermissionDenied) << off.error().message;
    EXPECT_FALSE(off.error().retryable);
    EXPECT_NE(off.error().message.find("compute-r"), std::string::npos) << off.error().message;
    EXPECT_NE(off.error().message.find(bmc_.url()), std::string::npos) << off.error().message;
    EXPECT_EQ(off.error().message.find("Wr0ng-s3cret"), std::string::npos);
    EXPECT_EQ(off.error().message.find(bmc_.password()), std::string::npos);
  }
  EXPECT_EQ(bmc_.power(), "On");
}

TEST_F(RedfishFencerTest, ABmcAlreadyInTheStateRefusingTheResetIsStillSuccess) {
  ASSERT_TRUE(bmc_.setPower("1", false));
  ASSERT_TRUE(bmc_.setMode("refuse-redundant"));
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  Status off = (*fencer)->powerOff(bmc_.node());
  EXPECT_TRUE(off) << off.error().message;
  EXPECT_NE(bmc_.log().find("ResetType ForceOff -> 409"), std::string::npos) << bmc_.log();
}

TEST_F(RedfishFencerTest, StuckPowerShowsInTheStatusNotInTheCommand) {
  ASSERT_TRUE(bmc_.setMode("stuck"));
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  EXPECT_TRUE(succeeded((*fencer)->powerOff(bmc_.node())));
  auto state = (*fencer)->powerStatus(bmc_.node());
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);
}

TEST_F(RedfishFencerTest, AHangingBmcTimesOut) {
  auto fencer = makeRedfish({{"timeout", "1s"}});
  ASSERT_TRUE(fencer);
  ASSERT_TRUE(bmc_.setMode("hang"));
  Status off = (*fencer)->powerOff(bmc_.node());
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kTimedOut) << off.error().message;
  EXPECT_TRUE(off.error().retryable);
  EXPECT_NE(off.error().message.find(bmc_.url()), std::string::npos) << off.error().message;
  ASSERT_TRUE(bmc_.setMode("normal"));
  EXPECT_EQ(bmc_.power(), "On");
}

TEST_F(RedfishFencerTest, AFrozenBmcTimesOut) {
  auto fencer = makeRedfish({{"timeout", "1s"}});
  ASSERT_TRUE(fencer);
  ASSERT_TRUE(bmc_.freeze());
  auto state = (*fencer)->powerStatus(bmc_.node());
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kTimedOut) << state.error().message;
  ASSERT_TRUE(bmc_.thaw());
}

TEST_F(RedfishFencerTest, AFrozenBmcTimesOutAtTheCallsDeadline) {
  // The engine's deadline for the call (CallDeadline) shortens the fencer's own timeout.
  auto fencer = makeRedfish({{"timeout", "600s"}});
  ASSERT_TRUE(fencer);
  ASSERT_TRUE(bmc_.freeze());
  Result<PowerState> state = PowerState::kUnknown;
  {
    CallDeadline deadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
    state = (*fencer)->powerStatus(bmc_.node());
  }
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kTimedOut) << state.error().message;
  EXPECT_EQ(state.error().message.find("600000 ms"), std::string::npos) << state.error().message;
  ASSERT_TRUE(bmc_.thaw());
}

TEST_F(RedfishFencerTest, AStoppedBmcIsUnavailable) {
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  ASSERT_TRUE(bmc_.stop());
  auto state = (*fencer)->powerStatus(bmc_.node());
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kUnavailable) << state.error().message;
  EXPECT_TRUE(state.error().retryable);
}

TEST_F(RedfishFencerTest, AFailingBmcIsUnavailableWithItsOwnExplanation) {
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  ASSERT_TRUE(bmc_.setMode("fail"));
  Status off = (*fencer)->powerOff(bmc_.node());
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kUnavailable) << off.error().message;
  EXPECT_NE(off.error().message.find("HTTP 500"), std::string::npos) << off.error().message;
  EXPECT_NE(off.error().message.find("internal service error"), std::string::npos)
      << off.error().message;
}

TEST_F(RedfishFencerTest, GarbageIsCorruption) {
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  ASSERT_TRUE(bmc_.setMode("garbage"));
  auto state = (*fencer)->powerStatus(bmc_.node());
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kCorruption) << state.error().message;
}

TEST_F(RedfishFencerTest, AFencerIpUrlIsUsedAsIs) {
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  Node node = bmc_.node();
  node.fencer_ip = bmc_.url() + "/";
  node.fencer_port = 0;
  node.extra.erase("redfish-scheme");
  auto state = (*fencer)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);
}

TEST(RedfishFencerSystems, SeveralSystemsNeedASystemId) {
  RedfishBmc bmc(RedfishBmc::Config{.tls = false, .systems = "1,2"});
  ASSERT_TRUE(bmc.ok()) << bmc.error();
  auto fencer = makeRedfish();
  ASSERT_TRUE(fencer);
  Node node = bmc.node();
  auto state = (*fencer)->powerStatus(node);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kInvalidArgument) << state.error().message;
  EXPECT_NE(state.error().message.find("/redfish/v1/Systems/2"), std::string::npos);

  node.extra["redfish-system-id"] = "2";
  ASSERT_TRUE(succeeded((*fencer)->powerOff(node)));
  EXPECT_EQ(bmc.power("2"), "Off");
  EXPECT_EQ(bmc.power("1"), "On");

  node.extra["redfish-system-id"] = "7";
  auto missing = (*fencer)->powerStatus(node);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
}

// The simulator itself: a bad ResetType gets 400 with a DMTF @Message.ExtendedInfo.
TEST(RedfishBmcSimulator, RejectsAnUnknownResetTypeTheDmtfWay) {
  RedfishBmc bmc(RedfishBmc::Config{.tls = false});
  ASSERT_TRUE(bmc.ok()) << bmc.error();
  const CommandResult result = runCommand(
      {"/usr/bin/curl", "-s", "-u", "admin:" + bmc.password(), "-H",
       "Content-Type: application/json", "-d", R"({"ResetType":"Explode"})", "-w", "\n%{http_code}",
       bmc.url() + "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(result.output.ends_with("\n400")) << result.output;
  EXPECT_NE(result.output.find("\"@Message.ExtendedInfo\""), std::string::npos);
  EXPECT_NE(result.output.find("Base.1.13.0.ActionParameterValueNotInList"), std::string::npos);
  EXPECT_NE(result.output.find("\"Resolution\""), std::string::npos);
  EXPECT_EQ(bmc.power(), "On");
}

TEST(RedfishFencerOptions, RejectsBadOptionsAtStartUp) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"scheme", "ftp"},
                                                        {"auth", "kerberos"},
                                                        {"off-reset-type", "GracefulShutdown"},
                                                        {"on-reset-type", "PowerCycle"},
                                                        {"port", "-1"}}) {
    auto made = FencerUnderTest::make("redfish", {{key, value}});
    ASSERT_FALSE(made) << key;
    EXPECT_EQ(made.error().code, ErrorCode::kInvalidArgument) << made.error().message;
  }
  Node node;
  node.hostname = "compute-7";
  node.source = "servers.yml:30";
  node.extra["redfish-insecure"] = "perhaps";
  auto made = FencerUnderTest::make("redfish", {}, {node});
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().message.find("servers.yml:30"), std::string::npos) << made.error().message;
}

}  // namespace
}  // namespace fdr::testing
