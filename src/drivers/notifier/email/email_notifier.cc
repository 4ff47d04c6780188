#include "drivers/notifier/email/email_notifier.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "drivers/notifier/email/keystone_recipient_directory.h"
#include "drivers/notifier/email/mime.h"
#include "drivers/notifier/email/smtp_client.h"
#include "drivers/notifier/email/templates.h"

namespace fdr::drivers {
namespace {

using email::BodyEncoding;
using email::Mailbox;
using email::Recipient;
using email::SmtpTls;

constexpr size_t kRememberedDeliveries = 4096;

struct Settings {
  email::SmtpOptions smtp;
  std::string from;
  std::string from_name;
  std::optional<Mailbox> reply_to;
  std::vector<std::string> admins;
  bool users = true;
  bool orphans_to_admins = true;
  BodyEncoding encoding = BodyEncoding::kQuotedPrintable;
};

// One SMTP transaction: one envelope recipient, so that each address succeeds or fails on its
// own (the admins' copies are the same message, To: all of them, sent once per address).
struct Outgoing {
  std::string key;          // the message (same for the admins' copies): its Message-ID
  std::string rcpt;         // the envelope recipient
  std::vector<Mailbox> to;  // the To: header
  email::MailContext context;
  std::string subject_prefix;
  std::string preface;  // a paragraph put before the rendered text
};

std::string_view toString(SmtpTls tls) {
  switch (tls) {
    case SmtpTls::kOff: return "off";
    case SmtpTls::kOpportunistic: return "opportunistic STARTTLS";
    case SmtpTls::kStartTls: return "STARTTLS required";
    case SmtpTls::kImplicit: return "SMTPS";
  }
  return "?";
}

// FNV-1a: a stable hash for Message-IDs (the same message gets the same id when repeated).
uint64_t stableHash(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool isLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string localHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// Collapses the blank lines a skipped Mustache section leaves behind (kainjow 4.1 keeps the
// newline of a standalone section tag) to one, and ends the text with exactly one newline.
std::string tidy(const std::string& text) {
  std::string out;
  size_t newlines = 0;
  for (char c : text) {
    if (c == '\r') continue;
    if (c == '\n') {
      if (++newlines > 2) continue;
    } else {
      newlines = 0;
    }
    out += c;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  const size_t first = out.find_first_not_of('\n');
  return (first == std::string::npos ? std::string() : out.substr(first)) + "\n";
}

struct Endpoint {
  std::string host;
  int port = 0;
  bool smtps = false;
};

// "host", "host:port", "[v6]:port", "smtp://host[:port]", "smtps://host[:port]".
Result<Endpoint> parseEndpoint(const std::string& text) {
  Endpoint e;
  std::string rest = text;
  if (const size_t scheme = rest.find("://"); scheme != std::string::npos) {
    const std::string name = rest.substr(0, scheme);
    if (name == "smtps") {
      e.smtps = true;
    } else if (name != "smtp") {
      return fail(ErrorCode::kInvalidArgument,
                  "endpoint '" + text +
                      "': expected an SMTP host, smtp://host[:port] or "
                      "smtps://host[:port]");
    }
    rest = rest.substr(scheme + 3);
    if (const size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  }
  std::string port;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close == std::string::npos) {
      return fail(ErrorCode::kInvalidArgument, "endpoint '" + text + "': unclosed '['");
    }
    e.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    e.host = rest.substr(0, rest.find(':'));
    port = rest.substr(rest.find(':') + 1);
  } else {
    e.host = rest;  // a bare IPv6 address or a host name
  }
  if (e.host.empty()) {
    return fail(ErrorCode::kInvalidArgument, "endpoint '" + text + "': no host");
  }
  if (!port.empty()) {
    auto n = parseInt(port);
    if (!n || *n < 1 || *n > 65535) {
      return fail(ErrorCode::kInvalidArgument, "endpoint '" + text + "': bad port '" + port + "'");
    }
    e.port = static_cast<int>(*n);
  }
  return e;
}

class EmailNotifier final : public Notifier {
 public:
  EmailNotifier(Settings settings, email::TemplateSet templates,
                std::unique_ptr<email::RecipientDirectory> directory, Clock& clock)
      : settings_(std::move(settings)),
        templates_(std::move(templates)),
        directory_(std::move(directory)),
        clock_(clock) {}

  // Deliveries run in parallel (the engine's notify lanes); only the memory of what was
  // delivered is shared. The engine never runs two deliveries of one notification at once.
  Status send(const Notification& notification) override {
    try {
      return deliver(notification);
    } catch (const std::exception& e) {  // the template library and the standard library
      return fail(ErrorCode::kInternal, std::string("email notifier: ") + e.what());
    }
  }

 private:
  Status deliver(const Notification& n) {
    auto planned = plan(n);
    if (!planned) return withContext(planned.error(), "email notifier");
    // What makes this notification itself (two guard alerts of one tick differ by node).
    const std::string identity =
        fmt::format("{}|{}|{}|{}|{}|{}|{:016x}", n.incident_id, fdr::toString(n.kind),
                    email::TemplateSet::audienceName(n.audience), n.project_id, n.node,
                    toMillis(n.at), stableHash(n.subject));
    std::optional<email::SmtpSession> session;
    std::optional<Error> first_error;
    for (const Outgoing& out : *planned) {
      const std::string key = identity + "|" + out.key;
      const std::string delivery = key + "|" + out.rcpt;
      if (delivered(delivery)) continue;  // sent by an earlier, partial attempt
      auto message = compose(n, out, key);
      if (!message) return withContext(message.error(), "email notifier");
      if (!session) session.emplace(settings_.smtp);
      const std::string& who = out.rcpt;
      auto sent = session->send(email::SmtpEnvelope{settings_.from, {out.rcpt}}, *message);
      if (sent) {
        spdlog::info("email notifier: {} of incident {} sent to {}", fdr::toString(n.kind),
                     n.incident_id, who);
        remember(delivery);
        continue;
      }
      const email::SmtpError& e = sent.error();
      if (e.recipient_refused) {
        // Permanent for this address: repeating the notification would not reach it either.
        spdlog::warn(
            "email notifier: {} of incident {}: {} refused by the server, not notified: {}",
            fdr::toString(n.kind), n.incident_id, who, e.error.message);
        remember(delivery);
        continue;
      }
      if (e.session_failed) return withContext(e.error, "email notifier");
      spdlog::warn("email notifier: {} of incident {} to {} failed: {}", fdr::toString(n.kind),
                   n.incident_id, who, e.error.message);
      if (!first_error || (e.error.retryable && !first_error->retryable)) first_error = e.error;
    }
    if (first_error) return withContext(*first_error, "email notifier");
    return {};
  }

  // Who gets what for this notification.
  Result<std::vector<Outgoing>> plan(const Notification& n) {
    std::vector<Outgoing> out;
    auto to_admins = [&](Outgoing o) {
      if (o.key.empty()) o.key = "admins";
      for (const std::string& a : settings_.admins) o.to.push_back(Mailbox{"", a});
      o.context.recipient_email = fmt::format("{}", fmt::join(settings_.admins, ", "));
      for (const std::string& a : settings_.admins) {
        o.rcpt = a;
        out.push_back(o);
      }
    };
    if (n.audience == Audience::kAdmins) {
      if (settings_.admins.empty()) {
        spdlog::warn(
            "email notifier: no notify-list: the admin notification '{}' of incident {} "
            "goes to no one",
            n.subject, n.incident_id);
      } else {
        to_admins(Outgoing{});
      }
      return out;
    }
    if (!settings_.users || directory_ == nullptr) {
      spdlog::debug("email notifier: user notifications are off; project {} not mailed",
                    n.project_id);
      return out;
    }
    // The project's users and the owners of its instances, each asked for once.
    std::vector<std::string> owners;
    for (const InstanceOutcome& o : n.instances) {
      if (!o.user_id.empty() &&
          std::find(owners.begin(), owners.end(), o.user_id) == owners.end()) {
        owners.push_back(o.user_id);
      }
    }
    auto users = directory_->usersOf(n.project_id, owners);
    if (!users) return std::unexpected(users.error());
    std::vector<std::string> without_email;
    std::set<std::string> addresses;
    for (const Recipient& r : *users) {
      const std::string label = r.name.empty() ? r.user_id : r.name + " (" + r.user_id + ")";
      if (r.email.empty()) {
        without_email.push_back(label);
        continue;
      }
      if (!email::isValidAddress(r.email)) {
        without_email.push_back(label + " <invalid address>");
        continue;
      }
      if (!addresses.insert(r.email).second) continue;  // two users, one mailbox: one mail
      Outgoing o;
      o.key = "user:" + r.email;
      o.rcpt = r.email;
      o.to.push_back(Mailbox{r.name, r.email});
      o.context.recipient_name = r.name;
      o.context.recipient_email = r.email;
      o.context.recipient_is_owner = r.owner;
      out.push_back(std::move(o));
    }
    if (!without_email.empty()) {
      spdlog::info(
          "email notifier: project {}: {} user(s) without a usable e-mail address, not "
          "notified: {}",
          n.project_id, without_email.size(), fmt::join(without_email, ", "));
    }
    if (out.empty()) {
      if (settings_.orphans_to_admins && !settings_.admins.empty()) {
        spdlog::warn(
            "email notifier: project {} has no user to mail; its notification goes to "
            "the admins",
            n.project_id);
        Outgoing o;
        o.key = "orphan-admins";
        o.subject_prefix = "[nobody to notify in project " + n.project_id + "] ";
        o.preface = "Nobody in project " + n.project_id +
                    " could be told (no user with an e-mail address holds a role on it). This is "
                    "the message its users would have received.\n\n";
        to_admins(std::move(o));
      } else {
        spdlog::warn("email notifier: project {} has no user to mail; nobody is told",
                     n.project_id);
      }
    }
    return out;
  }

  Result<std::string> compose(const Notification& n, const Outgoing& out, const std::string& key) {
    email::MailContext context = out.context;
    context.from = settings_.from;
    context.reply_to = settings_.reply_to ? settings_.reply_to->address : "";
    auto rendered = templates_.render(n, context);
    if (!rendered) return std::unexpected(rendered.error());
    email::Message m;
    m.from = Mailbox{settings_.from_name, settings_.from};
    m.to = out.to;
    m.reply_to = settings_.reply_to;
    m.subject = out.subject_prefix + rendered->subject;
    m.date = clock_.now();
    const std::string domain = email::domainOf(settings_.from);
    m.message_id = fmt::format("freezer-dr.{:016x}@{}", stableHash(key), domain);
    if (!n.incident_id.empty()) m.thread_id = "incident." + n.incident_id + "@" + domain;
    m.headers = {
        {"Auto-Submitted", "auto-generated"},
        {"X-Auto-Response-Suppress", "All"},
        {"X-Freezer-Kind", std::string(fdr::toString(n.kind))},
    };
    if (!n.incident_id.empty()) m.headers.emplace_back("X-Freezer-Incident", n.incident_id);
    if (!n.node.empty()) m.headers.emplace_back("X-Freezer-Node", n.node);
    if (n.kind == NotificationKind::kFenceFailed || n.kind == NotificationKind::kRecoveryStuck ||
        n.kind == NotificationKind::kGuardTripped) {
      m.headers.emplace_back("Importance", "high");
      m.headers.emplace_back("X-Priority", "1");
    }
    m.text = tidy(out.preface + rendered->text);
    m.html = rendered->html;
    m.encoding = settings_.encoding;
    return email::render(m, key);
  }

  bool delivered(const std::string& key) {
    std::lock_guard lock(mutex_);
    return delivered_set_.contains(key);
  }

  void remember(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (delivered_set_.insert(key).second) delivered_order_.push_back(key);
    while (delivered_order_.size() > kRememberedDeliveries) {
      delivered_set_.erase(delivered_order_.front());
      delivered_order_.pop_front();
    }
  }

  Settings settings_;
  email::TemplateSet templates_;
  std::unique_ptr<email::RecipientDirectory> directory_;
  Clock& clock_;
  std::mutex mutex_;  // guards the two below
  std::unordered_set<std::string> delivered_set_;
  std::deque<std::string> delivered_order_;
};

Result<Settings> settingsFrom(const Options& options) {
  Settings s;
  auto endpoint = parseEndpoint(options.getString("endpoint"));
  if (!endpoint) return std::unexpected(endpoint.error());
  s.smtp.host = endpoint->host;

  const std::string tls = options.getString("tls");
  const bool has_login = !options.getString("username").empty();
  if (tls == "auto") {
    s.smtp.tls = has_login ? SmtpTls::kStartTls : SmtpTls::kOpportunistic;
  } else if (tls == "starttls") {
    s.smtp.tls = SmtpTls::kStartTls;
  } else if (tls == "smtps" || tls == "ssl") {
    s.smtp.tls = SmtpTls::kImplicit;
  } else if (tls == "opportunistic") {
    s.smtp.tls = SmtpTls::kOpportunistic;
  } else if (tls == "off" || tls == "none") {
    s.smtp.tls = SmtpTls::kOff;
  } else if (auto b = parseBool(tls)) {  // the original's tls = True/False
    s.smtp.tls = *b ? SmtpTls::kStartTls : SmtpTls::kOff;
  } else {
    return fail(ErrorCode::kInvalidArgument,
                "tls '" + tls + "': expected auto, starttls, smtps, opportunistic or off");
  }
  if (endpoint->smtps) {
    if (tls != "auto" && s.smtp.tls != SmtpTls::kImplicit) {
      return fail(ErrorCode::kInvalidArgument,
                  "endpoint is smtps:// but tls = " + tls + "; drop one of them");
    }
    s.smtp.tls = SmtpTls::kImplicit;
  }
  const int64_t port = options.getInt("port");
  if (port < 0 || port > 65535) {
    return fail(ErrorCode::kInvalidArgument, "port " + std::to_string(port) + " is out of range");
  }
  s.smtp.port = port > 0                           ? static_cast<int>(port)
                : endpoint->port > 0               ? endpoint->port
                : s.smtp.tls == SmtpTls::kImplicit ? 465
                                                   : 25;
  s.smtp.username = options.getString("username");
  s.smtp.password = options.getSecret("password");
  if (s.smtp.username.empty() != s.smtp.password.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "set both username and password for SMTP AUTH, or neither");
  }
  if (!s.smtp.username.empty() && s.smtp.tls == SmtpTls::kOff && !isLoopback(s.smtp.host)) {
    spdlog::warn(
        "email notifier: tls = off with a login: the SMTP password crosses the network "
        "in clear text");
  }
  s.smtp.ca_file = options.getString("ca-file");
  s.smtp.insecure = options.getBool("insecure");
  if (s.smtp.insecure) {
    spdlog::warn("email notifier: TLS certificate verification is OFF (insecure = true)");
  }
  s.smtp.connect_timeout = options.getDuration("connect-timeout");
  s.smtp.timeout = options.getDuration("timeout");
  if (s.smtp.timeout.count() <= 0 || s.smtp.connect_timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "timeout and connect-timeout must be positive");
  }
  s.smtp.helo_name = options.getString("helo-name");
  if (s.smtp.helo_name.empty()) s.smtp.helo_name = localHostName();

  s.from = options.getString("notify-from");
  if (s.from.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "set [notifiers] notify-from: the sender address of the notifications");
  }
  if (!email::isValidAddress(s.from)) {
    return fail(ErrorCode::kInvalidArgument, "notify-from '" + s.from + "' is not an address");
  }
  s.from_name = options.getString("from-name");
  if (const std::string reply = options.getString("reply-to"); !reply.empty()) {
    if (!email::isValidAddress(reply)) {
      return fail(ErrorCode::kInvalidArgument, "reply-to '" + reply + "' is not an address");
    }
    s.reply_to = Mailbox{"", reply};
  }
  for (const std::string& admin : options.getList("notify-list")) {
    if (!email::isValidAddress(admin)) {
      return fail(ErrorCode::kInvalidArgument, "notify-list: '" + admin + "' is not an address");
    }
    if (std::find(s.admins.begin(), s.admins.end(), admin) == s.admins.end()) {
      s.admins.push_back(admin);
    }
  }
  s.users = options.getBool("users");
  s.orphans_to_admins = options.getBool("orphans-to-admins");
  const std::string encoding = options.getString("body-encoding");
  if (encoding == "quoted-printable") {
    s.encoding = BodyEncoding::kQuotedPrintable;
  } else if (encoding == "base64") {
    s.encoding = BodyEncoding::kBase64;
  } else {
    return fail(ErrorCode::kInvalidArgument,
                "body-encoding '" + encoding + "': expected quoted-printable or base64");
  }
  return s;
}

}  // namespace

OptionSchema emailNotifierSchema() {
  return {
      {.name = "endpoint",
       .default_value = "localhost",
       .help = "the SMTP server: host, host:port, smtp://host[:port] or smtps://host[:port]"},
      {.name = "port",
       .type = OptionType::kInt,
       .default_value = "0",
       .help = "SMTP port; 0: from the endpoint, else 465 for SMTPS and 25 otherwise"},
      {.name = "tls",
       .default_value = "auto",
       .help = "auto (STARTTLS required with a login, else used when offered), starttls, smtps, "
               "opportunistic, off; the original's true/false mean starttls/off"},
      {.name = "username", .default_value = "", .help = "SMTP AUTH user (with password)"},
      {.name = "password", .default_value = "", .secret = true, .help = "SMTP AUTH password"},
      {.name = "ca-file",
       .type = OptionType::kPath,
       .default_value = "",
       .help = "CA bundle for the server's certificate; empty: the system's"},
      {.name = "insecure",
       .type = OptionType::kBool,
       .default_value = "false",
       .help = "do not verify the server's certificate (tests only)"},
      {.name = "timeout",
       .type = OptionType::kDuration,
       .default_value = "30s",
       .help = "the most one message may take, connection included"},
      {.name = "connect-timeout",
       .type = OptionType::kDuration,
       .default_value = "10s",
       .help = "the most the connection to the server may take"},
      {.name = "helo-name", .default_value = "", .help = "EHLO name; empty: this host's name"},
      {.name = "notify-from",
       .default_value = "",
       .help = "the sender address (From: and MAIL FROM); required"},
      {.name = "from-name", .default_value = "freezer-dr", .help = "the sender's display name"},
      {.name = "reply-to", .default_value = "", .help = "Reply-To address; empty: none"},
      {.name = "notify-list",
       .type = OptionType::kList,
       .default_value = "",
       .help = "the admins' addresses: each gets the admin notifications"},
      {.name = "templates-dir",
       .type = OptionType::kPath,
       .default_value = "",
       .help = "a folder whose <admin|user>-<kind>.txt/.html files replace the built-in "
               "templates"},
      {.name = "users",
       .type = OptionType::kBool,
       .default_value = "true",
       .help = "mail the users of the affected projects (needs [keystone_authtoken])"},
      {.name = "orphans-to-admins",
       .type = OptionType::kBool,
       .default_value = "true",
       .help = "when nobody in a project can be mailed, send its users' message to the admins"},
      {.name = "body-encoding",
       .default_value = "quoted-printable",
       .help = "quoted-printable or base64"},
  };
}

Result<NotifierPtr> makeEmailNotifier(const Options& options, DriverContext& context,
                                      std::unique_ptr<email::RecipientDirectory> directory) {
  auto settings = settingsFrom(options);
  if (!settings) return std::unexpected(settings.error());
  auto templates = email::TemplateSet::load(options.getString("templates-dir"));
  if (!templates) return std::unexpected(templates.error());
  for (const std::string& name : templates->ignored()) {
    spdlog::warn("email notifier: templates-dir: {} is not used: {}",
                 options.getString("templates-dir"), name);
  }
  if (settings->admins.empty()) {
    spdlog::warn("email notifier: notify-list is empty: admin notifications go to no one");
  }
  spdlog::info(
      "email notifier: {} ({}{}), from {}, {} admin address(es), users {}, templates: "
      "built-in{}{}",
      email::smtpUrl(settings->smtp), toString(settings->smtp.tls),
      settings->smtp.username.empty() ? "" : ", AUTH as " + settings->smtp.username, settings->from,
      settings->admins.size(), settings->users && directory != nullptr ? "on" : "off",
      templates->overridden().empty() ? "" : ", from templates-dir: ",
      fmt::join(templates->overridden(), ", "));
  return std::make_unique<EmailNotifier>(std::move(*settings), std::move(*templates),
                                         std::move(directory), context.clock);
}

Status registerEmailNotifier(Registry& registry) {
  return registry.notifiers.add(DriverFactory<Notifier>{
      .name = "email",
      .aliases = {"freezer_dr.notifiers.drivers.default.default_email.StandardEmail"},
      .description = "e-mails the admins and the users of the affected projects over SMTP",
      .schema = emailNotifierSchema(),
      .create = [](const Options& options, DriverContext& context) -> Result<NotifierPtr> {
        std::unique_ptr<email::RecipientDirectory> directory;
        if (options.getBool("users")) {
          if (context.keystone == nullptr) {
            return fail(ErrorCode::kInvalidArgument,
                        "mailing the users of a project needs Keystone: configure "
                        "[keystone_authtoken], or set users = false to mail the admins only");
          }
          directory = std::make_unique<email::KeystoneRecipientDirectory>(*context.keystone);
        }
        return makeEmailNotifier(options, context, std::move(directory));
      },
  });
}

}  // namespace fdr::drivers
