// Internal to the probe monitor: one batch of probes (probeAll), and what its two ways of waiting
// on the connects share. epoll_batch.cc starts non-blocking connects and reads their completion
// through epoll, timing each probe out on the calling thread; uring_batch.cc hands connect, its
// timeout and the disconnect to the kernel through io_uring, a few hundred per system call, and
// the kernel times each probe out itself.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "drivers/monitor/probe/probe_monitor.h"

namespace fdr::drivers::probe_batch {

using SteadyTime = std::chrono::steady_clock::time_point;

std::string errnoText(int error);

// A probe's verdict from its connect's error (0 = connected).
ProbeResult verdict(int error);

// Descriptors probes may use: RLIMIT_NOFILE minus a reserve for the rest of the daemon.
size_t defaultMaxOpen();

// The target's address as a socket address; false when it is not a numeric IP address.
bool numericAddress(const ProbeTarget& target, sockaddr_storage& out, socklen_t& length);

// A file descriptor closed with its owner.
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
  void reset();
  [[nodiscard]] int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// What every batch has: its targets and results, the sockets it borrowed from the pool (given
// back at its end), and the wording of the verdicts that are not the connect's own.
class Batch {
 public:
  Batch(std::span<const ProbeTarget> targets, Duration timeout, size_t max_open,
        std::optional<SteadyTime> end, ProbeSockets& pool);
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch();

 protected:
  // Reads target i's address and takes a socket for it (an idle one from the pool, else a new
  // non-blocking one) into `fd`. kRecorded: the probe already has its result (not a numeric
  // address, no socket); kWait: out of descriptors while `open` probes are open, so max_open_
  // drops to that and the probes go in waves from now on.
  enum class Opened { kReady, kRecorded, kWait };
  Opened open(size_t i, sockaddr_storage& address, socklen_t& length, size_t open, Fd& fd);
  // Whether a socket whose connect ended with `error` may be disconnected and kept.
  [[nodiscard]] bool keepable(int family, int error) const;
  // Keeps a socket that was disconnected.
  void keep(int fd, int family);
  // Sets a zero linger, so that closing a connected socket resets it (no TIME_WAIT on either
  // side, no FIN exchanged: nothing was said, so nothing is lost).
  static void resetOnClose(int fd);

  [[nodiscard]] ProbeResult noAnswer() const;
  // The batch's end came before probes [from, size) could start.
  void notStarted(size_t from);
  // The batch's end came while probe i had waited `waited` of its timeout.
  [[nodiscard]] ProbeResult cutShort(std::chrono::steady_clock::duration waited) const;
  // A whole batch that could not be made (no epoll, no ring): every probe `why`.
  std::vector<ProbeResult> allUnknown(const std::string& why);

  std::span<const ProbeTarget> targets_;
  Duration timeout_;
  std::optional<SteadyTime> end_;
  size_t max_open_;
  std::vector<ProbeResult> results_;

 private:
  ProbeSockets& pool_;
  ProbeSockets::Idle idle_;  // borrowed from pool_ for this batch
  size_t created_ = 0;
};

std::vector<ProbeResult> runEpoll(std::span<const ProbeTarget> targets, Duration timeout,
                                  size_t max_open, std::optional<SteadyTime> end,
                                  ProbeSockets& pool);

// Through io_uring; nullopt, with `why` set, when this kernel or its sandbox offers no io_uring
// with what the batch needs (io_uring_setup refused by seccomp or kernel.io_uring_disabled).
std::optional<std::vector<ProbeResult>> runUring(std::span<const ProbeTarget> targets,
                                                 Duration timeout, size_t max_open,
                                                 std::optional<SteadyTime> end, ProbeSockets& pool,
                                                 std::string& why);

}  // namespace fdr::drivers::probe_batch
