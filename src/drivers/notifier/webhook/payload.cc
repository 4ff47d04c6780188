#include "drivers/notifier/webhook/payload.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fdr::drivers::webhook {
namespace {

using Json = nlohmann::json;

constexpr size_t kSlackMaxInstances = 50;

std::string hex(const unsigned char* data, size_t size) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string_view audienceName(Audience a) {
  return a == Audience::kAdmins ? "admins" : "project";
}

bool isUrgent(NotificationKind kind) {
  return kind == NotificationKind::kFenceFailed || kind == NotificationKind::kRecoveryStuck ||
         kind == NotificationKind::kGuardTripped;
}

Json optionalString(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

std::string dump(const Json& doc) {
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string formatDown(int64_t ms) {
  const int64_t s = (ms + 500) / 1000;
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min {:02d} s", s / 60, s % 60);
  return fmt::format("{} h {:02d} min", s / 3600, (s % 3600) / 60);
}

// Slack's mrkdwn needs &, < and > escaped.
std::string slackEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c; break;
    }
  }
  return out;
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) return "";
  return hex(digest, size);
}

std::string notificationId(const Notification& n) {
  return sha256Hex(fmt::format("{}|{}|{}|{}|{}|{}|{}", n.incident_id, toString(n.kind),
                               audienceName(n.audience), n.project_id, n.node, toMillis(n.at),
                               n.subject))
      .substr(0, 32);
}

std::string signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac,
           &size) == nullptr) {
    return "";
  }
  return "sha256=" + hex(mac, size);
}

std::string jsonPayload(const Notification& n) {
  Json instances = Json::array();
  size_t ok = 0;
  for (const InstanceOutcome& o : n.instances) {
    if (o.ok) ++ok;
    instances.push_back(Json{
        {"id", o.id},
        {"name", o.name},
        {"from_host", o.from_host},
        {"to_host", optionalString(o.to_host)},
        {"user_id", optionalString(o.user_id)},
        {"ok", o.ok},
        {"reason", optionalString(o.reason)},
        {"down_ms", o.down_ms},
        {"disk", optionalString(o.disk)},
    });
  }
  Json doc = {
      {"schema", kSchemaName},
      {"version", kSchemaVersion},
      {"id", notificationId(n)},
      {"kind", toString(n.kind)},
      {"urgent", isUrgent(n.kind)},
      {"audience", audienceName(n.audience)},
      {"project_id", optionalString(n.project_id)},
      {"incident_id", optionalString(n.incident_id)},
      {"node", optionalString(n.node)},
      {"at", formatTime(n.at)},
      {"at_ms", toMillis(n.at)},
      {"subject", n.subject},
      {"summary", n.summary},
      {"counts",
       {{"total", n.instances.size()}, {"recovered", ok}, {"failed", n.instances.size() - ok}}},
      {"instances", std::move(instances)},
  };
  return dump(doc);
}

std::string slackPayload(const Notification& n) {
  std::string text;
  if (isUrgent(n.kind)) text += ":rotating_light: ";
  text += "*" + slackEscape(n.subject) + "*\n" + slackEscape(n.summary);
  const size_t shown = std::min(n.instances.size(), kSlackMaxInstances);
  for (size_t i = 0; i < shown; ++i) {
    const InstanceOutcome& o = n.instances[i];
    text +=
        "\n• " + slackEscape(o.name.empty() ? o.id : o.name) + " (`" + slackEscape(o.id) + "`): ";
    if (o.ok) {
      text += slackEscape(o.from_host) + " → " + slackEscape(o.to_host);
      if (o.down_ms > 0) text += ", down " + formatDown(o.down_ms);
    } else {
      text += "*not recovered*";
      if (!o.reason.empty()) text += ": " + slackEscape(o.reason);
    }
  }
  if (n.instances.size() > shown) {
    text += fmt::format("\n… and {} more", n.instances.size() - shown);
  }
  if (!n.incident_id.empty()) text += "\n_incident " + slackEscape(n.incident_id) + "_";
  return dump(Json{{"text", text}});
}

}  // namespace fdr::drivers::webhook
