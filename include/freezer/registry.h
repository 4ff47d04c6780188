// Drivers are named factories with a typed option schema, registered explicitly at start-up
// (registerBuiltinDrivers in src/app/builtin_drivers.h), never by static initialisers.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "freezer/clock.h"
#include "freezer/evacuator.h"
#include "freezer/fencer.h"
#include "freezer/model.h"
#include "freezer/monitor.h"
#include "freezer/notifier.h"
#include "freezer/options.h"
#include "freezer/result.h"

namespace fdr {

namespace keystone {
class KeystoneClient;  // src/clients/keystone/keystone_client.h
}  // namespace keystone
namespace nova {
class NovaClient;  // src/clients/nova/nova_client.h
}  // namespace nova
namespace placement {
class PlacementClient;  // src/clients/placement/placement_client.h
}  // namespace placement

// What a driver may use. Owned by the caller; outlives every driver created with it.
struct DriverContext {
  Clock& clock;
  const std::vector<Node>& nodes;  // the inventory
  // The one Keystone session of the process (token cache, catalog), built from
  // [keystone_authtoken]; nullptr when that section is not configured. Drivers that talk to
  // OpenStack share it (the e-mail notifier looks up a project's users with it).
  keystone::KeystoneClient* keystone = nullptr;
  // The Nova client on that session (microversion negotiated once); nullptr likewise.
  nova::NovaClient* nova = nullptr;
  // The Placement client on that session (the capacity check); nullptr likewise.
  placement::PlacementClient* placement = nullptr;
};

template <class Interface>
struct DriverFactory {
  std::string name;                  // as written in the config: "ipmi", "fake"
  std::vector<std::string> aliases;  // the original freezer-dr's Python class paths
  std::string description;
  OptionSchema schema;
  // Optional: what the schema cannot check (options that depend on each other, options of a
  // nested driver). Run by `validate` and before create(), so that a bad value is a config
  // error at validation, not a surprise at start-up.
  std::function<Status(const Options&)> check = nullptr;
  std::function<Result<std::unique_ptr<Interface>>(const Options&, DriverContext&)> create;
};

// A driver the original had (or the design plans) that this build does not have yet: naming it
// is a clear start-up error, not "unknown driver".
struct PlannedDriver {
  std::string name;
  std::vector<std::string> aliases;
  std::string note;  // e.g. "comes with the Nova evacuator (issue 5)"
};

template <class Interface>
class DriverRegistry {
 public:
  explicit DriverRegistry(std::string stage) : stage_(std::move(stage)) {}

  // Fails if the name or an alias is already taken.
  Status add(DriverFactory<Interface> factory);
  void addPlanned(PlannedDriver planned);

  // By name or alias. Unknown: kNotFound listing the valid names (and a "did you mean").
  // Planned but not built: kNotSupported saying so.
  [[nodiscard]] Result<const DriverFactory<Interface>*> find(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] const std::string& stage() const { return stage_; }

 private:
  std::string stage_;
  std::map<std::string, DriverFactory<Interface>> factories_;
  std::map<std::string, std::string> alias_to_name_;
  std::vector<PlannedDriver> planned_;
};

struct Registry {
  DriverRegistry<Monitor> monitors{"monitoring"};
  DriverRegistry<Fencer> fencers{"fencer"};
  DriverRegistry<Evacuator> evacuators{"evacuation"};
  DriverRegistry<Notifier> notifiers{"notifiers"};
};

}  // namespace fdr

#include "freezer/registry_impl.h"  // IWYU pragma: keep
