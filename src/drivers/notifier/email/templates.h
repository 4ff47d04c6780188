// The e-mail templates: Mustache (kainjow/mustache.hpp, Debian libkainjow-mustache-dev), one
// per audience and notification kind, "<audience>-<kind>.txt" with audience "admin" or "user"
// (admin-fence-failed.txt, user-evacuation-finished.txt, ...), and an optional HTML
// alternative "<audience>-<kind>.html". "<audience>-default.txt" serves kinds without a
// template of their own.
//
// The defaults (etc/templates/) are compiled in; a file of the same name in templates-dir
// replaces one. A first line "Subject: ..." is the subject's template; without it the subject is
// the notification's. Text templates are not escaped; HTML templates escape {{values}} (use
// {{{value}}} for none). The variables are listed in docs/notifications.md.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "freezer/notifier.h"
#include "freezer/result.h"

namespace fdr::drivers::email {

struct MailContext {
  std::string recipient_name;  // the user's name, or "" for the admins
  std::string recipient_email;
  bool recipient_is_owner = false;
  std::string from;      // notify-from
  std::string reply_to;  // may be empty
};

struct RenderedMail {
  std::string subject;
  std::string text;
  std::string html;           // empty when there is no HTML template
  std::string template_name;  // the text template used, e.g. "user-evacuation-finished.txt"
};

class TemplateSet {
 public:
  // The built-in templates, each replaced by the file of the same name in `dir` when `dir` is
  // not empty. Fails if `dir` cannot be read or any template does not parse (naming the file
  // and the error).
  [[nodiscard]] static Result<TemplateSet> load(const std::string& dir);

  [[nodiscard]] Result<RenderedMail> render(const Notification& notification,
                                            const MailContext& context) const;

  // Template names taken from the directory, and the directory's files that are not used
  // (with why), for the start-up log.
  [[nodiscard]] const std::vector<std::string>& overridden() const { return overridden_; }
  [[nodiscard]] const std::vector<std::string>& ignored() const { return ignored_; }

  // "admin" or "user".
  [[nodiscard]] static std::string_view audienceName(Audience audience);

  struct Source {
    std::string name;    // "admin-fence-failed.txt"
    std::string origin;  // "built-in" or the file's path
    std::string text;
  };

 private:
  const Source* find(const std::string& name) const;
  std::map<std::string, Source> sources_;
  std::vector<std::string> overridden_;
  std::vector<std::string> ignored_;
};

// Human forms used by the templates and the webhook's Slack text.
[[nodiscard]] std::string formatDown(int64_t ms);  // "42 s", "3 min 05 s", "1 h 02 min"
[[nodiscard]] std::string formatUtc(TimePoint t);  // "2026-11-25 09:04:53 UTC"

// The compiled-in defaults: name -> text (generated from etc/templates at build time).
const std::map<std::string, std::string>& builtinTemplates();

}  // namespace fdr::drivers::email
