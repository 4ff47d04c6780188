// Shared helpers of the monitor driver tests: a fake cloud (tests/clients/openstack_fake_fixture:
// Keystone v3 with a catalog naming Neutron, Monasca and Nova, on loopback, on a FakeClock), and
// making a monitor the way the daemon does (built-in registry, option schema, DriverContext).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clients/http/http_client.h"
#include "clients/http_fake_server_fixture.h"
#include "clients/keystone/keystone_client.h"
#include "clients/nova/nova_client.h"
#include "clients/openstack_fake_fixture.h"
#include "freezer/clock.h"
#include "freezer/registry.h"

namespace fdr::testing {

// FakeOpenStack with the clients a monitor gets from the daemon (Keystone and Nova), calls
// timing out after 1 s and tried twice.
class FakeCloud : public FakeOpenStack {
 public:
  FakeCloud();
  ~FakeCloud();

  std::unique_ptr<nova::NovaClient> nova;
};

// A monitor made as the daemon makes it. Owns the registry, the inventory and the context.
class MonitorUnderTest {
 public:
  // `cloud` (may be null: no [keystone_authtoken]) must outlive the monitor.
  static Result<std::unique_ptr<MonitorUnderTest>> make(
      const std::string& driver, const std::map<std::string, std::string>& options,
      FakeCloud* cloud, Clock& clock);
  Result<std::vector<Observation>> poll(const std::vector<Node>& nodes) {
    return monitor_->poll(nodes);
  }
  Monitor& get() { return *monitor_; }

 private:
  MonitorUnderTest(Clock& clock, FakeCloud* cloud);
  std::vector<Node> inventory_;
  Registry registry_;
  DriverContext context_;
  MonitorPtr monitor_;
};

Node makeNode(const std::string& hostname, const std::string& ip = "",
              std::map<std::string, std::string> extra = {});

// (node, source) -> observation.
std::map<std::pair<std::string, std::string>, Observation> byNodeAndSource(
    const std::vector<Observation>& observations);
// node -> health, for monitors with one source.
std::map<std::string, Health> healthByNode(const std::vector<Observation>& observations);

}  // namespace fdr::testing
