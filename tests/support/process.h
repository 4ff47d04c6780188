// Runs the freezer-dr binary (or any program) as a child process for end-to-end tests:
// arguments and extra environment in, exit status and output out. Header-only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace fdr::testing {

struct ProcessResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal killed it
  std::string out;     // stdout
  std::string err;     // stderr
};

inline std::string binaryPath() {
  const char* path = std::getenv("FDR_BINARY");
  return path != nullptr ? path : "freezer-dr";
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts `argv` with `env` added to this process's environment; stdout/stderr go to files in
// `dir`. Returns the pid, or -1.
inline pid_t startProcess(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env, const std::string& dir) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    if (env.contains(entry.substr(0, entry.find('=')))) continue;
    env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, (dir + "/stdout").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, (dir + "/stderr").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

inline ProcessResult waitProcess(pid_t pid, const std::string& dir) {
  ProcessResult result;
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }
  result.out = slurp(dir + "/stdout");
  result.err = slurp(dir + "/stderr");
  return result;
}

inline ProcessResult runProcess(const std::vector<std::string>& argv,
                                const std::map<std::string, std::string>& env,
                                const std::string& dir) {
  return waitProcess(startProcess(argv, env, dir), dir);
}

}  // namespace fdr::testing
