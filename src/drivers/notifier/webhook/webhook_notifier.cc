#include "drivers/notifier/webhook/webhook_notifier.h"

#include <exception>

#include <spdlog/spdlog.h>

#include "clients/http/http_client.h"
#include "clients/http/url.h"
#include "drivers/notifier/webhook/payload.h"

namespace fdr::drivers {
namespace {

enum class Format { kFreezer, kSlack };

class WebhookNotifier final : public Notifier {
 public:
  WebhookNotifier(std::string url, Format format, Secret secret, http::ClientOptions options,
                  Clock& clock)
      : url_(std::move(url)),
        format_(format),
        secret_(std::move(secret)),
        http_(std::move(options), clock) {
    // The URL (its path above all: Slack's carry the credential) never reaches a message.
    http_.redactor().add(url_);
    if (const std::string path = http::pathOf(url_); path.size() > 1) http_.redactor().add(path);
    http_.redactor().add(secret_);
  }

  Status send(const Notification& notification) override {
    try {
      return post(notification);
    } catch (const std::exception& e) {  // nlohmann::json and the standard library
      return fail(ErrorCode::kInternal, std::string("webhook notifier: ") + e.what());
    }
  }

 private:
  Status post(const Notification& n) {
    http::Request request;
    request.method = http::Method::kPost;
    request.url = url_;
    request.label = "POST " + http::originOf(url_) + " (webhook)";
    request.body = format_ == Format::kSlack ? webhook::slackPayload(n) : webhook::jsonPayload(n);
    const std::string id = webhook::notificationId(n);
    request.headers = {
        {"Content-Type", "application/json; charset=utf-8"},
        {"X-Freezer-Event", std::string(toString(n.kind))},
        {"X-Freezer-Delivery", id},
    };
    if (!secret_.empty()) {
      request.headers.push_back(
          {"X-Freezer-Signature", webhook::signature(secret_.reveal(), request.body)});
    }
    auto response = http_.send(request);
    if (!response) return withContext(response.error(), "webhook notifier");
    if (!response->ok()) {
      return withContext(http::statusError(request, *response, http_.redactor()),
                         "webhook notifier");
    }
    spdlog::info("webhook notifier: {} of incident {} delivered to {} (HTTP {})", toString(n.kind),
                 n.incident_id, http::originOf(url_), response->status);
    return {};
  }

  std::string url_;
  Format format_;
  Secret secret_;
  http::Client http_;
};

constexpr std::string_view kUnused = "accepted for the shared [notifiers] section; not used";

}  // namespace

OptionSchema webhookNotifierSchema(const std::string& default_format) {
  return {
      {.name = "endpoint", .default_value = "", .help = "the webhook URL (http:// or https://)"},
      {.name = "url", .default_value = "", .help = "the webhook URL; overrides endpoint"},
      {.name = "format",
       .default_value = default_format,
       .help = "freezer-dr (the JSON document of docs/notifications.md) or slack ({\"text\"})"},
      {.name = "secret",
       .default_value = "",
       .secret = true,
       .help = "HMAC-SHA256 key: adds X-Freezer-Signature: sha256=<hex> over the body"},
      {.name = "ca-file",
       .type = OptionType::kPath,
       .default_value = "",
       .help = "CA bundle for the server's certificate; empty: the system's"},
      {.name = "client-cert",
       .type = OptionType::kPath,
       .default_value = "",
       .help = "PEM client certificate (mutual TLS)"},
      {.name = "client-key",
       .type = OptionType::kPath,
       .default_value = "",
       .help = "PEM key of client-cert"},
      {.name = "insecure",
       .type = OptionType::kBool,
       .default_value = "false",
       .help = "do not verify the server's certificate (tests only)"},
      {.name = "timeout",
       .type = OptionType::kDuration,
       .default_value = "10s",
       .help = "the most one POST may take, connection included"},
      {.name = "connect-timeout",
       .type = OptionType::kDuration,
       .default_value = "5s",
       .help = "the most the connection may take"},
      // The original SlackNotifier's options (in [notifiers] options = ...).
      {.name = "slack_timeout", .default_value = "", .help = "the original's name for timeout"},
      {.name = "slack_ca_certs",
       .type = OptionType::kPath,
       .default_value = "",
       .help = "the original's name for ca-file"},
      {.name = "slack_insecured", .default_value = "", .help = "the original's name for insecure"},
      {.name = "slack_proxy",
       .default_value = "",
       .help = "not supported: set https_proxy in the daemon's environment"},
      {.name = "username", .default_value = "", .help = std::string(kUnused)},
      {.name = "password", .default_value = "", .secret = true, .help = std::string(kUnused)},
      {.name = "templates-dir",
       .type = OptionType::kPath,
       .default_value = "",
       .help = std::string(kUnused)},
      {.name = "notify-list",
       .type = OptionType::kList,
       .default_value = "",
       .help = std::string(kUnused)},
      {.name = "notify-from", .default_value = "", .help = std::string(kUnused)},
  };
}

Result<NotifierPtr> makeWebhookNotifier(const Options& options, DriverContext& context) {
  std::string url = options.getString("url");
  if (url.empty()) url = options.getString("endpoint");
  if (url.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "set the webhook URL: endpoint (or url) in [notifiers.<driver>]");
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    // Not the URL itself in the message: it may carry a credential.
    return fail(ErrorCode::kInvalidArgument,
                "endpoint is not an http:// or https:// URL (with driver = email, webhook, set "
                "the webhook's own endpoint in [notifiers.webhook])");
  }
  Format format;
  if (const std::string f = options.getString("format"); f == "freezer-dr" || f == "json") {
    format = Format::kFreezer;
  } else if (f == "slack") {
    format = Format::kSlack;
  } else {
    return fail(ErrorCode::kInvalidArgument, "format '" + f + "': expected freezer-dr or slack");
  }
  if (!options.getString("slack_proxy").empty()) {
    return fail(ErrorCode::kNotSupported,
                "slack_proxy is not supported: set https_proxy (and no_proxy) in the daemon's "
                "environment, libcurl honours them");
  }
  http::ClientOptions client;
  client.retry.max_attempts = 1;  // the outbox retries, with its own backoff
  client.timeout = options.getDuration("timeout");
  client.connect_timeout = options.getDuration("connect-timeout");
  if (const std::string t = options.getString("slack_timeout"); !t.empty()) {
    auto parsed = parseDuration(t);
    if (!parsed)
      return fail(ErrorCode::kInvalidArgument, "slack_timeout '" + t + "' is not a duration");
    client.timeout = *parsed;
  }
  if (client.timeout.count() <= 0 || client.connect_timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "timeout and connect-timeout must be positive");
  }
  client.max_response_bytes = 1024 * 1024;
  client.tls.ca_file = options.getString("ca-file");
  if (client.tls.ca_file.empty()) client.tls.ca_file = options.getString("slack_ca_certs");
  client.tls.client_cert = options.getString("client-cert");
  client.tls.client_key = options.getString("client-key");
  client.tls.insecure = options.getBool("insecure");
  if (const std::string v = options.getString("slack_insecured"); !v.empty()) {
    auto b = parseBool(v);
    if (!b) return fail(ErrorCode::kInvalidArgument, "slack_insecured: expected true or false");
    client.tls.insecure = client.tls.insecure || *b;
  }
  spdlog::info("webhook notifier: POST to {} as {}{}", http::originOf(url),
               format == Format::kSlack ? "slack" : "freezer-dr v1",
               options.getSecret("secret").empty() ? "" : ", signed (X-Freezer-Signature)");
  return std::make_unique<WebhookNotifier>(std::move(url), format, options.getSecret("secret"),
                                           std::move(client), context.clock);
}

Status registerWebhookNotifier(Registry& registry) {
  for (const auto& [name, alias, format] :
       {std::tuple<std::string, std::string, std::string>{"webhook", "", "freezer-dr"},
        {"slack", "freezer_dr.notifiers.drivers.slack.slack.SlackNotifier", "slack"}}) {
    DriverFactory<Notifier> factory{
        .name = name,
        .aliases = alias.empty() ? std::vector<std::string>{} : std::vector<std::string>{alias},
        .description = format == "slack"
                           ? "posts notifications to a Slack-compatible incoming webhook"
                           : "posts notifications as signed JSON to a webhook",
        .schema = webhookNotifierSchema(format),
        .create = &makeWebhookNotifier,
    };
    if (auto added = registry.notifiers.add(std::move(factory)); !added) return added;
  }
  return {};
}

}  // namespace fdr::drivers
