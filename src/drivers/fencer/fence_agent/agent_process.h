// Runs one child process with data on its stdin, its output captured, and a time limit that
// kills its whole process group. Used by the fence-agent bridge; no shell is involved.
#pragma once

#include <string>
#include <vector>

#include "freezer/clock.h"
#include "freezer/result.h"

namespace fdr::drivers {

struct ProcessRun {
  std::vector<std::string> argv;  // argv[0] is the program's path (not searched in PATH)
  std::vector<std::string> env;   // "KEY=value", added to (and overriding) the inherited ones
  std::string stdin_data;         // written to the child's stdin, which is then closed
  Duration timeout{0};            // the child's process group is SIGKILLed at this point
  size_t max_output_bytes = size_t{256} * 1024;  // per stream; the rest is read and dropped
};

struct ProcessOutcome {
  bool timed_out = false;  // killed by us at the timeout
  int exit_code = -1;      // when it exited normally
  int signal = 0;          // when a signal ended it (SIGKILL when timed_out)
  std::string out;
  std::string err;
};

// Starts argv[0] in a new process group with stdin/stdout/stderr connected to us and every
// other descriptor closed. Returns when the child has exited (or been killed at the timeout)
// and has been reaped; whatever else is left in its process group is SIGKILLed then too.
// Errors: kNotFound / kPermissionDenied when the program cannot be started, kUnavailable for
// other system failures. Thread-safe.
Result<ProcessOutcome> runProcess(const ProcessRun& run);

}  // namespace fdr::drivers
