// The TCP isolation check against loopback sockets: a listener answers, a closed port answers
// with a reset (the host is reachable), an address the kernel refuses to send to is not.
#include "drivers/isolation/tcp/tcp_isolation_check.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fdr::drivers {
namespace {

using namespace std::chrono_literals;

// A loopback TCP socket on an ephemeral port; listening or merely bound (a closed port).
class LoopbackPort {
 public:
  explicit LoopbackPort(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t size = sizeof(addr);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size), 0);
    port_ = ntohs(addr.sin_port);
    if (listen) {
      EXPECT_EQ(::listen(fd_, 8), 0);
    }
  }
  ~LoopbackPort() { ::close(fd_); }
  LoopbackPort(const LoopbackPort&) = delete;
  LoopbackPort& operator=(const LoopbackPort&) = delete;
  [[nodiscard]] int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(TcpIsolationCheck, AListenerAndAClosedPortAreReachableABroadcastIsNot) {
  LoopbackPort listening(true);
  LoopbackPort closed(false);  // bound, not listening: the kernel answers with a reset
  TcpIsolationCheck check({{"127.0.0.1", listening.port()},
                           {"127.0.0.1", closed.port()},
                           {"255.255.255.255", 9}},  // no SO_BROADCAST: refused locally
                          2s);
  EXPECT_EQ(check.size(), 3u);
  const auto results = check.probe();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].name, "127.0.0.1:" + std::to_string(listening.port()));
  EXPECT_TRUE(results[0].reachable) << results[0].detail;
  EXPECT_EQ(results[0].detail, "connected");
  EXPECT_TRUE(results[1].reachable) << results[1].detail;
  EXPECT_EQ(results[1].detail, "refused (the host answered)");
  EXPECT_FALSE(results[2].reachable) << results[2].detail;
  EXPECT_FALSE(results[2].detail.empty());
}

TEST(TcpIsolationCheck, ParsesAddressAndPort) {
  auto v4 = parseReferencePoint("10.1.2.3:22");
  ASSERT_TRUE(v4.has_value()) << v4.error().message;
  EXPECT_EQ(v4->address, "10.1.2.3");
  EXPECT_EQ(v4->port, 22);
  auto v6 = parseReferencePoint("[::1]:8774");
  ASSERT_TRUE(v6.has_value()) << v6.error().message;
  EXPECT_EQ(v6->address, "::1");
  EXPECT_EQ(v6->name(), "[::1]:8774");
  for (const char* bad : {"10.1.2.3", "10.1.2.3:", "10.1.2.3:0", "10.1.2.3:65536", "::1:22",
                          "[::1]22", "gw.example:22", ":22", "10.1.2.3:2x"}) {
    auto parsed = parseReferencePoint(bad);
    EXPECT_FALSE(parsed.has_value()) << bad;
    if (!parsed) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace fdr::drivers
