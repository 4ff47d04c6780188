// The libvirt fencer against libvirt's own test driver (no daemon): test:///default and a
// test:///<abs path>.xml world with several "compute" domains, plus unreachable endpoints.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "drivers/fencing_harness_fixture.h"

namespace fdr::testing {
namespace {

// compute-1 and compute-2 run; compute-3 is shut off (test:runstate 5 = VIR_DOMAIN_SHUTOFF).
constexpr const char* kWorld = R"(<node>
  <domain type='test'>
    <name>compute-1</name>
    <memory>65536</memory>
    <os><type>hvm</type></os>
  </domain>
  <domain type='test'>
    <name>compute-2</name>
    <memory>65536</memory>
    <os><type>hvm</type></os>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>compute-3</name>
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
)";

Node vm(const std::string& domain) {
  Node node;
  node.hostname = domain + ".example.test";
  node.domain_name = domain;
  node.source = "servers.yml (test)";
  return node;
}

// A TCP port that accepts connections (the kernel's backlog) but never says a word.
class SilentEndpoint {
 public:
  SilentEndpoint() {
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
  ~SilentEndpoint() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class LibvirtFencerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writeFile(world_.file("world.xml"), kWorld);
    uri_ = "test://" + world_.file("world.xml");
    auto made = FencerUnderTest::make("libvirt", {{"uri", uri_}, {"timeout", "10s"}});
    ASSERT_TRUE(made) << made.error().message;
    fencer_ = std::move(*made);
  }

  TempDir world_;
  std::string uri_;
  std::unique_ptr<FencerUnderTest> fencer_;
};

TEST_F(LibvirtFencerTest, DestroysStartsAndReadsTheDomainState) {
  const Node node = vm("compute-1");
  auto state = (*fencer_)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);

  Status off = (*fencer_)->powerOff(node);
  ASSERT_TRUE(off) << off.error().message;
  auto now = waitForPower(**fencer_, node, PowerState::kOff);
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_EQ(*now, PowerState::kOff);

  Status again = (*fencer_)->powerOff(node);  // "domain is not running": already off is fine
  EXPECT_TRUE(again) << again.error().message;

  Status on = (*fencer_)->powerOn(node);
  ASSERT_TRUE(on) << on.error().message;
  now = waitForPower(**fencer_, node, PowerState::kOn);
  ASSERT_TRUE(now);
  EXPECT_EQ(*now, PowerState::kOn);
  Status on_again = (*fencer_)->powerOn(node);  // already running is fine too
  EXPECT_TRUE(on_again) << on_again.error().message;

  auto other = (*fencer_)->powerStatus(vm("compute-2"));
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, PowerState::kOn);
}

TEST_F(LibvirtFencerTest, AShutOffDomainReadsOffAndStarts) {
  const Node node = vm("compute-3");
  auto state = (*fencer_)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOff);
  ASSERT_TRUE(succeeded((*fencer_)->powerOn(node)));
  auto on = waitForPower(**fencer_, node, PowerState::kOn);
  ASSERT_TRUE(on);
  EXPECT_EQ(*on, PowerState::kOn);
}

TEST_F(LibvirtFencerTest, AnUnknownDomainIsNotFoundAndNamed) {
  auto state = (*fencer_)->powerStatus(vm("compute-9"));
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kNotFound) << state.error().message;
  EXPECT_NE(state.error().message.find("compute-9.example.test"), std::string::npos);
  EXPECT_NE(state.error().message.find(uri_), std::string::npos) << state.error().message;
  Status off = (*fencer_)->powerOff(vm("compute-9"));
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kNotFound);
}

TEST_F(LibvirtFencerTest, ANodeWithoutDomainNameIsInvalid) {
  Node node = vm("compute-1");
  node.domain_name.clear();
  auto state = (*fencer_)->powerStatus(node);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(state.error().message.find("domain-name"), std::string::npos);
}

TEST_F(LibvirtFencerTest, APerNodeUriOverridesTheDriverUri) {
  auto made = FencerUnderTest::make("libvirt", {{"uri", "test:///default"}});
  ASSERT_TRUE(made) << made.error().message;
  Node node = vm("compute-2");
  node.extra["libvirt-uri"] = uri_;
  ASSERT_TRUE(succeeded((**made)->powerOff(node)));
  auto state = (**made)->powerStatus(node);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOff);
  // test:///default has its own domain "test", running.
  auto builtin = (**made)->powerStatus(vm("test"));
  ASSERT_TRUE(builtin) << builtin.error().message;
  EXPECT_EQ(*builtin, PowerState::kOn);
}

TEST(LibvirtFencerUnreachable, ARefusedConnectionIsUnavailable) {
  const int port = freeTcpPort();
  auto made = FencerUnderTest::make(
      "libvirt",
      {{"uri", "qemu+tcp://127.0.0.1:" + std::to_string(port) + "/system"}, {"timeout", "5s"}});
  ASSERT_TRUE(made) << made.error().message;
  Status off = (**made)->powerOff(vm("compute-1"));
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kUnavailable) << off.error().message;
  EXPECT_NE(off.error().message.find("compute-1.example.test"), std::string::npos);
}

TEST(LibvirtFencerUnreachable, AnEndpointThatNeverAnswersTimesOut) {
  SilentEndpoint silent;
  ASSERT_GT(silent.port(), 0);
  auto made = FencerUnderTest::make(
      "libvirt", {{"uri", "qemu+tcp://127.0.0.1:" + std::to_string(silent.port()) + "/system"},
                  {"timeout", "1s"}});
  ASSERT_TRUE(made) << made.error().message;
  auto state = (**made)->powerStatus(vm("compute-1"));
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kTimedOut) << state.error().message;
  EXPECT_TRUE(state.error().retryable);
  Status off = (**made)->powerOff(vm("compute-1"));
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, ErrorCode::kTimedOut) << off.error().message;
}

TEST(LibvirtFencerOptions, TheOriginalNameOptionAndClassPathWork) {
  auto made = FencerUnderTest::make("freezer_dr.fencers.drivers.libvirt.driver.LibvirtDriver",
                                    {{"name", "test:///default"}});
  ASSERT_TRUE(made) << made.error().message;
  auto state = (**made)->powerStatus(vm("test"));
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(*state, PowerState::kOn);

  auto both =
      FencerUnderTest::make("libvirt", {{"name", "test:///default"}, {"uri", "qemu:///system"}});
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace fdr::testing
