// Real etcd members (Debian's etcd-server) on 127.0.0.1 for the HA tests: free ports, data in a
// temp dir, ready when every member answers /health; killed by PID (SIGKILL) when the object
// dies. Header-only.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support/poll.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace fdr::testing {

class EtcdCluster {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";
  static bool available() { return ::access(kBinary, X_OK) == 0; }
  static std::string whyUnavailable() {
    return std::string(kBinary) + " is not installed (Debian package etcd-server)";
  }

  explicit EtcdCluster(int members) {
    for (int i = 0; i < members; ++i) {
      Member m;
      m.name = "m" + std::to_string(i);
      m.client_port = freePort();
      m.peer_port = freePort();
      m.dir = dir_.path() + "/" + m.name;
      std::filesystem::create_directories(m.dir);
      members_.push_back(m);
    }
    for (const Member& m : members_) {
      initial_ += (initial_.empty() ? "" : ",") + m.name +
                  "=http://127.0.0.1:" + std::to_string(m.peer_port);
    }
    for (size_t i = 0; i < members_.size(); ++i) launch(i, "new");
    ready_ = waitReady();
  }
  ~EtcdCluster() {
    for (size_t i = 0; i < members_.size(); ++i) stop(i);
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] std::string error() const {
    std::string out = "etcd did not become ready; logs:\n";
    for (const Member& m : members_)
      out += m.name + ":\n" + slurp(m.dir + "/stderr").substr(0, 4000);
    return out;
  }
  [[nodiscard]] std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const Member& m : members_) out.push_back(url(m));
    return out;
  }

  void stop(size_t i) {
    Member& m = members_.at(i);
    if (m.pid <= 0) return;
    ::kill(m.pid, SIGCONT);
    ::kill(m.pid, SIGKILL);
    ::waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }
  void start(size_t i) {
    if (members_.at(i).pid <= 0) launch(i, "existing");
  }
  void pause(size_t i) { ::kill(members_.at(i).pid, SIGSTOP); }
  void resume(size_t i) { ::kill(members_.at(i).pid, SIGCONT); }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string dir;
    pid_t pid = -1;
  };

  static std::string url(const Member& m) {
    return "http://127.0.0.1:" + std::to_string(m.client_port);
  }

  static int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    socklen_t len = sizeof sin;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0) {
      port = ntohs(sin.sin_port);
    }
    ::close(fd);
    return port;
  }

  void launch(size_t i, const std::string& state) {
    Member& m = members_[i];
    const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
    m.pid = startProcess({kBinary,
                          "--name",
                          m.name,
                          "--data-dir",
                          m.dir + "/data",
                          "--listen-client-urls",
                          url(m),
                          "--advertise-client-urls",
                          url(m),
                          "--listen-peer-urls",
                          peer,
                          "--initial-advertise-peer-urls",
                          peer,
                          "--initial-cluster",
                          initial_,
                          "--initial-cluster-state",
                          state,
                          "--initial-cluster-token",
                          "fdr-" + std::to_string(::getpid()),
                          "--heartbeat-interval",
                          "50",
                          "--election-timeout",
                          "500",
                          "--log-level",
                          "warn",
                          "--logger",
                          "zap"},
                         {{"ETCD_UNSUPPORTED_ARCH", ""}}, m.dir);
  }

  bool waitReady() {
    return pollUntil(
        std::chrono::seconds(30),
        [&] {
          for (const Member& m : members_) {
            auto r = runProcess({"/usr/bin/curl", "-sf", "--max-time", "1", url(m) + "/health"}, {},
                                m.dir + "/..");
            if (r.exit_code != 0 || r.out.find("true") == std::string::npos) return false;
          }
          return true;
        },
        std::chrono::milliseconds(100));
  }

  TempDir dir_;
  std::vector<Member> members_;
  std::string initial_;
  bool ready_ = false;
};

}  // namespace fdr::testing
