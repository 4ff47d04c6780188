#include "drivers/monitor/probe/probe_monitor.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <set>
#include <utility>

#include "freezer/call_deadline.h"

namespace fdr::drivers {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

std::string errnoText(int error) {
  char buffer[128];
  // GNU strerror_r returns the message (maybe not in buffer).
  return strerror_r(error, buffer, sizeof buffer);
}

// A probe's verdict from the connect error (0 = connected). A refusal or a reset comes from the
// node's own kernel: the node is up, only the service behind the port is not (a restart of sshd
// or libvirtd must never get a live host fenced). A dead node does not answer at all.
ProbeResult verdict(int error) {
  if (error == 0) return {Health::kUp, ""};
  if (error == ECONNREFUSED || error == ECONNRESET) {
    return {Health::kUp, "the node answered but its service does not (" + errnoText(error) + ")",
            true};
  }
  if (error == ENETUNREACH || error == EHOSTUNREACH || error == ETIMEDOUT || error == EHOSTDOWN ||
      error == ENETDOWN) {
    return {Health::kDown, "connect: " + errnoText(error)};
  }
  // EADDRNOTAVAIL, EACCES, EPERM, ENOBUFS...: a problem on this side, not the node's.
  return {Health::kUnknown, "cannot probe: " + errnoText(error)};
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

size_t defaultMaxOpen() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
  const auto soft = static_cast<size_t>(limit.rlim_cur);
  // Leave room for the rest of the daemon (journal, HTTP clients, logs).
  constexpr size_t kReserve = 128;
  return soft > kReserve + 16 ? soft - kReserve : 16;
}

// The target's address as a socket address: inet_pton for plain IPv4 and IPv6 (no allocation:
// tens of thousands a second at scale), getaddrinfo for the rest (an IPv6 scope, "fe80::1%eth0").
bool numericAddress(const ProbeTarget& target, sockaddr_storage& out, socklen_t& length) {
  const auto port = htons(static_cast<uint16_t>(target.port));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (::inet_pton(AF_INET, target.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    length = sizeof(sockaddr_in);
    return true;
  }
  out = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (::inet_pton(AF_INET6, target.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = port;
    length = sizeof(sockaddr_in6);
    return true;
  }
  out = {};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* info = nullptr;
  const std::string service = std::to_string(target.port);
  if (::getaddrinfo(target.address.c_str(), service.c_str(), &hints, &info) != 0 ||
      info == nullptr || info->ai_addrlen > sizeof out) {
    if (info != nullptr) ::freeaddrinfo(info);
    return false;
  }
  std::memcpy(&out, info->ai_addr, info->ai_addrlen);
  length = info->ai_addrlen;
  ::freeaddrinfo(info);
  return true;
}

class Prober {
 public:
  Prober(std::span<const ProbeTarget> targets, Duration timeout, size_t max_open,
         std::optional<SteadyTime> end, ProbeSockets& pool)
      : targets_(targets),
        timeout_(timeout),
        end_(end),
        max_open_(std::max<size_t>(1, max_open)),
        results_(targets.size()),
        sockets_(targets.size()),
        flags_(targets.size(), 0),
        pool_(pool),
        idle_(pool.borrow()) {}
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;
  ~Prober() {
    pool_.countCreated(created_);
    pool_.giveBack(std::move(idle_));
  }

  std::vector<ProbeResult> run() {
    if (targets_.empty()) return {};
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (epoll_.get() < 0) {
      const std::string why = "cannot probe: epoll_create1: " + errnoText(errno);
      for (auto& r : results_) r = {Health::kUnknown, why};
      return std::move(results_);
    }
    std::vector<epoll_event> events(std::min<size_t>(max_open_, 1024));
    size_t next = 0;
    while (true) {
      if (end_ && std::chrono::steady_clock::now() >= *end_ && next < targets_.size()) {
        notStarted(next);
        next = targets_.size();
      }
      // Connects go out in slices between reads of the completed ones, so that starting
      // thousands of them never leaves answers unread past their deadlines.
      for (size_t started = 0; next < targets_.size() && open_ < max_open_ && started < kStartSlice;
           ++started) {
        if (!start(next)) break;  // out of descriptors: wait for open ones to finish
        ++next;
      }
      settle();
      if (open_ == 0) {
        // With nothing open start() always records a result, so each slice makes progress.
        if (next >= targets_.size()) break;
        continue;
      }
      // Wait for the first deadline, or not at all while there are connects left to start.
      const bool more_to_start = next < targets_.size() && open_ < max_open_;
      SteadyTime wait_until =
          more_to_start ? std::chrono::steady_clock::now() : firstDeadline().value_or(SteadyTime{});
      if (end_) wait_until = std::min(wait_until, *end_);
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(
          wait_until - std::chrono::steady_clock::now());
      if (!drain(events, static_cast<int>(std::max<int64_t>(0, wait.count())), next)) break;
      // A probe times out only if its connect had not completed at `checked`: every event
      // ready by then is read first, however many (the buffer holds at most 1,024 a call).
      const SteadyTime checked = std::chrono::steady_clock::now();
      if (!drain(events, 0, next)) break;
      expire(checked);
      if (end_ && checked >= *end_ && open_ > 0) cutShort();
    }
    return std::move(results_);
  }

 private:
  // Connects started between two reads of the completed ones.
  static constexpr size_t kStartSlice = 256;

  // Reads completed connects: one epoll_wait of up to `wait_ms`, then without waiting until
  // fewer events than the buffer holds are ready. False when epoll failed (every probe still
  // open, or not started, is then unknown).
  bool drain(std::vector<epoll_event>& events, int wait_ms, size_t next) {
    const int capacity = static_cast<int>(events.size());
    while (true) {
      int n = ::epoll_wait(epoll_.get(), events.data(), capacity, wait_ms);
      if (n < 0 && errno == EINTR) n = 0;
      if (n < 0) {
        const std::string why = "cannot probe: epoll_wait: " + errnoText(errno);
        for (size_t i = 0; i < targets_.size(); ++i) {
          if (sockets_[i].get() >= 0 || i >= next) results_[i] = {Health::kUnknown, why};
        }
        return false;
      }
      for (int e = 0; e < n; ++e) finish(static_cast<size_t>(events[e].data.u64), events[e].events);
      if (n < capacity) return true;
      wait_ms = 0;
    }
  }

  // The deadline of the oldest probe still open.
  std::optional<SteadyTime> firstDeadline() {
    while (!deadlines_.empty() && sockets_[deadlines_.front().second].get() < 0) {
      deadlines_.pop_front();
    }
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.front().first;
  }

  // Starts the connect of target i. False (nothing recorded) when out of descriptors while others
  // are open; otherwise the probe is either pending or already has its result.
  bool start(size_t i) {
    const ProbeTarget& target = targets_[i];
    sockaddr_storage address{};
    socklen_t address_length = 0;
    if (!numericAddress(target, address, address_length)) {
      results_[i] = {Health::kUnknown, "not a numeric IP address: '" + target.address + "'"};
      return true;
    }
    const int family = address.ss_family;
    if (family == AF_INET6) flags_[i] |= kIpv6;
    Fd fd(takeSocket(family));
    if (fd.get() < 0) {
      const int error = errno;
      if ((error == EMFILE || error == ENFILE) && open_ > 0) {
        max_open_ = open_;  // the real limit: go in waves from now on
        return false;
      }
      results_[i] = {Health::kUnknown, "cannot probe: socket: " + errnoText(error)};
      return true;
    }
    const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), address_length);
    const int error = rc == 0 ? 0 : errno;
    if (rc != 0 && error == EINPROGRESS) {
      sockets_[i] = std::move(fd);
      deadlines_.emplace_back(std::chrono::steady_clock::now() + timeout_, i);
      fresh_.push_back(i);
      ++open_;
      return true;
    }
    results_[i] = verdict(error);
    release(std::move(fd), family, error);
    return true;
  }

  // An idle socket of `family` from the pool, else a new one (-1 with errno when none).
  int takeSocket(int family) {
    std::vector<int>& idle = family == AF_INET6 ? idle_.v6 : idle_.v4;
    if ((family == AF_INET || family == AF_INET6) && !idle.empty()) {
      const int fd = idle.back();
      idle.pop_back();
      return fd;
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd >= 0) ++created_;
    return fd;
  }

  // The end of a probe's socket (`error` its connect's outcome, 0 = connected). One that
  // connected or was refused is disconnected and kept for the next probe (see ProbeSockets);
  // any other, or one the pool has no room for, is closed, with a reset if it connected: nothing
  // was said, so nothing is lost, and neither side keeps a TIME_WAIT socket (20,000 probes a
  // second would pile up 1.2 million of them) or exchanges two more segments.
  void release(Fd fd, int family, int error) {
    const bool reusable = error == 0 || error == ECONNREFUSED || error == ECONNRESET;
    if (reusable && (family == AF_INET || family == AF_INET6) &&
        idle_.v4.size() + idle_.v6.size() < pool_.maxIdle()) {
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      if (::connect(fd.get(), &unspec, sizeof unspec) == 0) {
        (family == AF_INET6 ? idle_.v6 : idle_.v4).push_back(fd.release());
        return;
      }
    }
    if (error == 0) resetOnClose(fd.get());
  }

  // The connects of the slice just started: those already answered (on a LAN or loopback most
  // answer while the slice is being started) are read with one poll(); only the others are
  // watched through epoll. Saves an epoll_ctl and the epoll bookkeeping per probe.
  void settle() {
    polled_.clear();
    for (const size_t i : fresh_) polled_.push_back({sockets_[i].get(), POLLOUT, 0});
    const int ready = polled_.empty() ? 0 : ::poll(polled_.data(), polled_.size(), 0);
    for (size_t k = 0; k < fresh_.size(); ++k) {
      const size_t i = fresh_[k];
      const short revents = ready > 0 ? polled_[k].revents : short{0};
      if (revents != 0) {
        uint32_t events = 0;
        if ((revents & POLLOUT) != 0) events |= EPOLLOUT;
        if ((revents & POLLERR) != 0) events |= EPOLLERR;
        if ((revents & POLLHUP) != 0) events |= EPOLLHUP;
        finish(i, events);
        continue;
      }
      epoll_event event{};
      event.events = EPOLLOUT;
      event.data.u64 = i;
      if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sockets_[i].get(), &event) != 0) {
        results_[i] = {Health::kUnknown, "cannot probe: epoll_ctl: " + errnoText(errno)};
        close(i);
        continue;
      }
      flags_[i] |= kWatched;
    }
    fresh_.clear();
  }

  void finish(size_t i, uint32_t events) {
    if (sockets_[i].get() < 0) return;
    int error = 0;
    // Writable without an error or a hang-up: connected (the common case, one syscall saved
    // per probe). Otherwise the socket says why.
    if ((events & (EPOLLERR | EPOLLHUP)) != 0 || (events & EPOLLOUT) == 0) {
      socklen_t length = sizeof error;
      if (::getsockopt(sockets_[i].get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        error = errno;
      }
    }
    results_[i] = verdict(error);
    if ((flags_[i] & kWatched) != 0) {
      // In the epoll set: closing it is what takes it out (no epoll_ctl to undo).
      if (error == 0) resetOnClose(sockets_[i].get());
      close(i);
      return;
    }
    release(std::move(sockets_[i]), (flags_[i] & kIpv6) != 0 ? AF_INET6 : AF_INET, error);
    --open_;
  }

  static void resetOnClose(int fd) {
    const linger abort{.l_onoff = 1, .l_linger = 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }

  // Probes past their deadline (deadlines_ is in start order, so in deadline order).
  void expire(SteadyTime now) {
    while (!deadlines_.empty() &&
           (sockets_[deadlines_.front().second].get() < 0 || deadlines_.front().first <= now)) {
      const size_t i = deadlines_.front().second;
      deadlines_.pop_front();
      if (sockets_[i].get() < 0) continue;
      results_[i] = {Health::kDown, "no answer within " + std::to_string(timeout_.count()) + " ms"};
      close(i);
    }
  }

  // The batch's end came before probes [from, size) could start.
  void notStarted(size_t from) {
    const std::string why = "not probed: the poll's deadline came before this probe could start (" +
                            std::to_string(from) + " of " + std::to_string(targets_.size()) +
                            " started)";
    for (size_t i = from; i < targets_.size(); ++i) results_[i] = {Health::kUnknown, why};
  }

  // The batch's end came while probes were still waiting (before their own timeout).
  void cutShort() {
    const SteadyTime now = std::chrono::steady_clock::now();
    for (const auto& [deadline, i] : deadlines_) {
      if (sockets_[i].get() < 0) continue;
      const auto waited =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - (deadline - timeout_));
      results_[i] = {Health::kUnknown, "no answer yet when the poll's deadline came (after " +
                                           std::to_string(waited.count()) + " ms of the " +
                                           std::to_string(timeout_.count()) + " ms timeout)"};
      close(i);
    }
    deadlines_.clear();
  }

  void close(size_t i) {
    // Closing the descriptor removes it from the epoll set.
    sockets_[i].reset();
    --open_;
  }

  std::span<const ProbeTarget> targets_;
  Duration timeout_;
  std::optional<SteadyTime> end_;
  size_t max_open_;
  std::vector<ProbeResult> results_;
  std::vector<Fd> sockets_;
  static constexpr uint8_t kWatched = 1;  // in the epoll set
  static constexpr uint8_t kIpv6 = 2;
  std::vector<uint8_t> flags_;
  ProbeSockets& pool_;
  ProbeSockets::Idle idle_;  // borrowed from pool_ for this batch
  size_t created_ = 0;
  std::deque<std::pair<SteadyTime, size_t>> deadlines_;
  std::vector<size_t> fresh_;   // started in this slice, not yet answered nor watched
  std::vector<pollfd> polled_;  // settle()'s poll set
  size_t open_ = 0;
  Fd epoll_;
};

class ProbeMonitor final : public Monitor {
 public:
  ProbeMonitor(Clock& clock, int port, std::vector<std::string> networks, Duration timeout,
               Duration interval, std::string source, bool refused_is_down)
      : clock_(clock),
        port_(port),
        networks_(std::move(networks)),
        timeout_(timeout),
        interval_(interval),
        source_(std::move(source)),
        refused_is_down_(refused_is_down),
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
      end = std::chrono::steady_clock::now() + (*left - margin);
    }
    std::vector<ProbeResult> results = probeAll(targets, timeout, 0, end, &sockets_);
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
                                  ProbeSockets* sockets) {
  std::optional<ProbeSockets> local;
  if (sockets == nullptr) sockets = &local.emplace();
  return Prober(targets, timeout, max_open == 0 ? defaultMaxOpen() : max_open, end, *sockets).run();
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
              {.name = "source",
               .type = OptionType::kString,
               .default_value = "probe",
               .help = "prefix of the source names (<source>/<network>); set it to tell apart "
                       "two probe monitors on different ports"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        const int64_t port = options.getInt("port");
        if (port < 1 || port > 65535) {
          return fail(ErrorCode::kInvalidArgument, "probe monitor: port must be 1..65535");
        }
        const Duration timeout = options.getDuration("timeout");
        if (timeout.count() <= 0 || timeout > std::chrono::minutes(1)) {
          return fail(ErrorCode::kInvalidArgument,
                      "probe monitor: timeout must be more than 0 and at most 1m");
        }
        const Duration interval = options.getDuration("interval");
        if (interval.count() < 0) {
          return fail(ErrorCode::kInvalidArgument, "probe monitor: interval must not be negative");
        }
        std::vector<std::string> networks = options.getList("networks");
        if (networks.empty()) {
          return fail(ErrorCode::kInvalidArgument, "probe monitor: networks is empty");
        }
        std::set<std::string> seen;
        for (const std::string& network : networks) {
          if (!validName(network)) {
            return fail(ErrorCode::kInvalidArgument,
                        "probe monitor: bad network name '" + network + "'");
          }
          if (!seen.insert(network).second) {
            return fail(ErrorCode::kInvalidArgument,
                        "probe monitor: network '" + network + "' listed twice");
          }
        }
        const std::string source = options.getString("source");
        if (!validName(source)) {
          return fail(ErrorCode::kInvalidArgument, "probe monitor: bad source '" + source + "'");
        }
        return std::make_unique<ProbeMonitor>(context.clock, static_cast<int>(port),
                                              std::move(networks), timeout, interval, source,
                                              options.getBool("refused-is-down"));
      },
  });
}

}  // namespace fdr::drivers
