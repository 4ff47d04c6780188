#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "clients/keystone/credentials.h"

namespace fdr::keystone {
namespace {

namespace fs = std::filesystem;

EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fdr-creds-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& relative, const std::string& text) const {
    const fs::path p = fs::path(path_) / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

AuthTokenSection section() {
  AuthTokenSection s;
  s.auth_url = "http://keystone:5000/v3";
  s.username = "freezer";
  s.password = Secret("pw-very-secret");
  s.project_name = "service";
  s.user_domain_name = "Default";
  s.project_domain_name = "Default";
  s.region_name = "RegionOne";
  s.interface = "internal";
  s.where = "freezer-dr.conf:40";
  return s;
}

TEST(CredentialsTest, FromAuthTokenSection) {
  auto c = fromAuthTokenSection(section());
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->method, AuthMethod::kPassword);
  EXPECT_EQ(c->username, "freezer");
  EXPECT_EQ(c->password.reveal(), "pw-very-secret");
  EXPECT_EQ(c->interface, Interface::kInternal);
  EXPECT_EQ(c->region_name, "RegionOne");
  EXPECT_EQ(c->source, "[keystone_authtoken] (freezer-dr.conf:40)");
  EXPECT_EQ(c->describe(),
            "user freezer (domain Default) in project service (domain Default) at "
            "http://keystone:5000/v3");
}

TEST(CredentialsTest, SectionProblemsAreAllReportedWithoutSecrets) {
  AuthTokenSection s;
  s.password = Secret("pw-very-secret");
  s.where = "freezer-dr.conf:40";
  auto c = fromAuthTokenSection(s);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.error().message,
            "[keystone_authtoken] (freezer-dr.conf:40): auth_url is not set; username (or "
            "user_id) is not set; project_name (or project_id) is not set");
}

TEST(CredentialsTest, SectionRejectsUnknownPluginAndInterface) {
  AuthTokenSection s = section();
  s.auth_plugin = "token";
  EXPECT_FALSE(fromAuthTokenSection(s));
  s = section();
  s.interface = "private";
  auto c = fromAuthTokenSection(s);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("interface 'private'"), std::string::npos);
  s = section();
  s.interface = "internalURL";
  ASSERT_TRUE(fromAuthTokenSection(s));
}

TEST(CredentialsTest, DomainDefaults) {
  AuthTokenSection s = section();
  s.user_domain_name.clear();
  s.project_domain_name.clear();
  auto c = fromAuthTokenSection(s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user_domain_id, "default");
  EXPECT_EQ(c->project_domain_id, "default");
  s.domain_name = "Corp";
  c = fromAuthTokenSection(s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user_domain_name, "Corp");
  EXPECT_EQ(c->project_domain_name, "Corp");
  EXPECT_TRUE(c->user_domain_id.empty());
}

TEST(CredentialsTest, ApplicationCredentialFromSection) {
  AuthTokenSection s;
  s.auth_url = "https://keystone/identity";
  s.auth_plugin = "v3applicationcredential";
  s.application_credential_id = "ac-1";
  s.application_credential_secret = Secret("ac-secret-value");
  auto c = fromAuthTokenSection(s);
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->method, AuthMethod::kApplicationCredential);
  // Inferred when no plugin is named and there is no password.
  s.auth_plugin.clear();
  c = fromAuthTokenSection(s);
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->method, AuthMethod::kApplicationCredential);
  // A name needs its user.
  s.auth_plugin = "v3applicationcredential";
  s.application_credential_id.clear();
  s.application_credential_name = "freezer-ac";
  c = fromAuthTokenSection(s);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("needs the user"), std::string::npos);
}

TEST(CredentialsTest, FromCloudsYamlFollowsTheSearchPathAndMergesSecureYaml) {
  TempDir dir;
  const std::string first = dir.write("a/clouds.yaml", R"(
clouds:
  other:
    auth:
      auth_url: http://other/v3
)");
  const std::string second = dir.write("b/clouds.yaml", R"(
clouds:
  lab:
    auth_type: password
    auth:
      auth_url: https://lab.example:5000
      username: admin
      project_name: admin
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionOne
    interface: internal
    cacert: /etc/ssl/lab-ca.pem
    verify: false
)");
  dir.write("b/secure.yaml", R"(
clouds:
  lab:
    auth:
      password: from-secure-yaml
)");
  auto c = fromCloudsYaml("lab", {dir.path() + "/missing.yaml", first, second});
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->auth_url, "https://lab.example:5000");
  EXPECT_EQ(c->username, "admin");
  EXPECT_EQ(c->password.reveal(), "from-secure-yaml");
  EXPECT_EQ(c->user_domain_name, "Default");
  EXPECT_EQ(c->project_domain_id, "default");
  EXPECT_EQ(c->interface, Interface::kInternal);
  EXPECT_EQ(c->cafile, "/etc/ssl/lab-ca.pem");
  EXPECT_TRUE(c->insecure);
  EXPECT_NE(c->source.find(second), std::string::npos);
}

TEST(CredentialsTest, CloudsYamlUnknownCloudListsWhatExists) {
  TempDir dir;
  const std::string file = dir.write("clouds.yaml", "clouds:\n  alpha: {auth: {auth_url: x}}\n");
  auto c = fromCloudsYaml("beta", {file});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
  EXPECT_NE(c.error().message.find("clouds defined: alpha"), std::string::npos)
      << c.error().message;
}

TEST(CredentialsTest, BrokenCloudsYamlIsAnErrorNotAnException) {
  TempDir dir;
  const std::string file = dir.write("clouds.yaml", "clouds: [unclosed\n");
  auto c = fromCloudsYaml("lab", {file});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(c.error().message.find(file), std::string::npos);
}

TEST(CredentialsTest, SearchPath) {
  auto paths =
      cloudsYamlSearchPath(envOf({{"HOME", "/home/op"}, {"OS_CLIENT_CONFIG_FILE", "/x.yaml"}}));
  ASSERT_EQ(paths.size(), 4u);
  EXPECT_EQ(paths[0], "/x.yaml");
  EXPECT_EQ(paths[1], "./clouds.yaml");
  EXPECT_EQ(paths[2], "/home/op/.config/openstack/clouds.yaml");
  EXPECT_EQ(paths[3], "/etc/openstack/clouds.yaml");
}

TEST(CredentialsTest, FromEnvironment) {
  auto c = fromEnvironment(envOf({{"OS_AUTH_URL", "http://k/identity"},
                                  {"OS_USERNAME", "admin"},
                                  {"OS_PASSWORD", "env-password"},
                                  {"OS_TENANT_NAME", "admin"},
                                  {"OS_USER_DOMAIN_ID", "default"},
                                  {"OS_PROJECT_DOMAIN_ID", "default"},
                                  {"OS_ENDPOINT_TYPE", "adminURL"},
                                  {"OS_INSECURE", "true"}}));
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->project_name, "admin");
  EXPECT_EQ(c->interface, Interface::kAdmin);
  EXPECT_TRUE(c->insecure);
  EXPECT_EQ(c->source, "OS_* environment variables");
}

TEST(CredentialsTest, ResolveOrder) {
  AuthTokenSection s = section();
  auto env = envOf({{"OS_AUTH_URL", "http://env/v3"},
                    {"OS_USERNAME", "u"},
                    {"OS_PASSWORD", "p-env-pass"},
                    {"OS_PROJECT_NAME", "p"}});
  auto c = resolveCredentials(&s, env);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_url, "http://keystone:5000/v3");
  AuthTokenSection unset;
  c = resolveCredentials(&unset, env);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_url, "http://env/v3");
  TempDir dir;
  const std::string file = dir.write("clouds.yaml", R"(
clouds:
  lab:
    auth: {auth_url: "http://cloud/v3", username: a, password: b-pass, project_name: c}
)");
  c = resolveCredentials(nullptr, envOf({{"OS_CLOUD", "lab"},
                                         {"OS_CLIENT_CONFIG_FILE", file},
                                         {"OS_AUTH_URL", "http://env/v3"}}));
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->auth_url, "http://cloud/v3");
  c = resolveCredentials(nullptr, envOf({}));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace fdr::keystone
