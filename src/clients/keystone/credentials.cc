#include "clients/keystone/credentials.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/yaml_document.h"

namespace fdr::keystone {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<AuthMethod> parseAuthMethod(std::string_view text) {
  const std::string t = lower(text);
  if (t.empty() || t == "password" || t == "v3password") return AuthMethod::kPassword;
  if (t == "v3applicationcredential" || t == "applicationcredential" ||
      t == "application_credential") {
    return AuthMethod::kApplicationCredential;
  }
  return std::nullopt;
}

std::optional<bool> parseFlag(std::string_view text) {
  const std::string t = lower(text);
  if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "off" || t.empty()) return false;
  return std::nullopt;
}

// Names without a domain resolve in the "default" domain, as most deployments expect.
void applyDomainDefaults(Credentials& c, const std::string& domain_id,
                         const std::string& domain_name) {
  auto fill = [&](std::string& id, std::string& name) {
    if (!id.empty() || !name.empty()) return;
    if (!domain_id.empty()) {
      id = domain_id;
    } else if (!domain_name.empty()) {
      name = domain_name;
    } else {
      id = "default";
    }
  };
  if (c.user_id.empty()) fill(c.user_domain_id, c.user_domain_name);
  if (c.project_id.empty()) fill(c.project_domain_id, c.project_domain_name);
}

}  // namespace

std::string_view toString(AuthMethod m) {
  return m == AuthMethod::kPassword ? "password" : "v3applicationcredential";
}

std::string_view toString(Interface i) {
  switch (i) {
    case Interface::kPublic: return "public";
    case Interface::kInternal: return "internal";
    case Interface::kAdmin: return "admin";
  }
  return "public";
}

std::optional<Interface> parseInterface(std::string_view text) {
  std::string t = lower(text);
  if (t.ends_with("url")) t.resize(t.size() - 3);
  if (t == "public" || t.empty()) return Interface::kPublic;
  if (t == "internal") return Interface::kInternal;
  if (t == "admin") return Interface::kAdmin;
  return std::nullopt;
}

Status Credentials::validate() const {
  std::vector<std::string> problems;
  if (auth_url.empty()) {
    problems.emplace_back("auth_url is not set");
  } else if (!auth_url.starts_with("http://") && !auth_url.starts_with("https://")) {
    problems.emplace_back("auth_url '" + auth_url + "' is not an http:// or https:// URL");
  }
  if (method == AuthMethod::kPassword) {
    if (user_id.empty() && username.empty())
      problems.emplace_back("username (or user_id) is not set");
    if (password.empty()) problems.emplace_back("password is not set");
    if (project_id.empty() && project_name.empty()) {
      problems.emplace_back("project_name (or project_id) is not set");
    }
  } else {
    if (application_credential_secret.empty()) {
      problems.emplace_back("application_credential_secret is not set");
    }
    if (application_credential_id.empty()) {
      if (application_credential_name.empty()) {
        problems.emplace_back("application_credential_id (or _name) is not set");
      } else if (user_id.empty() && username.empty()) {
        problems.emplace_back(
            "application_credential_name needs the user (username or user_id) it belongs to");
      }
    }
  }
  if (!keyfile.empty() && certfile.empty())
    problems.emplace_back("keyfile is set without certfile");
  if (problems.empty()) return {};
  std::string message = source.empty() ? "keystone credentials" : source;
  message += ": ";
  for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
  return fail(ErrorCode::kInvalidArgument, std::move(message));
}

std::string Credentials::describe() const {
  auto domain = [](const std::string& id, const std::string& name) {
    if (!name.empty()) return " (domain " + name + ")";
    if (!id.empty()) return " (domain id " + id + ")";
    return std::string();
  };
  std::string out;
  if (method == AuthMethod::kApplicationCredential) {
    out =
        "application credential " + (application_credential_id.empty() ? application_credential_name
                                                                       : application_credential_id);
  } else {
    out = "user " +
          (user_id.empty() ? username + domain(user_domain_id, user_domain_name) : "id " + user_id);
    out += " in project " + (project_id.empty()
                                 ? project_name + domain(project_domain_id, project_domain_name)
                                 : "id " + project_id);
  }
  return out + " at " + auth_url;
}

Result<Credentials> fromAuthTokenSection(const AuthTokenSection& s) {
  Credentials c;
  c.source = "[keystone_authtoken]" + (s.where.empty() ? std::string() : " (" + s.where + ")");
  c.auth_url = s.auth_url;
  auto method = parseAuthMethod(s.auth_plugin);
  if (!method) {
    return fail(ErrorCode::kInvalidArgument,
                c.source + ": auth_plugin '" + s.auth_plugin +
                    "' is not supported (use password or v3applicationcredential)");
  }
  c.method = *method;
  if (s.auth_plugin.empty() && !s.application_credential_id.empty() && s.password.empty()) {
    c.method = AuthMethod::kApplicationCredential;
  }
  c.username = s.username;
  c.user_id = s.user_id;
  c.password = s.password;
  c.project_name = s.project_name;
  c.project_id = s.project_id;
  c.user_domain_name = s.user_domain_name;
  c.user_domain_id = s.user_domain_id;
  c.project_domain_name = s.project_domain_name;
  c.project_domain_id = s.project_domain_id;
  c.application_credential_id = s.application_credential_id;
  c.application_credential_name = s.application_credential_name;
  c.application_credential_secret = s.application_credential_secret;
  c.region_name = s.region_name;
  auto interface = parseInterface(s.interface);
  if (!interface) {
    return fail(ErrorCode::kInvalidArgument, c.source + ": interface '" + s.interface +
                                                 "' is not one of public, internal, admin");
  }
  c.interface = *interface;
  c.cafile = s.cafile;
  c.certfile = s.certfile;
  c.keyfile = s.keyfile;
  c.insecure = s.insecure;
  applyDomainDefaults(c, s.domain_id, s.domain_name);
  if (auto ok = c.validate(); !ok) return std::unexpected(ok.error());
  return c;
}

EnvLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::vector<std::string> cloudsYamlSearchPath(const EnvLookup& env) {
  std::vector<std::string> paths;
  if (auto file = env("OS_CLIENT_CONFIG_FILE"); file && !file->empty()) paths.push_back(*file);
  paths.emplace_back("./clouds.yaml");
  if (auto home = env("HOME"); home && !home->empty()) {
    paths.push_back(*home + "/.config/openstack/clouds.yaml");
  }
  paths.emplace_back("/etc/openstack/clouds.yaml");
  return paths;
}

namespace {

// Reads one YAML file; a missing file is nullopt, a broken one an error.
Result<std::optional<yaml::Document>> loadYaml(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<yaml::Document>();
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(ErrorCode::kInvalidArgument, path + ": cannot read: " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  auto doc = yaml::parse(content.view());
  if (!doc) {
    const std::string where =
        doc.error().line < 0 ? path : path + ":" + std::to_string(doc.error().line + 1);
    return fail(ErrorCode::kInvalidArgument, where + ": " + doc.error().message);
  }
  return std::optional<yaml::Document>(std::move(*doc));
}

// Flattens a cloud's entry: top-level scalars plus auth.* scalars (auth wins).
Result<std::map<std::string, std::string>> flattenCloud(const yaml::Node& cloud,
                                                        const std::string& where) {
  std::map<std::string, std::string> out;
  if (!cloud.IsMap()) {
    return fail(ErrorCode::kInvalidArgument, where + ": the cloud entry is not a mapping");
  }
  for (size_t i = 0; i + 1 < cloud.size(); i += 2) {
    if (cloud.child(i + 1).IsScalar()) out[cloud.child(i).Scalar()] = cloud.child(i + 1).Scalar();
  }
  if (const auto auth = cloud.find("auth"); auth && !auth->IsNull()) {
    if (!auth->IsMap()) {
      return fail(ErrorCode::kInvalidArgument, where + ": 'auth' is not a mapping");
    }
    for (size_t i = 0; i + 1 < auth->size(); i += 2) {
      if (auth->child(i + 1).IsScalar()) {
        out["auth." + auth->child(i).Scalar()] = auth->child(i + 1).Scalar();
      }
    }
  }
  return out;
}

}  // namespace

Result<Credentials> fromCloudsYaml(const std::string& cloud,
                                   const std::vector<std::string>& paths) {
  std::vector<std::string> looked;
  std::vector<std::string> known;
  for (const auto& path : paths) {
    auto doc = loadYaml(path);
    if (!doc) return std::unexpected(doc.error());
    if (!doc->has_value()) {
      looked.push_back(path + " (absent)");
      continue;
    }
    const yaml::Node root = (*doc)->root();
    const auto clouds = root.find("clouds");
    if (!clouds || !clouds->IsMap()) {
      return fail(ErrorCode::kInvalidArgument, path + ": no 'clouds' mapping");
    }
    for (size_t i = 0; i + 1 < clouds->size(); i += 2) known.push_back(clouds->child(i).Scalar());
    std::optional<yaml::Node> entry = clouds->find(cloud);
    if (!entry) {
      looked.push_back(path + " (no cloud '" + cloud + "')");
      continue;
    }
    const std::string where = path + " cloud '" + cloud + "'";
    auto fields = flattenCloud(*entry, where);
    if (!fields) return std::unexpected(fields.error());
    // secure.yaml next to clouds.yaml holds the secrets of the same clouds.
    const std::string secure = (std::filesystem::path(path).parent_path() / "secure.yaml").string();
    auto secure_doc = loadYaml(secure);
    if (!secure_doc) return std::unexpected(secure_doc.error());
    if (secure_doc->has_value()) {
      const auto secure_clouds = (*secure_doc)->root().find("clouds");
      const auto secure_entry =
          secure_clouds ? secure_clouds->find(cloud) : std::optional<yaml::Node>();
      if (secure_entry) {
        auto extra = flattenCloud(*secure_entry, secure + " cloud '" + cloud + "'");
        if (!extra) return std::unexpected(extra.error());
        for (auto& [k, v] : *extra) (*fields)[k] = v;
      }
    }
    auto get = [&](const std::string& key) {
      auto it = fields->find(key);
      return it == fields->end() ? std::string() : it->second;
    };
    Credentials c;
    c.source = "clouds.yaml cloud '" + cloud + "' (" + path + ")";
    c.auth_url = get("auth.auth_url");
    auto method = parseAuthMethod(get("auth_type"));
    if (!method) {
      return fail(ErrorCode::kInvalidArgument,
                  c.source + ": auth_type '" + get("auth_type") + "' is not supported");
    }
    c.method = *method;
    c.username = get("auth.username");
    c.user_id = get("auth.user_id");
    c.password = Secret(get("auth.password"));
    c.project_name = get("auth.project_name");
    if (c.project_name.empty()) c.project_name = get("auth.tenant_name");
    c.project_id = get("auth.project_id");
    if (c.project_id.empty()) c.project_id = get("auth.tenant_id");
    c.user_domain_name = get("auth.user_domain_name");
    c.user_domain_id = get("auth.user_domain_id");
    c.project_domain_name = get("auth.project_domain_name");
    c.project_domain_id = get("auth.project_domain_id");
    c.application_credential_id = get("auth.application_credential_id");
    c.application_credential_name = get("auth.application_credential_name");
    c.application_credential_secret = Secret(get("auth.application_credential_secret"));
    c.region_name = get("region_name");
    const std::string interface_text =
        get("interface").empty() ? get("endpoint_type") : get("interface");
    auto interface = parseInterface(interface_text);
    if (!interface) {
      return fail(ErrorCode::kInvalidArgument, c.source + ": interface '" + interface_text +
                                                   "' is not one of public, internal, admin");
    }
    c.interface = *interface;
    c.cafile = get("cacert");
    c.certfile = get("cert");
    c.keyfile = get("key");
    if (const std::string verify = get("verify"); !verify.empty()) {
      auto flag = parseFlag(verify);
      if (!flag) {
        return fail(ErrorCode::kInvalidArgument,
                    c.source + ": verify '" + verify + "' is not true or false");
      }
      c.insecure = !*flag;
    }
    std::string domain_id = get("auth.domain_id");
    std::string domain_name = get("auth.domain_name");
    if (domain_id.empty() && domain_name.empty()) {
      domain_id = get("auth.default_domain_id");
      domain_name = get("auth.default_domain_name");
    }
    applyDomainDefaults(c, domain_id, domain_name);
    if (auto ok = c.validate(); !ok) return std::unexpected(ok.error());
    return c;
  }
  std::string message = "cloud '" + cloud + "' not found in clouds.yaml; looked in: ";
  for (size_t i = 0; i < looked.size(); ++i) message += (i ? ", " : "") + looked[i];
  if (!known.empty()) {
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    message += "; clouds defined: ";
    for (size_t i = 0; i < known.size(); ++i) message += (i ? ", " : "") + known[i];
  }
  return fail(ErrorCode::kNotFound, std::move(message));
}

Result<Credentials> fromEnvironment(const EnvLookup& env) {
  auto get = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (auto v = env(name); v && !v->empty()) return *v;
    }
    return std::string();
  };
  Credentials c;
  c.source = "OS_* environment variables";
  c.auth_url = get({"OS_AUTH_URL"});
  auto method = parseAuthMethod(get({"OS_AUTH_TYPE"}));
  if (!method) {
    return fail(ErrorCode::kInvalidArgument,
                c.source + ": OS_AUTH_TYPE '" + get({"OS_AUTH_TYPE"}) + "' is not supported");
  }
  c.method = *method;
  c.username = get({"OS_USERNAME"});
  c.user_id = get({"OS_USER_ID"});
  c.password = Secret(get({"OS_PASSWORD"}));
  c.project_name = get({"OS_PROJECT_NAME", "OS_TENANT_NAME"});
  c.project_id = get({"OS_PROJECT_ID", "OS_TENANT_ID"});
  c.user_domain_name = get({"OS_USER_DOMAIN_NAME"});
  c.user_domain_id = get({"OS_USER_DOMAIN_ID"});
  c.project_domain_name = get({"OS_PROJECT_DOMAIN_NAME"});
  c.project_domain_id = get({"OS_PROJECT_DOMAIN_ID"});
  c.application_credential_id = get({"OS_APPLICATION_CREDENTIAL_ID"});
  c.application_credential_name = get({"OS_APPLICATION_CREDENTIAL_NAME"});
  c.application_credential_secret = Secret(get({"OS_APPLICATION_CREDENTIAL_SECRET"}));
  c.region_name = get({"OS_REGION_NAME"});
  const std::string interface_text = get({"OS_INTERFACE", "OS_ENDPOINT_TYPE"});
  auto interface = parseInterface(interface_text);
  if (!interface) {
    return fail(ErrorCode::kInvalidArgument, c.source + ": OS_INTERFACE '" + interface_text +
                                                 "' is not one of public, internal, admin");
  }
  c.interface = *interface;
  c.cafile = get({"OS_CACERT"});
  c.certfile = get({"OS_CERT"});
  c.keyfile = get({"OS_KEY"});
  if (const std::string insecure = get({"OS_INSECURE"}); !insecure.empty()) {
    auto flag = parseFlag(insecure);
    if (!flag) {
      return fail(ErrorCode::kInvalidArgument,
                  c.source + ": OS_INSECURE '" + insecure + "' is not true or false");
    }
    c.insecure = *flag;
  }
  applyDomainDefaults(c, get({"OS_DOMAIN_ID", "OS_DEFAULT_DOMAIN_ID", "OS_DEFAULT_DOMAIN"}),
                      get({"OS_DOMAIN_NAME", "OS_DEFAULT_DOMAIN_NAME"}));
  if (auto ok = c.validate(); !ok) return std::unexpected(ok.error());
  return c;
}

Result<Credentials> resolveCredentials(const AuthTokenSection* section, const EnvLookup& env) {
  if (section != nullptr && !section->auth_url.empty()) return fromAuthTokenSection(*section);
  if (auto cloud = env("OS_CLOUD"); cloud && !cloud->empty()) {
    return fromCloudsYaml(*cloud, cloudsYamlSearchPath(env));
  }
  if (auto url = env("OS_AUTH_URL"); url && !url->empty()) return fromEnvironment(env);
  return fail(ErrorCode::kNotFound,
              "no Keystone credentials: [keystone_authtoken] has no auth_url, OS_CLOUD is not "
              "set and OS_AUTH_URL is not set");
}

}  // namespace fdr::keystone
