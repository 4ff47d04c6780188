#include "lab/lab_fixture.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "clients/http/url.h"
#include "clients/keystone/credentials.h"
#include "support/poll.h"

namespace fdr::lab {

using namespace std::chrono_literals;

std::string labEnvPath() {
  const char* path = std::getenv("FDR_LAB_ENV");  // NOLINT(concurrency-mt-unsafe)
  return path != nullptr && *path != '\0' ? path : "/var/tmp/freezer-dr-lab/lab.env";
}

std::optional<std::map<std::string, std::string>> readLabEnv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

std::vector<std::string> splitCsv(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool waitUntil(std::chrono::seconds limit, const std::function<bool()>& done) {
  return fdr::testing::pollUntil(limit, done, 500ms);  // the lab's services change in seconds
}

void LabTest::SetUp() {
  const std::string path = labEnvPath();
  auto env = readLabEnv(path);
  if (!env) {
    GTEST_FAIL() << "the OpenStack lab is not up: " << path
                 << " does not exist. Bring it up with lab/up.sh (CI does this before the "
                    "lab tests), or point FDR_LAB_ENV at its lab.env.";
  }
  env_ = *env;
  // lab/wire.sh's additions (BMCs, probe ports, SMTP capture, freezer-dr's config) beside it
  const std::string wiring =
      std::filesystem::path(path).parent_path().append("wiring.env").string();
  if (auto more = readLabEnv(wiring)) env_.insert(more->begin(), more->end());
  for (const char* key :
       {"FDR_LAB_AUTH_URL", "FDR_LAB_ADMIN_USER", "FDR_LAB_ADMIN_PASSWORD", "FDR_LAB_ADMIN_PROJECT",
        "FDR_LAB_HOST_NAMES", "FDR_LAB_IMAGE_ID", "FDR_LAB_FLAVOR_ID", "FDR_LAB_COMPUTE_SH"}) {
    if (env_[key].empty()) GTEST_FAIL() << path << " has no " << key;
  }
  keystone::AuthTokenSection section;
  section.auth_url = env_["FDR_LAB_AUTH_URL"];
  section.username = env_["FDR_LAB_ADMIN_USER"];
  section.password = Secret(env_["FDR_LAB_ADMIN_PASSWORD"]);
  section.project_name = env_["FDR_LAB_ADMIN_PROJECT"];
  section.user_domain_name = env_["FDR_LAB_USER_DOMAIN"];
  section.project_domain_name = env_["FDR_LAB_PROJECT_DOMAIN"];
  section.region_name = env_["FDR_LAB_REGION"];
  section.where = path;
  auto credentials = keystone::fromAuthTokenSection(section);
  ASSERT_TRUE(credentials) << credentials.error().toString();
  http::ClientOptions options;
  options.timeout = 60s;
  http_ = std::make_unique<http::Client>(options, clock_);
  keystone_ = std::make_unique<keystone::KeystoneClient>(*http_, *credentials, clock_);
  nova_ = std::make_unique<nova::NovaClient>(*keystone_);
  hosts_ = splitCsv(env_["FDR_LAB_HOST_NAMES"]);
  auto version = nova_->microversion();
  if (!version) {
    GTEST_FAIL() << "the OpenStack lab does not answer (" << path
                 << "): " << version.error().toString() << ". Check it with lab/status.sh.";
  }
}

Status LabTest::stopServer(const std::string& id) {
  auto base = nova_->endpoint();
  if (!base) return std::unexpected(base.error());
  http::Request request;
  request.method = http::Method::kPost;
  request.url = *base + "/servers/" + http::urlEncode(id) + "/action";
  request.body = R"({"os-stop": null})";
  auto response = keystone_->call(request);
  if (!response) return std::unexpected(response.error());
  return http::checkStatus(request, *response, http_->redactor());
}

Result<std::string> LabTest::bootOn(const std::string& host, const std::string& name,
                                    std::map<std::string, std::string> metadata) {
  nova::CreateServerRequest request;
  request.name = name;
  request.image_id = env_["FDR_LAB_IMAGE_ID"];
  request.flavor_id = env_["FDR_LAB_FLAVOR_ID"];
  request.availability_zone = "nova:" + host;
  request.metadata = std::move(metadata);
  return nova_->createServer(request);
}

Status LabTest::waitForStatus(const std::string& id, const std::string& status,
                              std::chrono::seconds limit) {
  std::string last;
  const bool reached = waitUntil(limit, [&] {
    auto s = nova_->server(id);
    if (!s) {
      last = s.error().toString();
      return false;
    }
    last = s->status + " (task '" + s->task_state + "') on " + s->host;
    return (s->status == status && s->task_state.empty()) || s->status == "ERROR";
  });
  if (!reached || last.rfind(status + " ", 0) != 0) {
    return fail(ErrorCode::kTimedOut, "server " + id + " not " + status + ": last seen " + last);
  }
  return {};
}

// The lab's scripts find its state through FDR_LAB_STATE: always the state of the lab whose
// lab.env this test read, so that FDR_LAB_ENV pointing at another lab acts on that lab.
bool LabTest::shell(const std::string& command) {
  const std::string line = "FDR_LAB_STATE='" + env_["FDR_LAB_STATE"] + "' " + command + " >&2";
  return std::system(line.c_str()) == 0;  // NOLINT(concurrency-mt-unsafe)
}

bool LabTest::computeSh(const std::string& action, const std::string& host) {
  return shell(env_["FDR_LAB_COMPUTE_SH"] + " " + action + " " + host);
}

void LabTest::deleteLeftovers(const std::string& prefix) {
  auto leftovers = nova_->servers({{"all_tenants", "1"}, {"name", "^" + prefix}});
  ASSERT_TRUE(leftovers) << leftovers.error().toString();
  for (const auto& s : *leftovers) EXPECT_TRUE(nova_->deleteServer(s.id));
}

}  // namespace fdr::lab
