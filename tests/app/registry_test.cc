// The driver registry and the wiring: unknown or planned drivers and bad options are start-up
// errors that say what is valid.
#include <gtest/gtest.h>

#include "app/builtin_drivers.h"
#include "app/wiring.h"

namespace fdr::app {
namespace {

config::DriverChoice choice(const std::string& name, RawOptions options = {}) {
  return {name, std::move(options), "freezer-dr.conf:7"};
}

class WiringTest : public ::testing::Test {
 protected:
  WiringTest() {
    EXPECT_TRUE(registerBuiltinDrivers(registry_).has_value());
    config_.path = "freezer-dr.conf";
    config_.monitors = {choice("fake")};
    config_.fencers = {choice("fake")};
    config_.evacuator = choice("fake");
    config_.notifiers = {};
  }
  std::optional<Pipeline> build(bool create = true) {
    DriverContext context{clock_, config_.nodes};
    return buildPipeline(config_, registry_, context, diag_, create);
  }
  Registry registry_;
  config::Config config_;
  Diagnostics diag_;
  FakeClock clock_;
};

TEST_F(WiringTest, BuildsTheFakePipeline) {
  auto pipeline = build();
  ASSERT_TRUE(pipeline.has_value()) << diag_.format();
  EXPECT_EQ(pipeline->monitors.size(), 1u);
  EXPECT_EQ(pipeline->fencers.size(), 1u);
  EXPECT_NE(pipeline->evacuator, nullptr);
}

TEST_F(WiringTest, TheOriginalsClassPathsMapToDrivers) {
  config_.monitors = {choice("freezer_dr.monitors.drivers.dummy.driver.DummyDriver")};
  config_.evacuator = choice("freezer_dr.evacuators.drivers.dummy.dummy.DummyEvacuator");
  auto pipeline = build();
  EXPECT_TRUE(pipeline.has_value()) << diag_.format();
}

TEST_F(WiringTest, UnknownDriverListsTheValidOnes) {
  config_.fencers = {choice("ipmii")};
  EXPECT_FALSE(build().has_value());
  const std::string text = diag_.format();
  EXPECT_NE(text.find("freezer-dr.conf:7"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown fencer driver 'ipmii'"), std::string::npos) << text;
  EXPECT_NE(text.find("did you mean 'ipmi'"), std::string::npos) << text;
  EXPECT_NE(text.find("valid drivers: "), std::string::npos) << text;
  EXPECT_NE(text.find("fake"), std::string::npos) << text;
}

TEST_F(WiringTest, PlannedDriverSaysItIsNotSupportedYet) {
  registry_.monitors.addPlanned(
      {"zabbix", {"freezer_dr.monitors.drivers.zabbix.driver.ZabbixDriver"}, "not yet"});
  config_.monitors = {choice("freezer_dr.monitors.drivers.zabbix.driver.ZabbixDriver")};
  EXPECT_FALSE(build().has_value());
  EXPECT_NE(diag_.format().find("not supported by this build yet"), std::string::npos)
      << diag_.format();
}

TEST_F(WiringTest, TheOriginalsMonascaClassPathIsTheMonascaMonitor) {
  config_.monitors = {choice("freezer_dr.monitors.drivers.monasca.driver.MonascaDriver")};
  EXPECT_TRUE(build(/*create=*/false).has_value()) << diag_.format();
  // Created without [keystone_authtoken]: a clear error, not a crash.
  EXPECT_FALSE(build().has_value());
  EXPECT_NE(diag_.format().find("monasca monitor: needs the cloud credentials"), std::string::npos)
      << diag_.format();
}

TEST_F(WiringTest, UnknownDriverOptionIsAnError) {
  config_.fencers = {choice("fake", {{"stuck_onn", {"compute-1", "freezer-dr.conf:12"}}})};
  EXPECT_FALSE(build(/*create=*/false).has_value());
  const std::string text = diag_.format();
  EXPECT_NE(text.find("stuck_onn"), std::string::npos) << text;
  EXPECT_NE(text.find("freezer-dr.conf:12"), std::string::npos) << text;
}

TEST_F(WiringTest, NoFencerIsAnError) {
  config_.fencers.clear();
  EXPECT_FALSE(build().has_value());
  EXPECT_NE(diag_.format().find("[fencer] no driver configured"), std::string::npos);
}

TEST(Registry, DuplicateNamesAreRefused) {
  Registry registry;
  ASSERT_TRUE(registerBuiltinDrivers(registry).has_value());
  EXPECT_FALSE(registerBuiltinDrivers(registry).has_value());
}

}  // namespace
}  // namespace fdr::app
