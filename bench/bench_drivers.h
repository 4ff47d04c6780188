// Drivers and helpers shared by the engine benchmarks (tick_bench, recovery_bench): a monitor
// whose failed nodes the benchmark sets, a fencer that answers at once, a notifier that drops
// everything, the daemon's lanes, CPU clocks.
#pragma once

#include <time.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/executor.h"
#include "freezer/fencer.h"
#include "freezer/monitor.h"
#include "freezer/notifier.h"

namespace fdr::bench {

inline double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

inline double processCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// compute-1 ... compute-n on 127.0.0.1.
inline std::vector<Node> nodes(int n) {
  std::vector<Node> out;
  for (int i = 1; i <= n; ++i) {
    Node node;
    node.id = std::to_string(i);
    node.hostname = "compute-" + std::to_string(i);
    node.ip_addr = "127.0.0.1";
    out.push_back(node);
  }
  return out;
}

// Two sources per node (nova/heartbeat, probe/management), down for the nodes in the down set.
class BenchMonitor final : public Monitor {
 public:
  BenchMonitor(Clock& clock, std::set<std::string> down) : clock_(clock), down_(std::move(down)) {}
  void setDown(std::set<std::string> down) {
    std::lock_guard lock(mutex_);
    down_ = std::move(down);
  }
  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    std::lock_guard lock(mutex_);
    std::vector<Observation> out;
    out.reserve(nodes.size() * 2);
    const TimePoint now = clock_.now();
    for (const Node& n : nodes) {
      const Health h = down_.contains(n.hostname) ? Health::kDown : Health::kUp;
      out.push_back({n.hostname, "nova/heartbeat", h, now, ""});
      out.push_back({n.hostname, "probe/management", h, now, ""});
    }
    return out;
  }

 private:
  Clock& clock_;
  std::mutex mutex_;
  std::set<std::string> down_;
};

// Powers off and on at once; reads back what it was told.
class BenchFencer final : public Fencer {
 public:
  Status powerOff(const Node& n) override {
    std::lock_guard lock(mutex_);
    off_.insert(n.hostname);
    return {};
  }
  Status powerOn(const Node& n) override {
    std::lock_guard lock(mutex_);
    off_.erase(n.hostname);
    return {};
  }
  Result<PowerState> powerStatus(const Node& n) override {
    std::lock_guard lock(mutex_);
    return off_.contains(n.hostname) ? PowerState::kOff : PowerState::kOn;
  }

 private:
  std::mutex mutex_;
  std::set<std::string> off_;
};

class NullNotifier final : public Notifier {
 public:
  Status send(const Notification&) override { return {}; }
};

// The daemon's lanes at the default [evacuation] concurrency (app/wiring.cc laneSizes).
inline core::LaneSizes daemonLanes(int evacuation_concurrency = 32) {
  core::LaneSizes sizes;
  sizes.by_prefix = {{"monitor", 1},
                     {"fence", 16},
                     {"cloud", evacuation_concurrency + 4},
                     {"notify", 4},
                     {"isolation", 1}};
  return sizes;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace fdr::bench
