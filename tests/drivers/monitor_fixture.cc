#include "drivers/monitor_fixture.h"

#include "app/builtin_drivers.h"

namespace fdr::testing {

FakeCloud::FakeCloud() {
  http_options.connect_timeout = std::chrono::seconds(1);
  http_options.timeout = std::chrono::seconds(1);
  http_options.retry.max_attempts = 2;
  start();
  nova = std::make_unique<nova::NovaClient>(*keystone);
}

FakeCloud::~FakeCloud() {
  // Handlers capture `this`: stop serving before the members they use go away.
  server.stop();
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
