#include "clients/nova/nova_client.h"

#include <gtest/gtest.h>

#include "clients/openstack_fake_fixture.h"

namespace fdr::nova {
namespace {

using fdr::testing::FakeOpenStack;
using fdr::testing::FakeReply;
using fdr::testing::FakeRequest;
using nlohmann::json;

json serverJson(const std::string& id, const std::string& host) {
  return {{"id", id},
          {"name", "vm-" + id},
          {"status", "ACTIVE"},
          {"tenant_id", "p-1"},
          {"user_id", "u-1"},
          {"metadata", {{"HA_Priority", "5"}}},
          {"OS-EXT-SRV-ATTR:host", host},
          {"OS-EXT-SRV-ATTR:hypervisor_hostname", host + ".example.org"},
          {"OS-EXT-STS:task_state", nullptr},
          {"OS-EXT-STS:vm_state", "active"},
          {"OS-EXT-STS:power_state", 1},
          {"flavor", {{"original_name", "m1.small"}, {"vcpus", 1}, {"ram", 512}, {"disk", 1}}},
          {"image", {{"id", "img-1"}, {"links", json::array()}}},
          {"os-extended-volumes:volumes_attached", json::array()},
          {"created", "2026-01-01T00:00:00Z"},
          {"updated", "2026-01-01T00:00:00Z"}};
}

json serviceJson(const std::string& id, const std::string& host) {
  return {{"id", id},
          {"binary", "nova-compute"},
          {"host", host},
          {"zone", "nova"},
          {"status", "enabled"},
          {"state", "up"},
          {"forced_down", false},
          {"disabled_reason", nullptr},
          {"updated_at", "2026-01-01T00:00:00.000000"}};
}

class NovaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    os.server.on("GET", "/compute/v2.1/", [this](const FakeRequest&) {
      return FakeReply::json(200, {{"version",
                                    {{"id", "v2.1"},
                                     {"status", "CURRENT"},
                                     {"version", server_max},
                                     {"min_version", "2.1"}}}});
    });
  }

  NovaClient& nova(NovaOptions options = {}) {
    os.start();
    client = std::make_unique<NovaClient>(*os.keystone, options);
    return *client;
  }

  // The microversion header of the last request to `path`.
  std::string versionOf(const std::string& method, const std::string& path) {
    std::string out;
    for (const auto& r : os.server.requests()) {
      if (r.method == method && r.path == path) out = r.header("openstack-api-version");
    }
    return out;
  }

  json lastBody(const std::string& method, const std::string& path) {
    json out;
    for (const auto& r : os.server.requests()) {
      if (r.method == method && r.path == path) out = r.json();
    }
    return out;
  }

  FakeOpenStack os;
  std::string server_max = "2.93";
  std::unique_ptr<NovaClient> client;
};

TEST(MicroversionTest, ParseAndCompare) {
  EXPECT_EQ(Microversion::parse("2.53"), (Microversion{2, 53}));
  EXPECT_FALSE(Microversion::parse("2"));
  EXPECT_FALSE(Microversion::parse("2.x"));
  EXPECT_FALSE(Microversion::parse(""));
  EXPECT_LT((Microversion{2, 9}), (Microversion{2, 10}));
  EXPECT_EQ((Microversion{2, 100}).str(), "2.100");
}

TEST_F(NovaClientTest, UsesTheHighestVersionBothSidesKnow) {
  NovaClient& n = nova();
  auto v = n.microversion();
  ASSERT_TRUE(v) << v.error().toString();
  EXPECT_EQ(*v, (Microversion{2, 93}));
  os.server.onJson("GET", "/compute/v2.1/os-services", 200, {{"services", json::array()}});
  ASSERT_TRUE(n.computeServices("c1"));
  EXPECT_EQ(versionOf("GET", "/compute/v2.1/os-services"), "compute 2.93");
  EXPECT_EQ(os.server.count("GET", "/compute/v2.1/"), 1u);  // negotiated once
}

TEST_F(NovaClientTest, NewerServerIsCappedAtTheClientsMaximum) {
  server_max = "2.120";
  auto v = nova().microversion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, kMaxKnown);
}

TEST_F(NovaClientTest, ConfiguredMaximumIsHonoured) {
  NovaOptions options;
  options.max_version = Microversion{2, 40};
  auto v = nova(options).microversion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, (Microversion{2, 40}));
}

TEST_F(NovaClientTest, LegacyV2WithoutMicroversionsIsNotSupported) {
  server_max = "";
  auto v = nova().microversion();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::kNotSupported);
}

TEST_F(NovaClientTest, UnversionedEndpointIsFollowedToV21) {
  os.server.onJson(
      "GET", "/compute/", 200,
      {{"versions",
        {{{"id", "v2.0"}, {"status", "SUPPORTED"}, {"version", ""}, {"min_version", ""}},
         {{"id", "v2.1"}, {"status", "CURRENT"}, {"version", "2.60"}, {"min_version", "2.1"}}}}});
  os.server.onJson("GET", "/compute/v2.1/os-services", 200,
                   {{"services", {serviceJson("s-1", "c1")}}});
  NovaOptions options;
  options.endpoint_override = os.server.url("/compute");
  NovaClient& n = nova(options);
  auto v = n.microversion();
  ASSERT_TRUE(v) << v.error().toString();
  EXPECT_EQ(*v, (Microversion{2, 60}));
  EXPECT_EQ(n.endpoint().value_or(""), os.server.url("/compute/v2.1"));
  ASSERT_TRUE(n.computeServices("c1"));
}

TEST_F(NovaClientTest, MalformedVersionDocument) {
  os.server.on("GET", "/compute/v2.1/",
               [](const FakeRequest&) { return FakeReply::text(200, "<html>not json</html>"); });
  auto v = nova().microversion();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::kCorruption);
  EXPECT_NE(v.error().message.find("version document"), std::string::npos);
}

TEST_F(NovaClientTest, ComputeServicesMatchTheHostExactly) {
  os.server.on("GET", "/compute/v2.1/os-services", [](const FakeRequest& r) {
    EXPECT_EQ(r.param("host"), "compute1");
    EXPECT_EQ(r.param("binary"), "nova-compute");
    // A sloppy server (or proxy) returning more than asked.
    return FakeReply::json(200, {{"services",
                                  {serviceJson("s-1", "compute1"), serviceJson("s-10", "compute10"),
                                   serviceJson("s-11", "compute1.example.org")}}});
  });
  auto services = nova().computeServices("compute1");
  ASSERT_TRUE(services) << services.error().toString();
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ(services->front().id, "s-1");
  EXPECT_EQ(services->front().state, "up");
}

TEST_F(NovaClientTest, ServiceWithIntegerIdBefore253) {
  server_max = "2.12";
  json service = serviceJson("x", "c1");
  service["id"] = 7;
  os.server.onJson("GET", "/compute/v2.1/os-services", 200, {{"services", {service}}});
  auto s = nova().computeService("c1");
  ASSERT_TRUE(s) << s.error().toString();
  EXPECT_EQ(s->id, "7");
}

TEST_F(NovaClientTest, NoComputeServiceOnTheHost) {
  os.server.onJson("GET", "/compute/v2.1/os-services", 200, {{"services", json::array()}});
  NovaClient& n = nova();
  auto s = n.computeService("nowhere");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(n.forceDown("nowhere"));
}

TEST_F(NovaClientTest, ServiceWithAMissingFieldNamesFieldAndRequest) {
  json service = serviceJson("s-1", "c1");
  service.erase("state");
  os.server.onJson("GET", "/compute/v2.1/os-services", 200, {{"services", {service}}});
  auto s = nova().computeServices("c1");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kCorruption);
  EXPECT_NE(s.error().message.find("field 'services[0].state' is missing"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("nova GET /os-services?binary=nova-compute&host=c1"),
            std::string::npos)
      << s.error().message;
}

TEST_F(NovaClientTest, ForceDownDisableEnableAndUnforceAt253) {
  os.server.onJson("GET", "/compute/v2.1/os-services", 200,
                   {{"services", {serviceJson("uuid-1", "c1")}}});
  os.server.on("PUT", "/compute/v2.1/os-services/uuid-1", [](const FakeRequest& r) {
    json service = serviceJson("uuid-1", "c1");
    json body = r.json();
    if (body.contains("forced_down")) service["forced_down"] = body["forced_down"];
    if (body.contains("status")) service["status"] = body["status"];
    if (body.contains("disabled_reason")) service["disabled_reason"] = body["disabled_reason"];
    return FakeReply::json(200, {{"service", service}});
  });
  NovaClient& n = nova();
  const std::string path = "/compute/v2.1/os-services/uuid-1";
  ASSERT_TRUE(n.forceDown("c1"));
  EXPECT_EQ(lastBody("PUT", path), json({{"forced_down", true}}));
  EXPECT_EQ(versionOf("PUT", path), "compute 2.93");
  ASSERT_TRUE(n.disable("c1", "freezer-dr: node failed"));
  EXPECT_EQ(lastBody("PUT", path),
            json({{"status", "disabled"}, {"disabled_reason", "freezer-dr: node failed"}}));
  ASSERT_TRUE(n.enable("c1"));
  EXPECT_EQ(lastBody("PUT", path), json({{"status", "enabled"}}));
  ASSERT_TRUE(n.unforceDown("c1"));
  EXPECT_EQ(lastBody("PUT", path), json({{"forced_down", false}}));
}

TEST_F(NovaClientTest, ForceDownThatDidNotTakeIsAnError) {
  os.server.onJson("GET", "/compute/v2.1/os-services", 200,
                   {{"services", {serviceJson("uuid-1", "c1")}}});
  os.server.onJson("PUT", "/compute/v2.1/os-services/uuid-1", 200,
                   {{"service", serviceJson("uuid-1", "c1")}});
  auto status = nova().forceDown("c1");
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("forced_down is still false"), std::string::npos);
}

TEST_F(NovaClientTest, LegacyForceDownAndDisableBefore253) {
  server_max = "2.40";
  json service = serviceJson("x", "c1");
  service["id"] = 3;
  os.server.onJson("GET", "/compute/v2.1/os-services", 200, {{"services", {service}}});
  os.server.onJson(
      "PUT", "/compute/v2.1/os-services/force-down", 200,
      {{"service", {{"host", "c1"}, {"binary", "nova-compute"}, {"forced_down", true}}}});
  os.server.onJson(
      "PUT", "/compute/v2.1/os-services/disable-log-reason", 200,
      {{"service", {{"host", "c1"}, {"binary", "nova-compute"}, {"status", "disabled"}}}});
  os.server.onJson(
      "PUT", "/compute/v2.1/os-services/enable", 200,
      {{"service", {{"host", "c1"}, {"binary", "nova-compute"}, {"status", "enabled"}}}});
  NovaClient& n = nova();
  ASSERT_TRUE(n.forceDown("c1"));
  EXPECT_EQ(lastBody("PUT", "/compute/v2.1/os-services/force-down"),
            json({{"host", "c1"}, {"binary", "nova-compute"}, {"forced_down", true}}));
  EXPECT_EQ(versionOf("PUT", "/compute/v2.1/os-services/force-down"), "compute 2.40");
  ASSERT_TRUE(n.disable("c1", "down"));
  EXPECT_EQ(lastBody("PUT", "/compute/v2.1/os-services/disable-log-reason"),
            json({{"host", "c1"}, {"binary", "nova-compute"}, {"disabled_reason", "down"}}));
  ASSERT_TRUE(n.enable("c1"));
}

TEST_F(NovaClientTest, ForceDownNeeds211) {
  server_max = "2.10";
  os.server.onJson("GET", "/compute/v2.1/os-services", 200,
                   {{"services", {serviceJson("5", "c1")}}});
  auto status = nova().forceDown("c1");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kNotSupported);
}

TEST_F(NovaClientTest, DisableReasonIsCutTo255Characters) {
  os.server.onJson("GET", "/compute/v2.1/os-services", 200,
                   {{"services", {serviceJson("uuid-1", "c1")}}});
  os.server.on("PUT", "/compute/v2.1/os-services/uuid-1", [](const FakeRequest& r) {
    json service = serviceJson("uuid-1", "c1");
    service["status"] = r.json()["status"];
    return FakeReply::json(200, {{"service", service}});
  });
  std::string reason;
  for (int i = 0; i < 300; ++i) reason += "é";
  ASSERT_TRUE(nova().disable("c1", reason));
  const std::string sent = lastBody("PUT", "/compute/v2.1/os-services/uuid-1")["disabled_reason"];
  EXPECT_EQ(sent.size(), 255u * 2);
}

TEST_F(NovaClientTest, HypervisorsMatchTheHostExactly) {
  os.server.on("GET", "/compute/v2.1/os-hypervisors/detail", [](const FakeRequest& r) {
    EXPECT_EQ(r.param("hypervisor_hostname_pattern"), "compute1");
    auto h = [](const std::string& id, const std::string& name, const std::string& host) {
      return json{{"id", id},
                  {"hypervisor_hostname", name},
                  {"state", "up"},
                  {"status", "enabled"},
                  {"hypervisor_type", "fake"},
                  {"service", {{"host", host}, {"id", "svc-" + id}, {"disabled_reason", nullptr}}}};
    };
    return FakeReply::json(200,
                           {{"hypervisors",
                             {h("h1", "compute1", "compute1"), h("h10", "compute10", "compute10"),
                              h("h1f", "compute1.example.org", "compute1"),
                              h("h11", "compute11.example.org", "compute11")}}});
  });
  auto hypervisors = nova().hypervisors("compute1");
  ASSERT_TRUE(hypervisors) << hypervisors.error().toString();
  ASSERT_EQ(hypervisors->size(), 2u);
  EXPECT_EQ((*hypervisors)[0].id, "h1");
  EXPECT_EQ((*hypervisors)[1].id, "h1f");
  EXPECT_EQ((*hypervisors)[1].service_host, "compute1");
}

TEST_F(NovaClientTest, NoHypervisorIsAnEmptyList) {
  os.server.onJson("GET", "/compute/v2.1/os-hypervisors/detail", 404,
                   {{"itemNotFound", {{"code", 404}, {"message", "No hypervisor matching"}}}});
  auto hypervisors = nova().hypervisors("ghost");
  ASSERT_TRUE(hypervisors) << hypervisors.error().toString();
  EXPECT_TRUE(hypervisors->empty());
}

TEST_F(NovaClientTest, LegacyHypervisorSearch) {
  server_max = "2.28";
  os.server.onJson(
      "GET", "/compute/v2.1/os-hypervisors/compute1/search", 200,
      {{"hypervisors",
        {{{"id", 1}, {"hypervisor_hostname", "compute1"}, {"state", "up"}, {"status", "enabled"}},
         {{"id", 10},
          {"hypervisor_hostname", "compute10"},
          {"state", "up"},
          {"status", "enabled"}}}}});
  auto hypervisors = nova().hypervisors("compute1");
  ASSERT_TRUE(hypervisors) << hypervisors.error().toString();
  ASSERT_EQ(hypervisors->size(), 1u);
  EXPECT_EQ(hypervisors->front().id, "1");
}

TEST_F(NovaClientTest, ServersOnHostFollowPages) {
  std::vector<json> all;
  for (int i = 1; i <= 5; ++i) all.push_back(serverJson("s" + std::to_string(i), "c1"));
  all[1]["image"] = "";  // boot from volume
  all[1]["os-extended-volumes:volumes_attached"] = {{{"id", "vol-1"}}};
  all[2]["OS-EXT-STS:task_state"] = "rebuilding";
  os.server.on("GET", "/compute/v2.1/servers/detail", [&](const FakeRequest& r) {
    EXPECT_EQ(r.param("all_tenants"), "1");
    EXPECT_EQ(r.param("host"), "c1");
    EXPECT_EQ(r.param("limit"), "2");
    size_t start = 0;
    if (r.hasParam("marker")) {
      const std::string marker = r.param("marker");
      while (start < all.size() && all[start]["id"] != marker) ++start;
      ++start;
    }
    json page = json::array();
    for (size_t i = start; i < all.size() && page.size() < 2; ++i) page.push_back(all[i]);
    json body = {{"servers", page}};
    if (page.size() == 2) {
      body["servers_links"] = {{{"rel", "next"},
                                {"href", "http://elsewhere/servers/detail?marker=" +
                                             page.back()["id"].get<std::string>()}}};
    }
    return FakeReply::json(200, body);
  });
  NovaOptions options;
  options.page_size = 2;
  auto servers = nova(options).serversOnHost("c1");
  ASSERT_TRUE(servers) << servers.error().toString();
  ASSERT_EQ(servers->size(), 5u);
  EXPECT_EQ(os.server.count("GET", "/compute/v2.1/servers/detail"), 3u);
  const Server& s1 = (*servers)[0];
  EXPECT_EQ(s1.id, "s1");
  EXPECT_EQ(s1.status, "ACTIVE");
  EXPECT_EQ(s1.host, "c1");
  EXPECT_EQ(s1.power_state, 1);
  EXPECT_EQ(s1.vm_state, "active");
  EXPECT_EQ(s1.task_state, "");
  EXPECT_EQ(s1.image_id, "img-1");
  EXPECT_FALSE(s1.boot_from_volume);
  EXPECT_EQ(s1.flavor.name, "m1.small");
  EXPECT_EQ(s1.flavor.ram_mb, 512);
  EXPECT_EQ(s1.metadata.at("HA_Priority"), "5");
  EXPECT_TRUE((*servers)[1].boot_from_volume);
  EXPECT_EQ((*servers)[1].volumes, std::vector<std::string>{"vol-1"});
  EXPECT_EQ((*servers)[2].task_state, "rebuilding");
  const Instance instance = s1.toInstance();
  EXPECT_EQ(instance.project_id, "p-1");
  EXPECT_EQ(instance.user_id, "u-1");
  EXPECT_EQ(instance.image_id, "img-1");
}

TEST_F(NovaClientTest, OldFlavorFormatBefore247) {
  server_max = "2.46";
  json s = serverJson("s1", "c1");
  s["flavor"] = {{"id", "42"}, {"links", json::array()}};
  os.server.onJson("GET", "/compute/v2.1/servers/s1", 200, {{"server", s}});
  auto server = nova().server("s1");
  ASSERT_TRUE(server) << server.error().toString();
  EXPECT_EQ(server->flavor.id, "42");
  EXPECT_FALSE(server->flavor.vcpus);
}

TEST_F(NovaClientTest, StuckPaginationIsAnError) {
  os.server.on("GET", "/compute/v2.1/servers/detail", [](const FakeRequest&) {
    // Ignores the marker: always the same page with a next link.
    return FakeReply::json(200, {{"servers", {serverJson("s1", "c1")}},
                                 {"servers_links", {{{"rel", "next"}, {"href", "x"}}}}});
  });
  auto servers = nova().serversOnHost("c1");
  ASSERT_FALSE(servers);
  EXPECT_NE(servers.error().message.find("pagination stuck"), std::string::npos)
      << servers.error().message;
}

TEST_F(NovaClientTest, ServerWithAMissingFieldNamesFieldAndRequest) {
  json bad = serverJson("s2", "c1");
  bad.erase("OS-EXT-STS:vm_state");
  os.server.onJson("GET", "/compute/v2.1/servers/detail", 200,
                   {{"servers", {serverJson("s1", "c1"), bad}}});
  auto servers = nova().serversOnHost("c1");
  ASSERT_FALSE(servers);
  EXPECT_EQ(servers.error().code, ErrorCode::kCorruption);
  EXPECT_NE(servers.error().message.find("field 'servers[1].OS-EXT-STS:vm_state' is missing"),
            std::string::npos)
      << servers.error().message;
  EXPECT_NE(servers.error().message.find("nova GET /servers/detail?all_tenants=1&host=c1"),
            std::string::npos)
      << servers.error().message;
}

TEST_F(NovaClientTest, ServerWithAWrongTypeNamesTheField) {
  json bad = serverJson("s1", "c1");
  bad["OS-EXT-STS:power_state"] = "running";
  os.server.onJson("GET", "/compute/v2.1/servers/s1", 200, {{"server", bad}});
  auto server = nova().server("s1");
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find(
                "field 'server.OS-EXT-STS:power_state' has type string, expected integer"),
            std::string::npos)
      << server.error().message;
}

TEST_F(NovaClientTest, NonAdminViewWithoutHostIsExplained) {
  json bad = serverJson("s1", "c1");
  bad.erase("OS-EXT-SRV-ATTR:host");
  os.server.onJson("GET", "/compute/v2.1/servers/s1", 200, {{"server", bad}});
  auto server = nova().server("s1");
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("only an admin sees it"), std::string::npos);
}

TEST_F(NovaClientTest, ServerInAnUnreachableCellIsAnErrorNotAnOmission) {
  os.server.onJson("GET", "/compute/v2.1/servers/detail", 200,
                   {{"servers",
                     {serverJson("s1", "c1"),
                      {{"id", "s2"},
                       {"status", "UNKNOWN"},
                       {"tenant_id", "p-1"},
                       {"created", "2026-01-01T00:00:00Z"},
                       {"links", json::array()}}}}});
  auto servers = nova().serversOnHost("c1");
  ASSERT_FALSE(servers);
  EXPECT_EQ(servers.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(servers.error().retryable);
  EXPECT_NE(servers.error().message.find("s2"), std::string::npos);
}

TEST_F(NovaClientTest, MalformedJsonIsCorruption) {
  os.server.on("GET", "/compute/v2.1/servers/s1", [](const FakeRequest&) {
    return FakeReply::text(200, R"({"server": {"id": "s1", )");
  });
  auto server = nova().server("s1");
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, ErrorCode::kCorruption);
  EXPECT_NE(server.error().message.find("nova GET /servers/s1"), std::string::npos)
      << server.error().message;
}

TEST_F(NovaClientTest, TruncatedBodyIsRetriedThenAnError) {
  os.server.on("GET", "/compute/v2.1/servers/s1", [](const FakeRequest&) {
    return FakeReply::truncated(200, json{{"server", serverJson("s1", "c1")}}.dump(), 40);
  });
  auto server = nova().server("s1");
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(server.error().message.find("truncated"), std::string::npos);
  EXPECT_EQ(os.server.count("GET", "/compute/v2.1/servers/s1"), 4u);
}

TEST_F(NovaClientTest, NotFoundServer) {
  os.server.onJson(
      "GET", "/compute/v2.1/servers/gone", 404,
      {{"itemNotFound", {{"code", 404}, {"message", "Instance gone could not be found."}}}});
  auto server = nova().server("gone");
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, ErrorCode::kNotFound);
  EXPECT_NE(server.error().message.find("Instance gone could not be found."), std::string::npos);
}

TEST_F(NovaClientTest, ServiceUnavailableIsRetriedForReads) {
  os.server.enqueue("GET", "/compute/v2.1/servers/s1", FakeReply::empty(503));
  os.server.enqueue("GET", "/compute/v2.1/servers/s1", FakeReply::empty(500));
  os.server.onJson("GET", "/compute/v2.1/servers/s1", 200, {{"server", serverJson("s1", "c1")}});
  auto server = nova().server("s1");
  ASSERT_TRUE(server) << server.error().toString();
  EXPECT_EQ(os.server.count("GET", "/compute/v2.1/servers/s1"), 3u);
}

TEST_F(NovaClientTest, ExpiredTokenIsRenewedOnce) {
  os.server.on("GET", "/compute/v2.1/servers/s1", [this](const FakeRequest& r) {
    if (r.header("x-auth-token") == os.token(1)) return FakeReply::empty(401);
    return FakeReply::json(200, {{"server", serverJson("s1", "c1")}});
  });
  auto server = nova().server("s1");
  ASSERT_TRUE(server) << server.error().toString();
  EXPECT_EQ(os.tokensIssued(), 2);
}

class EvacuateBodyTest
    : public NovaClientTest,
      public ::testing::WithParamInterface<std::tuple<std::string, std::string, json>> {};

TEST_P(EvacuateBodyTest, BodyDependsOnTheMicroversion) {
  const auto& [server_version, sent_version, expected] = GetParam();
  server_max = server_version;
  os.server.onJson("POST", "/compute/v2.1/servers/s1/action", 200, json::object());
  EvacuateOptions options;
  options.host = "c2";
  options.force = true;
  ASSERT_TRUE(nova().evacuate("s1", options));
  EXPECT_EQ(lastBody("POST", "/compute/v2.1/servers/s1/action"), expected);
  EXPECT_EQ(versionOf("POST", "/compute/v2.1/servers/s1/action"), "compute " + sent_version);
}

INSTANTIATE_TEST_SUITE_P(
    Versions, EvacuateBodyTest,
    ::testing::Values(
        std::make_tuple("2.1", "2.1",
                        json{{"evacuate", {{"host", "c2"}, {"onSharedStorage", false}}}}),
        std::make_tuple("2.14", "2.14", json{{"evacuate", {{"host", "c2"}}}}),
        std::make_tuple("2.29", "2.29", json{{"evacuate", {{"host", "c2"}, {"force", true}}}}),
        std::make_tuple("2.67", "2.67", json{{"evacuate", {{"host", "c2"}, {"force", true}}}}),
        std::make_tuple("2.68", "2.68", json{{"evacuate", {{"host", "c2"}}}}),
        std::make_tuple("2.96", "2.94", json{{"evacuate", {{"host", "c2"}}}})));

TEST_F(NovaClientTest, EvacuateWithoutTargetLetsTheSchedulerPick) {
  os.server.onJson("POST", "/compute/v2.1/servers/s1/action", 200, json::object());
  ASSERT_TRUE(nova().evacuate("s1"));
  EXPECT_EQ(lastBody("POST", "/compute/v2.1/servers/s1/action"),
            json({{"evacuate", json::object()}}));
}

TEST_F(NovaClientTest, EvacuateConflictIsNotRetried) {
  os.server.onJson(
      "POST", "/compute/v2.1/servers/s1/action", 409,
      {{"conflictingRequest",
        {{"code", 409},
         {"message", "Cannot 'evacuate' instance s1 while it is in task_state rebuilding"}}}});
  auto status = nova().evacuate("s1");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kConflict);
  EXPECT_NE(status.error().message.find("task_state rebuilding"), std::string::npos);
  EXPECT_EQ(os.server.count("POST", "/compute/v2.1/servers/s1/action"), 1u);
}

TEST_F(NovaClientTest, EvacuateServerErrorIsNeverRepeatedBlindly) {
  os.server.onJson("POST", "/compute/v2.1/servers/s1/action", 500,
                   {{"computeFault", {{"code", 500}, {"message", "oops"}}}});
  auto status = nova().evacuate("s1");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(os.server.count("POST", "/compute/v2.1/servers/s1/action"), 1u);
}

TEST_F(NovaClientTest, EvacuationsAndInstanceActions) {
  os.server.on("GET", "/compute/v2.1/os-migrations", [](const FakeRequest& r) {
    EXPECT_EQ(r.param("instance_uuid"), "s1");
    EXPECT_EQ(r.param("migration_type"), "evacuation");
    auto m = [](int id, const std::string& type, const std::string& created) {
      return json{{"id", id},
                  {"uuid", "m-" + std::to_string(id)},
                  {"instance_uuid", "s1"},
                  {"source_compute", "c1"},
                  {"dest_compute", "c2"},
                  {"source_node", "c1"},
                  {"dest_node", nullptr},
                  {"status", "done"},
                  {"migration_type", type},
                  {"created_at", created},
                  {"updated_at", nullptr}};
    };
    return FakeReply::json(200, {{"migrations",
                                  {m(2, "evacuation", "2026-01-02T00:00:00.000000"),
                                   m(1, "evacuation", "2026-01-01T00:00:00.000000"),
                                   m(3, "live-migration", "2026-01-03T00:00:00.000000")}}});
  });
  os.server.onJson("GET", "/compute/v2.1/servers/s1/os-instance-actions", 200,
                   {{"instanceActions",
                     {{{"action", "evacuate"},
                       {"instance_uuid", "s1"},
                       {"request_id", "req-e"},
                       {"user_id", "u-admin"},
                       {"project_id", "p-1"},
                       {"start_time", "2026-01-02T00:00:00.000000"},
                       {"message", nullptr}}}}});
  NovaClient& n = nova();
  auto migrations = n.evacuations("s1");
  ASSERT_TRUE(migrations) << migrations.error().toString();
  ASSERT_EQ(migrations->size(), 2u);
  EXPECT_EQ((*migrations)[0].id, "1");
  EXPECT_EQ((*migrations)[1].uuid, "m-2");
  EXPECT_EQ((*migrations)[1].dest_compute, "c2");
  auto actions = n.instanceActions("s1");
  ASSERT_TRUE(actions) << actions.error().toString();
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ(actions->front().action, "evacuate");
  EXPECT_EQ(actions->front().request_id, "req-e");
}

TEST_F(NovaClientTest, CreateAndDeleteServer) {
  os.server.on("POST", "/compute/v2.1/servers", [](const FakeRequest& r) {
    const json server = r.json()["server"];
    EXPECT_EQ(server["networks"], "none");
    EXPECT_EQ(server["availability_zone"], "nova:c1");
    return FakeReply::json(202, {{"server", {{"id", "new-1"}, {"adminPass", "generated-pass"}}}});
  });
  os.server.onJson("DELETE", "/compute/v2.1/servers/new-1", 404,
                   {{"itemNotFound", {{"code", 404}, {"message", "gone"}}}});
  NovaClient& n = nova();
  CreateServerRequest request;
  request.name = "t";
  request.image_id = "img";
  request.flavor_id = "1";
  request.availability_zone = "nova:c1";
  auto id = n.createServer(request);
  ASSERT_TRUE(id) << id.error().toString();
  EXPECT_EQ(*id, "new-1");
  EXPECT_EQ(os.http->redactor().scrub("pw generated-pass"), "pw ***");
  EXPECT_TRUE(n.deleteServer("new-1"));
}

}  // namespace
}  // namespace fdr::nova
