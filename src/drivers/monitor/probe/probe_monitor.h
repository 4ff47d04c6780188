// The probe monitor: TCP connect probes from the controller to every node, on one port (libvirt
// 16509, SSH 22...), over one or more networks. Each network is its own source ("probe/mgmt",
// "probe/storage"): a node that answers on none of its networks is down by several independent
// paths, one that answers on some is a network problem, not a dead host.
//
// Address of a node on network NAME: inventory key `NAME-addr`; for "mgmt", `mgmt-addr` or else
// the node's ip_addr. Numeric IPv4/IPv6 only (no DNS lookups on the poll path). A node without an
// address on a network gets no observation for it.
//
// Verdicts: connected = up. Refused or reset = up too, with the detail saying that the node
// answered but its service does not: the refusal comes from the node's own kernel, so the host
// is alive (option `refused-is-down` restores the old verdict, off by default). Host or network
// unreachable, or no answer within `timeout` = down: that is how a dead host looks. A local
// failure (no file descriptor left, bad address) = unknown.
//
// Every probe of a poll runs at once: non-blocking connects multiplexed with epoll on the calling
// thread, so thousands of nodes take one `timeout`. Each probe's timeout runs from its own
// connect, the connects go out in slices of 256 between reads of the completed ones, and a probe
// is declared timed out only after every connect that completed before the check was read, so
// starting 20,000 connects (longer than a 500 ms timeout) makes no healthy node look down. The
// number of sockets open at a time is bounded by the process's file-descriptor limit
// (RLIMIT_NOFILE, minus a reserve); past it the probes go in waves. With `interval`, a poll within
// `interval` of the last probe returns its observations again instead of probing.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "freezer/registry.h"

namespace fdr::drivers {

// One connect to make: exposed for tests.
struct ProbeTarget {
  std::string address;  // numeric IPv4 or IPv6
  int port = 0;
};

struct ProbeResult {
  Health health = Health::kUnknown;
  std::string detail;
  bool refused = false;  // refused or reset: the node's kernel answered, its service did not
};

// Sockets kept from one probe to the next. A probe that connected, or was refused, is
// disconnected (connect() with AF_UNSPEC: the kernel resets a connection as a zero-linger close
// does, and the socket may connect again) and kept for the next probe, instead of a socket(), a
// setsockopt() and a close() for each probe: at 20,000 probes a second those system calls were a
// third of the daemon's CPU. At most `max_idle` are kept (each holds a file descriptor; the probe
// monitor keeps a quarter of the descriptors probes may use, up to 1,024). A probe
// batch borrows every idle socket at its start and gives them back at its end, so batches that
// share the pool at once (they should not) stay correct.
class ProbeSockets {
 public:
  static constexpr size_t kDefaultMaxIdle = 1024;
  explicit ProbeSockets(size_t max_idle = kDefaultMaxIdle) : max_idle_(max_idle) {}
  ~ProbeSockets();
  ProbeSockets(const ProbeSockets&) = delete;
  ProbeSockets& operator=(const ProbeSockets&) = delete;

  struct Idle {
    std::vector<int> v4;
    std::vector<int> v6;
  };
  [[nodiscard]] Idle borrow();
  // Takes the sockets back; past `max_idle`, closes the rest.
  void giveBack(Idle idle);
  [[nodiscard]] size_t idle() const;
  [[nodiscard]] size_t maxIdle() const { return max_idle_; }
  // Sockets created through this pool (socket() calls), for tests and benchmarks.
  [[nodiscard]] size_t created() const;
  void countCreated(size_t n);

 private:
  size_t max_idle_;
  mutable std::mutex mutex_;
  Idle idle_;
  size_t created_ = 0;
};

// How a batch waits on its connects. kIoUring: each connect linked to its timeout and submitted to
// the kernel through io_uring, a few hundred per system call, the kernel timing each probe out
// (Linux 5.5 and later; a container's seccomp profile or kernel.io_uring_disabled may refuse
// it). kEpoll: non-blocking connects read through epoll, timed out on the calling thread, two
// system calls per probe. kAuto: io_uring where it can be set up, else epoll. Same verdicts.
enum class ProbeIo { kAuto, kIoUring, kEpoll };

// Whether io_uring can be set up here with what a batch needs; if not, `why`.
bool ioUringAvailable(std::string* why = nullptr);

// Connects to every target at once and waits at most `timeout` for each, from its own start.
// `max_open` bounds the sockets open at a time (0: derived from RLIMIT_NOFILE). Never fails as
// a whole: a probe that cannot be made is kUnknown with the reason.
//
// `end` (optional) is when the whole batch must be over (the poll's deadline): no connect starts
// after it, and at it every probe still waiting is cut short. Those are kUnknown, never kDown:
// only a probe that waited its whole `timeout` says the node did not answer.
//
// `sockets` (optional) keeps the sockets for the next batch; without it they are reused only
// within this one. With `io` kIoUring and no io_uring here, every probe is kUnknown with why.
std::vector<ProbeResult> probeAll(
    std::span<const ProbeTarget> targets, Duration timeout, size_t max_open = 0,
    std::optional<std::chrono::steady_clock::time_point> end = std::nullopt,
    ProbeSockets* sockets = nullptr, ProbeIo io = ProbeIo::kAuto);

// The address of `node` on `network` per the rules above; empty when it has none.
std::string probeAddress(const Node& node, const std::string& network);

Status registerProbeMonitor(Registry& registry);

}  // namespace fdr::drivers
