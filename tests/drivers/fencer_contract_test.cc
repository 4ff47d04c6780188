// The Fencer contract, run over every fencer against its real (or simulated) component:
//   fake         the in-memory power table (through the registry, by name)
//   ipmi         OpenIPMI ipmi_sim BMCs
//   fence-agent  fence_ipmilan against ipmi_sim BMCs
//   libvirt      libvirt's test driver (a test:///<world>.xml with several domains)
//   redfish      the simulated Redfish BMC over HTTPS with its own CA
// status on -> off -> status off; off again is fine; on -> status on; an unreachable BMC is an
// error within the driver's timeout, not a hang, and no message shows a password.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>

#include <gtest/gtest.h>

#include "drivers/fencing_harness_fixture.h"
#include "drivers/ipmi_sim_fixture.h"
#include "drivers/redfish_bmc_fixture.h"

namespace fdr::testing {
namespace {

constexpr const char* kUnreachablePassword = "Unr3achable-Pw";

// One fencer with what it fences: a reachable node (powered on at the start) and a node whose
// BMC does not answer.
class World {
 public:
  virtual ~World() = default;
  [[nodiscard]] virtual std::string ready() const { return ""; }  // empty: ready
  // A fencer whose calls are bounded by `timeout`.
  virtual Result<std::unique_ptr<FencerUnderTest>> fencer(const std::string& timeout) = 0;
  [[nodiscard]] virtual Node node() const = 0;
  [[nodiscard]] virtual Node unreachable() const = 0;
};

class FakeWorld final : public World {
 public:
  Result<std::unique_ptr<FencerUnderTest>> fencer(const std::string&) override {
    return FencerUnderTest::make("fake", {{"fail", "dead-host"}, {"unknown", "dead-host"}});
  }
  [[nodiscard]] Node node() const override {
    Node n;
    n.hostname = "compute-1";
    return n;
  }
  [[nodiscard]] Node unreachable() const override {
    Node n;
    n.hostname = "dead-host";
    n.fencer_password = Secret(kUnreachablePassword);
    return n;
  }
};

// BMC 0 answers; BMC 1 is frozen (SIGSTOP): it receives packets and never answers.
class IpmiWorld : public World {
 public:
  IpmiWorld() {
    if (bmcs_.ok()) bmcs_.freeze(1);
  }
  [[nodiscard]] std::string ready() const override { return bmcs_.error(); }
  Result<std::unique_ptr<FencerUnderTest>> fencer(const std::string& timeout) override {
    return FencerUnderTest::make("ipmi", {{"timeout", timeout}, {"workarounds", "opensesspriv"}});
  }
  [[nodiscard]] Node node() const override { return bmcs_.node(0); }
  [[nodiscard]] Node unreachable() const override {
    Node n = bmcs_.node(1);
    n.fencer_password = Secret(kUnreachablePassword);
    return n;
  }

 protected:
  IpmiSimBmcs bmcs_{2};
};

class FenceIpmilanWorld final : public IpmiWorld {
 public:
  Result<std::unique_ptr<FencerUnderTest>> fencer(const std::string& timeout) override {
    return FencerUnderTest::make("fence-agent",
                                 {{"agent", "fence_ipmilan"},
                                  {"timeout", timeout},
                                  {"agent-options", "lanplus=1, cipher=3, power_wait=0"}});
  }
};

// A TCP port that accepts connections but never answers.
class SilentPort {
 public:
  SilentPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~SilentPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
  [[nodiscard]] int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class LibvirtWorld final : public World {
 public:
  LibvirtWorld() {
    writeFile(dir_.file("world.xml"),
              "<node>\n"
              "  <domain type='test'><name>compute-1</name><memory>65536</memory>"
              "<os><type>hvm</type></os></domain>\n"
              "  <domain type='test'><name>compute-2</name><memory>65536</memory>"
              "<os><type>hvm</type></os></domain>\n"
              "</node>\n");
  }
  [[nodiscard]] std::string ready() const override {
    return silent_.port() > 0 ? "" : "no silent port";
  }
  Result<std::unique_ptr<FencerUnderTest>> fencer(const std::string& timeout) override {
    return FencerUnderTest::make(
        "libvirt", {{"uri", "test://" + dir_.file("world.xml")}, {"timeout", timeout}});
  }
  [[nodiscard]] Node node() const override {
    Node n;
    n.hostname = "compute-1";
    n.domain_name = "compute-1";
    return n;
  }
  [[nodiscard]] Node unreachable() const override {
    Node n;
    n.hostname = "compute-2";
    n.domain_name = "compute-2";
    n.fencer_password = Secret(kUnreachablePassword);
    n.extra["libvirt-uri"] = "qemu+tcp://127.0.0.1:" + std::to_string(silent_.port()) + "/system";
    return n;
  }

 private:
  TempDir dir_;
  SilentPort silent_;
};

// One BMC answers; the other hangs on every request.
class RedfishWorld final : public World {
 public:
  RedfishWorld() {
    if (hanging_.ok()) hanging_.setMode("hang");
  }
  [[nodiscard]] std::string ready() const override { return bmc_.error() + hanging_.error(); }
  Result<std::unique_ptr<FencerUnderTest>> fencer(const std::string& timeout) override {
    return FencerUnderTest::make("redfish", {{"timeout", timeout}});
  }
  [[nodiscard]] Node node() const override { return bmc_.node("compute-1"); }
  [[nodiscard]] Node unreachable() const override {
    Node n = hanging_.node("compute-2");
    n.fencer_password = Secret(kUnreachablePassword);
    return n;
  }

 private:
  RedfishBmc bmc_;
  RedfishBmc hanging_;
};

struct Case {
  std::string name;
  std::function<std::unique_ptr<World>()> make;
  std::string timeout;  // generous: what a normal call may need
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.name;
}

class FencerContractTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    world_ = GetParam().make();
    ASSERT_EQ(world_->ready(), "");
  }
  std::unique_ptr<World> world_;
};

TEST_P(FencerContractTest, OffIsReadBackOffAndOnIsReadBackOn) {
  auto fencer = world_->fencer(GetParam().timeout);
  ASSERT_TRUE(fencer) << fencer.error().message;
  Fencer& f = (*fencer)->get();
  const Node node = world_->node();

  auto before = waitForPower(f, node, PowerState::kOn);
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_EQ(*before, PowerState::kOn);

  Status off = f.powerOff(node);
  ASSERT_TRUE(off) << off.error().message;
  auto after = waitForPower(f, node, PowerState::kOff);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(*after, PowerState::kOff);

  Status again = f.powerOff(node);
  EXPECT_TRUE(again) << "powerOff of a node already off: " << again.error().message;
  auto still = f.powerStatus(node);
  ASSERT_TRUE(still) << still.error().message;
  EXPECT_EQ(*still, PowerState::kOff);

  Status on = f.powerOn(node);
  ASSERT_TRUE(on) << on.error().message;
  auto back = waitForPower(f, node, PowerState::kOn);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, PowerState::kOn);
}

TEST_P(FencerContractTest, AnUnreachableBmcIsAnErrorNotAHang) {
  auto fencer = world_->fencer("2s");
  ASSERT_TRUE(fencer) << fencer.error().message;
  Fencer& f = (*fencer)->get();
  const Node node = world_->unreachable();

  auto state = f.powerStatus(node);
  ASSERT_FALSE(state) << "powerStatus of an unreachable node said " << toString(*state);
  Status off = f.powerOff(node);
  ASSERT_FALSE(off) << "powerOff of an unreachable node succeeded";
  Status on = f.powerOn(node);
  ASSERT_FALSE(on) << "powerOn of an unreachable node succeeded";
  for (const Error& error : {state.error(), off.error(), on.error()}) {
    EXPECT_TRUE(error.code == ErrorCode::kTimedOut || error.code == ErrorCode::kUnavailable)
        << error.toString();
    EXPECT_TRUE(error.retryable) << error.toString();
    EXPECT_NE(error.message.find(node.hostname), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find(kUnreachablePassword), std::string::npos) << error.message;
  }
  // The reachable node is unaffected.
  auto fine = f.powerStatus(world_->node());
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(*fine, PowerState::kOn);
}

INSTANTIATE_TEST_SUITE_P(
    AllFencers, FencerContractTest,
    ::testing::Values(Case{"fake", [] { return std::make_unique<FakeWorld>(); }, "5s"},
                      Case{"ipmi", [] { return std::make_unique<IpmiWorld>(); }, "5s"},
                      Case{"fence_ipmilan", [] { return std::make_unique<FenceIpmilanWorld>(); },
                           "30s"},
                      Case{"libvirt", [] { return std::make_unique<LibvirtWorld>(); }, "10s"},
                      Case{"redfish", [] { return std::make_unique<RedfishWorld>(); }, "10s"}),
    [](const ::testing::TestParamInfo<Case>& param) { return param.param.name; });

}  // namespace
}  // namespace fdr::testing
