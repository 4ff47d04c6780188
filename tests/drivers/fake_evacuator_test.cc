// The fake evacuator's compute services: forced down and disabled by forceDown(), heartbeat and
// restore() for the unfence, in memory and in a cloud file shared across restarts.
#include "drivers/evacuator/fake/fake_evacuator.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "freezer/diagnostics.h"
#include "support/temp_dir.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;

class FakeEvacuatorTest : public ::testing::Test {
 protected:
  FakeEvacuatorTest() {
    for (const char* host : {"compute-1", "compute-2"}) {
      Node node;
      node.id = host;
      node.hostname = host;
      nodes_.push_back(node);
    }
  }

  EvacuatorPtr make(std::map<std::string, std::string> raw_options = {}) {
    Registry registry;
    EXPECT_TRUE(drivers::registerFakeEvacuator(registry).has_value());
    auto factory = registry.evacuators.find("fake");
    EXPECT_TRUE(factory.has_value());
    RawOptions raw;
    for (const auto& [k, v] : raw_options) raw[k] = RawOption{v, "test"};
    Diagnostics diag;
    auto options = Options::parse((*factory)->schema, raw, "[evacuation] driver fake", diag);
    EXPECT_TRUE(options.has_value()) << diag.format();
    DriverContext context{.clock = clock_, .nodes = nodes_};
    auto made = (*factory)->create(*options, context);
    EXPECT_TRUE(made.has_value()) << made.error().toString();
    return made ? std::move(*made) : nullptr;
  }

  FakeClock clock_;
  std::vector<Node> nodes_;
  TempDir dir_;
};

TEST_F(FakeEvacuatorTest, ForceDownThenRestoreReturnsTheServiceToService) {
  auto evacuator = make();
  ASSERT_NE(evacuator, nullptr);
  auto before = evacuator->computeService(nodes_[0]);
  ASSERT_TRUE(before) << before.error().toString();
  EXPECT_TRUE(before->up);
  EXPECT_FALSE(before->forced_down);
  EXPECT_EQ(before->updated_at, clock_.now());  // a running nova-compute reports now

  ASSERT_TRUE(evacuator->forceDown(nodes_[0], "fenced"));
  auto down = evacuator->computeService(nodes_[0]);
  ASSERT_TRUE(down);
  EXPECT_FALSE(down->up);  // as Nova: down while forced down
  EXPECT_TRUE(down->forced_down);
  EXPECT_TRUE(down->disabled);
  EXPECT_EQ(down->disabled_reason, "fenced");

  ASSERT_TRUE(evacuator->restore(nodes_[0]));
  ASSERT_TRUE(evacuator->restore(nodes_[0]));  // idempotent
  auto back = evacuator->computeService(nodes_[0]);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->up);
  EXPECT_FALSE(back->forced_down);
  EXPECT_FALSE(back->disabled);
  EXPECT_TRUE(back->disabled_reason.empty());
}

TEST_F(FakeEvacuatorTest, AStoppedServiceKeepsItsLastHeartbeatFromTheCloudFile) {
  const std::string file = dir_.file("cloud.json");
  dir_.write("cloud.json", nlohmann::json{{"instances", nlohmann::json::array()},
                                          {"services",
                                           {{"compute-1",
                                             {{"forced_down", true},
                                              {"disabled", true},
                                              {"reporting", false},
                                              {"updated_at", 1'700'000'000'123}}}}}}
                               .dump());
  auto evacuator = make({{"cloud-file", file}});
  ASSERT_NE(evacuator, nullptr);
  auto service = evacuator->computeService(nodes_[0]);
  ASSERT_TRUE(service) << service.error().toString();
  EXPECT_FALSE(service->up);
  ASSERT_TRUE(service->updated_at.has_value());
  EXPECT_EQ(toMillis(*service->updated_at), 1'700'000'000'123);

  auto missing = evacuator->computeService(nodes_[1]);  // not in this cloud
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(evacuator->restore(nodes_[1]));

  ASSERT_TRUE(evacuator->restore(nodes_[0]));
  auto restarted = make({{"cloud-file", file}});  // the cloud file outlives the process
  auto after = restarted->computeService(nodes_[0]);
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->forced_down);
  EXPECT_FALSE(after->disabled);
}

// A reserved host in the fake cloud: enable() only enables; a targeted evacuation to a disabled
// or full host leaves the instance in ERROR on its host with a NoValidHost fault (as Nova 2.29+),
// and once there is room it lands and comes back in its former state.
TEST_F(FakeEvacuatorTest, ATargetedEvacuationNeedsAnEnabledHostWithRoom) {
  const std::string file = dir_.file("cloud.json");
  dir_.write(
      "cloud.json",
      nlohmann::json{{"instances", {{{"id", "vm1"}, {"host", "compute-1"}, {"status", "ACTIVE"}}}},
                     {"services",
                      {{"compute-1", {{"forced_down", true}, {"disabled", true}}},
                       {"spare", {{"disabled", true}, {"capacity", 1}}}}}}
          .dump());
  auto evacuator = make({{"cloud-file", file}, {"rebuild-polls", "0"}});
  ASSERT_NE(evacuator, nullptr);
  Node spare;
  spare.hostname = "spare";
  const std::vector<EvacuationRequest> to_spare{{"vm1", "compute-1", "spare"}};
  const std::vector<std::string> ids{"vm1"};

  auto refused = evacuator->evacuate(to_spare);  // disabled: the scheduler finds no valid host
  ASSERT_TRUE(refused[0]) << refused[0].error().toString();
  auto shown = evacuator->show(ids);
  ASSERT_TRUE(shown[0]);
  EXPECT_EQ(shown[0]->status, "ERROR");
  EXPECT_EQ(shown[0]->host, "compute-1");
  EXPECT_NE(shown[0]->fault.find("No valid host"), std::string::npos);

  ASSERT_TRUE(evacuator->enable(spare));
  auto service = evacuator->computeService(spare);
  ASSERT_TRUE(service);
  EXPECT_FALSE(service->disabled);
  auto landed = evacuator->evacuate(to_spare);
  ASSERT_TRUE(landed[0]) << landed[0].error().toString();
  shown = evacuator->show(ids);
  ASSERT_TRUE(shown[0]);
  EXPECT_EQ(shown[0]->host, "spare");
  EXPECT_EQ(shown[0]->status, "ACTIVE") << "back in its state before the failed attempt";
  EXPECT_EQ(shown[0]->fault, "");

  Node unknown;
  unknown.hostname = "nowhere";
  EXPECT_FALSE(evacuator->enable(unknown));
  const std::vector<EvacuationRequest> to_nowhere{{"vm1", "spare", "nowhere"}};
  EXPECT_FALSE(evacuator->evacuate(to_nowhere)[0]);
}

}  // namespace
}  // namespace fdr::testing
