// Helpers for the notifier tests' real servers (header-only, so that tests/lab can use them
// too): a child process whose stdout is read line by line (readiness without sleeps), a TCP
// listener that never answers (timeouts), a port nobody listens on, a self-signed certificate.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace fdr::testing {

// The repository's root: $FDR_SOURCE_DIR (set by ctest), else found from this file's path.
inline std::string sourceDir() {
  const char* dir = std::getenv("FDR_SOURCE_DIR");  // NOLINT(concurrency-mt-unsafe)
  if (dir != nullptr && *dir != '\0') return dir;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

// Debian's interpreter: the one python3-aiosmtpd is installed for (not a pyenv shim on PATH).
inline constexpr const char* kPython = "/usr/bin/python3";

// True when something accepts TCP connections on 127.0.0.1:`port`.
inline bool canConnect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A loopback TCP socket bound to a free port. listen(): connections complete (in the kernel's
// backlog) but nobody ever reads or writes: a server that hangs. Without listen(): the port is
// held, and connecting to it is refused: a server that is down.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listening) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
    if (listening && listen(fd_, 16) != 0) return;
    socklen_t len = sizeof(addr);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port_ = ntohs(addr.sin_port);
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;
  [[nodiscard]] int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A child process started from argv, stdout in a pipe, stderr in a file; stopped by its PID.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool start(const std::vector<std::string>& argv, const std::string& stderr_path,
             std::string* error) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      *error = "pipe failed";
      return false;
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
    if (rc != 0) {
      pid_ = -1;
      *error = "cannot start " + argv[0];
      return false;
    }
    return true;
  }

  // The next line the child writes to stdout, waiting at most `limit`; nullopt on EOF (the
  // child exited) or when the limit passes.
  std::optional<std::string> readLine(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      if (const size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const ssize_t n = read(out_, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // SIGTERM to the PID, then waits for it (SIGKILL if it is still there after 10 s).
  void stop() {
    if (pid_ > 0) {
      const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
      kill(pid_, SIGTERM);
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        if (poll(&p, 1, 10'000) == 0) kill(pid_, SIGKILL);
        close(pidfd);
      }
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (out_ >= 0) {
      close(out_);
      out_ = -1;
    }
  }

  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

// Starts `argv`, waits for its "listening on 127.0.0.1:PORT" line and for the port to accept a
// connection. Returns the port, or 0 with `error` set.
inline int startServer(ChildProcess& child, const std::vector<std::string>& argv,
                       const std::string& stderr_path, std::string* error) {
  if (!child.start(argv, stderr_path, error)) return 0;
  while (auto line = child.readLine(std::chrono::seconds(30))) {
    const size_t at = line->find("listening on 127.0.0.1:");
    if (at == std::string::npos) continue;
    const int port = std::atoi(line->c_str() + at + std::string("listening on 127.0.0.1:").size());
    if (port > 0 && canConnect(port)) return port;
    *error = "the server said '" + *line + "' but does not accept connections";
    return 0;
  }
  *error = argv.at(1) + " did not start: " + slurp(stderr_path);
  return 0;
}

// A self-signed certificate for 127.0.0.1 and localhost (openssl), in `dir`.
struct TestCertificate {
  std::string cert;
  std::string key;
  std::string error;
};

inline TestCertificate makeCertificate(const TempDir& dir) {
  TestCertificate out{dir.file("cert.pem"), dir.file("key.pem"), ""};
  const ProcessResult r = runProcess(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", out.key, "-out", out.cert, "-days", "2",
       "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
      {}, dir.path());
  if (r.exit_code != 0) out.error = "openssl req failed: " + r.err;
  return out;
}

}  // namespace fdr::testing
