// The engine's calls to the outside world, in flight. The decision thread starts a call under a
// key and goes on; the call runs on an Executor lane under a deadline (freezer/call_deadline.h);
// at a later tick the decision thread takes its result, or a kTimedOut error once the deadline
// on the engine's Clock has passed without an answer. A result that arrives after its call
// timed out is dropped: whoever started it has moved on (and journaled that it did).
//
// Nothing here blocks but waitForResult(), which the daemon's loop uses to sleep between ticks.
//
// Thread-safety: start/take/collect/... from the decision thread only; workers only hand
// results back through the shared inbox.
#pragma once

#include <any>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "core/executor.h"
#include "freezer/clock.h"
#include "freezer/leadership.h"
#include "freezer/result.h"

namespace fdr::core {

class Calls {
 public:
  Calls(Executor& executor, Clock& clock);
  ~Calls();
  Calls(const Calls&) = delete;
  Calls& operator=(const Calls&) = delete;

  // Controller HA (safety invariant 3): once set, a call on any lane but `observing` (lanes
  // whose calls only observe: the monitors' polls, the isolation probe) runs only if
  // `leadership` says this controller acts when a worker picks it up; otherwise it does not run
  // and its result is a kPermissionDenied error. (The engine also starts none while it does
  // not act: this covers a call that waited in its lane's queue across a loss of leadership.)
  // `leadership` must outlive the executor's workers.
  void setLeadership(const Leadership* leadership, std::vector<std::string> observing_lanes);

  // Starts `fn` under `key` on `lane`, to be answered within `timeout`, unless a call under
  // `key` is in flight or its result waits to be taken: then false, nothing started.
  template <class T>
  bool start(const std::string& key, const std::string& lane, Duration timeout,
             std::function<Result<T>()> fn) {
    return startErased(
        key, lane, timeout, [fn = std::move(fn)]() -> std::any { return std::any(fn()); },
        [](Error e) -> std::any { return std::any(Result<T>(std::unexpected(std::move(e)))); });
  }

  // The result under `key` once it is in (or timed out), removed; nothing while the call is in
  // flight or when none was started.
  template <class T>
  std::optional<Result<T>> take(const std::string& key) {
    auto it = slots_.find(key);
    if (it == slots_.end() || !it->second.done) return std::nullopt;
    Result<T> out = std::any_cast<Result<T>>(std::move(it->second.result));
    slots_.erase(it);
    return out;
  }

  // Started and not yet answered (nor timed out).
  [[nodiscard]] bool inFlight(const std::string& key) const;
  // Started, with its result not taken yet (in flight or answered).
  [[nodiscard]] bool started(const std::string& key) const;
  // A worker still runs a call made under `key`: in flight, or timed out and not returned yet.
  [[nodiscard]] bool busy(const std::string& key) const;
  // How many calls whose key starts with `prefix` are in flight.
  [[nodiscard]] size_t inFlightWithPrefix(const std::string& prefix) const;
  // Forgets the call under `key`: its result, when it comes, is dropped.
  void abandon(const std::string& key);
  // Forgets every call whose key starts with `prefix`.
  void abandonPrefix(const std::string& prefix);

  // Moves the results that arrived into place and times out the calls past their deadline.
  // Returns how many results (answers and time-outs) became ready. Call at the start of a tick.
  size_t collect();
  // The earliest deadline of a call in flight, if any.
  [[nodiscard]] std::optional<TimePoint> nextDeadline() const;
  // Sleeps until a result arrives, `max_wait` passes (real time) or `stop` is requested.
  void waitForResult(Duration max_wait, const std::stop_token& stop);

 private:
  struct Arrival {
    std::string key;
    uint64_t generation = 0;
    std::any result;
  };
  // Shared with the workers, which may outlive this object.
  struct Inbox {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<Arrival> arrived;        // GUARDED_BY(mutex)
    std::map<std::string, int> running;  // key → workers still in the call; GUARDED_BY(mutex)
  };
  struct Slot {
    uint64_t generation = 0;
    TimePoint deadline;
    Duration timeout{};
    bool done = false;
    std::any result;
    std::function<std::any(Error)> failure;  // a Result<T> holding the error
  };
  bool startErased(const std::string& key, const std::string& lane, Duration timeout,
                   std::function<std::any()> fn, std::function<std::any(Error)> failure);

  [[nodiscard]] bool gated(const std::string& lane) const;

  Executor& executor_;
  Clock& clock_;
  const Leadership* leadership_ = nullptr;
  std::vector<std::string> observing_lanes_;  // prefixes of the lanes never gated
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  std::map<std::string, Slot> slots_;
  uint64_t next_generation_ = 1;
};

}  // namespace fdr::core
