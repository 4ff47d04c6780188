// The freezer-dr command line: run, check, validate, status, confirm-fenced.
#pragma once

namespace fdr::app {

// Runs the command line; returns the process exit code:
// 0 success / nothing failed; 1 bad config or usage; 2 runtime error (journal, lock);
// 3 (check) a failed node needs an operator (fence failed, vetoed by a guard).
int runCli(int argc, char** argv);

}  // namespace fdr::app
