#include "app/openstack_session.h"

namespace fdr::app {

keystone::AuthTokenSection toAuthTokenSection(const config::KeystoneAuth& auth) {
  keystone::AuthTokenSection s;
  s.auth_url = auth.auth_url;
  s.auth_plugin = auth.auth_plugin;
  s.username = auth.username;
  s.user_id = auth.user_id;
  s.password = auth.password;
  s.project_name = auth.project_name;
  s.project_id = auth.project_id;
  s.domain_name = auth.domain_name;
  s.project_domain_name = auth.project_domain_name;
  s.project_domain_id = auth.project_domain_id;
  s.user_domain_name = auth.user_domain_name;
  s.user_domain_id = auth.user_domain_id;
  s.application_credential_id = auth.application_credential_id;
  s.application_credential_name = auth.application_credential_name;
  s.application_credential_secret = auth.application_credential_secret;
  s.region_name = auth.region_name;
  s.interface = auth.interface;
  s.cafile = auth.cafile;
  s.insecure = auth.insecure;
  s.where = auth.where;
  return s;
}

Result<std::unique_ptr<OpenStackSession>> OpenStackSession::create(const config::Config& config,
                                                                   Clock& clock,
                                                                   const keystone::EnvLookup& env) {
  const keystone::AuthTokenSection section = toAuthTokenSection(config.keystone);
  auto credentials =
      keystone::resolveCredentials(config.keystone.configured() ? &section : nullptr, env);
  if (!credentials) return std::unexpected(credentials.error());
  http::ClientOptions options;
  options.tls.ca_file = credentials->cafile;
  options.tls.client_cert = credentials->certfile;
  options.tls.client_key = credentials->keyfile;
  options.tls.insecure = credentials->insecure;
  std::unique_ptr<OpenStackSession> session(new OpenStackSession());
  session->http_ = std::make_unique<http::Client>(options, clock);
  session->keystone_ =
      std::make_unique<keystone::KeystoneClient>(*session->http_, *credentials, clock);
  session->nova_ = std::make_unique<nova::NovaClient>(*session->keystone_);
  session->placement_ = std::make_unique<placement::PlacementClient>(*session->keystone_);
  return session;
}

}  // namespace fdr::app
