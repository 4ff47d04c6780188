// The probe monitor against real sockets on loopback: listeners on 127.0.0.x (any 127/8 address
// works on Linux), closed ports (refused: the node answered, so it is up), listeners whose accept
// queue is full (SYNs dropped: no answer, as from a dead host), several networks, hundreds of
// nodes in one poll. Never asserts on wall time.
#include "drivers/monitor/probe/probe_monitor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "freezer/call_deadline.h"
#include "freezer/registry.h"
#include "support/silent_tcp.h"

namespace fdr::drivers {
namespace {

using namespace std::chrono_literals;

// A TCP listener on `address`:`port` (0: any free port); never accepts.
class Listener : public fdr::testing::LoopbackListener {
 public:
  Listener(const std::string& address, int port, int backlog = 16)
      : LoopbackListener(backlog, address, port) {}
};

Node node(const std::string& hostname, const std::string& ip,
          std::map<std::string, std::string> extra = {}) {
  Node n;
  n.hostname = hostname;
  n.ip_addr = ip;
  n.extra = std::move(extra);
  return n;
}

// Every test runs twice: with the probes waiting through epoll and through io_uring (skipped,
// with the reason, where this kernel or its sandbox offers no io_uring).
class ProbeMonitorTest : public ::testing::TestWithParam<ProbeIo> {
 protected:
  void SetUp() override {
    if (std::string why; GetParam() == ProbeIo::kIoUring && !ioUringAvailable(&why)) {
      GTEST_SKIP() << "no io_uring here: " << why;
    }
  }

  static const char* ioName() { return GetParam() == ProbeIo::kIoUring ? "io_uring" : "epoll"; }

  static std::vector<ProbeResult> probe(
      std::span<const ProbeTarget> targets, Duration timeout, size_t max_open = 0,
      std::optional<std::chrono::steady_clock::time_point> end = std::nullopt,
      ProbeSockets* sockets = nullptr) {
    return probeAll(targets, timeout, max_open, end, sockets, GetParam());
  }

  Result<MonitorPtr> create(std::map<std::string, std::string> values) {
    values.try_emplace("io", ioName());
    Registry registry;
    auto added = registerProbeMonitor(registry);
    if (!added) return std::unexpected(added.error());
    auto factory = registry.monitors.find("probe");
    if (!factory) return std::unexpected(factory.error());
    RawOptions raw;
    for (auto& [key, value] : values) raw[key] = RawOption{value, "test"};
    Diagnostics diag;
    auto options = Options::parse((*factory)->schema, raw, "[monitoring] probe", diag);
    if (!options) return fail(ErrorCode::kInvalidArgument, diag.format());
    return (*factory)->create(*options, context_);
  }

  // (node, source) -> observation.
  static std::map<std::pair<std::string, std::string>, Observation> index(
      const std::vector<Observation>& observations) {
    std::map<std::pair<std::string, std::string>, Observation> out;
    for (const auto& o : observations) out[{o.node, o.source}] = o;
    return out;
  }

  FakeClock clock_;
  std::vector<Node> nodes_;
  DriverContext context_{clock_, nodes_};
};

// Connects to `listener` (backlog 0, never accepting) until its accept queue is full: from then
// on Linux drops new SYNs, as a dead host would not answer. The connects, to close afterwards.
std::vector<int> fillAcceptQueue(const Listener& listener, const char* address) {
  // Whatever the exact queue length, after a few connects the queue is full.
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(listener.port()));
    ::inet_pton(AF_INET, address, &sin.sin_addr);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    clients.push_back(fd);
  }
  return clients;
}

// The service's side of the next probe connection: a reset, not an orderly end.
void expectTheNextConnectionWasReset(const Listener& listener) {
  const int accepted = ::accept(listener.fd(), nullptr, nullptr);
  ASSERT_GE(accepted, 0) << std::strerror(errno);
  char byte = 0;
  const ssize_t got = ::recv(accepted, &byte, 1, 0);
  const int error = errno;
  ::close(accepted);
  EXPECT_EQ(got, -1) << "an orderly close (FIN) instead of a reset";
  EXPECT_EQ(error, ECONNRESET) << std::strerror(error);
}

TEST_P(ProbeMonitorTest, OpenPortIsUpAClosedPortIsALiveNodeAndSilenceIsDown) {
  Listener listener("127.0.0.2", 0);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  fdr::testing::BlackholePort crashed("127.0.0.4", listener.port());
  ASSERT_TRUE(crashed.ok()) << crashed.error();
  auto monitor = create({{"port", std::to_string(listener.port())}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  nodes_ = {node("alive", "127.0.0.2"), node("no-service", "127.0.0.3"),
            node("crashed", "127.0.0.4")};
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled) << polled.error().toString();
  ASSERT_EQ(polled->size(), 3u);
  auto seen = index(*polled);
  const Observation alive = seen[{"alive", "probe/mgmt"}];
  const Observation refused = seen[{"no-service", "probe/mgmt"}];
  const Observation crashed_seen = seen[{"crashed", "probe/mgmt"}];
  EXPECT_EQ(alive.health, Health::kUp) << alive.detail;
  EXPECT_EQ(alive.at, clock_.now());
  // The refusal comes from the node's kernel: up, and the detail says its service is not.
  EXPECT_EQ(refused.health, Health::kUp) << refused.detail;
  EXPECT_NE(refused.detail.find("the node answered but its service does not"), std::string::npos)
      << refused.detail;
  EXPECT_NE(refused.detail.find("refused"), std::string::npos) << refused.detail;
  EXPECT_TRUE(refused.service_down);
  EXPECT_FALSE(alive.service_down);
  EXPECT_FALSE(crashed_seen.service_down);
  // A dead host does not answer at all.
  EXPECT_EQ(crashed_seen.health, Health::kDown) << crashed_seen.detail;
  EXPECT_NE(crashed_seen.detail.find("no answer within 500 ms"), std::string::npos)
      << crashed_seen.detail;

  // The service stops (sshd or libvirtd restarting): the node is still up.
  listener.close();
  polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled);
  const Observation restarting = index(*polled)[{"alive", "probe/mgmt"}];
  EXPECT_EQ(restarting.health, Health::kUp) << restarting.detail;
  EXPECT_NE(restarting.detail.find("service does not"), std::string::npos) << restarting.detail;
}

// The batch's end (the poll's deadline) stops what has not finished: unknown, never down, since
// only a probe that waited its whole timeout says the node did not answer.
TEST_P(ProbeMonitorTest, WhatTheBatchsEndCutsShortIsUnknownNeverDown) {
  Listener listener("127.0.0.2", 0);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  fdr::testing::BlackholePort crashed("127.0.0.4", listener.port());
  ASSERT_TRUE(crashed.ok()) << crashed.error();
  const std::vector<ProbeTarget> targets{{"127.0.0.2", listener.port()},
                                         {"127.0.0.4", listener.port()}};
  auto results = probe(targets, 30s, 0, std::chrono::steady_clock::now() + 200ms);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].health, Health::kUp) << results[0].detail;
  EXPECT_EQ(results[1].health, Health::kUnknown) << results[1].detail;
  EXPECT_NE(results[1].detail.find("no answer yet when the poll's deadline came (after "),
            std::string::npos)
      << results[1].detail;
  EXPECT_NE(results[1].detail.find(" ms of the 30000 ms timeout)"), std::string::npos)
      << results[1].detail;

  // An end already past: nothing starts, everything is unknown and says so.
  results = probe(targets, 30s, 0, std::chrono::steady_clock::now());
  ASSERT_EQ(results.size(), 2u);
  for (const ProbeResult& r : results) {
    EXPECT_EQ(r.health, Health::kUnknown) << r.detail;
    EXPECT_EQ(r.detail,
              "not probed: the poll's deadline came before this probe could start (0 of 2 "
              "started)");
  }
}

TEST_P(ProbeMonitorTest, AProbeIsCutShortToKeepThePollWithinItsDeadline) {
  Listener listener("127.0.0.2", 0);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  fdr::testing::BlackholePort crashed("127.0.0.4", listener.port());
  ASSERT_TRUE(crashed.ok()) << crashed.error();
  auto monitor = create({{"port", std::to_string(listener.port())}, {"timeout", "30s"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  nodes_ = {node("alive", "127.0.0.2"), node("crashed", "127.0.0.4")};
  const CallDeadline deadline(std::chrono::steady_clock::now() + 300ms);
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = index(*polled);
  EXPECT_EQ((seen[{"alive", "probe/mgmt"}].health), Health::kUp);
  // Down within what the deadline left (300 ms minus a margin), not after the 30 s timeout.
  const Observation dead = seen[{"crashed", "probe/mgmt"}];
  EXPECT_EQ(dead.health, Health::kDown) << dead.detail;
  const size_t at = dead.detail.find("no answer within ");
  ASSERT_NE(at, std::string::npos) << dead.detail;
  EXPECT_LE(std::stoi(dead.detail.substr(at + 17)), 300) << dead.detail;
}

TEST_P(ProbeMonitorTest, RefusedIsDownRestoresTheOldVerdictWhenAskedFor) {
  auto defaults = create({{"port", "9"}});
  ASSERT_TRUE(defaults) << defaults.error().toString();
  auto monitor = create({{"port", "9"}, {"refused-is-down", "true"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  nodes_ = {node("no-service", "127.0.0.3")};
  auto polled = (*defaults)->poll(nodes_);
  ASSERT_TRUE(polled);
  ASSERT_EQ(polled->size(), 1u);
  EXPECT_EQ(polled->front().health, Health::kUp) << polled->front().detail;
  EXPECT_TRUE(polled->front().service_down);
  polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled);
  ASSERT_EQ(polled->size(), 1u);
  EXPECT_EQ(polled->front().health, Health::kDown) << polled->front().detail;
  EXPECT_FALSE(polled->front().service_down) << "counted down: a failure, not a closed port";
  EXPECT_NE(polled->front().detail.find("refused-is-down"), std::string::npos)
      << polled->front().detail;
}

TEST_P(ProbeMonitorTest, FullAcceptQueueMeansNoAnswerWithinTheTimeout) {
  // Backlog 0 holds one connection; with it queued and never accepted, Linux drops new SYNs.
  Listener listener("127.0.0.5", 0, /*backlog=*/0);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  const std::vector<int> clients = fillAcceptQueue(listener, "127.0.0.5");
  const std::vector<ProbeTarget> targets{{"127.0.0.5", listener.port()}};
  auto results = probe(targets, 200ms);
  for (int fd : clients) ::close(fd);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].health, Health::kDown) << results[0].detail;
  EXPECT_NE(results[0].detail.find("no answer within 200 ms"), std::string::npos)
      << results[0].detail;
}

TEST_P(ProbeMonitorTest, EachNetworkIsItsOwnSource) {
  Listener mgmt("127.0.0.2", 0);
  ASSERT_TRUE(mgmt.error().empty()) << mgmt.error();
  const int port = mgmt.port();
  Listener storage("127.0.0.12", port);
  ASSERT_TRUE(storage.error().empty()) << storage.error();
  Listener override_mgmt("127.0.0.22", port);
  ASSERT_TRUE(override_mgmt.error().empty()) << override_mgmt.error();
  fdr::testing::BlackholePort cut("127.0.0.13", port);  // the storage path is cut
  ASSERT_TRUE(cut.ok()) << cut.error();
  auto monitor = create({{"port", std::to_string(port)}, {"networks", "mgmt,storage"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  nodes_ = {
      node("both-up", "127.0.0.2", {{"storage-addr", "127.0.0.12"}}),
      node("storage-cut", "127.0.0.2", {{"storage-addr", "127.0.0.13"}}),
      node("no-storage", "127.0.0.2"),
      // mgmt-addr wins over ip_addr (127.0.0.3 would be refused: up, but "service does not").
      node("mgmt-override", "127.0.0.3", {{"mgmt-addr", "127.0.0.22"}}),
  };
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled) << polled.error().toString();
  auto seen = index(*polled);
  EXPECT_EQ(polled->size(), 6u);  // 4 on mgmt, 2 on storage: the others have no storage-addr
  EXPECT_EQ((seen[{"both-up", "probe/mgmt"}].health), Health::kUp);
  EXPECT_EQ((seen[{"both-up", "probe/storage"}].health), Health::kUp);
  EXPECT_EQ((seen[{"storage-cut", "probe/mgmt"}].health), Health::kUp);
  EXPECT_EQ((seen[{"storage-cut", "probe/storage"}].health), Health::kDown);
  EXPECT_NE((seen[{"storage-cut", "probe/storage"}].detail.find("127.0.0.13")), std::string::npos);
  EXPECT_EQ((seen[{"no-storage", "probe/mgmt"}].health), Health::kUp);
  EXPECT_FALSE((seen.contains({"no-storage", "probe/storage"})));
  EXPECT_EQ((seen[{"mgmt-override", "probe/mgmt"}].health), Health::kUp);
  EXPECT_EQ((seen[{"mgmt-override", "probe/mgmt"}].detail.find("does not")), std::string::npos);
}

TEST_P(ProbeMonitorTest, SourcePrefixTellsTwoProbeMonitorsApart) {
  Listener listener("127.0.0.2", 0);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  auto monitor = create({{"port", std::to_string(listener.port())}, {"source", "libvirt"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  nodes_ = {node("n1", "127.0.0.2")};
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled);
  ASSERT_EQ(polled->size(), 1u);
  EXPECT_EQ(polled->front().source, "libvirt/mgmt");
}

TEST_P(ProbeMonitorTest, FiveHundredNodesInOnePoll) {
  // 250 listeners on 127.0.11.x / 127.0.12.x (not the lab's 127.0.1.x / 127.0.2.x), all on the
  // same port; the other 250 refuse (up, their service is not: the detail says so).
  std::vector<std::unique_ptr<Listener>> listeners;
  listeners.push_back(std::make_unique<Listener>("127.0.11.0", 0, 4));
  ASSERT_TRUE(listeners.front()->error().empty()) << listeners.front()->error();
  const int port = listeners.front()->port();
  for (int i = 0; i < 500; ++i) {
    const std::string ip = "127.0." + std::to_string(11 + i / 250) + "." + std::to_string(i % 250);
    nodes_.push_back(node("node-" + std::to_string(i), ip));
    if (i % 2 == 0 && i != 0) {
      listeners.push_back(std::make_unique<Listener>(ip, port, 4));
      ASSERT_TRUE(listeners.back()->error().empty()) << listeners.back()->error();
    }
  }
  auto monitor = create({{"port", std::to_string(port)}, {"timeout", "2s"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled) << polled.error().toString();
  ASSERT_EQ(polled->size(), 500u);
  auto seen = index(*polled);
  int up = 0;
  int down = 0;
  for (int i = 0; i < 500; ++i) {
    const Observation& o = seen[{"node-" + std::to_string(i), "probe/mgmt"}];
    EXPECT_EQ(o.health, Health::kUp) << o.node << ": " << o.detail;
    const bool refused = o.detail.find("service does not") != std::string::npos;
    EXPECT_EQ(refused, i % 2 != 0) << o.node << ": " << o.detail;
    (refused ? down : up) += 1;
  }
  EXPECT_EQ(up, 250);
  EXPECT_EQ(down, 250);
}

// Ten thousand nodes on two networks, probed three times while two threads keep both cores
// busy: not one healthy node is down, and the ten crashed ones among them (their SYNs dropped)
// are down on both networks. Each probe's timeout runs from its own connect, and every
// connect that completed is read before any probe is declared timed out (starting 20,000
// connects takes longer than the 500 ms timeout, so the first ones are past it before the last
// ones start). As many nodes as the file-descriptor limit allows (raised to 65,536 where the
// process may): the listeners take two descriptors per node and the probes go in waves in what
// is left. The figure is printed.
TEST_P(ProbeMonitorTest, UpTo10000NodesOnTwoNetworksOnABusyMachineNotOneHealthyNodeDown) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  rlimit raised{.rlim_cur = 65536, .rlim_max = std::max<rlim_t>(before.rlim_max, 65536)};
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = {.rlim_cur = before.rlim_max, .rlim_max = before.rlim_max};
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0) << std::strerror(errno);
  }
  struct Restore {
    rlimit limit;
    ~Restore() { (void)::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{before};
  const size_t limit = raised.rlim_cur;
  // Two listeners per node in at most three quarters of the descriptors: the probes need some.
  const size_t count = std::min<size_t>(10000, limit * 3 / 8);
  ASSERT_GE(count, 1000U) << "RLIMIT_NOFILE " << limit << " is too low for this test";
  std::cout << "probing " << count << " nodes x 2 networks (RLIMIT_NOFILE " << limit << ")\n";
  ::testing::Test::RecordProperty("nodes", static_cast<int>(count));

  std::vector<std::unique_ptr<Listener>> listeners;
  listeners.reserve(2 * count);
  int port = 0;
  const auto address = [](int net, size_t i) {
    return "127." + std::to_string(net) + "." + std::to_string(i / 250) + "." +
           std::to_string(i % 250 + 1);
  };
  constexpr size_t kCrashed = 10;  // every count/kCrashed-th node, from the first
  std::vector<std::unique_ptr<fdr::testing::BlackholePort>> crashed;
  const auto is_crashed = [&](size_t i) { return i % (count / kCrashed) == 0; };
  for (size_t i = 0; i < count; ++i) {
    for (int net : {20, 21}) {
      if (is_crashed(i)) {
        crashed.push_back(std::make_unique<fdr::testing::BlackholePort>(address(net, i), port));
        ASSERT_TRUE(crashed.back()->ok()) << crashed.back()->error();
        port = crashed.back()->port();
        continue;
      }
      listeners.push_back(std::make_unique<Listener>(address(net, i), port, 8));
      ASSERT_TRUE(listeners.back()->error().empty()) << listeners.back()->error();
      port = listeners.back()->port();
    }
    nodes_.push_back(
        node("node-" + std::to_string(i), address(20, i), {{"storage-addr", address(21, i)}}));
  }
  {
    std::atomic<bool> stop{false};
    std::vector<std::jthread> load;
    for (int t = 0; t < 2; ++t) {
      load.emplace_back([&stop] {
        volatile uint64_t spin = 0;
        while (!stop.load(std::memory_order_relaxed)) spin = spin + 1;
      });
    }
    auto monitor = create(
        {{"port", std::to_string(port)}, {"networks", "mgmt, storage"}, {"timeout", "500ms"}});
    ASSERT_TRUE(monitor) << monitor.error().toString();
    for (int round = 1; round <= 3; ++round) {
      auto polled = (*monitor)->poll(nodes_);
      ASSERT_TRUE(polled) << polled.error().toString();
      ASSERT_EQ(polled->size(), 2 * count);
      size_t not_up = 0;
      size_t crashed_down = 0;
      std::string first;
      for (const Observation& o : *polled) {
        if (is_crashed(std::stoul(o.node.substr(5)))) {
          EXPECT_EQ(o.health, Health::kDown) << o.node << " " << o.source << ": " << o.detail;
          crashed_down += o.health == Health::kDown ? 1 : 0;
          continue;
        }
        if (o.health == Health::kUp && !o.service_down) continue;
        if (not_up++ < 5) first += "\n  " + o.node + " " + o.source + ": " + o.detail;
      }
      EXPECT_EQ(not_up, 0U) << "poll " << round << ": " << not_up << " of "
                            << 2 * (count - kCrashed)
                            << " probes of healthy nodes not up, the first:" << first;
      EXPECT_EQ(crashed_down, 2 * kCrashed) << "poll " << round;
    }
    stop = true;
  }
}

// A probe that connected closes with a reset: the service reads ECONNRESET, not an orderly end,
// and no TIME_WAIT socket is left behind (20,000 probes a second would pile them up).
TEST_P(ProbeMonitorTest, AConnectedProbeIsClosedWithAReset) {
  Listener listener("127.0.0.2", 0);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  const std::vector<ProbeTarget> targets = {{"127.0.0.2", listener.port()}};
  const auto results = probe(targets, 2s);
  ASSERT_EQ(results.size(), 1U);
  ASSERT_EQ(results[0].health, Health::kUp) << results[0].detail;
  expectTheNextConnectionWasReset(listener);
}

// Sockets are kept from one batch to the next (disconnected, then connected again): a kept
// socket answers for its new target only. One that connected before does not make a node that
// does not answer look up, nor one that was refused.
TEST_P(ProbeMonitorTest, AKeptSocketAnswersForItsNextTargetOnly) {
  Listener live("127.0.0.2", 0);
  ASSERT_TRUE(live.error().empty()) << live.error();
  ProbeSockets sockets;
  const std::vector<ProbeTarget> first = {{"127.0.0.2", live.port()}, {"127.0.0.3", live.port()}};
  auto results = probe(first, 2s, 0, std::nullopt, &sockets);
  ASSERT_EQ(results.size(), 2U);
  EXPECT_EQ(results[0].health, Health::kUp) << results[0].detail;
  EXPECT_FALSE(results[0].refused);
  EXPECT_TRUE(results[1].refused) << results[1].detail;
  EXPECT_EQ(sockets.created(), 2U);
  EXPECT_EQ(sockets.idle(), 2U);

  // The accept queue full: SYNs are dropped, as from a dead host.
  Listener full("127.0.0.5", 0, /*backlog=*/0);
  ASSERT_TRUE(full.error().empty()) << full.error();
  const std::vector<int> clients = fillAcceptQueue(full, "127.0.0.5");
  const std::vector<ProbeTarget> silent = {{"127.0.0.5", full.port()}, {"127.0.0.5", full.port()}};
  results = probe(silent, 200ms, 0, std::nullopt, &sockets);
  for (const int fd : clients) ::close(fd);
  ASSERT_EQ(results.size(), 2U);
  for (const auto& r : results) {
    EXPECT_EQ(r.health, Health::kDown) << r.detail;
    EXPECT_NE(r.detail.find("no answer within 200 ms"), std::string::npos) << r.detail;
  }
  EXPECT_EQ(sockets.created(), 2U) << "the kept sockets were not used";
  EXPECT_EQ(sockets.idle(), 0U) << "a socket whose connect never completed is closed, not kept";

  // Kept sockets reset the connections they made, as a close would: the service sees a reset.
  results = probe(first, 2s, 0, std::nullopt, &sockets);
  ASSERT_EQ(results.size(), 2U);
  EXPECT_EQ(results[0].health, Health::kUp) << results[0].detail;
  EXPECT_TRUE(results[1].refused) << results[1].detail;
  for (int n = 0; n < 2; ++n) expectTheNextConnectionWasReset(live);
}

TEST_P(ProbeMonitorTest, APoolKeepsNoMoreThanItsBound) {
  Listener live("127.0.0.2", 0, 128);
  ASSERT_TRUE(live.error().empty()) << live.error();
  ProbeSockets sockets(/*max_idle=*/3);
  const std::vector<ProbeTarget> targets(20, ProbeTarget{"127.0.0.2", live.port()});
  const auto results = probe(targets, 2s, 0, std::nullopt, &sockets);
  for (const auto& r : results) EXPECT_EQ(r.health, Health::kUp) << r.detail;
  EXPECT_LE(sockets.idle(), 3U);
  EXPECT_GE(sockets.idle(), 1U);
}

size_t openDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// Between polls the monitor keeps at most a quarter of the descriptors probes may use: with a
// soft limit of 512, (512 - 128) / 4 = 96, however many probes connected (120 here, all at once:
// the listener's queue of 128 holds them unaccepted).
TEST_P(ProbeMonitorTest, KeptSocketsLeaveTheRestOfTheDaemonItsDescriptors) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  ASSERT_GE(before.rlim_max, 512U);
  struct Restore {
    rlimit limit;
    ~Restore() { (void)::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{before};
  rlimit lowered{.rlim_cur = 512, .rlim_max = before.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0) << std::strerror(errno);

  Listener listener("127.0.0.2", 0, 128);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  for (int i = 0; i < 120; ++i) nodes_.push_back(node("node-" + std::to_string(i), "127.0.0.2"));
  auto monitor = create({{"port", std::to_string(listener.port())}, {"timeout", "2s"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  const size_t open_before = openDescriptors();
  auto polled = (*monitor)->poll(nodes_);
  ASSERT_TRUE(polled) << polled.error().toString();
  for (const auto& o : *polled) EXPECT_EQ(o.health, Health::kUp) << o.detail;
  const size_t kept = openDescriptors() - open_before;
  EXPECT_LE(kept, 96U);
  EXPECT_GE(kept, 1U) << "no socket kept at all";
}

TEST_P(ProbeMonitorTest, FewerDescriptorsThanTargetsGoesInWaves) {
  Listener listener("127.0.0.2", 0, 128);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  std::vector<ProbeTarget> targets;
  for (int i = 0; i < 100; ++i) {
    targets.push_back({i % 2 == 0 ? "127.0.0.2" : "127.0.0.3", listener.port()});
  }
  auto results = probe(targets, 2s, /*max_open=*/7);
  ASSERT_EQ(results.size(), 100u);
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].health, Health::kUp) << i << ": " << results[i].detail;
    EXPECT_EQ(results[i].refused, i % 2 != 0) << i << ": " << results[i].detail;
  }
}

TEST_P(ProbeMonitorTest, IntervalRepeatsTheLastProbeUntilItIsDue) {
  Listener listener("127.0.0.2", 0);
  ASSERT_TRUE(listener.error().empty()) << listener.error();
  auto monitor = create({{"port", std::to_string(listener.port())}, {"interval", "10s"}});
  ASSERT_TRUE(monitor) << monitor.error().toString();
  nodes_ = {node("n1", "127.0.0.2")};
  auto first = (*monitor)->poll(nodes_);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->front().health, Health::kUp);
  const TimePoint probed_at = first->front().at;

  listener.close();
  clock_.advance(9s);
  auto cached = (*monitor)->poll(nodes_);
  ASSERT_TRUE(cached);
  ASSERT_EQ(cached->size(), 1u);
  EXPECT_EQ(cached->front().health, Health::kUp);  // not probed again yet
  EXPECT_EQ(cached->front().at, probed_at);

  clock_.advance(1s);
  auto fresh = (*monitor)->poll(nodes_);
  ASSERT_TRUE(fresh);
  ASSERT_EQ(fresh->size(), 1u);
  EXPECT_NE(fresh->front().detail.find("service does not"), std::string::npos)
      << fresh->front().detail;  // probed again: the port is closed now
  EXPECT_EQ(fresh->front().at, clock_.now());
}

TEST_P(ProbeMonitorTest, AddressThatIsNotNumericIsUnknown) {
  const std::vector<ProbeTarget> targets{{"compute-1.example", 22}, {"", 22}, {"::1", 1}};
  auto results = probe(targets, 500ms);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].health, Health::kUnknown);
  EXPECT_NE(results[0].detail.find("not a numeric IP address"), std::string::npos);
  EXPECT_EQ(results[1].health, Health::kUnknown);
  // IPv6 works too (port 1 on ::1 refuses), unless this host has no IPv6 loopback.
  EXPECT_TRUE(results[2].refused || results[2].health == Health::kUnknown) << results[2].detail;
}

// Plain dotted quads are read without getaddrinfo; the other numeric forms it knows still work.
TEST_P(ProbeMonitorTest, TheShortNumericFormsGetaddrinfoReadsStillWork) {
  Listener up("127.0.0.1", 0);
  ASSERT_TRUE(up.error().empty()) << up.error();
  const std::vector<ProbeTarget> targets{{"127.0.0.1", up.port()},
                                         {"127.1", up.port()},
                                         {"127.0.0.1", 1},
                                         {"127.1", 1},
                                         {"127.0.0.256", 1}};
  auto results = probe(targets, 500ms);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].health, Health::kUp) << results[0].detail;
  EXPECT_FALSE(results[0].refused);
  EXPECT_EQ(results[1].health, Health::kUp) << results[1].detail;
  EXPECT_FALSE(results[1].refused);
  EXPECT_TRUE(results[2].refused) << results[2].detail;
  EXPECT_TRUE(results[3].refused) << results[3].detail;
  EXPECT_EQ(results[4].health, Health::kUnknown);
  EXPECT_NE(results[4].detail.find("not a numeric IP address"), std::string::npos);
}

TEST(ProbeAddressTest, FollowsTheInventoryKeys) {
  Node n = node("n", "10.0.0.1", {{"storage-addr", "10.1.0.1"}});
  EXPECT_EQ(probeAddress(n, "mgmt"), "10.0.0.1");
  EXPECT_EQ(probeAddress(n, "storage"), "10.1.0.1");
  EXPECT_EQ(probeAddress(n, "tenant"), "");
  n.extra["mgmt-addr"] = "10.2.0.1";
  EXPECT_EQ(probeAddress(n, "mgmt"), "10.2.0.1");
}

TEST_P(ProbeMonitorTest, RejectsBadOptions) {
  EXPECT_FALSE(create({}));  // port is required
  EXPECT_FALSE(create({{"port", "0"}}));
  EXPECT_FALSE(create({{"port", "70000"}}));
  EXPECT_FALSE(create({{"port", "22"}, {"timeout", "0"}}));
  EXPECT_FALSE(create({{"port", "22"}, {"networks", "mgmt,mgmt"}}));
  EXPECT_FALSE(create({{"port", "22"}, {"networks", "a b"}}));
  auto bad_io = create({{"port", "22"}, {"io", "select"}});
  ASSERT_FALSE(bad_io);
  EXPECT_NE(bad_io.error().message.find("io must be auto, io_uring or epoll, not 'select'"),
            std::string::npos)
      << bad_io.error().toString();
  EXPECT_TRUE(create({{"port", "22"}, {"io", "auto"}}));
  EXPECT_TRUE(create({{"port", "22"}, {"networks", "mgmt, storage"}, {"timeout", "250ms"}}));
}

std::string ioTestName(const ::testing::TestParamInfo<ProbeIo>& param) {
  return param.param == ProbeIo::kIoUring ? "io_uring" : "epoll";
}

INSTANTIATE_TEST_SUITE_P(Io, ProbeMonitorTest,
                         ::testing::Values(ProbeIo::kEpoll, ProbeIo::kIoUring), ioTestName);

TEST(ProbeRegistryTest, RegistersUnderItsName) {
  Registry registry;
  ASSERT_TRUE(registerProbeMonitor(registry));
  auto factory = registry.monitors.find("probe");
  ASSERT_TRUE(factory) << factory.error().toString();
  EXPECT_EQ((*factory)->name, "probe");
}

}  // namespace
}  // namespace fdr::drivers
