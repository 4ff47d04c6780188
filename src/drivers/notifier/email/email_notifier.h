// The e-mail notifier ("email", alias the original's StandardEmail): SMTP through libcurl
// (plain, STARTTLS or SMTPS, AUTH), one MIME message per recipient, rendered from Mustache
// templates (templates.h).
//
// - Admin notifications: one message to every address of notify-list, each in the envelope
//   (RCPT TO) and in To: (the original only put them in a Cc: header and never delivered).
// - Project notifications: one message per user of the project (a RecipientDirectory: Keystone
//   role assignments and the instances' owners) who has an e-mail address; users without one
//   are skipped with a log line. When nobody in the project can be mailed, the message goes to
//   the admins instead (orphans-to-admins), saying so.
// - send() sends what is left to send of a notification and remembers (in memory) which
//   recipients already got it, so that the outbox's retry after a partial failure does not mail
//   the others twice. A permanent refusal of one address (5xx to RCPT TO) is logged and does not
//   fail the notification; anything else fails it, retryable when it may pass later.
#pragma once

#include <memory>

#include "drivers/notifier/email/recipient_directory.h"
#include "freezer/registry.h"

namespace fdr::drivers {

Status registerEmailNotifier(Registry& registry);

// The driver's option schema, and a notifier built with a given directory (tests; nullptr: user
// notifications are not sent, as with users = false).
[[nodiscard]] OptionSchema emailNotifierSchema();
[[nodiscard]] Result<NotifierPtr> makeEmailNotifier(
    const Options& options, DriverContext& context,
    std::unique_ptr<email::RecipientDirectory> directory);

}  // namespace fdr::drivers
