#include <malloc.h>

#include <cstdlib>

#include "app/cli.h"

int main(int argc, char** argv) {
  // One malloc arena instead of one per thread (glibc's default is up to 8 per core): the
  // daemon's few threads allocate little, but each arena keeps what its thread freed, so at
  // 10,000 nodes the monitors' arenas held ~14 MiB of peak RSS for nothing (BENCHMARKS.md).
  // An operator's MALLOC_ARENA_MAX wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) (void)::mallopt(M_ARENA_MAX, 1);
  return fdr::app::runCli(argc, argv);
}
