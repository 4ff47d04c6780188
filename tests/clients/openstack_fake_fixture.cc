#include "clients/openstack_fake_fixture.h"

namespace fdr::testing {

using nlohmann::json;

FakeOpenStack::FakeOpenStack() {
  http_options.connect_timeout = std::chrono::seconds(2);
  http_options.timeout = std::chrono::seconds(5);
  http_options.retry.jitter = 0;
  server.on("POST", "/identity/v3/auth/tokens", [this](const FakeRequest&) {
    const int n = ++issued_;
    json body = {{"token",
                  {{"expires_at", formatTime(clock.now() + token_lifetime)},
                   {"issued_at", formatTime(clock.now())},
                   {"methods", {"password"}},
                   {"user", {{"id", "u-admin"}, {"name", "admin"}}},
                   {"project", {{"id", "p-admin"}, {"name", "admin"}}},
                   {"catalog", catalog()}}}};
    return FakeReply::json(201, body)
        .header("X-Subject-Token", token(n))
        .header("X-OpenStack-Request-ID", "req-auth-" + std::to_string(n));
  });
}

keystone::Credentials FakeOpenStack::credentials() const {
  keystone::Credentials c;
  c.auth_url = server.url("/identity");
  c.username = "admin";
  c.user_domain_id = "default";
  c.password = Secret(kPassword);
  c.project_name = "admin";
  c.project_domain_id = "default";
  c.source = "test";
  return c;
}

json FakeOpenStack::catalog() const {
  return json::array({{{"type", "compute"},
                       {"name", "nova"},
                       {"endpoints",
                        {{{"interface", "public"},
                          {"region_id", "RegionOne"},
                          {"region", "RegionOne"},
                          {"url", compute()}},
                         {{"interface", "internal"},
                          {"region_id", "RegionOne"},
                          {"region", "RegionOne"},
                          {"url", compute()}}}}},
                      {{"type", "placement"},
                       {"name", "placement"},
                       {"endpoints",
                        {{{"interface", "public"},
                          {"region_id", "RegionOne"},
                          {"region", "RegionOne"},
                          {"url", server.url("/placement")}}}}},
                      {{"type", "network"},
                       {"name", "neutron"},
                       {"endpoints",
                        {{{"interface", "public"},
                          {"region_id", "RegionOne"},
                          {"region", "RegionOne"},
                          {"url", server.url("/network")}}}}},
                      {{"type", "monitoring"},
                       {"name", "monasca"},
                       {"endpoints",
                        {{{"interface", "public"},
                          {"region_id", "RegionOne"},
                          {"region", "RegionOne"},
                          {"url", server.url("/monitoring/v2.0")}}}}},
                      {{"type", "identity"},
                       {"name", "keystone"},
                       {"endpoints",
                        {{{"interface", "public"},
                          {"region_id", "RegionOne"},
                          {"url", server.url("/identity")}}}}}});
}

json FakeOpenStack::lastAuthBody() const {
  json out;
  for (const auto& r : server.requests()) {
    if (r.method == "POST" && r.path == "/identity/v3/auth/tokens") out = r.json();
  }
  return out;
}

std::string FakeOpenStack::compute(std::string_view path) const {
  return server.url("/compute/v2.1") + std::string(path);
}

void FakeOpenStack::start(keystone::Credentials credentials, keystone::KeystoneOptions options) {
  keystone.reset();
  http = std::make_unique<http::Client>(http_options, clock);
  keystone =
      std::make_unique<keystone::KeystoneClient>(*http, std::move(credentials), clock, options);
}

}  // namespace fdr::testing
