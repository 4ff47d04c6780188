// Probes through epoll: non-blocking connects, in slices of 256 between reads of the completed
// ones; each probe timed out on this thread, from its own start, only after every connect that
// completed before the check was read.
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>

#include "drivers/monitor/probe/probe_batch.h"

namespace fdr::drivers::probe_batch {
namespace {

class EpollBatch : public Batch {
 public:
  EpollBatch(std::span<const ProbeTarget> targets, Duration timeout, size_t max_open,
             std::optional<SteadyTime> end, ProbeSockets& pool)
      : Batch(targets, timeout, max_open, end, pool),
        sockets_(targets.size()),
        flags_(targets.size(), 0) {}

  std::vector<ProbeResult> run() {
    if (targets_.empty()) return {};
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (epoll_.get() < 0) return allUnknown("cannot probe: epoll_create1: " + errnoText(errno));
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
      if (end_ && checked >= *end_ && open_ > 0) cutAll();
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
    sockaddr_storage address{};
    socklen_t address_length = 0;
    Fd fd;
    const Opened opened = open(i, address, address_length, open_, fd);
    if (opened != Opened::kReady) return opened == Opened::kRecorded;
    const int family = address.ss_family;
    if (family == AF_INET6) flags_[i] |= kIpv6;
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

  // The end of a probe's socket (`error` its connect's outcome, 0 = connected): disconnected and
  // kept for the next probe when it may be, else closed, with a reset if it connected.
  void release(Fd fd, int family, int error) {
    if (keepable(family, error)) {
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      if (::connect(fd.get(), &unspec, sizeof unspec) == 0) {
        keep(fd.release(), family);
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

  // Probes past their deadline (deadlines_ is in start order, so in deadline order).
  void expire(SteadyTime now) {
    while (!deadlines_.empty() &&
           (sockets_[deadlines_.front().second].get() < 0 || deadlines_.front().first <= now)) {
      const size_t i = deadlines_.front().second;
      deadlines_.pop_front();
      if (sockets_[i].get() < 0) continue;
      results_[i] = noAnswer();
      close(i);
    }
  }

  // The batch's end came while probes were still waiting (before their own timeout).
  void cutAll() {
    const SteadyTime now = std::chrono::steady_clock::now();
    for (const auto& [deadline, i] : deadlines_) {
      if (sockets_[i].get() < 0) continue;
      results_[i] = cutShort(now - (deadline - timeout_));
      close(i);
    }
    deadlines_.clear();
  }

  void close(size_t i) {
    // Closing the descriptor removes it from the epoll set.
    sockets_[i].reset();
    --open_;
  }

  std::vector<Fd> sockets_;
  static constexpr uint8_t kWatched = 1;  // in the epoll set
  static constexpr uint8_t kIpv6 = 2;
  std::vector<uint8_t> flags_;
  std::deque<std::pair<SteadyTime, size_t>> deadlines_;
  std::vector<size_t> fresh_;   // started in this slice, not yet answered nor watched
  std::vector<pollfd> polled_;  // settle()'s poll set
  size_t open_ = 0;
  Fd epoll_;
};

}  // namespace

std::vector<ProbeResult> runEpoll(std::span<const ProbeTarget> targets, Duration timeout,
                                  size_t max_open, std::optional<SteadyTime> end,
                                  ProbeSockets& pool) {
  return EpollBatch(targets, timeout, max_open, end, pool).run();
}

}  // namespace fdr::drivers::probe_batch
