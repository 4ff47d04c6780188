#include "drivers/monitor/prometheus/prometheus_monitor.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "clients/http/http_client.h"
#include "clients/http/url.h"

namespace fdr::drivers {
namespace {

using http::FieldReader;
using http::Json;

bool allDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool validSource(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '/';
  });
}

// The node's addresses: ip_addr and every inventory key ending in "-addr".
std::vector<std::string> addressesOf(const Node& node) {
  std::vector<std::string> out;
  if (!node.ip_addr.empty()) out.push_back(node.ip_addr);
  for (const auto& [key, value] : node.extra) {
    if (key.ends_with("-addr") && !value.empty()) out.push_back(value);
  }
  return out;
}

// "<errorType>: <error>" from a Prometheus error body, if it is one.
std::optional<std::string> errorReason(std::string_view body) {
  const Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto text = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (text("status") != "error" || text("error").empty()) return std::nullopt;
  const std::string type = text("errorType");
  return (type.empty() ? std::string("error") : type) + ": " + text("error");
}

class PrometheusMonitor final : public Monitor {
 public:
  struct Config {
    std::string url;
    std::string query;
    std::string up_query;
    std::string label;
    bool strip_port = true;
    std::string source;
  };

  PrometheusMonitor(Clock& clock, Config config, http::ClientOptions client_options)
      : clock_(clock), config_(std::move(config)), http_(std::move(client_options), clock) {}

  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    const std::string context = "prometheus monitor (" + config_.source + ")";
    auto down = run(config_.query);
    if (!down) return withContext(down.error(), context);
    std::optional<std::vector<std::string>> scraped;
    if (!config_.up_query.empty()) {
      auto up = run(config_.up_query);
      if (!up) return withContext(up.error(), context);
      scraped = std::move(*up);
    }
    const TimePoint now = clock_.now();
    std::vector<Observation> out;
    out.reserve(nodes.size());
    for (const Node& node : nodes) {
      Observation o{node.hostname, config_.source, Health::kUnknown, now, ""};
      auto names = [&](const std::string& value) { return labelNamesNode(value, node); };
      if (auto it = std::find_if(down->begin(), down->end(), names); it != down->end()) {
        o.health = Health::kDown;
        o.detail = config_.label + "=\"" + *it + "\" in the result of " + config_.query;
      } else if (!scraped) {
        o.detail = "not in the result of the down query, and no up-query to say it is scraped";
      } else if (std::any_of(scraped->begin(), scraped->end(), names)) {
        o.health = Health::kUp;
      } else {
        o.detail = "not scraped: no series of " + config_.up_query + " names it";
      }
      out.push_back(std::move(o));
    }
    return out;
  }

 private:
  Result<std::vector<std::string>> run(const std::string& query) {
    http::Request request;
    request.url = http::withQuery(http::joinUrl(config_.url, "api/v1/query"), {{"query", query}});
    request.label = "prometheus GET /api/v1/query?query=" + query;
    auto response = http_.send(request);
    if (!response) return std::unexpected(response.error());
    if (!response->ok()) {
      // Prometheus explains a refused query in {"status":"error","errorType":..,"error":..}.
      Error error = http::statusError(request, *response, http_.redactor());
      if (auto reason = errorReason(response->body)) {
        error.message = http_.redactor().scrub(request.label + ": HTTP " +
                                               std::to_string(response->status) + " " + *reason);
      }
      return std::unexpected(std::move(error));
    }
    auto values = parsePrometheusVector(response->body, config_.label, request.label);
    if (!values) return values;
    if (config_.strip_port) {
      for (auto& value : *values) value = stripPort(value);
    }
    return values;
  }

  Clock& clock_;
  Config config_;
  http::Client http_;
};

}  // namespace

std::string stripPort(const std::string& value) {
  if (value.starts_with('[')) {
    const size_t close = value.find(']');
    if (close != std::string::npos &&
        (close + 1 == value.size() ||
         (value[close + 1] == ':' && allDigits(std::string_view(value).substr(close + 2))))) {
      return value.substr(1, close - 1);
    }
    return value;
  }
  const size_t colon = value.rfind(':');
  if (colon == std::string::npos || value.find(':') != colon) return value;  // none, or IPv6
  if (!allDigits(std::string_view(value).substr(colon + 1))) return value;
  return value.substr(0, colon);
}

bool labelNamesNode(const std::string& value, const Node& node) {
  if (value.empty()) return false;
  if (value == node.hostname) return true;
  if (!node.hostname.empty() && value.size() > node.hostname.size() &&
      value.starts_with(node.hostname) && value[node.hostname.size()] == '.') {
    return true;
  }
  const auto addresses = addressesOf(node);
  return std::find(addresses.begin(), addresses.end(), value) != addresses.end();
}

Result<std::vector<std::string>> parsePrometheusVector(std::string_view body,
                                                       const std::string& label,
                                                       const std::string& what) {
  auto doc = http::parseJson(body, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const std::string status = root.string("status");
  if (!root.ok()) return std::unexpected(root.error());
  if (status != "success") {
    const std::string type = root.optString("errorType").value_or("");
    const std::string message = root.optString("error").value_or("");
    return fail(ErrorCode::kInvalidArgument, what + ": Prometheus answered status '" + status +
                                                 "'" + (type.empty() ? "" : " " + type) +
                                                 (message.empty() ? "" : ": " + message));
  }
  const Json* data = root.object("data");
  if (!root.ok()) return std::unexpected(root.error());
  FieldReader d(*data, what, "data");
  const std::string type = d.string("resultType");
  if (!d.ok()) return std::unexpected(d.error());
  if (type != "vector") {
    return fail(ErrorCode::kInvalidArgument,
                what + ": the query returns a " + type +
                    ", expected an instant vector (one series per target)");
  }
  const Json* result = d.array("result");
  if (!d.ok()) return std::unexpected(d.error());
  std::vector<std::string> out;
  for (size_t i = 0; i < result->size(); ++i) {
    const std::string path = "data.result[" + std::to_string(i) + "]";
    FieldReader series(result->at(i), what, path);
    const Json* metric = series.object("metric");
    if (!series.ok()) return std::unexpected(series.error());
    FieldReader labels(*metric, what, path + ".metric");
    auto value = labels.optString(label);
    if (!labels.ok()) return std::unexpected(labels.error());
    if (value && !value->empty()) out.push_back(std::move(*value));
  }
  return out;
}

Status registerPrometheusMonitor(Registry& registry) {
  return registry.monitors.add(DriverFactory<Monitor>{
      .name = "prometheus",
      .aliases = {},
      .description = "an instant query over Prometheus's HTTP API naming the down nodes",
      .schema =
          {
              {.name = "url",
               .type = OptionType::kString,
               .required = true,
               .default_value = std::nullopt,
               .help = "Prometheus's base URL, e.g. http://prometheus:9090"},
              {.name = "query",
               .type = OptionType::kString,
               .default_value = "up{job=\"node\"} == 0",
               .help = "PromQL returning one series per DOWN target, and nothing else"},
              {.name = "up-query",
               .type = OptionType::kString,
               .default_value = "",
               .help = "PromQL returning one series per scraped target (e.g. up{job=\"node\"}); "
                       "without it, nodes not down are unknown"},
              {.name = "label",
               .type = OptionType::kString,
               .default_value = "instance",
               .help = "the series label naming the node (hostname, FQDN or address)"},
              {.name = "strip-port",
               .type = OptionType::kBool,
               .default_value = "true",
               .help = "drop a ':port' suffix from the label value before matching"},
              {.name = "timeout",
               .type = OptionType::kDuration,
               .default_value = "5s",
               .help = "bound on each query (no retry: the next poll is the retry)"},
              {.name = "ca-file",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "CA bundle for an https URL (default: the system's)"},
              {.name = "source",
               .type = OptionType::kString,
               .default_value = "prometheus",
               .help = "the source name of the observations"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        PrometheusMonitor::Config config;
        config.url = options.getString("url");
        if (!config.url.starts_with("http://") && !config.url.starts_with("https://")) {
          return fail(ErrorCode::kInvalidArgument,
                      "prometheus monitor: url must start with http:// or https://");
        }
        config.query = options.getString("query");
        if (config.query.empty()) {
          return fail(ErrorCode::kInvalidArgument, "prometheus monitor: query is empty");
        }
        config.up_query = options.getString("up-query");
        config.label = options.getString("label");
        if (config.label.empty()) {
          return fail(ErrorCode::kInvalidArgument, "prometheus monitor: label is empty");
        }
        config.strip_port = options.getBool("strip-port");
        config.source = options.getString("source");
        if (!validSource(config.source)) {
          return fail(ErrorCode::kInvalidArgument,
                      "prometheus monitor: bad source '" + config.source + "'");
        }
        const Duration timeout = options.getDuration("timeout");
        if (timeout.count() <= 0 || timeout > std::chrono::minutes(1)) {
          return fail(ErrorCode::kInvalidArgument,
                      "prometheus monitor: timeout must be more than 0 and at most 1m");
        }
        http::ClientOptions client;
        client.timeout = timeout;
        client.connect_timeout = std::min<Duration>(timeout, std::chrono::seconds(5));
        client.retry.max_attempts = 1;
        client.tls.ca_file = options.getString("ca-file");
        return std::make_unique<PrometheusMonitor>(context.clock, std::move(config),
                                                   std::move(client));
      },
  });
}

}  // namespace fdr::drivers
