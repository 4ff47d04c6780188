// The process's one connection to the cloud: an HTTP client, a Keystone session (token cache,
// catalog), a Nova and a Placement client, built from [keystone_authtoken], or clouds.yaml
// (OS_CLOUD), or the OS_* environment — the first that is configured. Drivers reach it through
// DriverContext.
#pragma once

#include <memory>

#include "app/config/config.h"
#include "clients/http/http_client.h"
#include "clients/keystone/credentials.h"
#include "clients/keystone/keystone_client.h"
#include "clients/nova/nova_client.h"
#include "clients/placement/placement_client.h"
#include "freezer/clock.h"
#include "freezer/result.h"

namespace fdr::app {

class OpenStackSession {
 public:
  // No I/O: authentication happens at the first call. kNotFound when no credentials are
  // configured anywhere (the caller decides whether that matters).
  static Result<std::unique_ptr<OpenStackSession>> create(const config::Config& config,
                                                          Clock& clock,
                                                          const keystone::EnvLookup& env);

  keystone::KeystoneClient& keystone() { return *keystone_; }
  nova::NovaClient& nova() { return *nova_; }
  placement::PlacementClient& placement() { return *placement_; }

 private:
  OpenStackSession() = default;
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<keystone::KeystoneClient> keystone_;
  std::unique_ptr<nova::NovaClient> nova_;
  std::unique_ptr<placement::PlacementClient> placement_;
};

// The [keystone_authtoken] section in the Keystone client's terms.
keystone::AuthTokenSection toAuthTokenSection(const config::KeystoneAuth& auth);

}  // namespace fdr::app
