#include "drivers/fencer/fence_agent/agent_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <utility>

extern char** environ;  // NOLINT: POSIX

namespace fdr::drivers {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string errnoText(int err) {
  return std::strerror(err);
}

Error systemError(const std::string& what, int err) {
  return {ErrorCode::kUnavailable, what + ": " + errnoText(err), true};
}

// The inherited environment with `overrides` applied ("KEY=value" each).
std::vector<std::string> environment(const std::vector<std::string>& overrides) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    vars[entry.substr(0, entry.find('='))] = entry;
  }
  for (const std::string& entry : overrides) vars[entry.substr(0, entry.find('='))] = entry;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [key, entry] : vars) out.push_back(std::move(entry));
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Reads what is there; returns false at end of file (or on an error other than "try again").
bool drain(int fd, std::string& into, size_t limit) {
  std::array<char, 8192> buffer{};
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      const size_t room = limit > into.size() ? limit - into.size() : 0;
      into.append(buffer.data(), std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

int pidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}

bool hasExited(pid_t pid) {  // without reaping it
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

}  // namespace

Result<ProcessOutcome> runProcess(const ProcessRun& run) {
  if (run.argv.empty()) return fail(ErrorCode::kInternal, "runProcess: empty argv");
  const std::string& program = run.argv.front();

  // stdin is a socket so that writing to a child that stopped reading gives EPIPE, not SIGPIPE.
  std::array<int, 2> in_pair{-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair.data()) != 0) {
    return std::unexpected(systemError(program + ": socketpair", errno));
  }
  Fd in_parent(in_pair[0]);
  Fd in_child(in_pair[1]);
  std::array<int, 2> out_pipe{-1, -1};
  std::array<int, 2> err_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
    return std::unexpected(systemError(program + ": pipe", errno));
  }
  Fd out_parent(out_pipe[0]);
  Fd out_child(out_pipe[1]);
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    return std::unexpected(systemError(program + ": pipe", errno));
  }
  Fd err_parent(err_pipe[0]);
  Fd err_child(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in_child.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_child.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_child.get(), STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills all it started
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> argv_strings = run.argv;
  std::vector<std::string> env_strings = environment(run.env);
  std::vector<char*> argv = pointers(argv_strings);
  std::vector<char*> envp = pointers(env_strings);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    const ErrorCode code = spawned == ENOENT                       ? ErrorCode::kNotFound
                           : spawned == EACCES || spawned == EPERM ? ErrorCode::kPermissionDenied
                                                                   : ErrorCode::kUnavailable;
    return fail(code, program + ": cannot run: " + errnoText(spawned),
                code == ErrorCode::kUnavailable);
  }
  in_child.reset();
  out_child.reset();
  err_child.reset();
  for (int fd : {in_parent.get(), out_parent.get(), err_parent.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  Fd pidfd(pidfdOpen(pid));

  ProcessOutcome outcome;
  const auto deadline = SteadyClock::now() + run.timeout;
  auto drain_deadline = deadline;
  size_t written = 0;
  bool exited = false;
  if (run.stdin_data.empty()) in_parent.reset();
  while (!(exited && !out_parent.valid() && !err_parent.valid())) {
    const auto now = SteadyClock::now();
    const auto until = exited ? drain_deadline : deadline;
    if (now >= until) break;
    std::vector<pollfd> fds;
    int in_index = -1;
    int out_index = -1;
    int err_index = -1;
    int pid_index = -1;
    if (in_parent.valid()) {
      in_index = static_cast<int>(fds.size());
      fds.push_back({in_parent.get(), POLLOUT, 0});
    }
    if (out_parent.valid()) {
      out_index = static_cast<int>(fds.size());
      fds.push_back({out_parent.get(), POLLIN, 0});
    }
    if (err_parent.valid()) {
      err_index = static_cast<int>(fds.size());
      fds.push_back({err_parent.get(), POLLIN, 0});
    }
    if (!exited && pidfd.valid()) {
      pid_index = static_cast<int>(fds.size());
      fds.push_back({pidfd.get(), POLLIN, 0});
    }
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1;
    if (!exited && !pidfd.valid()) wait_ms = std::min<int64_t>(wait_ms, 20);  // no pidfd: poll
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
    if (ready < 0 && errno != EINTR) {
      const int err = errno;
      ::kill(-pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return std::unexpected(systemError(program + ": poll", err));
    }
    if (in_index >= 0 && fds[in_index].revents != 0) {
      const ssize_t n = ::send(in_parent.get(), run.stdin_data.data() + written,
                               run.stdin_data.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == run.stdin_data.size()) {
        in_parent.reset();  // all sent (EOF for the child), or it stopped reading
      }
    }
    if (out_index >= 0 && fds[out_index].revents != 0 &&
        !drain(out_parent.get(), outcome.out, run.max_output_bytes)) {
      out_parent.reset();
    }
    if (err_index >= 0 && fds[err_index].revents != 0 &&
        !drain(err_parent.get(), outcome.err, run.max_output_bytes)) {
      err_parent.reset();
    }
    const bool now_exited = pid_index >= 0 ? fds[pid_index].revents != 0
                                           : (!exited && !pidfd.valid() && hasExited(pid));
    if (now_exited && !exited) {
      exited = true;
      in_parent.reset();
      // Whatever it left behind in its group goes too. The leader is a zombie until reaped
      // below, so its pid (= the group id) cannot have been reused.
      ::kill(-pid, SIGKILL);
      // Output still buffered in the pipes is read; a process that left the group and holds
      // them open is not waited for long.
      drain_deadline = std::min(deadline, SteadyClock::now() + std::chrono::seconds(1));
    }
  }
  if (!exited && !hasExited(pid)) {
    outcome.timed_out = true;
  }
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::unexpected(systemError(program + ": waitpid", errno));
  }
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

}  // namespace fdr::drivers
