#include "drivers/monitor/bmc/bmc_monitor.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace fdr::drivers {
namespace {

bool validSource(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '/';
  });
}

std::string trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return std::string(text);
}

class BmcMonitor final : public Monitor {
 public:
  BmcMonitor(Clock& clock, std::string fencer_name, std::vector<FencerPtr> fencers,
             Duration interval, std::string source)
      : clock_(clock),
        fencer_name_(std::move(fencer_name)),
        fencers_(std::move(fencers)),
        interval_(interval),
        source_(std::move(source)) {}

  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    const TimePoint now = clock_.now();
    if (last_poll_ && interval_.count() > 0 && now - *last_poll_ < interval_ &&
        nodes.size() == last_nodes_) {
      return last_;
    }
    std::vector<Result<PowerState>> states = readAll(nodes);
    const TimePoint at = clock_.now();
    std::vector<Observation> out;
    out.reserve(nodes.size());
    size_t failed = 0;
    std::string first_error;
    for (size_t i = 0; i < nodes.size(); ++i) {
      Observation o{nodes[i].hostname, source_, Health::kUnknown, at, ""};
      if (!states[i]) {
        ++failed;
        if (first_error.empty()) first_error = nodes[i].hostname + ": " + states[i].error().message;
        o.detail = "cannot read the power state: " + states[i].error().message;
      } else if (*states[i] == PowerState::kOff) {
        o.health = Health::kDown;
        o.detail = "the BMC reports the power off";
      } else if (*states[i] == PowerState::kOn) {
        o.detail = "the BMC reports the power on (not proof that the host runs)";
      } else {
        o.detail = "the BMC cannot tell the power state";
      }
      out.push_back(std::move(o));
    }
    if (!nodes.empty() && failed == nodes.size()) {
      return fail(ErrorCode::kUnavailable,
                  "bmc monitor (" + source_ + ", fencer " + fencer_name_ + "): no BMC answered (" +
                      std::to_string(failed) + " of " + std::to_string(nodes.size()) +
                      " failed; first: " + first_error + ")",
                  /*retryable=*/true);
    }
    last_poll_ = now;
    last_nodes_ = nodes.size();
    last_ = out;
    return out;
  }

 private:
  // One worker per fencer instance, each taking the next node until none is left.
  std::vector<Result<PowerState>> readAll(std::span<const Node> nodes) {
    std::vector<Result<PowerState>> states(nodes.size(), PowerState::kUnknown);
    std::atomic<size_t> next{0};
    auto work = [&](Fencer& fencer) {
      for (size_t i = next++; i < nodes.size(); i = next++)
        states[i] = fencer.powerStatus(nodes[i]);
    };
    const size_t workers = std::min(fencers_.size(), nodes.size());
    if (workers <= 1) {
      if (!nodes.empty()) work(*fencers_.front());
      return states;
    }
    {
      std::vector<std::jthread> threads;
      threads.reserve(workers);
      for (size_t w = 0; w < workers; ++w) {
        threads.emplace_back([&work, fencer = fencers_[w].get()] { work(*fencer); });
      }
    }  // joined here
    return states;
  }

  Clock& clock_;
  std::string fencer_name_;
  std::vector<FencerPtr> fencers_;  // one per worker
  Duration interval_;
  std::string source_;
  std::optional<TimePoint> last_poll_;
  size_t last_nodes_ = 0;
  std::vector<Observation> last_;
};

// The monitor's settings, checked: the fencer driver exists and takes fencer-options.
struct Settings {
  const DriverFactory<Fencer>* factory;
  Options fencer_options;
  int64_t concurrency;
  Duration interval;
  std::string source;
};

Result<Settings> readSettings(const DriverRegistry<Fencer>& fencers, const Options& options) {
  const std::string name = options.getString("fencer");
  auto factory = fencers.find(name);
  if (!factory) return withContext(factory.error(), "bmc monitor");
  auto raw = parseFencerOptions(options.getString("fencer-options"), "fencer-options");
  if (!raw) return withContext(raw.error(), "bmc monitor");
  Diagnostics diag;
  auto fencer_options =
      Options::parse((*factory)->schema, *raw, "bmc monitor: fencer " + (*factory)->name, diag);
  if (!fencer_options) {
    std::string problems;
    for (const auto& item : diag.items()) {
      if (item.severity == Diagnostic::Severity::kError) {
        problems += (problems.empty() ? "" : "; ") + item.message;
      }
    }
    return fail(ErrorCode::kInvalidArgument, "bmc monitor: fencer-options: " + problems);
  }
  const int64_t concurrency = options.getInt("concurrency");
  if (concurrency < 1 || concurrency > 256) {
    return fail(ErrorCode::kInvalidArgument, "bmc monitor: concurrency must be 1..256");
  }
  const Duration interval = options.getDuration("interval");
  if (interval.count() < 0) {
    return fail(ErrorCode::kInvalidArgument, "bmc monitor: interval must not be negative");
  }
  std::string source = options.getString("source");
  if (!validSource(source)) {
    return fail(ErrorCode::kInvalidArgument, "bmc monitor: bad source '" + source + "'");
  }
  return Settings{*factory, std::move(*fencer_options), concurrency, interval, std::move(source)};
}

}  // namespace

Result<RawOptions> parseFencerOptions(const std::string& text, const std::string& where) {
  RawOptions out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t semicolon = rest.find(';');
    const std::string pair = trim(rest.substr(0, semicolon));
    rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
    if (pair.empty()) continue;
    const size_t equal = pair.find('=');
    const std::string key = equal == std::string::npos ? "" : trim(pair.substr(0, equal));
    if (key.empty()) {
      // The value is not shown: it may be a secret.
      return fail(ErrorCode::kInvalidArgument,
                  "fencer-options: expected key=value pairs separated by ';'");
    }
    if (out.contains(key)) {
      return fail(ErrorCode::kInvalidArgument, "fencer-options: '" + key + "' given twice");
    }
    out[key] = RawOption{trim(pair.substr(equal + 1)), where};
  }
  return out;
}

Status registerBmcMonitor(Registry& registry) {
  const DriverRegistry<Fencer>* fencers = &registry.fencers;
  return registry.monitors.add(DriverFactory<Monitor>{
      .name = "bmc",
      .aliases = {},
      .description = "each node's power state from its BMC, through a fencer driver (off = down)",
      .schema =
          {
              {.name = "fencer",
               .type = OptionType::kString,
               .default_value = "ipmi",
               .help = "the fencer driver that reads the power state: ipmi, redfish, libvirt, "
                       "fence-agent..."},
              {.name = "fencer-options",
               .type = OptionType::kString,
               .default_value = "",
               .help = "that fencer's options, 'key=value; key=value' (e.g. 'timeout=5s')"},
              {.name = "concurrency",
               .type = OptionType::kInt,
               .default_value = "8",
               .help = "how many BMCs are asked at once"},
              {.name = "interval",
               .type = OptionType::kDuration,
               .default_value = "10s",
               .help = "ask the BMCs at most this often; polls in between repeat the last reading "
                       "(0: at every poll)"},
              {.name = "source",
               .type = OptionType::kString,
               .default_value = "bmc",
               .help = "the source name of the observations"},
          },
      .check = [fencers](const Options& options) -> Status {
        auto settings = readSettings(*fencers, options);
        if (!settings) return std::unexpected(settings.error());
        return {};
      },
      .create = [fencers](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        auto settings = readSettings(*fencers, options);
        if (!settings) return std::unexpected(settings.error());
        const auto& [factory, fencer_options, concurrency, interval, source] = *settings;
        std::vector<FencerPtr> instances;
        for (int64_t i = 0; i < concurrency; ++i) {
          auto fencer = factory->create(fencer_options, context);
          if (!fencer) return withContext(fencer.error(), "bmc monitor: fencer " + factory->name);
          instances.push_back(std::move(*fencer));
        }
        return std::make_unique<BmcMonitor>(context.clock, factory->name, std::move(instances),
                                            interval, source);
      },
  });
}

}  // namespace fdr::drivers
