// What the webhook notifier posts: the versioned JSON document of docs/notifications.md, the
// Slack-compatible {"text": ...} form, and the HMAC-SHA256 signature of a body.
#pragma once

#include <string>
#include <string_view>

#include "freezer/notifier.h"

namespace fdr::drivers::webhook {

inline constexpr std::string_view kSchemaName = "freezer-dr.notification";
inline constexpr int kSchemaVersion = 1;

// A stable id of the notification (the same on every retry): 32 hex digits.
[[nodiscard]] std::string notificationId(const Notification& notification);

// The JSON document, schema version 1 (docs/notifications.md). Invalid UTF-8 in a string is
// replaced, never an exception.
[[nodiscard]] std::string jsonPayload(const Notification& notification);

// {"text": "..."}: Slack's incoming webhooks (also Mattermost and Rocket.Chat).
[[nodiscard]] std::string slackPayload(const Notification& notification);

// "sha256=<64 lower-case hex digits>": HMAC-SHA256 of `body` keyed with `secret`.
[[nodiscard]] std::string signature(std::string_view secret, std::string_view body);

// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256Hex(std::string_view data);

}  // namespace fdr::drivers::webhook
