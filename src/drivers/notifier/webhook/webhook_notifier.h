// The webhook notifier ("webhook"): POSTs each notification as JSON to a URL, either the
// versioned freezer-dr document (format = freezer-dr, docs/notifications.md) or Slack's
// {"text": ...} (format = slack). "slack" (alias the original's SlackNotifier) is the same
// driver with format = slack.
//
// One attempt per send(), bounded by connect-timeout and timeout; 2xx is delivered, 408, 429,
// 5xx and transport failures are retryable errors, other statuses permanent ones. With a
// `secret`, X-Freezer-Signature: sha256=<hex HMAC-SHA256 of the body> lets the receiver check
// the sender. The URL's path is treated as a secret (Slack's URLs are credentials): errors and
// logs name only scheme://host:port.
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerWebhookNotifier(Registry& registry);

[[nodiscard]] OptionSchema webhookNotifierSchema(const std::string& default_format);
[[nodiscard]] Result<NotifierPtr> makeWebhookNotifier(const Options& options,
                                                      DriverContext& context);

}  // namespace fdr::drivers
