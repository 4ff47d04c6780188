// Probes through io_uring: each probe is a connect linked to a timeout, submitted a slice of 256
// at a time with one system call, so the kernel times each probe out from its own start whatever
// this thread is doing. A connect that connected or was refused is followed by its disconnect
// (connect with AF_UNSPEC) through the ring too, and its socket kept. A probe costs no system
// call of its own: at 20,000 probes a cycle the connect() wrappers alone were a third of the
// daemon's user time.
#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "drivers/monitor/probe/probe_batch.h"

namespace fdr::drivers::probe_batch {
namespace {

class UringBatch : public Batch {
 public:
  UringBatch(std::span<const ProbeTarget> targets, Duration timeout, size_t max_open,
             std::optional<SteadyTime> end, ProbeSockets& pool)
      : Batch(targets, timeout, max_open, end, pool),
        sockets_(targets.size()),
        state_(targets.size(), kIdle) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout_).count();
    timeout_spec_.tv_sec = ns / 1'000'000'000;
    timeout_spec_.tv_nsec = ns % 1'000'000'000;
  }
  UringBatch(const UringBatch&) = delete;
  UringBatch& operator=(const UringBatch&) = delete;
  ~UringBatch() {
    // Closing the ring cancels what is still in flight (probes cut short at the batch's end);
    // the kernel lets go of their sockets once they are, and sockets_ closes ours.
    if (ring_up_) io_uring_queue_exit(&ring_);
  }

  // False, with the reason, when the ring cannot be had or lacks what a batch needs.
  bool setUp(std::string& why) {
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    params.cq_entries = kCqEntries;
    int rc = io_uring_queue_init_params(kSqEntries, &ring_, &params);
    if (rc == -EINVAL) {  // a kernel before 5.19: without the two optimisations
      params = {};
      params.flags = IORING_SETUP_CQSIZE;
      params.cq_entries = kCqEntries;
      rc = io_uring_queue_init_params(kSqEntries, &ring_, &params);
    }
    if (rc < 0) {
      why = "io_uring_setup: " + errnoText(-rc);
      return false;
    }
    ring_up_ = true;
    // Without NODROP a full completion queue loses completions (kernels before 5.5).
    if ((params.features & IORING_FEAT_NODROP) == 0) {
      why = "io_uring without IORING_FEAT_NODROP";
      return false;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    const bool supported = probe != nullptr &&
                           io_uring_opcode_supported(probe, IORING_OP_CONNECT) &&
                           io_uring_opcode_supported(probe, IORING_OP_LINK_TIMEOUT);
    if (probe != nullptr) io_uring_free_probe(probe);
    if (!supported) {
      why = "io_uring without IORING_OP_CONNECT or IORING_OP_LINK_TIMEOUT";
      return false;
    }
    return true;
  }

  std::vector<ProbeResult> run() {
    if (targets_.empty()) return {};
    size_t next = 0;
    while (true) {
      if (end_ && std::chrono::steady_clock::now() >= *end_) {
        if (next < targets_.size()) notStarted(next);
        end(next);
        break;
      }
      // The submission queue is empty here: a slice's 512 entries fit.
      const size_t first = next;
      for (size_t started = 0; next < targets_.size() && open_ < max_open_ && started < kStartSlice;
           ++started) {
        if (!start(next, addresses_[started])) break;  // out of descriptors: wait for some
        ++next;
      }
      if (open_ == 0) {
        // With nothing open start() always records a result, so each slice makes progress.
        if (next >= targets_.size()) break;
        continue;
      }
      // Submit the slice (its addresses are copied then, its timeouts armed); its start is
      // taken after, so that a probe is never said to have waited longer than it did.
      if (const int rc = flush(); rc < 0) {
        fail(rc, next);
        break;
      }
      if (next > first) slices_.emplace_back(first, std::chrono::steady_clock::now());
      // Wait for a completion only when there is nothing left to start, at most until the
      // batch's end. Every connect has its timeout, so without an end the wait still ends.
      if (next >= targets_.size() || open_ >= max_open_) {
        io_uring_cqe* cqe = nullptr;
        int rc = 0;
        if (end_) {
          __kernel_timespec wait = timespecUntil(*end_);
          rc = io_uring_wait_cqe_timeout(&ring_, &cqe, &wait);
        } else {
          rc = io_uring_wait_cqe(&ring_, &cqe);
        }
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
          fail(rc, next);
          break;
        }
      }
      if (const int rc = drain(); rc < 0) {
        fail(rc, next);
        break;
      }
    }
    return std::move(results_);
  }

 private:
  static constexpr size_t kStartSlice = 256;
  static constexpr unsigned kSqEntries = 1024;  // a slice takes 512, disconnects the rest
  static constexpr unsigned kCqEntries = 8192;  // more wait in the kernel (NODROP)
  static constexpr int kMaxStalls = 1000;
  enum State : uint8_t { kIdle, kConnecting, kDisconnecting };
  static constexpr uint8_t kIpv6 = 4;  // or'ed into state_
  enum Kind : uint64_t { kConnect = 0, kTimeout = 1, kDisconnect = 2 };
  static uint64_t tag(size_t i, Kind kind) { return (static_cast<uint64_t>(i) << 2) | kind; }

  // Submits until the submission queue is empty; a full completion queue (EBUSY) is read from
  // first. A negative errno when the ring failed, or when it took nothing in kMaxStalls tries in
  // a row (EAGAIN: the kernel could not allocate the requests), rather than spin.
  int flush() {
    int stalls = 0;
    while (io_uring_sq_ready(&ring_) > 0) {
      const int rc = io_uring_submit(&ring_);
      if (rc > 0) {
        stalls = 0;
        continue;
      }
      if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) return rc;
      if (++stalls > kMaxStalls) return rc < 0 ? rc : -EAGAIN;
      reapSome();
    }
    return 0;
  }

  // Reads every completion, submitting the disconnects they call for, until none is ready and
  // nothing is left to submit. A negative errno when the ring failed.
  int drain() {
    do {
      reapSome();
      if (const int rc = flush(); rc < 0) return rc;
    } while (io_uring_cq_ready(&ring_) > 0);
    return 0;
  }

  static __kernel_timespec timespecUntil(SteadyTime when) {
    const int64_t left = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                  when - std::chrono::steady_clock::now())
                                                  .count());
    return {.tv_sec = left / 1'000'000'000, .tv_nsec = left % 1'000'000'000};
  }

  // Every probe still in flight, or not started, is unknown: the ring failed.
  void fail(int rc, size_t next) {
    const std::string why = "cannot probe: io_uring_enter: " + errnoText(-rc);
    for (size_t i = 0; i < targets_.size(); ++i) {
      if ((state_[i] & 3) != kIdle || i >= next) results_[i] = {Health::kUnknown, why};
    }
  }

  // Queues the connect of target i (its address in `address`, which must stay put until the next
  // submit) and its timeout. False (nothing recorded) when out of descriptors while others are
  // open; otherwise the probe is queued or already has its result.
  bool start(size_t i, sockaddr_storage& address) {
    socklen_t length = 0;
    Fd fd;
    const Opened opened = open(i, address, length, open_, fd);
    if (opened != Opened::kReady) return opened == Opened::kRecorded;
    const int family = address.ss_family;
    io_uring_sqe* connect = io_uring_get_sqe(&ring_);  // room for the slice: see run()
    io_uring_prep_connect(connect, fd.get(), reinterpret_cast<const sockaddr*>(&address), length);
    connect->flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_data64(connect, tag(i, kConnect));
    io_uring_sqe* timer = io_uring_get_sqe(&ring_);
    io_uring_prep_link_timeout(timer, &timeout_spec_, 0);
    io_uring_sqe_set_data64(timer, tag(i, kTimeout));
    sockets_[i] = std::move(fd);
    state_[i] = static_cast<uint8_t>(kConnecting | (family == AF_INET6 ? kIpv6 : 0));
    ++open_;
    return true;
  }

  // Reads the completions ready.
  void reapSome() {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      // liburing's own timeout, on kernels where a wait cannot carry one (before 5.11).
      if (cqe->user_data == LIBURING_UDATA_TIMEOUT) continue;
      const auto i = static_cast<size_t>(cqe->user_data >> 2);
      if (i < targets_.size()) complete(i, static_cast<Kind>(cqe->user_data & 3), cqe->res);
    }
    io_uring_cq_advance(&ring_, seen);
  }

  void complete(size_t i, Kind kind, int res) {
    const int family = (state_[i] & kIpv6) != 0 ? AF_INET6 : AF_INET;
    const auto stage = static_cast<State>(state_[i] & 3);
    // The timeout's own completion says nothing the connect's does not.
    if (kind == kTimeout) return;
    if (kind == kConnect && stage == kConnecting) {
      if (res == -ECANCELED) {  // its timeout cancelled it: no answer
        results_[i] = noAnswer();
        close(i);
        return;
      }
      const int error = res < 0 ? -res : 0;
      results_[i] = verdict(error);
      // Kept when it may be and there is room to queue its disconnect (else closed: only the
      // reuse is lost).
      io_uring_sqe* disconnect = keepable(family, error) ? io_uring_get_sqe(&ring_) : nullptr;
      if (disconnect != nullptr) {
        static const sockaddr kUnspec{.sa_family = AF_UNSPEC, .sa_data = {}};
        io_uring_prep_connect(disconnect, sockets_[i].get(), &kUnspec, sizeof kUnspec);
        io_uring_sqe_set_data64(disconnect, tag(i, kDisconnect));
        state_[i] = static_cast<uint8_t>(kDisconnecting | (state_[i] & kIpv6));
        return;
      }
      if (error == 0) resetOnClose(sockets_[i].get());
      close(i);
      return;
    }
    if (kind == kDisconnect && stage == kDisconnecting) {
      if (res == 0 && keepable(family, 0)) {
        keep(sockets_[i].release(), family);
        state_[i] = kIdle;
        --open_;
        return;
      }
      if (res != 0) resetOnClose(sockets_[i].get());  // may still be connected
      close(i);
    }
  }

  // The batch's end: what completed by now is read first (the kernel is asked to post what it
  // has). A probe still waiting that has waited its whole timeout did not answer; the others are
  // cut short.
  void end(size_t next) {
    (void)io_uring_get_events(&ring_);
    if (const int rc = drain(); rc < 0) {
      fail(rc, next);
      return;
    }
    const SteadyTime now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < targets_.size(); ++i) {
      if ((state_[i] & 3) == kConnecting) {
        const auto waited = now - startOf(i);
        results_[i] = waited >= timeout_ ? noAnswer() : cutShort(waited);
      }
      if ((state_[i] & 3) != kIdle) close(i);
    }
  }

  // When probe i was queued: its slice's start.
  SteadyTime startOf(size_t i) const {
    if (slices_.empty()) return std::chrono::steady_clock::now();
    auto it = std::upper_bound(slices_.begin(), slices_.end(), i,
                               [](size_t k, const auto& slice) { return k < slice.first; });
    return it == slices_.begin() ? slices_.front().second : std::prev(it)->second;
  }

  void close(size_t i) {
    sockets_[i].reset();
    state_[i] = kIdle;
    --open_;
  }

  io_uring ring_{};
  bool ring_up_ = false;
  __kernel_timespec timeout_spec_{};
  std::vector<Fd> sockets_;
  std::vector<uint8_t> state_;
  std::array<sockaddr_storage, kStartSlice> addresses_{};  // the slice's, until it is submitted
  std::vector<std::pair<size_t, SteadyTime>> slices_;      // (first probe, start) of each slice
  size_t open_ = 0;                                        // connecting or disconnecting
};

}  // namespace

std::optional<std::vector<ProbeResult>> runUring(std::span<const ProbeTarget> targets,
                                                 Duration timeout, size_t max_open,
                                                 std::optional<SteadyTime> end, ProbeSockets& pool,
                                                 std::string& why) {
  UringBatch batch(targets, timeout, max_open, end, pool);
  if (!batch.setUp(why)) return std::nullopt;
  return batch.run();
}

}  // namespace fdr::drivers::probe_batch
