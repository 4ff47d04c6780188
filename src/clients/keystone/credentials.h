// Keystone v3 credentials and where they come from: the original freezer-dr's
// [keystone_authtoken] section, a clouds.yaml cloud (OS_CLOUD), or OS_* environment variables.
//
// This module does not know the application's config types: the wiring copies the parsed
// [keystone_authtoken] values into AuthTokenSection (same field names) and calls
// fromAuthTokenSection().
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr::keystone {

enum class AuthMethod { kPassword, kApplicationCredential };
std::string_view toString(AuthMethod m);

enum class Interface { kPublic, kInternal, kAdmin };
std::string_view toString(Interface i);
// "public", "internal", "admin", also the v2 spellings "publicURL", "internalURL", "adminURL".
std::optional<Interface> parseInterface(std::string_view text);

struct Credentials {
  std::string auth_url;  // as configured: ".../identity", ".../v3", ":5000/" all work
  AuthMethod method = AuthMethod::kPassword;

  // Password: a user by id, or by name within a domain (by id or name); a project likewise.
  std::string user_id;
  std::string username;
  std::string user_domain_id;
  std::string user_domain_name;
  Secret password;
  std::string project_id;
  std::string project_name;
  std::string project_domain_id;
  std::string project_domain_name;

  // Application credential: by id, or by name with its user (id, or name + domain).
  std::string application_credential_id;
  std::string application_credential_name;
  Secret application_credential_secret;

  // Which endpoints to use from the catalog.
  std::string region_name;  // empty: any region
  Interface interface = Interface::kPublic;

  // TLS towards Keystone and the services.
  std::string cafile;
  std::string certfile;
  std::string keyfile;
  bool insecure = false;

  std::string source;  // where these came from, for messages: "clouds.yaml cloud 'lab' (path)"

  // Every problem at once ("auth_url is not set; password is not set"), prefixed by source.
  // Never includes a secret's value.
  [[nodiscard]] Status validate() const;
  // Who and where, without secrets: "user admin (domain Default) in project admin at <url>".
  [[nodiscard]] std::string describe() const;
};

// The [keystone_authtoken] keys the original freezer-dr reads (plus TLS), as plain strings.
struct AuthTokenSection {
  std::string auth_url;
  std::string auth_plugin;  // "password" (default), "v3password", "v3applicationcredential"
  std::string username;
  std::string user_id;
  Secret password;
  std::string project_name;
  std::string project_id;
  std::string domain_name;  // default for the user's and the project's domain
  std::string domain_id;
  std::string project_domain_name;
  std::string project_domain_id;
  std::string user_domain_name;
  std::string user_domain_id;
  std::string application_credential_id;
  std::string application_credential_name;
  Secret application_credential_secret;
  std::string region_name;
  std::string interface;  // empty: public
  std::string cafile;
  std::string certfile;
  std::string keyfile;
  bool insecure = false;
  std::string where;  // "freezer-dr.conf:40", for messages
};

// Validated credentials from the section. When neither a user nor a project domain is given
// for names, the domain with id "default" is assumed.
[[nodiscard]] Result<Credentials> fromAuthTokenSection(const AuthTokenSection& section);

// Looks up an environment variable; unset gives nullopt.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
[[nodiscard]] EnvLookup processEnvironment();

// $OS_CLIENT_CONFIG_FILE (if set), ./clouds.yaml, ~/.config/openstack/clouds.yaml,
// /etc/openstack/clouds.yaml.
[[nodiscard]] std::vector<std::string> cloudsYamlSearchPath(const EnvLookup& env);

// The cloud named `cloud` from the first clouds.yaml found in `paths` that defines it, merged
// with the same cloud from a secure.yaml next to it (secrets kept apart), if any.
[[nodiscard]] Result<Credentials> fromCloudsYaml(const std::string& cloud,
                                                 const std::vector<std::string>& paths);

// OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ... (OS_TENANT_* accepted).
[[nodiscard]] Result<Credentials> fromEnvironment(const EnvLookup& env);

// The first configured source: the section (if it has an auth_url), else OS_CLOUD from
// clouds.yaml, else OS_* variables. None: kNotFound naming the three places looked at.
[[nodiscard]] Result<Credentials> resolveCredentials(const AuthTokenSection* section,
                                                     const EnvLookup& env);

}  // namespace fdr::keystone
