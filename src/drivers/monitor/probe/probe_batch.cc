#include "drivers/monitor/probe/probe_batch.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fdr::drivers::probe_batch {

std::string errnoText(int error) {
  char buffer[128];
  // GNU strerror_r returns the message (maybe not in buffer).
  return strerror_r(error, buffer, sizeof buffer);
}

// A refusal or a reset comes from the node's own kernel: the node is up, only the service behind
// the port is not (a restart of sshd or libvirtd must never get a live host fenced). A dead node
// does not answer at all.
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

size_t defaultMaxOpen() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
  const auto soft = static_cast<size_t>(limit.rlim_cur);
  // Leave room for the rest of the daemon (journal, HTTP clients, logs).
  constexpr size_t kReserve = 128;
  return soft > kReserve + 16 ? soft - kReserve : 16;
}

// inet_pton for plain IPv4 and IPv6 (no allocation: tens of thousands a second at scale),
// getaddrinfo for the rest (an IPv6 scope, "fe80::1%eth0").
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

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Batch::Batch(std::span<const ProbeTarget> targets, Duration timeout, size_t max_open,
             std::optional<SteadyTime> end, ProbeSockets& pool)
    : targets_(targets),
      timeout_(timeout),
      end_(end),
      max_open_(std::max<size_t>(1, max_open)),
      results_(targets.size()),
      pool_(pool),
      idle_(pool.borrow()) {}

Batch::~Batch() {
  pool_.countCreated(created_);
  pool_.giveBack(std::move(idle_));
}

Batch::Opened Batch::open(size_t i, sockaddr_storage& address, socklen_t& length, size_t open,
                          Fd& fd) {
  if (!numericAddress(targets_[i], address, length)) {
    results_[i] = {Health::kUnknown, "not a numeric IP address: '" + targets_[i].address + "'"};
    return Opened::kRecorded;
  }
  const int family = address.ss_family;
  std::vector<int>& idle = family == AF_INET6 ? idle_.v6 : idle_.v4;
  if ((family == AF_INET || family == AF_INET6) && !idle.empty()) {
    fd = Fd(idle.back());
    idle.pop_back();
    return Opened::kReady;
  }
  fd = Fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (fd.get() >= 0) {
    ++created_;
    return Opened::kReady;
  }
  const int error = errno;
  if ((error == EMFILE || error == ENFILE) && open > 0) {
    max_open_ = open;
    return Opened::kWait;
  }
  results_[i] = {Health::kUnknown, "cannot probe: socket: " + errnoText(error)};
  return Opened::kRecorded;
}

// A socket that connected or was refused may connect again once disconnected; one whose connect
// timed out or failed otherwise is closed. At most the pool's bound are kept.
bool Batch::keepable(int family, int error) const {
  const bool reusable = error == 0 || error == ECONNREFUSED || error == ECONNRESET;
  return reusable && (family == AF_INET || family == AF_INET6) &&
         idle_.v4.size() + idle_.v6.size() < pool_.maxIdle();
}

void Batch::keep(int fd, int family) {
  (family == AF_INET6 ? idle_.v6 : idle_.v4).push_back(fd);
}

void Batch::resetOnClose(int fd) {
  const linger abort{.l_onoff = 1, .l_linger = 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
}

ProbeResult Batch::noAnswer() const {
  return {Health::kDown, "no answer within " + std::to_string(timeout_.count()) + " ms"};
}

void Batch::notStarted(size_t from) {
  const std::string why = "not probed: the poll's deadline came before this probe could start (" +
                          std::to_string(from) + " of " + std::to_string(targets_.size()) +
                          " started)";
  for (size_t i = from; i < targets_.size(); ++i) results_[i] = {Health::kUnknown, why};
}

ProbeResult Batch::cutShort(std::chrono::steady_clock::duration waited) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited);
  return {Health::kUnknown, "no answer yet when the poll's deadline came (after " +
                                std::to_string(ms.count()) + " ms of the " +
                                std::to_string(timeout_.count()) + " ms timeout)"};
}

std::vector<ProbeResult> Batch::allUnknown(const std::string& why) {
  for (auto& r : results_) r = {Health::kUnknown, why};
  return std::move(results_);
}

}  // namespace fdr::drivers::probe_batch
