#include "drivers/monitor/probe/probe_monitor.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <utility>

#include "drivers/monitor/probe/probe_batch.h"
#include "freezer/call_deadline.h"

namespace fdr::drivers {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using probe_batch::defaultMaxOpen;

struct ProbeSettings {
  int port = 0;
  std::vector<std::string> networks;
  Duration timeout{};
  Duration interval{};
  std::string source;
  bool refused_is_down = false;
  ProbeIo io = ProbeIo::kAuto;
};

class ProbeMonitor final : public Monitor {
 public:
  ProbeMonitor(Clock& clock, ProbeSettings settings)
      : clock_(clock),
        port_(settings.port),
        networks_(std::move(settings.networks)),
        timeout_(settings.timeout),
        interval_(settings.interval),
        source_(std::move(settings.source)),
        refused_is_down_(settings.refused_is_down),
        io_(settings.io),
        // Kept sockets hold descriptors between polls, when the fencers, the HTTP clients and
        // the journal need theirs: a quarter of what probes may use at most, up to 1,024.
        sockets_(std::min(ProbeSockets::kDefaultMaxIdle, defaultMaxOpen() / 4)) {}

  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    const TimePoint now = clock_.now();
    if (last_probe_ && interval_.count() > 0 && now - *last_probe_ < interval_ &&
        nodes.size() == last_nodes_) {
      return last_;
    }
    std::vector<ProbeTarget> targets;
    std::vector<std::pair<const Node*, const std::string*>> owners;
    for (const std::string& network : networks_) {
      for (const Node& node : nodes) {
        std::string address = probeAddress(node, network);
        if (address.empty()) continue;
        targets.push_back({std::move(address), port_});
        owners.emplace_back(&node, &network);
      }
    }
    // The poll keeps to its deadline (the engine's poll timeout): a probe that would outlast it
    // is cut short and counts as no answer. Otherwise one dead host (whose probe waits the whole
    // `timeout`) would make the whole poll miss its deadline, every node's sources unknown.
    // At scale the connects themselves take time (20,000 of them on a busy machine can take
    // longer than a 1 s poll): the batch ends at the deadline too, and what it could not finish
    // is unknown, so the poll still answers for the rest.
    Duration timeout = timeout_;
    std::optional<SteadyTime> end;
    if (const auto left = CallDeadline::remaining()) {
      const Duration margin = std::min<Duration>(Duration(50), *left / 10);
      timeout = std::min(timeout, *left - margin);
      if (timeout.count() <= 0) {
        return fail(ErrorCode::kTimedOut, "probe monitor: no time left in the poll's deadline");
      }
      // The batch ends half the margin later: a probe started at once, and given that shortened
      // timeout, is over by then (no answer: down), not cut short (unknown).
      end = std::chrono::steady_clock::now() + (*left - margin / 2);
    }
    std::vector<ProbeResult> results = probeAll(targets, timeout, 0, end, &sockets_, io_);
    const TimePoint at = clock_.now();
    std::vector<Observation> out;
    out.reserve(results.size());
    for (size_t i = 0; i < results.size(); ++i) {
      std::string detail = targets[i].address + ":" + std::to_string(port_);
      if (!results[i].detail.empty()) detail += ": " + results[i].detail;
      Health health = results[i].health;
      if (results[i].refused && refused_is_down_) {
        health = Health::kDown;
        detail += "; counted as down (refused-is-down)";
      }
      out.push_back(Observation{.node = owners[i].first->hostname,
                                .source = source_ + "/" + *owners[i].second,
                                .health = health,
                                .at = at,
                                .detail = std::move(detail),
                                .service_down = results[i].refused && health == Health::kUp});
    }
    if (interval_.count() > 0) {  // repeated until the next probe
      last_probe_ = now;
      last_nodes_ = nodes.size();
      last_ = out;
    }
    return out;
  }

 private:
  Clock& clock_;
  int port_;
  std::vector<std::string> networks_;
  Duration timeout_;
  Duration interval_;
  std::string source_;
  bool refused_is_down_;
  ProbeIo io_;
  std::optional<TimePoint> last_probe_;
  size_t last_nodes_ = 0;
  std::vector<Observation> last_;
  ProbeSockets sockets_;  // kept between polls
};

bool validName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// The monitor's options, checked (by `validate` through the factory's check, and at start-up).
Result<ProbeSettings> readSettings(const Options& options) {
  ProbeSettings out;
  const int64_t port = options.getInt("port");
  if (port < 1 || port > 65535) {
    return fail(ErrorCode::kInvalidArgument, "probe monitor: port must be 1..65535");
  }
  out.port = static_cast<int>(port);
  out.timeout = options.getDuration("timeout");
  if (out.timeout.count() <= 0 || out.timeout > std::chrono::minutes(1)) {
    return fail(ErrorCode::kInvalidArgument,
                "probe monitor: timeout must be more than 0 and at most 1m");
  }
  out.interval = options.getDuration("interval");
  if (out.interval.count() < 0) {
    return fail(ErrorCode::kInvalidArgument, "probe monitor: interval must not be negative");
  }
  out.networks = options.getList("networks");
  if (out.networks.empty()) {
    return fail(ErrorCode::kInvalidArgument, "probe monitor: networks is empty");
  }
  std::set<std::string> seen;
  for (const std::string& network : out.networks) {
    if (!validName(network)) {
      return fail(ErrorCode::kInvalidArgument, "probe monitor: bad network name '" + network + "'");
    }
    if (!seen.insert(network).second) {
      return fail(ErrorCode::kInvalidArgument,
                  "probe monitor: network '" + network + "' listed twice");
    }
  }
  out.source = options.getString("source");
  if (!validName(out.source)) {
    return fail(ErrorCode::kInvalidArgument, "probe monitor: bad source '" + out.source + "'");
  }
  out.refused_is_down = options.getBool("refused-is-down");
  const std::string io = options.getString("io");
  if (io == "io_uring") {
    out.io = ProbeIo::kIoUring;
    if (std::string why; !ioUringAvailable(&why)) {
      return fail(ErrorCode::kInvalidArgument,
                  "probe monitor: io = io_uring, but io_uring cannot be used here (" + why +
                      "); use io = auto or epoll");
    }
  } else if (io == "epoll") {
    out.io = ProbeIo::kEpoll;
  } else if (io != "auto") {
    return fail(ErrorCode::kInvalidArgument,
                "probe monitor: io must be auto, io_uring or epoll, not '" + io + "'");
  }
  return out;
}

}  // namespace

ProbeSockets::~ProbeSockets() {
  for (const int fd : idle_.v4) ::close(fd);
  for (const int fd : idle_.v6) ::close(fd);
}

ProbeSockets::Idle ProbeSockets::borrow() {
  const std::lock_guard lock(mutex_);
  return std::exchange(idle_, {});
}

void ProbeSockets::giveBack(Idle idle) {
  const std::lock_guard lock(mutex_);
  for (auto [from, to] : {std::pair{&idle.v4, &idle_.v4}, std::pair{&idle.v6, &idle_.v6}}) {
    for (const int fd : *from) {
      if (idle_.v4.size() + idle_.v6.size() < max_idle_) {
        to->push_back(fd);
      } else {
        ::close(fd);
      }
    }
  }
}

size_t ProbeSockets::idle() const {
  const std::lock_guard lock(mutex_);
  return idle_.v4.size() + idle_.v6.size();
}

size_t ProbeSockets::created() const {
  const std::lock_guard lock(mutex_);
  return created_;
}

void ProbeSockets::countCreated(size_t n) {
  const std::lock_guard lock(mutex_);
  created_ += n;
}

std::vector<ProbeResult> probeAll(std::span<const ProbeTarget> targets, Duration timeout,
                                  size_t max_open, std::optional<SteadyTime> end,
                                  ProbeSockets* sockets, ProbeIo io) {
  std::optional<ProbeSockets> local;
  if (sockets == nullptr) sockets = &local.emplace();
  if (max_open == 0) max_open = defaultMaxOpen();
  if (io != ProbeIo::kEpoll) {
    std::string why;
    auto results = probe_batch::runUring(targets, timeout, max_open, end, *sockets, why);
    if (results) return std::move(*results);
    if (io == ProbeIo::kIoUring) {
      return std::vector<ProbeResult>(targets.size(), {Health::kUnknown, "cannot probe: " + why});
    }
  }
  return probe_batch::runEpoll(targets, timeout, max_open, end, *sockets);
}

bool ioUringAvailable(std::string* why) {
  std::string reason;
  const std::vector<ProbeTarget> none;
  ProbeSockets pool(0);
  // An empty batch sets the ring up and tears it down without a probe.
  const bool available =
      probe_batch::runUring(none, Duration(1), 1, std::nullopt, pool, reason).has_value();
  if (why != nullptr) *why = reason;
  return available;
}

std::string probeAddress(const Node& node, const std::string& network) {
  if (auto it = node.extra.find(network + "-addr"); it != node.extra.end()) return it->second;
  if (network == "mgmt") return node.ip_addr;
  return "";
}

Status registerProbeMonitor(Registry& registry) {
  return registry.monitors.add(DriverFactory<Monitor>{
      .name = "probe",
      .aliases = {},
      .description = "TCP connect probes from the controller to each node, one source per network",
      .schema =
          {
              {.name = "port",
               .type = OptionType::kInt,
               .required = true,
               .default_value = std::nullopt,
               .help = "TCP port to connect to (libvirt 16509, SSH 22...)"},
              {.name = "networks",
               .type = OptionType::kList,
               .default_value = "mgmt",
               .help = "networks to probe over, one source each; the address on NAME is the "
                       "inventory key NAME-addr (mgmt: mgmt-addr, else ip_addr)"},
              {.name = "timeout",
               .type = OptionType::kDuration,
               .default_value = "500ms",
               .help = "how long a connect may take before the node counts as down"},
              {.name = "interval",
               .type = OptionType::kDuration,
               .default_value = "0",
               .help = "probe at most this often; between probes, polls repeat the last result "
                       "(0: probe at every poll)"},
              {.name = "refused-is-down",
               .type = OptionType::kBool,
               .default_value = "false",
               .help = "count a refused or reset connect as down (the node's kernel answered, so "
                       "it is up; only its service is not): off by default, a service restart "
                       "must not fence a live host"},
              {.name = "io",
               .type = OptionType::kString,
               .default_value = "auto",
               .help = "how the probes wait on their connects: io_uring (the kernel times each "
                       "probe out, a few hundred connects per system call), epoll (two system "
                       "calls per probe), or auto: io_uring where the kernel and its sandbox allow "
                       "it, else epoll"},
              {.name = "source",
               .type = OptionType::kString,
               .default_value = "probe",
               .help = "prefix of the source names (<source>/<network>); set it to tell apart "
                       "two probe monitors on different ports"},
          },
      .check = [](const Options& options) -> Status {
        auto settings = readSettings(options);
        if (!settings) return std::unexpected(settings.error());
        return {};
      },
      .create = [](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        auto settings = readSettings(options);
        if (!settings) return std::unexpected(settings.error());
        return std::make_unique<ProbeMonitor>(context.clock, std::move(*settings));
      },
  });
}

}  // namespace fdr::drivers
