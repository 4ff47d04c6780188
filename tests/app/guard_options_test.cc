// The guards' options (fence cap, isolation check, flapping): read with their types and
// defaults, every bad value reported with file, line and key, and carried into the engine's
// policy and drivers by the wiring.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/builtin_drivers.h"
#include "app/config/config.h"
#include "app/wiring.h"

namespace fdr::app {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class GuardOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("fdr-guards-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "servers.yml") << "servers:\n  - {id: 1, hostname: compute-1}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `text` follows a [DEFAULT] header; the fake drivers and the inventory are added.
  std::optional<config::Config> loadText(const std::string& defaults,
                                         const std::string& monitoring) {
    path_ = (dir_ / "freezer-dr.conf").string();
    std::ofstream(path_) << "[DEFAULT]\n"
                         << defaults << "[monitoring]\n"
                         << monitoring
                         << "[fencer]\ndriver = fake\ncredentials-file = servers.yml\n"
                            "[evacuation]\ndriver = fake\n[notifiers]\ndriver = file\n"
                            "endpoint = notes.jsonl\n";
    return config::load(path_, diag_);
  }

  bool hasError(const std::string& where, const std::string& text) const {
    for (const Diagnostic& d : diag_.items()) {
      if (d.severity == Diagnostic::Severity::kError && d.where == where &&
          d.message.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  fs::path dir_;
  std::string path_;
  Diagnostics diag_;
};

TEST_F(GuardOptionsTest, DefaultsWhenNotSet) {
  const auto config = loadText("", "driver = fake\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->max_fences_per_tick, 1);
  EXPECT_TRUE(config->reference_points.empty());
  EXPECT_EQ(config->reference_points_required, 0);
  EXPECT_EQ(config->reference_timeout, milliseconds(1'000));
  EXPECT_TRUE(config->nova_reference);
  EXPECT_EQ(config->flap_max_recoveries, 3);
  EXPECT_EQ(config->flap_window, milliseconds(600'000));
}

TEST_F(GuardOptionsTest, OptionsAreReadWithTheirTypes) {
  const auto config = loadText("max-fences-per-tick = 3\n",
                               "driver = fake\n"
                               "reference-points = 10.0.0.1:22, [fd00::1]:443,127.0.0.1:8774\n"
                               "reference_points_required = 2\n"
                               "reference-timeout = 250ms\n"
                               "nova-reference = no\n"
                               "flap-max-recoveries = 5\n"
                               "flap-window = 2m\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->max_fences_per_tick, 3);
  ASSERT_EQ(config->reference_points.size(), 3u);
  EXPECT_EQ(config->reference_points[0].address, "10.0.0.1");
  EXPECT_EQ(config->reference_points[0].port, 22);
  EXPECT_EQ(config->reference_points[1].address, "fd00::1");
  EXPECT_EQ(config->reference_points[1].port, 443);
  EXPECT_EQ(config->reference_points[1].name(), "[fd00::1]:443");
  EXPECT_EQ(config->reference_points[2].name(), "127.0.0.1:8774");
  EXPECT_EQ(config->reference_points_required, 2);
  EXPECT_EQ(config->reference_timeout, milliseconds(250));
  EXPECT_FALSE(config->nova_reference);
  EXPECT_EQ(config->flap_max_recoveries, 5);
  EXPECT_EQ(config->flap_window, milliseconds(120'000));

  const core::EnginePolicy policy = policyFrom(*config);
  EXPECT_EQ(policy.max_fences_per_tick, 3);
  EXPECT_EQ(policy.reference_points_required, 2);
  EXPECT_EQ(policy.detector.flap_max_recoveries, 5);
  EXPECT_EQ(policy.detector.flap_window, milliseconds(120'000));
}

TEST_F(GuardOptionsTest, BadValuesNameFileLineAndKey) {
  EXPECT_FALSE(loadText("max-fences-per-tick = 0\n",
                        "driver = fake\n"
                        "reference-points = 10.0.0.1, gateway.example:22, 10.0.0.3:99999\n"
                        "reference-points-required = none\n"
                        "reference-timeout = 0\n"
                        "nova-reference = maybe\n"
                        "flap-max-recoveries = -1\n"
                        "flap-window = often\n")
                   .has_value());
  EXPECT_TRUE(hasError(path_ + ":2", "[DEFAULT] max-fences-per-tick: expected an integer >= 1"))
      << diag_.format();
  EXPECT_TRUE(hasError(path_ + ":5", "reference-points: '10.0.0.1': expected ADDRESS:PORT"))
      << diag_.format();
  EXPECT_TRUE(hasError(path_ + ":5", "'gateway.example' is not a numeric IPv4 or IPv6 address"))
      << diag_.format();
  EXPECT_TRUE(hasError(path_ + ":5", "'10.0.0.3:99999': the port must be a number"))
      << diag_.format();
  EXPECT_TRUE(hasError(path_ + ":6", "[monitoring] reference-points-required: expected an integer"))
      << diag_.format();
  EXPECT_TRUE(
      hasError(path_ + ":7", "[monitoring] reference-timeout: expected a non-zero duration"))
      << diag_.format();
  EXPECT_TRUE(hasError(path_ + ":8", "[monitoring] nova-reference: expected a boolean"))
      << diag_.format();
  EXPECT_TRUE(hasError(path_ + ":9", "[monitoring] flap-max-recoveries: expected an integer >= 1"))
      << diag_.format();
  EXPECT_TRUE(hasError(path_ + ":10", "[monitoring] flap-window: expected a non-zero duration"))
      << diag_.format();
}

TEST_F(GuardOptionsTest, MisspeltOptionGetsADidYouMean) {
  EXPECT_FALSE(loadText("", "driver = fake\nreference-point = 10.0.0.1:22\n").has_value());
  EXPECT_TRUE(hasError(path_ + ":4", "did you mean 'reference-points'")) << diag_.format();
}

class GuardWiringTest : public GuardOptionsTest {
 protected:
  std::optional<Pipeline> build(const config::Config& config) {
    Registry registry;
    EXPECT_TRUE(registerBuiltinDrivers(registry).has_value());
    DriverContext context{clock_, config.nodes};
    return buildPipeline(config, registry, context, diag_, /*create=*/true);
  }
  FakeClock clock_;
};

TEST_F(GuardWiringTest, ReferencePointsBecomeTheEnginesIsolationCheck) {
  const auto config = loadText("", "driver = fake\nreference-points = 127.0.0.1:1, 127.0.0.1:2\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  auto pipeline = build(*config);
  ASSERT_TRUE(pipeline.has_value()) << diag_.format();
  ASSERT_NE(pipeline->isolation, nullptr);
  EXPECT_EQ(pipeline->isolation->size(), 2u);
  EXPECT_EQ(pipeline->drivers().isolation, pipeline->isolation.get());
  EXPECT_TRUE(pipeline->drivers().reference_monitors.empty());  // the fake monitor is no API
}

TEST_F(GuardWiringTest, NoReferencePointsNoIsolationCheck) {
  const auto config = loadText("", "driver = fake\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  auto pipeline = build(*config);
  ASSERT_TRUE(pipeline.has_value()) << diag_.format();
  EXPECT_EQ(pipeline->drivers().isolation, nullptr);
}

TEST_F(GuardWiringTest, RequiringMoreReferencePointsThanConfiguredIsAnError) {
  const auto config = loadText("",
                               "driver = fake\nreference-points = 127.0.0.1:1\n"
                               "reference-points-required = 2\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_FALSE(build(*config).has_value());
  EXPECT_TRUE(hasError(path_ + ":5", "reference-points-required is 2, but there are only 1"))
      << diag_.format();
}

}  // namespace
}  // namespace fdr::app
