#include "drivers/isolation/tcp/tcp_isolation_check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace fdr::drivers {
namespace {

// Fills `addr` from a numeric address; nullopt when it is neither IPv4 nor IPv6.
std::optional<socklen_t> toSockaddr(const TcpReferencePoint& point, sockaddr_storage& addr) {
  std::memset(&addr, 0, sizeof(addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  if (::inet_pton(AF_INET, point.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(point.port));
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET6, point.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(point.port));
    return sizeof(sockaddr_in6);
  }
  return std::nullopt;
}

// The verdict of a finished connect: errno 0 (connected) or the socket's error.
void settle(ReferencePointResult& result, int error) {
  if (error == 0) {
    result.reachable = true;
    result.detail = "connected";
  } else if (error == ECONNREFUSED) {
    result.reachable = true;  // the host answered with a reset: the path works
    result.detail = "refused (the host answered)";
  } else {
    result.reachable = false;
    result.detail = std::strerror(error);
  }
}

}  // namespace

std::string TcpReferencePoint::name() const {
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

Result<TcpReferencePoint> parseReferencePoint(std::string_view text) {
  TcpReferencePoint point;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("'{}': an IPv6 reference point is written [ADDRESS]:PORT", text));
    }
    point.address = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("'{}': expected ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", text));
    }
    point.address = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || value > 65535) {
      value = -1;
      break;
    }
    value = value * 10 + (c - '0');
  }
  if (port.empty() || value < 1 || value > 65535) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("'{}': the port must be a number from 1 to 65535", text));
  }
  point.port = value;
  sockaddr_storage addr{};
  if (!toSockaddr(point, addr)) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("'{}': '{}' is not a numeric IPv4 or IPv6 address (names are not "
                            "resolved: a cut-off controller may not reach DNS)",
                            text, point.address));
  }
  return point;
}

std::vector<ReferencePointResult> TcpIsolationCheck::probe() {
  std::vector<ReferencePointResult> results(points_.size());
  std::vector<pollfd> pending;     // sockets still connecting
  std::vector<size_t> pending_of;  // index into results, per pending entry
  for (size_t i = 0; i < points_.size(); ++i) {
    ReferencePointResult& result = results[i];
    result.name = points_[i].name();
    sockaddr_storage addr{};
    const auto length = toSockaddr(points_[i], addr);
    if (!length) {
      result.detail = "not a numeric address";
      continue;
    }
    const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      result.detail = std::string("cannot open a socket: ") + std::strerror(errno);
      continue;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), *length) == 0) {
      settle(result, 0);
      ::close(fd);
      continue;
    }
    if (errno != EINPROGRESS) {
      settle(result, errno);
      ::close(fd);
      continue;
    }
    pending.push_back({.fd = fd, .events = POLLOUT, .revents = 0});
    pending_of.push_back(i);
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  size_t open = pending.size();
  while (open > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const int ready = ::poll(pending.data(), pending.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    for (size_t k = 0; k < pending.size(); ++k) {
      if (pending[k].fd < 0 || pending[k].revents == 0) continue;
      int error = 0;
      socklen_t size = sizeof(error);
      if (::getsockopt(pending[k].fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
      settle(results[pending_of[k]], error);
      ::close(pending[k].fd);
      pending[k].fd = -1;  // poll() ignores negative descriptors
      open -= 1;
    }
  }
  for (size_t k = 0; k < pending.size(); ++k) {
    if (pending[k].fd < 0) continue;
    ::close(pending[k].fd);
    results[pending_of[k]].reachable = false;
    results[pending_of[k]].detail =
        fmt::format("no answer within {} ms", std::chrono::milliseconds(timeout_).count());
  }
  return results;
}

}  // namespace fdr::drivers
