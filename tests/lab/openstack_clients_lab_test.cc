// Integration tests of the OpenStack clients against the lab (lab/up.sh): real Keystone and
// Nova with fake compute hosts. The lab's coordinates come from /var/tmp/freezer-dr-lab/lab.env
// (or $FDR_LAB_ENV). Without it these tests FAIL: CI brings the lab up before running them.
//
// The evacuation test takes one host down (FDR_LAB_VICTIM, default: the last lab host), and
// always brings it back and deletes the servers it booted, even when it fails half-way.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "clients/http/http_client.h"
#include "clients/http/json_fields.h"
#include "clients/http/url.h"
#include "clients/keystone/credentials.h"
#include "clients/keystone/keystone_client.h"
#include "clients/nova/nova_client.h"
#include "freezer/clock.h"
#include "lab/lab_fixture.h"

namespace fdr {
namespace {

using namespace std::chrono_literals;

using lab::splitCsv;
using lab::waitUntil;

// The lab's admin session (tests/lab/lab_fixture): Keystone, Nova, the hosts.
class OpenStackLabTest : public lab::LabTest {};

TEST_F(OpenStackLabTest, AuthenticatesAndNegotiatesTheComputeApi) {
  auto token = keystone_->token();
  ASSERT_TRUE(token) << token.error().toString();
  EXPECT_FALSE(token->catalog.empty());
  auto endpoint = keystone_->endpoint("compute");
  ASSERT_TRUE(endpoint) << endpoint.error().toString();
  auto version = nova_->microversion();
  ASSERT_TRUE(version) << version.error().toString();
  EXPECT_GE(*version, (nova::Microversion{2, 53}));
  std::cout << "[lab] compute " << *endpoint << " at microversion " << version->str() << "\n";
}

TEST_F(OpenStackLabTest, CloudsYamlCredentialsWork) {
  const std::string clouds = env_["FDR_LAB_CLOUDS_YAML"];
  ASSERT_FALSE(clouds.empty()) << "lab.env has no FDR_LAB_CLOUDS_YAML";
  auto credentials = keystone::fromCloudsYaml("fdr-lab", {clouds});
  ASSERT_TRUE(credentials) << credentials.error().toString();
  keystone::KeystoneClient keystone(*http_, *credentials, clock_);
  auto token = keystone.token();
  ASSERT_TRUE(token) << token.error().toString();
}

TEST_F(OpenStackLabTest, ListsComputeServicesAndHypervisorsOfEveryHost) {
  ASSERT_GE(hosts_.size(), 2u);
  for (const auto& host : hosts_) {
    auto service = nova_->computeService(host);
    ASSERT_TRUE(service) << service.error().toString();
    EXPECT_EQ(service->host, host);
    EXPECT_FALSE(service->id.empty());
    auto hypervisors = nova_->hypervisors(host);
    ASSERT_TRUE(hypervisors) << hypervisors.error().toString();
    ASSERT_EQ(hypervisors->size(), 1u) << "host " << host;
    std::cout << "[lab] " << host << ": service " << service->id << " " << service->state << "/"
              << service->status << ", hypervisor " << hypervisors->front().hostname << " "
              << hypervisors->front().state << "\n";
  }
  auto none = nova_->computeServices("fake-host-");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(OpenStackLabTest, ProjectRecipientsCarryTheirEmail) {
  const std::string project = env_["FDR_LAB_DEMO_PROJECT"];
  ASSERT_FALSE(project.empty());
  http::Request request;
  request.url = http::withQuery(keystone_->identityUrl() + "/projects", {{"name", project}});
  auto response = keystone_->call(request);
  ASSERT_TRUE(response) << response.error().toString();
  auto doc = http::parseJson(response->body, "GET /v3/projects");
  ASSERT_TRUE(doc);
  ASSERT_EQ((*doc)["projects"].size(), 1u);
  const std::string project_id = (*doc)["projects"][0]["id"];
  auto recipients = keystone_->projectRecipients(project_id);
  ASSERT_TRUE(recipients) << recipients.error().toString();
  std::map<std::string, std::string> emails;
  for (const auto& r : *recipients) emails[r.name] = r.email;
  for (const auto& user : splitCsv(env_["FDR_LAB_DEMO_USERS"])) {
    ASSERT_TRUE(emails.contains(user)) << user << " holds no role on " << project;
    EXPECT_EQ(emails[user], env_["FDR_LAB_EMAIL_" + user]);
  }
}

// Boots servers on one host, kills that host's nova-compute, forces it down, evacuates, checks
// each server is ACTIVE elsewhere, then brings the host back.
TEST_F(OpenStackLabTest, EvacuatesTheServersOfAFailedHost) {
  ASSERT_GE(hosts_.size(), 2u);
  const char* chosen = std::getenv("FDR_LAB_VICTIM");  // NOLINT(concurrency-mt-unsafe)
  const std::string victim = chosen != nullptr && *chosen != '\0' ? chosen : hosts_.back();
  const std::string compute_sh = env_["FDR_LAB_COMPUTE_SH"];
  ASSERT_FALSE(compute_sh.empty()) << "lab.env has no FDR_LAB_COMPUTE_SH";
  const std::string prefix = "fdr-labtest-";

  // Leftovers of an interrupted run.
  auto leftovers = nova_->servers({{"all_tenants", "1"}, {"name", "^" + prefix}});
  ASSERT_TRUE(leftovers) << leftovers.error().toString();
  for (const auto& s : *leftovers) EXPECT_TRUE(nova_->deleteServer(s.id));

  auto before = nova_->computeService(victim);
  ASSERT_TRUE(before) << before.error().toString();
  ASSERT_EQ(before->state, "up") << victim << " must be up before the test (lab/status.sh)";
  ASSERT_FALSE(before->forced_down) << victim << " is forced down: repair with lab/up.sh";

  std::vector<std::string> ids;
  bool host_down = false;
  // Cleanup that runs however the test ends.
  struct Guard {
    std::function<void()> fn;
    ~Guard() { fn(); }
  } guard{[&] {
    for (const auto& id : ids) {
      if (auto s = nova_->deleteServer(id); !s) ADD_FAILURE() << s.error().toString();
    }
    if (host_down) {
      EXPECT_TRUE(computeSh("start", victim)) << compute_sh << " start " << victim;
    }
    if (auto s = nova_->unforceDown(victim); !s) ADD_FAILURE() << s.error().toString();
    if (auto s = nova_->enable(victim); !s) ADD_FAILURE() << s.error().toString();
  }};

  // 1. Boot two servers pinned to the victim.
  for (int i = 0; i < 2; ++i) {
    nova::CreateServerRequest request;
    request.name = prefix + std::to_string(i);
    request.image_id = env_["FDR_LAB_IMAGE_ID"];
    request.flavor_id = env_["FDR_LAB_FLAVOR_ID"];
    request.availability_zone = "nova:" + victim;
    request.metadata = {{"HA_Priority", std::to_string(i)}};
    auto id = nova_->createServer(request);
    ASSERT_TRUE(id) << id.error().toString();
    ids.push_back(*id);
  }
  for (const auto& id : ids) {
    std::string last;
    const bool active = waitUntil(120s, [&] {
      auto s = nova_->server(id);
      if (!s) {
        last = s.error().toString();
        return false;
      }
      last = s->status + " on " + s->host;
      if (s->status == "ERROR") return true;
      return s->status == "ACTIVE" && s->task_state.empty();
    });
    ASSERT_TRUE(active) << "server " << id << " not ACTIVE in time: " << last;
    auto s = nova_->server(id);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->status, "ACTIVE") << "server " << id;
    ASSERT_EQ(s->host, victim);
  }

  // 2. The host fails: its nova-compute dies; we force its service down and disable it.
  ASSERT_TRUE(computeSh("stop", victim));
  host_down = true;
  ASSERT_TRUE(nova_->forceDown(victim));
  ASSERT_TRUE(nova_->disable(victim, "freezer-dr lab test: node failed"));
  auto down = nova_->computeService(victim);
  ASSERT_TRUE(down) << down.error().toString();
  EXPECT_TRUE(down->forced_down);
  EXPECT_EQ(down->state, "down");
  EXPECT_EQ(down->status, "disabled");
  EXPECT_EQ(down->disabled_reason, "freezer-dr lab test: node failed");

  // 3. Its servers, across all projects, then evacuate each (the scheduler picks the target).
  auto on_host = nova_->serversOnHost(victim);
  ASSERT_TRUE(on_host) << on_host.error().toString();
  for (const auto& id : ids) {
    EXPECT_TRUE(std::any_of(on_host->begin(), on_host->end(),
                            [&](const nova::Server& s) { return s.id == id; }))
        << id << " not listed on " << victim;
  }
  for (const auto& id : ids) {
    auto status = nova_->evacuate(id);
    ASSERT_TRUE(status) << status.error().toString();
  }

  // 4. Each comes back ACTIVE on another host.
  for (const auto& id : ids) {
    std::string last;
    const bool moved = waitUntil(180s, [&] {
      auto s = nova_->server(id);
      if (!s) {
        last = s.error().toString();
        return false;
      }
      last = s->status + "/" + (s->task_state.empty() ? "-" : s->task_state) + " on " + s->host;
      if (s->status == "ERROR") return true;
      return s->status == "ACTIVE" && s->task_state.empty() && s->host != victim;
    });
    ASSERT_TRUE(moved) << "server " << id << " not ACTIVE elsewhere in time: " << last;
    auto s = nova_->server(id);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->status, "ACTIVE") << "server " << id << ": " << last;
    EXPECT_NE(s->host, victim);
    std::cout << "[lab] " << id << " evacuated " << victim << " -> " << s->host << "\n";
    auto migrations = nova_->evacuations(id);
    ASSERT_TRUE(migrations) << migrations.error().toString();
    ASSERT_FALSE(migrations->empty());
    EXPECT_EQ(migrations->back().source_compute, victim);
    EXPECT_EQ(migrations->back().dest_compute, s->host);
    auto actions = nova_->instanceActions(id);
    ASSERT_TRUE(actions) << actions.error().toString();
    EXPECT_TRUE(std::any_of(actions->begin(), actions->end(),
                            [](const nova::InstanceAction& a) { return a.action == "evacuate"; }));
  }

  // 5. The host comes back (the guard also does this if anything above failed).
  ASSERT_TRUE(computeSh("start", victim));
  host_down = false;
  ASSERT_TRUE(nova_->unforceDown(victim));
  ASSERT_TRUE(nova_->enable(victim));
  const bool up = waitUntil(60s, [&] {
    auto s = nova_->computeService(victim);
    return s && s->state == "up" && s->status == "enabled" && !s->forced_down;
  });
  EXPECT_TRUE(up) << victim << " did not come back up";
}

}  // namespace
}  // namespace fdr
