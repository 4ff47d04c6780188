// A fake OpenStack for client and driver tests: Keystone v3 (/identity/v3) with a catalog naming
// Nova, Neutron and Monasca, served by one FakeHttpServer (each test adds the routes it needs),
// with clients wired to it on a FakeClock.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "clients/http/http_client.h"
#include "clients/http_fake_server_fixture.h"
#include "clients/keystone/keystone_client.h"
#include "freezer/clock.h"

namespace fdr::testing {

class FakeOpenStack {
 public:
  static constexpr const char* kPassword = "admin-password-123";

  FakeOpenStack();

  // Password credentials for user admin in project admin at server.url("/identity").
  [[nodiscard]] keystone::Credentials credentials() const;
  // Catalog: compute (public and internal, RegionOne) at /compute/v2.1, placement at /placement,
  // network at /network, monitoring at /monitoring/v2.0 (public), identity.
  [[nodiscard]] nlohmann::json catalog() const;
  // Creates the HTTP and Keystone clients (call after adjusting the options).
  void start(keystone::Credentials credentials, keystone::KeystoneOptions options = {});
  void start() { start(credentials()); }

  // Tokens issued so far: "tok-1-abcdef", "tok-2-abcdef", ...
  [[nodiscard]] std::string token(int n) const { return "tok-" + std::to_string(n) + "-abcdef"; }
  [[nodiscard]] int tokensIssued() const { return issued_.load(); }
  [[nodiscard]] std::string compute(std::string_view path = "") const;
  // The body of the latest POST /identity/v3/auth/tokens.
  [[nodiscard]] nlohmann::json lastAuthBody() const;

  FakeHttpServer server;
  FakeClock clock;
  http::ClientOptions http_options;
  Duration token_lifetime{std::chrono::hours(1)};
  std::unique_ptr<http::Client> http;
  std::unique_ptr<keystone::KeystoneClient> keystone;

 private:
  std::atomic<int> issued_{0};
};

}  // namespace fdr::testing
