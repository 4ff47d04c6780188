#include "drivers/monitor_fixture.h"

#include "app/builtin_drivers.h"

namespace fdr::testing {

using nlohmann::json;

FakeCloud::FakeCloud() {
  server.on("POST", "/identity/v3/auth/tokens", [this](const FakeRequest&) {
    const int n = ++issued_;
    auto endpoint = [](const std::string& url) {
      return json::array({{{"interface", "public"},
                           {"region_id", "RegionOne"},
                           {"region", "RegionOne"},
                           {"url", url}}});
    };
    json catalog = json::array({{{"type", "network"},
                                 {"name", "neutron"},
                                 {"endpoints", endpoint(server.url("/network"))}},
                                {{"type", "monitoring"},
                                 {"name", "monasca"},
                                 {"endpoints", endpoint(server.url("/monitoring/v2.0"))}},
                                {{"type", "compute"},
                                 {"name", "nova"},
                                 {"endpoints", endpoint(server.url("/compute/v2.1"))}},
                                {{"type", "identity"},
                                 {"name", "keystone"},
                                 {"endpoints", endpoint(server.url("/identity"))}}});
    json body = {{"token",
                  {{"expires_at", formatTime(clock.now() + std::chrono::hours(1))},
                   {"issued_at", formatTime(clock.now())},
                   {"methods", {"password"}},
                   {"user", {{"id", "u-admin"}, {"name", "admin"}}},
                   {"project", {{"id", "p-admin"}, {"name", "admin"}}},
                   {"catalog", catalog}}}};
    return FakeReply::json(201, body).header("X-Subject-Token",
                                             "tok-" + std::to_string(n) + "-cloud");
  });
  http::ClientOptions options;
  options.connect_timeout = std::chrono::seconds(1);
  options.timeout = std::chrono::seconds(1);
  options.retry.max_attempts = 2;
  options.retry.jitter = 0;
  http = std::make_unique<http::Client>(options, clock);
  keystone = std::make_unique<keystone::KeystoneClient>(*http, credentials(), clock);
  nova = std::make_unique<nova::NovaClient>(*keystone);
}

FakeCloud::~FakeCloud() {
  // Handlers capture `this`: stop serving before the members they use go away.
  server.stop();
}

keystone::Credentials FakeCloud::credentials() const {
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

MonitorUnderTest::MonitorUnderTest(Clock& clock, FakeCloud* cloud)
    : context_{clock, inventory_, cloud != nullptr ? cloud->keystone.get() : nullptr,
               cloud != nullptr ? cloud->nova.get() : nullptr} {}

Result<std::unique_ptr<MonitorUnderTest>> MonitorUnderTest::make(
    const std::string& driver, const std::map<std::string, std::string>& options, FakeCloud* cloud,
    Clock& clock) {
  std::unique_ptr<MonitorUnderTest> out(new MonitorUnderTest(clock, cloud));
  if (auto registered = app::registerBuiltinDrivers(out->registry_); !registered) {
    return std::unexpected(registered.error());
  }
  auto factory = out->registry_.monitors.find(driver);
  if (!factory) return std::unexpected(factory.error());
  RawOptions raw;
  for (const auto& [key, value] : options) raw[key] = RawOption{value, "test"};
  Diagnostics diag;
  auto parsed = Options::parse((*factory)->schema, raw, "[monitoring] driver " + driver, diag);
  if (!parsed) return fail(ErrorCode::kInvalidArgument, diag.format());
  auto monitor = (*factory)->create(*parsed, out->context_);
  if (!monitor) return std::unexpected(monitor.error());
  out->monitor_ = std::move(*monitor);
  return out;
}

Node makeNode(const std::string& hostname, const std::string& ip,
              std::map<std::string, std::string> extra) {
  Node n;
  n.hostname = hostname;
  n.ip_addr = ip;
  n.extra = std::move(extra);
  return n;
}

std::map<std::pair<std::string, std::string>, Observation> byNodeAndSource(
    const std::vector<Observation>& observations) {
  std::map<std::pair<std::string, std::string>, Observation> out;
  for (const auto& o : observations) out[{o.node, o.source}] = o;
  return out;
}

std::map<std::string, Health> healthByNode(const std::vector<Observation>& observations) {
  std::map<std::string, Health> out;
  for (const auto& o : observations) out[o.node] = o.health;
  return out;
}

}  // namespace fdr::testing
