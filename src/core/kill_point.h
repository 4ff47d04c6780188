// Test-only kill points: with FDR_TEST_HOOKS compiled in and FREEZER_DR_KILL_AT=<name>[:<n>] in
// the environment, the process kills itself with SIGKILL the n-th time (default 1st) it reaches
// killPoint(<name>). The crash tests use this to stop the daemon at every journaled step.
// Without FDR_TEST_HOOKS it compiles to nothing.
#pragma once

#include <string_view>

namespace fdr::core {

#ifdef FDR_TEST_HOOKS
void killPoint(std::string_view name);
#else
inline void killPoint(std::string_view) {}
#endif

}  // namespace fdr::core
