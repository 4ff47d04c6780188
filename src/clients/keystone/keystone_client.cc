#include "clients/keystone/keystone_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include "clients/http/json_fields.h"
#include "clients/http/url.h"
#include "freezer/call_deadline.h"

namespace fdr::keystone {

using http::FieldReader;
using http::Json;

namespace {

bool digits(std::string_view text, size_t pos, size_t n, int& out) {
  if (pos + n > text.size()) return false;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + pos + n, value);
  if (ec != std::errc() || ptr != text.data() + pos + n) return false;
  out = value;
  return true;
}

Json domainRef(const std::string& id, const std::string& name) {
  if (!id.empty()) return Json{{"id", id}};
  return Json{{"name", name}};
}

Json userRef(const Credentials& c) {
  if (!c.user_id.empty()) return Json{{"id", c.user_id}};
  return Json{{"name", c.username}, {"domain", domainRef(c.user_domain_id, c.user_domain_name)}};
}

}  // namespace

std::optional<TimePoint> parseIsoTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction][Z|+00:00]
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  if (!digits(text, 0, 4, year) || !digits(text, 5, 2, month) || !digits(text, 8, 2, day) ||
      !digits(text, 11, 2, hour) || !digits(text, 14, 2, minute) || !digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int scale = 100;
    size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (scale > 0) millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  std::string_view zone = text.substr(pos);
  if (!(zone.empty() || zone == "Z" || zone == "+00:00" || zone == "+0000")) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t secs = timegm(&tm);
  return fromMillis(static_cast<int64_t>(secs) * 1000 + millis);
}

std::string identityV3Url(std::string_view auth_url) {
  std::string url(auth_url);
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.ends_with("/v3")) return url;
  if (url.ends_with("/v2.0")) return url.substr(0, url.size() - 5) + "/v3";
  return url + "/v3";
}

KeystoneClient::KeystoneClient(http::Client& http, Credentials credentials, Clock& clock,
                               KeystoneOptions options)
    : http_(http),
      credentials_(std::move(credentials)),
      clock_(clock),
      options_(options),
      identity_url_(identityV3Url(credentials_.auth_url)) {
  http_.redactor().add(credentials_.password);
  http_.redactor().add(credentials_.application_credential_secret);
}

int KeystoneClient::authentications() const {
  std::lock_guard lock(mutex_);
  return authentications_;
}

bool KeystoneClient::fresh() const {
  return token_.has_value() && clock_.now() < renew_at_;
}

void KeystoneClient::invalidate() {
  std::lock_guard lock(mutex_);
  token_.reset();
}

Result<std::unique_lock<std::timed_mutex>> KeystoneClient::lockWithinDeadline() {
  std::unique_lock lock(mutex_, std::defer_lock);
  const std::optional<Duration> left = CallDeadline::remaining();
  if (!left) {
    lock.lock();
  } else if (!lock.try_lock_for(*left)) {
    return fail(ErrorCode::kTimedOut,
                http_.redactor().scrub("keystone authentication of " + credentials_.describe() +
                                       " at " + identity_url_ +
                                       ": the call's deadline passed while another caller was "
                                       "authenticating"),
                /*retryable=*/true);
  }
  return lock;
}

Result<Token> KeystoneClient::token(std::stop_token stop) {
  auto lock = lockWithinDeadline();
  if (!lock) return std::unexpected(lock.error());
  if (fresh()) return *token_;
  auto issued = authenticate(stop);
  if (!issued) return issued;
  const TimePoint now = clock_.now();
  const Duration remaining = issued->expires_at > now ? issued->expires_at - now : Duration(0);
  renew_at_ = issued->expires_at - std::min(options_.expiry_margin, remaining / 2);
  token_ = *issued;
  return *issued;
}

Result<std::string> KeystoneClient::authBody() const {
  const Credentials& c = credentials_;
  Json identity;
  Json auth;
  if (c.method == AuthMethod::kPassword) {
    Json user = userRef(c);
    user["password"] = c.password.reveal();
    identity = Json{{"methods", Json::array({"password"})}, {"password", {{"user", user}}}};
    Json project;
    if (!c.project_id.empty()) {
      project = Json{{"id", c.project_id}};
    } else {
      project = Json{{"name", c.project_name},
                     {"domain", domainRef(c.project_domain_id, c.project_domain_name)}};
    }
    auth = Json{{"identity", identity}, {"scope", {{"project", project}}}};
  } else {
    Json cred;
    if (!c.application_credential_id.empty()) {
      cred = Json{{"id", c.application_credential_id}};
    } else {
      cred = Json{{"name", c.application_credential_name}, {"user", userRef(c)}};
    }
    cred["secret"] = c.application_credential_secret.reveal();
    identity = Json{{"methods", Json::array({"application_credential"})},
                    {"application_credential", cred}};
    auth = Json{{"identity", identity}};
  }
  auto body = http::dumpJson(Json{{"auth", auth}}, "keystone authentication");
  if (!body) {
    // The encoder's message may quote the offending bytes: keep only the gist.
    return fail(ErrorCode::kInvalidArgument,
                "keystone authentication: the credentials are not valid UTF-8");
  }
  return body;
}

Result<Token> KeystoneClient::authenticate(std::stop_token stop) {
  auto body = authBody();
  if (!body) return std::unexpected(body.error());
  http::Request request;
  request.method = http::Method::kPost;
  request.url = identity_url_ + "/auth/tokens";
  request.body = std::move(*body);
  request.idempotent = true;  // asking for a token twice is harmless
  ++authentications_;
  spdlog::debug("keystone: authenticating {}", credentials_.describe());
  auto response = http_.send(request, stop);
  if (!response) return withContext(response.error(), "keystone authentication");
  const std::string what = request.describe();
  if (response->status == 401) {
    Error error = http::statusError(request, *response, http_.redactor());
    error.message =
        "keystone refused the credentials of " + credentials_.describe() + ": " + error.message;
    error.message = http_.redactor().scrub(error.message);
    return std::unexpected(std::move(error));
  }
  if (auto ok = http::checkStatus(request, *response, http_.redactor()); !ok) {
    return withContext(ok.error(), "keystone authentication");
  }
  Token token;
  auto subject = response->header("x-subject-token");
  if (!subject || subject->empty()) {
    return fail(ErrorCode::kCorruption, what + ": the response has no X-Subject-Token header");
  }
  token.id = Secret(*subject);
  http_.redactor().add(token.id);

  auto doc = http::parseJson(response->body, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const Json* token_json = root.object("token");
  if (!root.ok()) return std::unexpected(root.error());
  FieldReader t(*token_json, what, "token");
  const std::string expires = t.string("expires_at");
  const Json* user = t.object("user");
  const Json* project = t.optObject("project");
  const Json* catalog = t.optArray("catalog");
  if (!t.ok()) return std::unexpected(t.error());
  auto expires_at = parseIsoTime(expires);
  if (!expires_at) {
    return fail(ErrorCode::kCorruption,
                what + ": field 'token.expires_at' is not an ISO 8601 time: '" + expires + "'");
  }
  token.expires_at = *expires_at;
  FieldReader u(*user, what, "token.user");
  token.user_id = u.string("id");
  if (!u.ok()) return std::unexpected(u.error());
  if (project != nullptr) {
    FieldReader p(*project, what, "token.project");
    token.project_id = p.string("id");
    if (!p.ok()) return std::unexpected(p.error());
  }
  if (catalog != nullptr) {
    for (size_t i = 0; i < catalog->size(); ++i) {
      const std::string path = "token.catalog[" + std::to_string(i) + "]";
      FieldReader s(catalog->at(i), what, path);
      CatalogService service;
      service.type = s.string("type");
      service.name = s.optString("name").value_or("");
      const Json* endpoints = s.array("endpoints");
      if (!s.ok()) return std::unexpected(s.error());
      for (size_t j = 0; j < endpoints->size(); ++j) {
        FieldReader e(endpoints->at(j), what, path + ".endpoints[" + std::to_string(j) + "]");
        Endpoint endpoint;
        endpoint.url = e.string("url");
        const std::string interface = e.string("interface");
        endpoint.region = e.optString("region_id").value_or(e.optString("region").value_or(""));
        if (!e.ok()) return std::unexpected(e.error());
        auto parsed = parseInterface(interface);
        if (!parsed) continue;  // an interface we never use
        endpoint.interface = *parsed;
        service.endpoints.push_back(std::move(endpoint));
      }
      token.catalog.push_back(std::move(service));
    }
  }
  spdlog::info("keystone: token issued for {} (expires {}, request {})", credentials_.describe(),
               formatTime(token.expires_at), response->request_id);
  return token;
}

Result<std::string> KeystoneClient::endpoint(std::string_view service_type,
                                             std::optional<Interface> interface,
                                             std::optional<std::string> region) {
  auto tok = token();
  if (!tok) return std::unexpected(tok.error());
  const Interface want = interface.value_or(credentials_.interface);
  const std::string want_region = region.value_or(credentials_.region_name);
  std::string available;
  for (const auto& service : tok->catalog) {
    if (service.type != service_type) continue;
    for (const auto& e : service.endpoints) {
      if (e.interface == want && (want_region.empty() || e.region == want_region)) return e.url;
      available += (available.empty() ? "" : ", ") + std::string(toString(e.interface)) + " in " +
                   (e.region.empty() ? "no region" : e.region);
    }
  }
  std::string message = "keystone catalog: no '" + std::string(service_type) + "' endpoint for " +
                        std::string(toString(want)) + " interface";
  if (!want_region.empty()) message += " in region " + want_region;
  message +=
      available.empty() ? "; the catalog has no such service" : "; the catalog has: " + available;
  return fail(ErrorCode::kNotFound, std::move(message));
}

Result<http::Response> KeystoneClient::send(http::Request request, std::stop_token stop) {
  auto tok = token(stop);
  if (!tok) return std::unexpected(tok.error());
  request.headers.push_back(http::Header{"X-Auth-Token", tok->id.reveal(), true});
  auto response = http_.send(request, stop);
  if (!response || response->status != 401) return response;
  spdlog::info("keystone: {} answered 401{}; authenticating again",
               http_.redactor().scrub(request.describe()),
               response->request_id.empty() ? "" : " (request " + response->request_id + ")");
  {
    auto lock = lockWithinDeadline();
    if (!lock) return std::unexpected(lock.error());
    if (token_ && token_->id == tok->id) token_.reset();
  }
  auto again = token(stop);
  if (!again) return std::unexpected(again.error());
  request.headers.back().value = again->id.reveal();
  return http_.send(request, stop);
}

Result<http::Response> KeystoneClient::call(http::Request request, std::stop_token stop) {
  auto response = send(request, stop);
  if (!response) return response;
  if (auto ok = http::checkStatus(request, *response, http_.redactor()); !ok) {
    return std::unexpected(ok.error());
  }
  return response;
}

Result<std::vector<RoleAssignment>> KeystoneClient::projectRoleAssignments(
    const std::string& project_id) {
  http::Request request;
  request.url = http::withQuery(
      identity_url_ + "/role_assignments",
      {{"scope.project.id", project_id}, {"include_names", "true"}, {"effective", "true"}});
  auto response = call(request);
  if (!response) return std::unexpected(response.error());
  const std::string what = request.describe();
  auto doc = http::parseJson(response->body, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const Json* list = root.array("role_assignments");
  if (!root.ok()) return std::unexpected(root.error());
  std::vector<RoleAssignment> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string path = "role_assignments[" + std::to_string(i) + "]";
    FieldReader a(list->at(i), what, path);
    const Json* role = a.object("role");
    const Json* user = a.optObject("user");
    const Json* group = a.optObject("group");
    const Json* scope = a.optObject("scope");
    if (!a.ok()) return std::unexpected(a.error());
    RoleAssignment r;
    FieldReader rr(*role, what, path + ".role");
    r.role_id = rr.string("id");
    r.role_name = rr.optString("name").value_or("");
    if (!rr.ok()) return std::unexpected(rr.error());
    if (user != nullptr) {
      FieldReader ur(*user, what, path + ".user");
      r.user_id = ur.string("id");
      r.user_name = ur.optString("name").value_or("");
      if (!ur.ok()) return std::unexpected(ur.error());
    }
    if (group != nullptr) {
      FieldReader gr(*group, what, path + ".group");
      r.group_id = gr.string("id");
      if (!gr.ok()) return std::unexpected(gr.error());
    }
    r.project_id = project_id;
    if (scope != nullptr) {
      FieldReader sr(*scope, what, path + ".scope");
      if (const Json* project = sr.optObject("project")) {
        FieldReader pr(*project, what, path + ".scope.project");
        r.project_id = pr.string("id");
        if (!pr.ok()) return std::unexpected(pr.error());
      }
      if (!sr.ok()) return std::unexpected(sr.error());
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<User> KeystoneClient::user(const std::string& user_id) {
  http::Request request;
  request.url = identity_url_ + "/users/" + http::urlEncode(user_id);
  auto response = call(request);
  if (!response) return std::unexpected(response.error());
  const std::string what = request.describe();
  auto doc = http::parseJson(response->body, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const Json* user = root.object("user");
  if (!root.ok()) return std::unexpected(root.error());
  FieldReader u(*user, what, "user");
  User out;
  out.id = u.string("id");
  out.name = u.optString("name").value_or("");
  out.email = u.optString("email").value_or("");
  out.enabled = u.optBoolean("enabled").value_or(true);
  if (!u.ok()) return std::unexpected(u.error());
  return out;
}

Result<std::vector<Recipient>> KeystoneClient::projectRecipients(const std::string& project_id,
                                                                 const std::string& owner_user_id) {
  auto assignments = projectRoleAssignments(project_id);
  if (!assignments) return std::unexpected(assignments.error());
  std::vector<std::string> ids;
  if (!owner_user_id.empty()) ids.push_back(owner_user_id);
  for (const auto& a : *assignments) {
    if (a.user_id.empty()) continue;
    if (std::find(ids.begin(), ids.end(), a.user_id) == ids.end()) ids.push_back(a.user_id);
  }
  std::vector<Recipient> out;
  for (const auto& id : ids) {
    auto u = user(id);
    if (!u) {
      if (u.error().code == ErrorCode::kNotFound) {
        spdlog::info("keystone: user {} of project {} no longer exists; not notified", id,
                     project_id);
        continue;
      }
      return std::unexpected(u.error());
    }
    if (!u->enabled) continue;
    out.push_back(Recipient{u->id, u->name, u->email, id == owner_user_id});
  }
  return out;
}

}  // namespace fdr::keystone
