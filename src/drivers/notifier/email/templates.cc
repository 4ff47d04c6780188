#include "drivers/notifier/email/templates.h"

#include <kainjow/mustache.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

namespace fdr::drivers::email {
namespace {

namespace fs = std::filesystem;
using Mustache = kainjow::mustache::mustache;
using Data = kainjow::mustache::data;

constexpr std::array<NotificationKind, 8> kKinds = {
    NotificationKind::kFailureConfirmed,  NotificationKind::kFenceFailed,
    NotificationKind::kGuardTripped,      NotificationKind::kEvacuationFinished,
    NotificationKind::kEvacuationPartial, NotificationKind::kNodeBackInService,
    NotificationKind::kRecoveryStuck,     NotificationKind::kUnfenceFailed,
};

std::string_view kindTitle(NotificationKind kind) {
  switch (kind) {
    case NotificationKind::kFailureConfirmed: return "Node failure confirmed";
    case NotificationKind::kFenceFailed: return "Fencing failed";
    case NotificationKind::kGuardTripped: return "Fencing vetoed";
    case NotificationKind::kEvacuationFinished: return "Evacuation finished";
    case NotificationKind::kEvacuationPartial: return "Evacuation partly failed";
    case NotificationKind::kNodeBackInService: return "Node back in service";
    case NotificationKind::kRecoveryStuck: return "Recovery stuck";
    case NotificationKind::kUnfenceFailed: return "Unfence failed";
  }
  return "Notification";
}

bool isUrgent(NotificationKind kind) {
  return kind == NotificationKind::kFenceFailed || kind == NotificationKind::kRecoveryStuck ||
         kind == NotificationKind::kGuardTripped;
}

// Every name a template may have.
bool isTemplateName(const std::string& name) {
  for (std::string_view audience : {"admin", "user"}) {
    for (std::string_view ext : {".txt", ".html"}) {
      if (name == std::string(audience) + "-default" + std::string(ext)) return true;
      for (NotificationKind kind : kKinds) {
        if (name == std::string(audience) + "-" + std::string(toString(kind)) + std::string(ext)) {
          return true;
        }
      }
    }
  }
  return false;
}

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kInvalidArgument, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(ErrorCode::kInvalidArgument, "cannot read " + path.string());
  return text.str();
}

// Splits a "Subject: ..." first line off a text template.
std::pair<std::string, std::string> splitSubject(const std::string& text) {
  if (!text.starts_with("Subject:")) return {"", text};
  size_t end = text.find('\n');
  std::string subject = text.substr(8, end == std::string::npos ? std::string::npos : end - 8);
  std::string body = end == std::string::npos ? std::string() : text.substr(end + 1);
  // One blank line may separate the subject from the body.
  if (body.starts_with("\r\n")) {
    body.erase(0, 2);
  } else if (body.starts_with("\n")) {
    body.erase(0, 1);
  }
  return {subject, body};
}

std::string trimmed(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  const size_t first = text.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  const size_t last = text.find_last_not_of(' ');
  return text.substr(first, last - first + 1);
}

Data instanceData(const InstanceOutcome& o) {
  Data d;
  d.set("id", o.id);
  d.set("name", o.name.empty() ? o.id : o.name);
  d.set("from_host", o.from_host);
  d.set("to_host", o.to_host);
  d.set("ok", o.ok);
  d.set("failed", !o.ok);
  d.set("reason", o.reason);
  d.set("has_reason", !o.reason.empty());
  d.set("disk", o.disk);
  d.set("has_disk", !o.disk.empty());
  d.set("down", o.down_ms > 0 ? formatDown(o.down_ms) : std::string("-"));
  d.set("down_ms", std::to_string(o.down_ms));
  d.set("down_seconds", std::to_string((o.down_ms + 500) / 1000));
  return d;
}

Data viewOf(const Notification& n, const MailContext& c) {
  Data d;
  d.set("kind", std::string(toString(n.kind)));
  d.set("kind_title", std::string(kindTitle(n.kind)));
  d.set("urgent", isUrgent(n.kind));
  d.set("audience", std::string(TemplateSet::audienceName(n.audience)));
  d.set("subject", n.subject);
  d.set("summary", n.summary);
  d.set("node", n.node);
  d.set("incident_id", n.incident_id);
  d.set("project_id", n.project_id);
  d.set("at", formatUtc(n.at));
  d.set("recipient_name", c.recipient_name.empty() ? c.recipient_email : c.recipient_name);
  d.set("recipient_email", c.recipient_email);
  d.set("recipient_is_owner", c.recipient_is_owner);
  d.set("from", c.from);
  d.set("reply_to", c.reply_to);
  Data all{Data::type::list};
  Data recovered{Data::type::list};
  Data failed{Data::type::list};
  size_t ok = 0;
  for (const InstanceOutcome& o : n.instances) {
    Data item = instanceData(o);
    all.push_back(item);
    if (o.ok) {
      ++ok;
      recovered.push_back(item);
    } else {
      failed.push_back(item);
    }
  }
  d.set("instances", all);
  d.set("recovered", recovered);
  d.set("failed", failed);
  d.set("has_instances", !n.instances.empty());
  d.set("has_recovered", ok > 0);
  d.set("has_failed", ok < n.instances.size());
  d.set("instance_count", std::to_string(n.instances.size()));
  d.set("recovered_count", std::to_string(ok));
  d.set("failed_count", std::to_string(n.instances.size() - ok));
  return d;
}

Result<std::string> renderOne(const TemplateSet::Source& source, const std::string& text,
                              const Data& view, bool html) {
  Mustache tmpl{text};
  if (!tmpl.is_valid()) {
    return fail(ErrorCode::kInvalidArgument,
                "template " + source.origin + ": " + tmpl.error_message());
  }
  if (!html) tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(view);
  if (!tmpl.is_valid()) {
    return fail(ErrorCode::kInvalidArgument,
                "template " + source.origin + ": " + tmpl.error_message());
  }
  return out;
}

}  // namespace

std::string_view TemplateSet::audienceName(Audience audience) {
  return audience == Audience::kAdmins ? "admin" : "user";
}

std::string formatDown(int64_t ms) {
  const int64_t s = (ms + 500) / 1000;
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min {:02d} s", s / 60, s % 60);
  return fmt::format("{} h {:02d} min", s / 3600, (s % 3600) / 60);
}

std::string formatUtc(TimePoint t) {
  const std::time_t seconds = static_cast<std::time_t>(toMillis(t) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d} UTC", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Result<TemplateSet> TemplateSet::load(const std::string& dir) {
  TemplateSet set;
  for (const auto& [name, text] : builtinTemplates()) {
    set.sources_[name] = Source{name, "built-in " + name, text};
  }
  if (!dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      return fail(ErrorCode::kInvalidArgument,
                  "templates-dir '" + dir + "' is not a readable directory");
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    if (ec) {
      return fail(ErrorCode::kInvalidArgument, "templates-dir '" + dir + "': " + ec.message());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& path : files) {
      const std::string name = path.filename().string();
      if (!isTemplateName(name)) {
        set.ignored_.push_back(
            name + (path.extension() == ".jinja"
                        ? " (a Jinja2 template of the original freezer-dr: freezer-dr uses "
                          "Mustache templates named <admin|user>-<kind>.txt)"
                        : " (not a template name freezer-dr uses)"));
        continue;
      }
      auto text = readFile(path);
      if (!text) return std::unexpected(text.error());
      set.sources_[name] = Source{name, path.string(), std::move(*text)};
      set.overridden_.push_back(name);
    }
  }
  // Every template must parse now, not at the first failure in the middle of the night.
  for (const auto& [name, source] : set.sources_) {
    const std::string body =
        name.ends_with(".txt") ? splitSubject(source.text).second : source.text;
    if (Mustache tmpl{body}; !tmpl.is_valid()) {
      return fail(ErrorCode::kInvalidArgument,
                  "template " + source.origin + ": " + tmpl.error_message());
    }
    if (name.ends_with(".txt")) {
      Mustache subject{splitSubject(source.text).first};
      if (!subject.is_valid()) {
        return fail(ErrorCode::kInvalidArgument,
                    "template " + source.origin + " (subject line): " + subject.error_message());
      }
    }
  }
  for (std::string_view audience : {"admin", "user"}) {
    if (set.find(std::string(audience) + "-default.txt") == nullptr) {
      return fail(ErrorCode::kInternal,
                  "the built-in template " + std::string(audience) + "-default.txt is missing");
    }
  }
  return set;
}

const TemplateSet::Source* TemplateSet::find(const std::string& name) const {
  auto it = sources_.find(name);
  return it == sources_.end() ? nullptr : &it->second;
}

Result<RenderedMail> TemplateSet::render(const Notification& notification,
                                         const MailContext& context) const {
  const std::string audience(audienceName(notification.audience));
  const std::string specific = audience + "-" + std::string(toString(notification.kind));
  const Source* text = find(specific + ".txt");
  const Source* html = find(specific + ".html");
  if (text == nullptr) {
    text = find(audience + "-default.txt");
    if (html == nullptr) html = find(audience + "-default.html");
  }
  if (text == nullptr) {
    return fail(ErrorCode::kInternal, "no template for " + specific);
  }
  const Data view = viewOf(notification, context);
  auto [subject_template, body_template] = splitSubject(text->text);
  RenderedMail out;
  out.template_name = text->name;
  auto body = renderOne(*text, body_template, view, false);
  if (!body) return std::unexpected(body.error());
  out.text = std::move(*body);
  out.subject = notification.subject;
  if (!subject_template.empty()) {
    auto subject = renderOne(*text, subject_template, view, false);
    if (!subject) return std::unexpected(subject.error());
    if (std::string s = trimmed(*subject); !s.empty()) out.subject = std::move(s);
  }
  if (out.subject.empty())
    out.subject = "[freezer-dr] " + std::string(kindTitle(notification.kind));
  if (html != nullptr) {
    auto rendered = renderOne(*html, html->text, view, true);
    if (!rendered) return std::unexpected(rendered.error());
    out.html = std::move(*rendered);
  }
  return out;
}

}  // namespace fdr::drivers::email
