#include "drivers/fencer/redfish/redfish_fencer.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "freezer/call_deadline.h"

namespace fdr::drivers {
namespace {

using SteadyClock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr size_t kMaxBodyBytes = 1 << 20;  // a Redfish resource is a few KiB; refuse floods
constexpr size_t kMaxDetailChars = 400;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Replaces every occurrence of `secret` in `text` (a BMC may echo what it was sent).
std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

std::string clip(std::string text) {
  if (text.size() > kMaxDetailChars) text = text.substr(0, kMaxDetailChars) + "...";
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// The human part of a Redfish error body: error.message and each @Message.ExtendedInfo Message
// (with its MessageId), per DSP0266 §9.6 "Error responses".
std::string redfishErrorDetail(const std::string& body) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return clip(body);
  auto error = doc.find("error");
  if (error == doc.end() || !error->is_object()) return clip(body);
  std::vector<std::string> parts;
  auto info = error->find("@Message.ExtendedInfo");
  if (info != error->end() && info->is_array()) {
    for (const json& item : *info) {
      if (!item.is_object()) continue;
      std::string part;
      if (auto m = item.find("Message"); m != item.end() && m->is_string()) {
        part = m->get<std::string>();
      }
      if (auto id = item.find("MessageId"); id != item.end() && id->is_string()) {
        part += (part.empty() ? "" : " ") + ("[" + id->get<std::string>() + "]");
      }
      if (!part.empty()) parts.push_back(part);
    }
  }
  if (parts.empty()) {
    if (auto m = error->find("message"); m != error->end() && m->is_string()) {
      parts.push_back(m->get<std::string>());
    }
  }
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "; ") + part;
  return clip(out.empty() ? body : out);
}

// Where one node's BMC is and how to talk to it.
struct Target {
  std::string base_url;   // "https://10.0.0.5:443", no trailing slash
  std::string system_id;  // empty: the only member of /redfish/v1/Systems
  std::string ca_file;
  bool insecure = false;
  bool session_auth = false;
  std::string where;  // "redfish: node compute-1 (BMC https://10.0.0.5)"
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One fencer call: a libcurl handle (connections are reused across its requests), the
// credentials, a deadline, and the session it logged in with, logged out when it ends.
class Exchange {
 public:
  // Every request of the exchange ends before `timeout` from now. `action` ("power-off") goes
  // into error messages.
  Exchange(const Target& target, const Node& node, Duration timeout, std::string action)
      : target_(target),
        node_(node),
        action_(std::move(action)),
        deadline_(SteadyClock::now() + timeout),
        timeout_ms_(timeout.count()),
        curl_(curl_easy_init()) {}

  ~Exchange() { logout(); }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Logs in when the target uses sessions. REQUIRES: called once, before any other request.
  Status login() {
    if (!target_.session_auth) return {};
    // DSP0266: the Sessions collection is linked from the service root (readable without
    // credentials); /redfish/v1/SessionService/Sessions is where every BMC seen so far has it.
    std::string sessions = "/redfish/v1/SessionService/Sessions";
    if (auto root = request("GET", "/redfish/v1", nullptr, /*authenticate=*/false); root) {
      const json doc = json::parse(root->body, nullptr, false);
      if (doc.is_object()) {
        auto links = doc.find("Links");
        if (links != doc.end() && links->is_object()) {
          auto link = links->find("Sessions");
          if (link != links->end() && link->is_object()) {
            auto id = link->find("@odata.id");
            if (id != link->end() && id->is_string()) sessions = id->get<std::string>();
          }
        }
      }
    } else if (root.error().code == ErrorCode::kTimedOut ||
               root.error().code == ErrorCode::kUnavailable) {
      return std::unexpected(root.error());
    }
    const json credentials = {{"UserName", node_.fencer_user},
                              {"Password", node_.fencer_password.reveal()}};
    const std::string body = credentials.dump();
    auto created = request("POST", sessions, &body, /*authenticate=*/false);
    if (!created) return std::unexpected(created.error());
    auto token = created->headers.find("x-auth-token");
    if (token == created->headers.end() || token->second.empty()) {
      return fail(ErrorCode::kCorruption,
                  target_.where + ": " + action_ + ": POST " + sessions +
                      ": the BMC created a session but sent no X-Auth-Token");
    }
    token_ = token->second;
    if (auto location = created->headers.find("location"); location != created->headers.end()) {
      session_uri_ = location->second;
    } else {
      const json doc = json::parse(created->body, nullptr, false);
      if (doc.is_object()) {
        auto id = doc.find("@odata.id");
        if (id != doc.end() && id->is_string()) session_uri_ = id->get<std::string>();
      }
    }
    return {};
  }

  // One request; a non-2xx status is an error carrying the BMC's own explanation. `body`, when
  // given, is sent as JSON.
  Result<HttpResponse> request(const std::string& method, const std::string& path,
                               const std::string* body, bool authenticate = true) {
    if (!curl_) return fail(ErrorCode::kInternal, target_.where + ": curl_easy_init failed");
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SteadyClock::now());
    if (remaining.count() <= 0) {
      return fail(ErrorCode::kTimedOut,
                  target_.where + ": " + action_ + ": " + method + " " + path +
                      ": out of time (timeout " + std::to_string(timeout_ms_) + " ms)",
                  true);
    }
    CURL* curl = curl_.get();
    curl_easy_reset(curl);
    const std::string url = path.starts_with("http://") || path.starts_with("https://")
                                ? path
                                : target_.base_url + path;
    HttpResponse response;
    std::string curl_error(CURL_ERROR_SIZE, '\0');
    BodySink sink{&response.body};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // a BMC is reached directly
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(remaining.count()));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error.data());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, target_.insecure ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, target_.insecure ? 0L : 2L);
    if (!target_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, target_.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (body != nullptr) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Exchange::onBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Exchange::onHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);

    struct SlistDeleter {
      void operator()(curl_slist* list) const { curl_slist_free_all(list); }
    };
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    auto add = [&headers](const std::string& header) {
      curl_slist* grown = curl_slist_append(headers.get(), header.c_str());
      if (grown != nullptr) {
        (void)headers.release();
        headers.reset(grown);
      }
    };
    add("Accept: application/json");
    add("OData-Version: 4.0");
    if (body != nullptr) add("Content-Type: application/json; charset=utf-8");
    if (authenticate && !token_.empty()) add("X-Auth-Token: " + token_);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    if (authenticate && token_.empty()) {
      curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(curl, CURLOPT_USERNAME, node_.fencer_user.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, node_.fencer_password.reveal().c_str());
    }

    const CURLcode rc = curl_easy_perform(curl);
    // Credentials must not outlive the request in the handle.
    curl_easy_setopt(curl, CURLOPT_PASSWORD, "");
    const std::string what = target_.where + ": " + action_ + ": " + method + " " + path;
    if (rc != CURLE_OK) {
      if (sink.overflow) {
        return fail(ErrorCode::kCorruption,
                    what + ": answer larger than " + std::to_string(kMaxBodyBytes) + " bytes",
                    true);
      }
      const std::string detail =
          curl_error[0] != '\0' ? curl_error.c_str() : curl_easy_strerror(rc);
      return std::unexpected(curlError(rc, what, scrub(detail, node_.fencer_password.reveal())));
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    if (response.status >= 200 && response.status < 300) return response;
    return std::unexpected(httpError(response, what));
  }

 private:
  struct BodySink {
    std::string* body;
    bool overflow = false;
  };

  static size_t onBody(char* data, size_t size, size_t n, void* out) {
    auto* sink = static_cast<BodySink*>(out);
    if (sink->body->size() + size * n > kMaxBodyBytes) {
      sink->overflow = true;
      return 0;  // aborts the transfer
    }
    sink->body->append(data, size * n);
    return size * n;
  }

  static size_t onHeader(char* data, size_t size, size_t n, void* out) {
    auto* headers = static_cast<std::map<std::string, std::string>*>(out);
    const std::string line(data, size * n);
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return size * n;
    const std::string value = line.substr(colon + 1);
    const size_t first = value.find_first_not_of(" \t");
    const size_t last = value.find_last_not_of(" \t\r\n");
    (*headers)[lower(line.substr(0, colon))] =
        first == std::string::npos ? "" : value.substr(first, last - first + 1);
    return size * n;
  }

  Error curlError(CURLcode rc, const std::string& what, const std::string& detail) const {
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        return {ErrorCode::kTimedOut,
                what + ": no answer in time (timeout " + std::to_string(timeout_ms_) +
                    " ms): " + detail,
                true};
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_ISSUER_ERROR:
      case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return {ErrorCode::kPermissionDenied,
                what + ": TLS: the BMC's certificate is not trusted: " + detail +
                    " (give its CA with redfish-ca-file / ca-file)",
                false};
      case CURLE_WEIRD_SERVER_REPLY:
      case CURLE_BAD_CONTENT_ENCODING:
      case CURLE_HTTP2:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return {ErrorCode::kCorruption, what + ": not an HTTP answer: " + detail, true};
      case CURLE_URL_MALFORMAT:
        return {ErrorCode::kInvalidArgument, what + ": bad BMC address: " + detail, false};
      default:  // refused, reset, unreachable, TLS handshake failure...
        return {ErrorCode::kUnavailable, what + ": " + detail, true};
    }
  }

  Error httpError(const HttpResponse& response, const std::string& what) const {
    const std::string detail =
        "HTTP " + std::to_string(response.status) +
        (response.body.empty()
             ? ""
             : ": " + scrub(redfishErrorDetail(response.body), node_.fencer_password.reveal()));
    const long s = response.status;
    if (s == 401 || s == 403) {
      return {ErrorCode::kPermissionDenied,
              what + ": " + detail + " (user '" + node_.fencer_user + "')", false};
    }
    if (s == 404) return {ErrorCode::kNotFound, what + ": " + detail, false};
    if (s == 405 || s == 501) return {ErrorCode::kNotSupported, what + ": " + detail, false};
    if (s == 409) return {ErrorCode::kConflict, what + ": " + detail, true};
    if (s == 408 || s == 429 || s >= 500)
      return {ErrorCode::kUnavailable, what + ": " + detail, true};
    if (s >= 400) return {ErrorCode::kInvalidArgument, what + ": " + detail, false};
    return {ErrorCode::kCorruption, what + ": unexpected " + detail, true};
  }

  void logout() {
    if (token_.empty() || session_uri_.empty()) return;
    // Best effort, within what is left of the call's time: a session left behind expires on
    // the BMC by itself.
    (void)request("DELETE", session_uri_, nullptr);
    token_.clear();
  }

  struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };

  const Target& target_;
  const Node& node_;
  std::string action_;
  SteadyClock::time_point deadline_;
  int64_t timeout_ms_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  std::string token_;  // a credential: never logged
  std::string session_uri_;
};

struct SystemLocation {
  std::string path;                      // "/redfish/v1/Systems/1"
  std::string reset_target;              // "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"
  std::vector<std::string> reset_types;  // ResetType@Redfish.AllowableValues, if given
};

// Reads the system resource: where its Reset action is, and its PowerState.
struct SystemView {
  SystemLocation location;
  PowerState power = PowerState::kUnknown;
  std::string power_text;
};

class RedfishFencer final : public Fencer {
 public:
  struct Config {
    Duration timeout;
    std::string scheme;  // http or https
    int port = 0;        // 0: the scheme's
    bool session_auth = false;
    std::string system_id;
    std::string ca_file;
    bool insecure = false;
    std::string off_reset_type;
    std::string on_reset_type;
  };

  explicit RedfishFencer(Config config) : config_(std::move(config)) {}

  // The driver options with a node's redfish-* keys applied. The scheme goes in base_url until
  // the address is known. Checked for every node at start-up.
  static Result<Target> nodeSettings(const Config& config, const Node& node) {
    Target target;
    target.system_id = config.system_id;
    target.ca_file = config.ca_file;
    target.insecure = config.insecure;
    target.session_auth = config.session_auth;
    target.base_url = config.scheme;
    auto bad = [&node](const std::string& what) {
      return fail(ErrorCode::kInvalidArgument,
                  "redfish: node " + node.hostname +
                      (node.source.empty() ? "" : " (" + node.source + ")") + ": " + what);
    };
    if (auto it = node.extra.find("redfish-system-id"); it != node.extra.end()) {
      target.system_id = it->second;
    }
    if (auto it = node.extra.find("redfish-ca-file"); it != node.extra.end()) {
      target.ca_file = it->second;
    }
    if (auto it = node.extra.find("redfish-insecure"); it != node.extra.end()) {
      auto value = parseBool(it->second);
      if (!value) return bad("redfish-insecure '" + it->second + "' is not a boolean");
      target.insecure = *value;
    }
    if (auto it = node.extra.find("redfish-scheme"); it != node.extra.end()) {
      target.base_url = lower(it->second);
      if (target.base_url != "http" && target.base_url != "https") {
        return bad("redfish-scheme '" + it->second + "' is not http or https");
      }
    }
    if (target.system_id.find('/') != std::string::npos) {
      return bad("redfish system id '" + target.system_id + "' contains '/'");
    }
    if (node.fencer_ip.find("://") != std::string::npos && !node.fencer_ip.starts_with("http://") &&
        !node.fencer_ip.starts_with("https://")) {
      return bad("fencer-ip '" + node.fencer_ip + "' is neither a host nor an http(s) URL");
    }
    return target;
  }

  // Fencer
  Status powerOff(const Node& node) override {
    return reset(node, "power-off", config_.off_reset_type, PowerState::kOff);
  }

  Status powerOn(const Node& node) override {
    return reset(node, "power-on", config_.on_reset_type, PowerState::kOn);
  }

  Result<PowerState> powerStatus(const Node& node) override {
    auto target = targetFor(node);
    if (!target) return std::unexpected(target.error());
    Exchange exchange(*target, node, CallDeadline::bound(config_.timeout), "power-status");
    if (Status in = exchange.login(); !in) return std::unexpected(in.error());
    auto view = readSystem(*target, exchange);
    if (!view) return std::unexpected(view.error());
    return view->power;
  }

 private:
  Result<Target> targetFor(const Node& node) const {
    auto settings = nodeSettings(config_, node);
    if (!settings) return std::unexpected(settings.error());
    Target target = std::move(*settings);
    if (node.fencer_ip.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "redfish: node " + node.hostname +
                      (node.source.empty() ? "" : " (" + node.source + ")") +
                      ": no fencer-ip (BMC address) in the inventory");
    }
    if (node.fencer_ip.find("://") != std::string::npos) {
      target.base_url = node.fencer_ip;
      while (target.base_url.ends_with('/')) target.base_url.pop_back();
    } else {
      const std::string& host = node.fencer_ip;
      const bool ipv6 = host.find(':') != std::string::npos && !host.starts_with('[');
      target.base_url = target.base_url + "://" + (ipv6 ? "[" + host + "]" : host);
      const int port = node.fencer_port != 0 ? node.fencer_port : config_.port;
      if (port != 0) target.base_url += ":" + std::to_string(port);
    }
    target.where = "redfish: node " + node.hostname + " (BMC " + target.base_url + ")";
    return target;
  }

  static std::string cacheKey(const Target& target) {
    return target.base_url + "|" + target.system_id;
  }

  // Finds the system: the configured id, or the only member of the Systems collection.
  Result<std::string> systemPath(const Target& target, Exchange& exchange) const {
    if (!target.system_id.empty()) return "/redfish/v1/Systems/" + target.system_id;
    auto collection = exchange.request("GET", "/redfish/v1/Systems", nullptr);
    if (!collection) return std::unexpected(collection.error());
    const json doc = json::parse(collection->body, nullptr, false);
    auto members = doc.is_object() ? doc.find("Members") : doc.end();
    if (!doc.is_object() || members == doc.end() || !members->is_array()) {
      return fail(ErrorCode::kCorruption,
                  target.where + ": GET /redfish/v1/Systems: not a ComputerSystem collection",
                  true);
    }
    std::vector<std::string> ids;
    for (const json& member : *members) {
      auto id = member.is_object() ? member.find("@odata.id") : member.end();
      if (!member.is_object() || id == member.end() || !id->is_string()) {
        return fail(ErrorCode::kCorruption,
                    target.where + ": GET /redfish/v1/Systems: a member has no @odata.id", true);
      }
      ids.push_back(id->get<std::string>());
    }
    if (ids.empty()) {
      return fail(ErrorCode::kNotFound, target.where + ": the BMC lists no ComputerSystem");
    }
    if (ids.size() > 1) {
      std::string list;
      for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
      return fail(ErrorCode::kInvalidArgument,
                  target.where + ": the BMC has " + std::to_string(ids.size()) + " systems (" +
                      list + "); say which with redfish-system-id / system-id");
    }
    return ids.front();
  }

  Result<SystemView> readSystem(const Target& target, Exchange& exchange) {
    std::string path;
    {
      std::lock_guard lock(mutex_);
      if (auto it = cache_.find(cacheKey(target)); it != cache_.end()) path = it->second.path;
    }
    if (path.empty()) {
      auto found = systemPath(target, exchange);
      if (!found) return std::unexpected(found.error());
      path = *found;
    }
    auto got = exchange.request("GET", path, nullptr);
    if (!got) {
      if (got.error().code == ErrorCode::kNotFound) forget(target);
      return std::unexpected(got.error());
    }
    const json doc = json::parse(got->body, nullptr, false);
    if (!doc.is_object()) {
      return fail(ErrorCode::kCorruption, target.where + ": GET " + path + ": not a JSON object",
                  true);
    }
    SystemView view;
    view.location.path = path;
    view.location.reset_target = path + "/Actions/ComputerSystem.Reset";
    auto actions = doc.find("Actions");
    if (actions != doc.end() && actions->is_object()) {
      auto reset = actions->find("#ComputerSystem.Reset");
      if (reset != actions->end() && reset->is_object()) {
        if (auto t = reset->find("target"); t != reset->end() && t->is_string()) {
          view.location.reset_target = t->get<std::string>();
        }
        auto allowed = reset->find("ResetType@Redfish.AllowableValues");
        if (allowed != reset->end() && allowed->is_array()) {
          for (const json& value : *allowed) {
            if (value.is_string()) view.location.reset_types.push_back(value.get<std::string>());
          }
        }
      }
    }
    auto power = doc.find("PowerState");
    if (power != doc.end() && power->is_string()) {
      view.power_text = power->get<std::string>();
      // Redfish PowerState: On, Off, PoweringOn, PoweringOff, Paused. Only "Off" is off; a
      // system that is still powering off is on.
      if (view.power_text == "Off") {
        view.power = PowerState::kOff;
      } else if (view.power_text == "On" || view.power_text == "PoweringOn" ||
                 view.power_text == "PoweringOff" || view.power_text == "Paused") {
        view.power = PowerState::kOn;
      }
    } else if (power != doc.end() && !power->is_null()) {
      return fail(ErrorCode::kCorruption,
                  target.where + ": GET " + path + ": PowerState is not a string", true);
    }
    std::lock_guard lock(mutex_);
    cache_[cacheKey(target)] = view.location;
    return view;
  }

  void forget(const Target& target) {
    std::lock_guard lock(mutex_);
    cache_.erase(cacheKey(target));
  }

  Status reset(const Node& node, const std::string& action, const std::string& reset_type,
               PowerState wanted) {
    auto target = targetFor(node);
    if (!target) return std::unexpected(target.error());
    Exchange exchange(*target, node, CallDeadline::bound(config_.timeout), action);
    if (Status in = exchange.login(); !in) return std::unexpected(in.error());
    auto view = readSystem(*target, exchange);
    if (!view) return std::unexpected(view.error());
    std::string type = reset_type;
    const auto& allowed = view->location.reset_types;
    auto allows = [&allowed](const std::string& t) {
      return std::find(allowed.begin(), allowed.end(), t) != allowed.end();
    };
    // "On" and "ForceOn" both power a system on; some BMCs offer only one of them.
    if (!allowed.empty() && !allows(type) && wanted == PowerState::kOn) {
      if (type == "On" && allows("ForceOn"))
        type = "ForceOn";
      else if (type == "ForceOn" && allows("On"))
        type = "On";
    }
    const std::string body = json{{"ResetType", type}}.dump();
    auto posted = exchange.request("POST", view->location.reset_target, &body);
    if (posted) return {};
    // Many BMCs refuse a reset to the state the system is already in (400 or 409): that is
    // success. Any other failure stays one.
    const ErrorCode code = posted.error().code;
    if (code == ErrorCode::kInvalidArgument || code == ErrorCode::kConflict) {
      auto now = readSystem(*target, exchange);
      if (now && now->power == wanted) return {};
    }
    if (code == ErrorCode::kNotFound) forget(*target);
    Error error = posted.error();
    error.message += " (ResetType " + type + ")";
    return std::unexpected(std::move(error));
  }

  Config config_;
  std::mutex mutex_;
  std::map<std::string, SystemLocation> cache_;  // GUARDED_BY(mutex_)
};

Result<FencerPtr> create(const Options& options, DriverContext& context) {
  initCurlOnce();
  RedfishFencer::Config config;
  config.timeout = options.getDuration("timeout");
  if (config.timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "fencer redfish: timeout must be positive");
  }
  config.scheme = lower(options.getString("scheme"));
  if (config.scheme != "http" && config.scheme != "https") {
    return fail(ErrorCode::kInvalidArgument,
                "fencer redfish: scheme '" + config.scheme + "' is not http or https");
  }
  const int64_t port = options.getInt("port");
  if (port < 0 || port > 65535) {
    return fail(ErrorCode::kInvalidArgument,
                "fencer redfish: port " + std::to_string(port) + " is not a TCP port");
  }
  config.port = static_cast<int>(port);
  const std::string auth = lower(options.getString("auth"));
  if (auth != "basic" && auth != "session") {
    return fail(ErrorCode::kInvalidArgument,
                "fencer redfish: auth '" + auth + "' is not basic or session");
  }
  config.session_auth = auth == "session";
  config.system_id = options.getString("system-id");
  config.ca_file = options.getString("ca-file");
  config.insecure = options.getBool("insecure");
  config.off_reset_type = options.getString("off-reset-type");
  config.on_reset_type = options.getString("on-reset-type");
  if (config.off_reset_type != "ForceOff" && config.off_reset_type != "PushPowerButton") {
    return fail(ErrorCode::kInvalidArgument,
                "fencer redfish: off-reset-type '" + config.off_reset_type +
                    "' is not a hard power-off (ForceOff or PushPowerButton)");
  }
  if (config.on_reset_type != "On" && config.on_reset_type != "ForceOn") {
    return fail(ErrorCode::kInvalidArgument, "fencer redfish: on-reset-type '" +
                                                 config.on_reset_type + "' is not On or ForceOn");
  }
  // Per-node keys are checked at start-up, not at fencing time.
  std::string problems;
  for (const Node& node : context.nodes) {
    if (auto settings = RedfishFencer::nodeSettings(config, node); !settings) {
      problems += (problems.empty() ? "" : "; ") + settings.error().message;
    }
  }
  if (!problems.empty()) {
    return fail(ErrorCode::kInvalidArgument, "fencer redfish: inventory: " + problems);
  }
  return std::make_unique<RedfishFencer>(std::move(config));
}

}  // namespace

Status registerRedfishFencer(Registry& registry) {
  return registry.fencers.add(DriverFactory<Fencer>{
      .name = "redfish",
      .aliases = {},
      .description = "DMTF Redfish: ComputerSystem.Reset ForceOff/On and PowerState",
      .schema =
          {
              {.name = "timeout",
               .type = OptionType::kDuration,
               .default_value = "10s",
               .help = "bound of one call (all its HTTP requests)"},
              {.name = "scheme",
               .type = OptionType::kString,
               .default_value = "https",
               .help = "http or https when fencer-ip is a host; per node: redfish-scheme"},
              {.name = "port",
               .type = OptionType::kInt,
               .default_value = "0",
               .help = "BMC port when the inventory gives no fencer-port (0: the scheme's)"},
              {.name = "auth",
               .type = OptionType::kString,
               .default_value = "basic",
               .help = "basic (credentials on every request) or session (X-Auth-Token, "
                       "logged out after each call)"},
              {.name = "system-id",
               .type = OptionType::kString,
               .default_value = "",
               .help = "ComputerSystem id under /redfish/v1/Systems (empty: the only one); per "
                       "node: redfish-system-id"},
              {.name = "ca-file",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "PEM CA bundle the BMC certificates are checked against (empty: the "
                       "system's); per node: redfish-ca-file"},
              {.name = "insecure",
               .type = OptionType::kBool,
               .default_value = "false",
               .help = "do not verify BMC certificates; per node: redfish-insecure"},
              {.name = "off-reset-type",
               .type = OptionType::kString,
               .default_value = "ForceOff",
               .help = "ResetType of power-off: ForceOff or PushPowerButton"},
              {.name = "on-reset-type",
               .type = OptionType::kString,
               .default_value = "On",
               .help = "ResetType of power-on: On or ForceOn (the other one is used when the "
                       "BMC allows only it)"},
          },
      .create = create,
  });
}

}  // namespace fdr::drivers
