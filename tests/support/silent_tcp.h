// Loopback TCP endpoints that fail the way real ones do, for end-to-end tests. Header-only.
//
// SilentServer: accepts every connection, reads and discards what it is sent, never answers:
// a hung server process (a Nova API worker stuck on its database, a mail server stopped).
//
// BlackholePort: a listener whose accept queue is full (backlog 0, one connection queued and
// never accepted), so the kernel drops every further SYN: connects get no answer at all and time
// out, as towards a host or path black-holed by a firewall. open() starts accepting: the path is
// back.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fdr::testing {

// A listening socket on `ip` (any 127/8 address works on Linux) and `port` (0: a free one);
// error() says why not.
class LoopbackListener {
 public:
  explicit LoopbackListener(int backlog, std::string ip = "127.0.0.1", int port = 0)
      : ip_(std::move(ip)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      error_ = std::string("socket: ") + std::strerror(errno);
      return;
    }
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port));
    socklen_t length = sizeof sin;
    if (::inet_pton(AF_INET, ip_.c_str(), &sin.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
        ::listen(fd_, backlog) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &length) != 0) {
      error_ = "bind/listen on " + ip_ + ":" + std::to_string(port) + ": " + std::strerror(errno);
      return;
    }
    port_ = ntohs(sin.sin_port);
  }
  ~LoopbackListener() { close(); }
  // Stops listening: connects to the port are refused from now on.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] const std::string& ip() const { return ip_; }
  [[nodiscard]] std::string address() const { return ip_ + ":" + std::to_string(port_); }

 private:
  std::string ip_;
  int fd_ = -1;
  int port_ = 0;
  std::string error_;
};

// Accepts on `listener` until stopped, handing each connection to `serve` (which owns the fd).
// Polls with a short timeout so that a stop is seen promptly.
template <class Serve>
void acceptLoop(const std::stop_token& stop, int listen_fd, Serve serve) {
  while (!stop.stop_requested()) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) serve(fd);
  }
}

class SilentServer {
 public:
  SilentServer() : listener_(64) {
    if (!listener_.error().empty()) return;
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
  }
  ~SilentServer() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
    for (const int fd : held_) ::close(fd);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  [[nodiscard]] bool ok() const { return listener_.error().empty(); }
  [[nodiscard]] const std::string& error() const { return listener_.error(); }
  [[nodiscard]] int port() const { return listener_.port(); }
  [[nodiscard]] std::string address() const { return listener_.address(); }
  // Connections accepted so far, and bytes received on them (requests that got no answer).
  [[nodiscard]] int connections() const { return connections_.load(); }
  [[nodiscard]] long bytesReceived() const { return bytes_.load(); }

 private:
  void run(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      std::vector<pollfd> fds;
      fds.push_back({listener_.fd(), POLLIN, 0});
      for (const int fd : held_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if ((fds[0].revents & POLLIN) != 0) {
        const int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          held_.push_back(fd);
          connections_.fetch_add(1);
        }
      }
      std::vector<int> still;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          still.push_back(fds[i].fd);
          continue;
        }
        char buffer[4096];
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
          bytes_.fetch_add(n);
          still.push_back(fds[i].fd);
        } else {
          ::close(fds[i].fd);  // the client gave up
        }
      }
      held_ = std::move(still);
    }
  }

  LoopbackListener listener_;
  std::vector<int> held_;  // the thread's own
  std::atomic<int> connections_{0};
  std::atomic<long> bytes_{0};
  std::jthread thread_;  // last: stopped before the rest goes
};

class BlackholePort {
 public:
  // On `ip`:`port` (0: a free port).
  explicit BlackholePort(std::string ip = "127.0.0.1", int port = 0)
      : listener_(0, std::move(ip), port) {
    if (!listener_.error().empty()) return;
    // The one connection the queue holds: from now on SYNs find it full and are dropped.
    filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    ::inet_pton(AF_INET, listener_.ip().c_str(), &sin.sin_addr);
    sin.sin_port = htons(static_cast<uint16_t>(listener_.port()));
    if (filler_ < 0 || ::connect(filler_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
      error_ = std::string("connect to fill the accept queue: ") + std::strerror(errno);
    }
  }
  ~BlackholePort() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
    if (filler_ >= 0) ::close(filler_);
  }
  BlackholePort(const BlackholePort&) = delete;
  BlackholePort& operator=(const BlackholePort&) = delete;

  [[nodiscard]] bool ok() const { return listener_.error().empty() && error_.empty(); }
  [[nodiscard]] std::string error() const { return listener_.error() + error_; }
  [[nodiscard]] int port() const { return listener_.port(); }
  [[nodiscard]] std::string address() const { return listener_.address(); }
  [[nodiscard]] int accepted() const { return accepted_.load(); }

  // The path is back: every connection is accepted (and closed) from now on.
  void open() {
    if (thread_.joinable()) return;
    thread_ = std::jthread([this](const std::stop_token& stop) {
      acceptLoop(stop, listener_.fd(), [this](int fd) {
        accepted_.fetch_add(1);
        ::close(fd);
      });
    });
  }

 private:
  LoopbackListener listener_;
  int filler_ = -1;
  std::string error_;
  std::atomic<int> accepted_{0};
  std::jthread thread_;
};

}  // namespace fdr::testing
