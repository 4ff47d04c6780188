// Detection latency against the lab (lab/up.sh): kills one host's nova-compute (SIGKILL, as a
// crash) and times, from the kill, (1) the nova monitor's nova/heartbeat source reporting it down
// with the default heartbeat-timeout and (2) Nova's own state going down (service_down_time,
// 60 s). Restarts the host after each run, also on failure.
//
//   detection_bench [runs=3] [host=fake-host-1]      (lab coordinates: $FDR_LAB_ENV or
//                                                     /var/tmp/freezer-dr-lab/lab.env)
// Prints one line per run and a summary (min / median / max). Exit status 1 on any failure.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "clients/http/http_client.h"
#include "clients/keystone/credentials.h"
#include "clients/keystone/keystone_client.h"
#include "clients/nova/nova_client.h"
#include "drivers/monitor/nova/nova_monitor.h"
#include "freezer/clock.h"
#include "freezer/registry.h"

namespace {

using namespace std::chrono_literals;
using fdr::Health;
using SteadyClock = std::chrono::steady_clock;

std::optional<std::map<std::string, std::string>> readLabEnv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

std::vector<std::string> splitCsv(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Run {
  double heartbeat_s = -1;
  double nova_state_s = -1;
};

class Bench {
 public:
  Bench(std::map<std::string, std::string> env, std::string victim)
      : env_(std::move(env)), victim_(std::move(victim)) {}

  bool init() {
    fdr::keystone::AuthTokenSection section;
    section.auth_url = env_["FDR_LAB_AUTH_URL"];
    section.username = env_["FDR_LAB_ADMIN_USER"];
    section.password = fdr::Secret(env_["FDR_LAB_ADMIN_PASSWORD"]);
    section.project_name = env_["FDR_LAB_ADMIN_PROJECT"];
    section.user_domain_name = env_["FDR_LAB_USER_DOMAIN"];
    section.project_domain_name = env_["FDR_LAB_PROJECT_DOMAIN"];
    section.region_name = env_["FDR_LAB_REGION"];
    section.where = "lab.env";
    auto credentials = fdr::keystone::fromAuthTokenSection(section);
    if (!credentials) return failed("credentials: " + credentials.error().toString());
    fdr::http::ClientOptions options;
    options.timeout = 30s;
    http_ = std::make_unique<fdr::http::Client>(options, clock_);
    keystone_ = std::make_unique<fdr::keystone::KeystoneClient>(*http_, *credentials, clock_);
    nova_ = std::make_unique<fdr::nova::NovaClient>(*keystone_);
    for (const auto& host : splitCsv(env_["FDR_LAB_HOST_NAMES"])) {
      fdr::Node node;
      node.hostname = host;
      nodes_.push_back(node);
    }
    if (std::none_of(nodes_.begin(), nodes_.end(),
                     [&](const fdr::Node& n) { return n.hostname == victim_; })) {
      return failed(victim_ + " is not a lab host (" + env_["FDR_LAB_HOST_NAMES"] + ")");
    }
    return true;
  }

  // A fresh monitor per run (defaults: heartbeat-timeout 25 s), as a daemon that runs already.
  std::optional<Run> run() {
    fdr::Registry registry;
    if (!fdr::drivers::registerNovaMonitor(registry)) return failedRun("register");
    auto factory = registry.monitors.find("nova");
    if (!factory) return failedRun(factory.error().toString());
    fdr::Diagnostics diag;
    auto options = fdr::Options::parse((*factory)->schema, {}, "nova", diag);
    if (!options) return failedRun(diag.format());
    fdr::DriverContext context{clock_, nodes_, keystone_.get(), nova_.get()};
    auto monitor = (*factory)->create(*options, context);
    if (!monitor) return failedRun(monitor.error().toString());

    // Every source of the victim up first (heartbeat seen advancing).
    if (!pollUntil(**monitor, 60s, [&](const fdr::Observation& hb, const fdr::Observation& st) {
          return hb.health == Health::kUp && st.health == Health::kUp;
        })) {
      return failedRun(victim_ + " not up on both sources within 60 s");
    }
    const std::string compute_sh = env_["FDR_LAB_COMPUTE_SH"];
    const auto killed = SteadyClock::now();
    Run result;
    const int stop_rc = std::system((compute_sh + " stop " + victim_ + " >/dev/null").c_str());
    if (stop_rc == 0) {
      const bool ok =
          pollUntil(**monitor, 120s, [&](const fdr::Observation& hb, const fdr::Observation& st) {
            const double since = seconds(SteadyClock::now() - killed);
            if (hb.health == Health::kDown && result.heartbeat_s < 0) result.heartbeat_s = since;
            if (st.health == Health::kDown && result.nova_state_s < 0) result.nova_state_s = since;
            return result.heartbeat_s >= 0 && result.nova_state_s >= 0;
          });
      if (!ok) std::cerr << "run: not both down within 120 s of the kill\n";
    } else {
      std::cerr << compute_sh << " stop " << victim_ << ": exit " << stop_rc << "\n";
    }
    // Always bring the host back.
    if (std::system((compute_sh + " start " + victim_ + " >/dev/null").c_str()) != 0) {
      return failedRun(compute_sh + " start " + victim_ + " failed: repair with lab/up.sh");
    }
    if (result.heartbeat_s < 0 || result.nova_state_s < 0) return std::nullopt;
    return result;
  }

 private:
  static double seconds(SteadyClock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count() / 1000.0;
  }

  template <class Done>
  bool pollUntil(fdr::Monitor& monitor, std::chrono::seconds limit, Done done) {
    const auto deadline = SteadyClock::now() + limit;
    while (SteadyClock::now() < deadline) {
      auto polled = monitor.poll(nodes_);
      if (!polled) {
        std::cerr << "poll: " << polled.error().toString() << "\n";
      } else {
        fdr::Observation heartbeat;
        fdr::Observation state;
        for (const auto& o : *polled) {
          if (o.node != victim_) continue;
          if (o.source == fdr::drivers::kNovaHeartbeatSource) heartbeat = o;
          if (o.source == fdr::drivers::kNovaStateSource) state = o;
        }
        if (done(heartbeat, state)) return true;
      }
      std::this_thread::sleep_for(500ms);
    }
    return false;
  }

  bool failed(const std::string& why) {
    std::cerr << "detection_bench: " << why << "\n";
    return false;
  }
  std::optional<Run> failedRun(const std::string& why) {
    failed(why);
    return std::nullopt;
  }

  std::map<std::string, std::string> env_;
  std::string victim_;
  fdr::SystemClock clock_;
  std::vector<fdr::Node> nodes_;
  std::unique_ptr<fdr::http::Client> http_;
  std::unique_ptr<fdr::keystone::KeystoneClient> keystone_;
  std::unique_ptr<fdr::nova::NovaClient> nova_;
};

std::string summary(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "min %.1f s, median %.1f s, max %.1f s", values.front(),
                values[values.size() / 2], values.back());
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const std::string victim = argc > 2 ? argv[2] : "fake-host-1";
  const char* chosen = std::getenv("FDR_LAB_ENV");  // NOLINT(concurrency-mt-unsafe)
  const std::string path =
      chosen != nullptr && *chosen != '\0' ? chosen : "/var/tmp/freezer-dr-lab/lab.env";
  auto env = readLabEnv(path);
  if (!env) {
    std::cerr << "detection_bench: the lab is not up: no " << path << " (lab/up.sh)\n";
    return 1;
  }
  Bench bench(*env, victim);
  if (!bench.init()) return 1;
  std::vector<double> heartbeat;
  std::vector<double> state;
  for (int i = 1; i <= runs; ++i) {
    auto run = bench.run();
    if (!run) return 1;
    std::printf("run %d: %s down on nova/heartbeat after %.1f s, on Nova's state after %.1f s\n", i,
                victim.c_str(), run->heartbeat_s, run->nova_state_s);
    std::fflush(stdout);
    heartbeat.push_back(run->heartbeat_s);
    state.push_back(run->nova_state_s);
  }
  std::printf("nova/heartbeat (heartbeat-timeout 25 s): %s\n", summary(heartbeat).c_str());
  std::printf("Nova's state (service_down_time 60 s):   %s\n", summary(state).c_str());
  return 0;
}
