// Keystone v3: tokens (password or application credential), the service catalog, and the
// lookups behind user notifications (who holds a role on a project, and their e-mail).
//
// The token is cached until shortly before it expires (by the injected Clock). send() adds it
// to a request and, when the service answers 401, authenticates once more and resends once.
// Thread-safe.
//
// Authentication, first or again after a 401, runs within the deadline of the call in force on
// the thread (freezer/call_deadline.h), like every request of the HTTP client, and so does the
// wait for another thread's authentication in progress. Only a token is cached, never a failure:
// an authentication cut short by a deadline is made again by the next call.
#pragma once

#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "clients/http/http_client.h"
#include "clients/keystone/credentials.h"
#include "freezer/clock.h"
#include "freezer/model.h"
#include "freezer/result.h"

namespace fdr::keystone {

struct KeystoneOptions {
  // A token is renewed this long before its expiry (or at half its remaining life when that is
  // shorter).
  Duration expiry_margin{std::chrono::minutes(2)};
};

struct Endpoint {
  std::string url;
  std::string region;
  Interface interface = Interface::kPublic;
};

struct CatalogService {
  std::string type;  // "compute", "identity", ...
  std::string name;
  std::vector<Endpoint> endpoints;
};

struct Token {
  Secret id;
  TimePoint expires_at;
  std::string user_id;
  std::string project_id;
  std::vector<CatalogService> catalog;
};

struct RoleAssignment {
  std::string user_id;  // empty for a group assignment
  std::string user_name;
  std::string group_id;
  std::string role_id;
  std::string role_name;
  std::string project_id;
};

struct User {
  std::string id;
  std::string name;
  std::string email;  // empty when the user has none
  bool enabled = true;
};

// Someone to notify about a project's instances.
struct Recipient {
  std::string user_id;
  std::string name;
  std::string email;   // may be empty: the caller decides what to do with those
  bool owner = false;  // the instance's owner (user_id of the server)
};

// Parses an ISO 8601 UTC time as Keystone writes it ("2026-01-02T03:04:05.123456Z"; a missing
// zone means UTC; "+00:00" accepted).
[[nodiscard]] std::optional<TimePoint> parseIsoTime(std::string_view text);

// The Keystone v3 root for an auth_url: ".../v3" kept, ".../v2.0" replaced, else "/v3" added.
[[nodiscard]] std::string identityV3Url(std::string_view auth_url);

class KeystoneClient {
 public:
  // `http` and `clock` must outlive the client. The credentials' secrets are registered with
  // http's redactor.
  KeystoneClient(http::Client& http, Credentials credentials, Clock& clock,
                 KeystoneOptions options = {});

  // A valid token, from the cache or a fresh authentication.
  [[nodiscard]] Result<Token> token(std::stop_token stop = {});
  // Drops the cached token (the next call authenticates).
  void invalidate();

  // The URL of `service_type` in the catalog, for `interface` (default: the credentials') and
  // `region` (default: the credentials'; empty = any, the first listed).
  [[nodiscard]] Result<std::string> endpoint(std::string_view service_type,
                                             std::optional<Interface> interface = std::nullopt,
                                             std::optional<std::string> region = std::nullopt);

  // Sends `request` with the token. On 401: one new authentication and one resend (the first
  // request was refused before it did anything). Any other status is returned as is.
  [[nodiscard]] Result<http::Response> send(http::Request request, std::stop_token stop = {});
  // send(), then any non-2xx status becomes an error.
  [[nodiscard]] Result<http::Response> call(http::Request request, std::stop_token stop = {});

  // GET /v3/role_assignments?scope.project.id=X&include_names=true&effective=true: group
  // assignments come back expanded to their users.
  [[nodiscard]] Result<std::vector<RoleAssignment>> projectRoleAssignments(
      const std::string& project_id);
  // GET /v3/users/{id}.
  [[nodiscard]] Result<User> user(const std::string& user_id);
  // Everyone holding a role on the project, plus `owner_user_id` if given, each once, with
  // their e-mail. Disabled and deleted users are left out.
  [[nodiscard]] Result<std::vector<Recipient>> projectRecipients(
      const std::string& project_id, const std::string& owner_user_id = "");

  [[nodiscard]] const std::string& identityUrl() const { return identity_url_; }
  [[nodiscard]] const Credentials& credentials() const { return credentials_; }
  [[nodiscard]] http::Client& http() { return http_; }
  // How many times a token was requested (for tests and metrics).
  [[nodiscard]] int authentications() const;

 private:
  Result<Token> authenticate(std::stop_token stop);
  // mutex_, waited for until the call's deadline at most (kTimedOut past it).
  Result<std::unique_lock<std::timed_mutex>> lockWithinDeadline();
  Result<std::string> authBody() const;
  [[nodiscard]] bool fresh() const;  // REQUIRES: mutex_ held

  http::Client& http_;
  Credentials credentials_;
  Clock& clock_;
  KeystoneOptions options_;
  std::string identity_url_;

  // Timed, so that a caller waiting for another thread's authentication gives up at its own
  // call's deadline.
  mutable std::timed_mutex mutex_;
  std::optional<Token> token_;
  TimePoint renew_at_;
  int authentications_ = 0;
};

}  // namespace fdr::keystone
