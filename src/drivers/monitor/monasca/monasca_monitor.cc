#include "drivers/monitor/monasca/monasca_monitor.h"

#include <algorithm>
#include <memory>

#include "clients/http/url.h"
#include "clients/keystone/keystone_client.h"

namespace fdr::drivers {
namespace {

using http::FieldReader;
using http::Json;

constexpr int kMaxPages = 1000;

bool sameHost(const std::string& value, const std::string& hostname) {
  return value == hostname || (value.size() > hostname.size() && value.starts_with(hostname) &&
                               value[hostname.size()] == '.');
}

bool validSource(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '/';
  });
}

std::string apiRoot(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.ends_with("/v2.0")) return url;
  return http::joinUrl(url, "v2.0");
}

class MonascaMonitor final : public Monitor {
 public:
  struct Config {
    std::string url;  // empty: the catalog's "monitoring"
    std::string metric;
    std::string dimension;
    std::vector<std::string> dimensions;  // extra metric_dimensions filter, "k:v"
    std::string source;
  };

  MonascaMonitor(Clock& clock, keystone::KeystoneClient& keystone, Config config)
      : clock_(clock), keystone_(keystone), config_(std::move(config)) {}

  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    auto alarms = fetch();
    if (!alarms) return withContext(alarms.error(), "monasca monitor (" + config_.source + ")");
    return judgeMonascaAlarms(nodes, *alarms, config_.metric, config_.source, clock_.now());
  }

 private:
  Result<std::vector<MonascaAlarm>> fetch() {
    std::string endpoint = config_.url;
    if (endpoint.empty()) {
      auto found = keystone_.endpoint("monitoring");
      if (!found) return std::unexpected(found.error());
      endpoint = *found;
    }
    const std::string root = apiRoot(endpoint);
    http::QueryParams query{{"metric_name", config_.metric}};
    if (!config_.dimensions.empty()) {
      std::string dims;
      for (const auto& d : config_.dimensions) dims += (dims.empty() ? "" : ",") + d;
      query.emplace_back("metric_dimensions", dims);
    }
    std::string url = http::withQuery(http::joinUrl(root, "alarms"), query);
    std::vector<MonascaAlarm> out;
    for (int page = 1; !url.empty(); ++page) {
      if (page > kMaxPages) {
        return fail(ErrorCode::kCorruption, "monasca GET /v2.0/alarms: more than " +
                                                std::to_string(kMaxPages) + " pages of alarms");
      }
      // The token goes only where the endpoint is: a "next" link elsewhere is refused.
      if (http::originOf(url) != http::originOf(root)) {
        return fail(ErrorCode::kCorruption, "monasca GET /v2.0/alarms: the next page is on " +
                                                http::originOf(url) + ", not on the endpoint");
      }
      http::Request request;
      request.url = url;
      request.label = "monasca GET " + http::pathOf(url);
      auto response = keystone_.call(request);
      if (!response) return std::unexpected(response.error());
      auto doc = http::parseJson(response->body, request.label);
      if (!doc) return std::unexpected(doc.error());
      auto parsed = parseMonascaAlarms(*doc, config_.metric, config_.dimension, request.label);
      if (!parsed) return std::unexpected(parsed.error());
      for (auto& alarm : parsed->alarms) out.push_back(std::move(alarm));
      if (parsed->alarms.empty()) break;  // a "next" link on an empty page would loop
      url = parsed->next;
    }
    return out;
  }

  Clock& clock_;
  keystone::KeystoneClient& keystone_;
  Config config_;
};

}  // namespace

Result<MonascaPage> parseMonascaAlarms(const Json& doc, const std::string& metric,
                                       const std::string& dimension, const std::string& what) {
  MonascaPage page;
  const Json* elements = &doc;
  std::string prefix;
  if (!doc.is_array()) {
    FieldReader root(doc, what);
    elements = root.array("elements");
    const Json* links = root.optArray("links");
    if (!root.ok()) return std::unexpected(root.error());
    prefix = "elements";
    for (size_t i = 0; links != nullptr && i < links->size(); ++i) {
      FieldReader link(links->at(i), what, "links[" + std::to_string(i) + "]");
      const std::string rel = link.optString("rel").value_or("");
      const std::string href = link.optString("href").value_or("");
      if (!link.ok()) return std::unexpected(link.error());
      if (rel == "next") page.next = href;
    }
  }
  for (size_t i = 0; i < elements->size(); ++i) {
    const std::string path = prefix + "[" + std::to_string(i) + "]";
    FieldReader r(elements->at(i), what, path);
    MonascaAlarm alarm;
    alarm.id = r.idString("id");
    alarm.state = r.string("state");
    const Json* metrics = r.array("metrics");
    if (!r.ok()) return std::unexpected(r.error());
    for (size_t m = 0; m < metrics->size(); ++m) {
      const std::string metric_path = r.fieldPath("metrics[" + std::to_string(m) + "]");
      FieldReader mr(metrics->at(m), what, metric_path);
      const std::string name = mr.string("name");
      const Json* dims = mr.optObject("dimensions");
      if (!mr.ok()) return std::unexpected(mr.error());
      if (name != metric || dims == nullptr) continue;
      FieldReader dr(*dims, what, metric_path + ".dimensions");
      auto host = dr.optString(dimension);
      if (!dr.ok()) return std::unexpected(dr.error());
      if (host && !host->empty() &&
          std::find(alarm.hosts.begin(), alarm.hosts.end(), *host) == alarm.hosts.end()) {
        alarm.hosts.push_back(std::move(*host));
      }
    }
    page.alarms.push_back(std::move(alarm));
  }
  return page;
}

std::vector<Observation> judgeMonascaAlarms(std::span<const Node> nodes,
                                            const std::vector<MonascaAlarm>& alarms,
                                            const std::string& metric, const std::string& source,
                                            TimePoint now) {
  std::vector<Observation> out;
  out.reserve(nodes.size());
  for (const Node& node : nodes) {
    int ok = 0;
    int alarm = 0;
    int other = 0;
    std::string ids;
    for (const MonascaAlarm& a : alarms) {
      if (std::none_of(a.hosts.begin(), a.hosts.end(),
                       [&](const std::string& h) { return sameHost(h, node.hostname); })) {
        continue;
      }
      if (a.state == "OK") {
        ++ok;
      } else if (a.state == "ALARM") {
        ++alarm;
        ids += (ids.empty() ? "" : ", ") + a.id;
      } else {
        ++other;  // UNDETERMINED, or a state this build does not know
      }
    }
    Observation o{node.hostname, source, Health::kUnknown, now, ""};
    if (ok + alarm + other == 0) {
      o.detail = "no " + metric + " alarm for this host";
    } else if (alarm > 0 && ok > 0) {
      o.detail = std::to_string(alarm) + " " + metric + " alarm(s) in ALARM and " +
                 std::to_string(ok) + " OK: the observers disagree";
    } else if (alarm > 0) {
      o.health = Health::kDown;
      o.detail = metric + " in ALARM (alarm " + ids + ")";
    } else if (ok > 0) {
      o.health = Health::kUp;
    } else {
      o.detail = metric + " alarm(s) UNDETERMINED (no recent data)";
    }
    out.push_back(std::move(o));
  }
  return out;
}

Status registerMonascaMonitor(Registry& registry) {
  return registry.monitors.add(DriverFactory<Monitor>{
      .name = "monasca",
      .aliases = {"freezer_dr.monitors.drivers.monasca.driver.MonascaDriver"},
      .description = "Monasca alarms on a per-host metric (host_alive_status by default)",
      .schema =
          {
              {.name = "url",
               .type = OptionType::kString,
               .default_value = "",
               .help = "Monasca's API URL (e.g. http://ctl:8070/v2.0), instead of the catalog's "
                       "'monitoring' endpoint"},
              {.name = "metric",
               .type = OptionType::kString,
               .default_value = "host_alive_status",
               .help = "the metric whose alarms say whether a host is alive"},
              {.name = "dimension",
               .type = OptionType::kString,
               .default_value = "hostname",
               .help = "the metric dimension naming the host"},
              {.name = "dimensions",
               .type = OptionType::kList,
               .default_value = "",
               .help = "extra key:value dimensions the alarms' metrics must have, e.g. "
                       "test_type:ping"},
              {.name = "source",
               .type = OptionType::kString,
               .default_value = "monasca",
               .help = "the source name of the observations"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        if (context.keystone == nullptr) {
          return fail(ErrorCode::kInvalidArgument,
                      "monasca monitor: needs the cloud credentials ([keystone_authtoken])");
        }
        MonascaMonitor::Config config;
        config.url = options.getString("url");
        if (!config.url.empty() && !config.url.starts_with("http://") &&
            !config.url.starts_with("https://")) {
          return fail(ErrorCode::kInvalidArgument,
                      "monasca monitor: url must start with http:// or https://");
        }
        config.metric = options.getString("metric");
        config.dimension = options.getString("dimension");
        if (config.metric.empty() || config.dimension.empty()) {
          return fail(ErrorCode::kInvalidArgument,
                      "monasca monitor: metric and dimension must not be empty");
        }
        config.dimensions = options.getList("dimensions");
        for (const auto& d : config.dimensions) {
          const size_t colon = d.find(':');
          if (colon == std::string::npos || colon == 0 || colon + 1 == d.size()) {
            return fail(ErrorCode::kInvalidArgument,
                        "monasca monitor: dimensions: expected key:value, got '" + d + "'");
          }
        }
        config.source = options.getString("source");
        if (!validSource(config.source)) {
          return fail(ErrorCode::kInvalidArgument,
                      "monasca monitor: bad source '" + config.source + "'");
        }
        return std::make_unique<MonascaMonitor>(context.clock, *context.keystone,
                                                std::move(config));
      },
  });
}

}  // namespace fdr::drivers
