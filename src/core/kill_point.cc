#include "core/kill_point.h"

#ifdef FDR_TEST_HOOKS

#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string>

#include <unistd.h>

namespace fdr::core {
namespace {

struct KillSpec {
  std::string name;
  long count = 1;
  long hits = 0;
};

KillSpec* spec() {
  static KillSpec* loaded = [] {
    const char* env = std::getenv("FREEZER_DR_KILL_AT");
    if (env == nullptr || *env == '\0') return static_cast<KillSpec*>(nullptr);
    auto* s = new KillSpec;  // lives for the process: read on every kill point
    std::string value = env;
    if (auto colon = value.rfind(':'); colon != std::string::npos) {
      char* end = nullptr;
      const long n = std::strtol(value.c_str() + colon + 1, &end, 10);
      if (end != nullptr && *end == '\0' && n > 0) {
        s->count = n;
        value.resize(colon);
      }
    }
    s->name = value;
    return s;
  }();
  return loaded;
}

std::mutex mutex;

}  // namespace

void killPoint(std::string_view name) {
  KillSpec* s = spec();
  if (s == nullptr || s->name != name) return;
  std::lock_guard lock(mutex);
  if (++s->hits == s->count) {
    ::kill(::getpid(), SIGKILL);
    ::_exit(137);  // not reached
  }
}

}  // namespace fdr::core

#endif  // FDR_TEST_HOOKS
