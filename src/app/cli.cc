#include "app/cli.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <stop_token>
#include <thread>

#include <fmt/ranges.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/builtin_drivers.h"
#include "app/config/config.h"
#include "app/dry_run.h"
#include "app/openstack_session.h"
#include "app/status_report.h"
#include "app/wiring.h"
#include "clients/etcd/etcd_client.h"
#include "core/codec.h"
#include "core/engine.h"
#include "ha/etcd_election.h"
#include "store/etcd/etcd_journal.h"
#include "store/memory/memory_journal.h"
#include "store/sqlite/sqlite_journal.h"

#ifndef FDR_VERSION
#define FDR_VERSION "0.0.0"
#endif

namespace fdr::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;
constexpr int kExitRuntime = 2;
constexpr int kExitNeedsOperator = 3;
// Controller HA: this daemon led and lost the leadership. It stops, to be restarted as a
// standby (systemd: Restart=always), with nothing of the old term in memory.
constexpr int kExitDeposed = 4;

struct Globals {
  std::string config_file;
  std::string log_level;
};

void setupLogging(const std::string& level, const std::string& file) {
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = spdlog::stderr_color_mt("freezer-dr");
  } else {
    logger = spdlog::basic_logger_mt("freezer-dr", file);
  }
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

// Finds and loads the config; prints every diagnostic. nullopt = errors (already printed).
std::optional<config::Config> loadConfig(const Globals& globals,
                                         config::Inventory inventory = config::Inventory::kRead) {
  std::string path = globals.config_file;
  if (path.empty()) {
    for (const auto& candidate : config::defaultConfigPaths()) {
      if (std::filesystem::exists(candidate)) {
        path = candidate;
        break;
      }
    }
    if (path.empty()) {
      std::cerr << "error: no --config-file given and none of the usual places exists:";
      for (const auto& candidate : config::defaultConfigPaths()) std::cerr << " " << candidate;
      std::cerr << "\n";
      return std::nullopt;
    }
  }
  Diagnostics diag;
  auto cfg = config::load(path, diag, inventory);
  if (!diag.items().empty()) std::cerr << diag.format();
  if (!cfg || diag.hasErrors()) return std::nullopt;
  return cfg;
}

struct Loaded {
  config::Config config;
  std::unique_ptr<OpenStackSession> openstack;  // null when no cloud credentials are configured
  Registry registry;
  std::unique_ptr<DriverContext> context;
  Pipeline pipeline;
};

// The inventory the drivers already read (through their DriverContext), for the engine too:
// one copy in memory. Not owned: `loaded` outlives the engine.
std::shared_ptr<const std::vector<Node>> sharedInventory(const Loaded& loaded) {
  return {std::shared_ptr<const void>(), &loaded.config.nodes};
}

// Config, registry and drivers; nullptr on error (printed).
std::unique_ptr<Loaded> loadAll(const Globals& globals, Clock& clock) {
  auto cfg = loadConfig(globals);
  if (!cfg) return nullptr;
  auto loaded = std::make_unique<Loaded>();
  loaded->config = std::move(*cfg);
  setupLogging(globals.log_level.empty() ? loaded->config.log_level : globals.log_level,
               loaded->config.log_file);
  if (auto registered = registerBuiltinDrivers(loaded->registry); !registered) {
    std::cerr << "error: " << registered.error().message << "\n";
    return nullptr;
  }
  loaded->context = std::make_unique<DriverContext>(DriverContext{clock, loaded->config.nodes});
  auto session = OpenStackSession::create(loaded->config, clock, keystone::processEnvironment());
  if (session) {
    loaded->openstack = std::move(*session);
    loaded->context->keystone = &loaded->openstack->keystone();
    loaded->context->nova = &loaded->openstack->nova();
    loaded->context->placement = &loaded->openstack->placement();
  } else if (session.error().code != ErrorCode::kNotFound) {
    std::cerr << "error: cloud credentials: " << session.error().message << "\n";
    return nullptr;
  }
  Diagnostics diag;
  auto pipeline = buildPipeline(loaded->config, loaded->registry, *loaded->context, diag, true);
  if (!diag.items().empty()) std::cerr << diag.format();
  if (!pipeline) return nullptr;
  loaded->pipeline = std::move(*pipeline);
  return loaded;
}

// Controller HA ([ha]): the etcd client, and the election when this process campaigns.
struct Ha {
  std::unique_ptr<etcd::EtcdClient> etcd;
  std::unique_ptr<ha::EtcdElection> election;
};

std::string controllerName(const config::Config& cfg) {
  if (!cfg.ha.name.empty()) return cfg.ha.name;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "freezer-dr";
  return host;
}

Result<Ha> connectHa(const config::Config& cfg, Clock& clock, bool campaign) {
  etcd::EtcdOptions options;
  options.endpoints = cfg.ha.etcd_endpoints;
  options.tls = http::TlsOptions{.ca_file = cfg.ha.ca_file,
                                 .client_cert = cfg.ha.cert_file,
                                 .client_key = cfg.ha.key_file,
                                 .insecure = cfg.ha.insecure};
  options.request_timeout = cfg.ha.request_timeout;
  auto client = etcd::EtcdClient::create(std::move(options), clock);
  if (!client) return withContext(client.error(), "[ha] etcd");
  Ha out;
  out.etcd = std::move(*client);
  if (campaign) {
    out.election = std::make_unique<ha::EtcdElection>(
        *out.etcd,
        ha::ElectionOptions{.prefix = cfg.ha.prefix(),
                            .name = controllerName(cfg),
                            .ttl = cfg.ha.lease_ttl,
                            .margin = cfg.ha.margin(),
                            .campaign_interval = cfg.ha.campaign_interval},
        clock);
  }
  return out;
}

Result<ClusterStatus> readCluster(etcd::EtcdClient& etcd, const config::Config& cfg,
                                  TimePoint now) {
  ClusterStatus out;
  out.cluster = cfg.ha.cluster;
  out.read_at = now;
  auto leader = ha::EtcdElection::leader(etcd, cfg.ha.prefix());
  if (!leader) return withContext(leader.error(), "cannot read the leader from etcd");
  if (*leader) {
    out.leader = (*leader)->first;
    out.term = (*leader)->second;
  }
  auto members = ha::EtcdElection::members(etcd, cfg.ha.prefix());
  if (!members) return withContext(members.error(), "cannot read the controllers from etcd");
  out.members = std::move(*members);
  return out;
}

// The journal: the SQLite file, or with [ha] the etcd one (writes conditioned on the
// election's term; a reader, which may only enqueue commands, without an election).
Result<JournalPtr> openJournal(const config::Config& cfg, SqliteJournal::Mode mode,
                               Ha* ha = nullptr) {
  if (ha != nullptr) {
    return JournalPtr(
        std::make_unique<EtcdJournal>(*ha->etcd, cfg.ha.prefix(), ha->election.get()));
  }
  auto journal = SqliteJournal::open(cfg.journal_path, mode);
  if (!journal) return std::unexpected(journal.error());
  return JournalPtr(std::move(*journal));
}

// Stops the daemon cleanly on SIGTERM / SIGINT: the tick in progress finishes, then run returns.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::jthread([this](const std::stop_token& own_stop) {
      while (!own_stop.stop_requested()) {
        timespec timeout{0, 200'000'000};
        const int sig = sigtimedwait(&set_, nullptr, &timeout);
        if (sig == SIGTERM || sig == SIGINT) {
          spdlog::info("received {}, stopping after the current step",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT");
          stop_.request_stop();
          return;
        }
      }
    });
  }
  [[nodiscard]] std::stop_token token() const { return stop_.get_token(); }

 private:
  sigset_t set_{};
  std::stop_source stop_;
  std::jthread thread_;
};

Duration tickInterval(const config::Config& cfg, const core::TickSummary& summary) {
  // While something is happening, look again sooner: evacuations and BMCs move in sub-seconds.
  if (summary.open_incidents > summary.waiting_for_operator || !summary.suspect.empty() ||
      !summary.deferred.empty()) {
    return std::min(cfg.poll_interval, Duration(250));
  }
  return cfg.poll_interval;
}

// A stop must not wait for a call that hangs (a BMC, cloud or mail server that never answers,
// up to its deadline): after a short grace, exit without joining its worker. Everything taken
// is in the journal; what the call would have answered is asked again at the next start.
// `before_exit` runs once the calls have returned or been left behind (the HA daemon resigns).
int leave(core::ThreadPoolExecutor& executor, int exit_code,
          const std::function<void()>& before_exit = {}) {
  constexpr Duration kGrace{std::chrono::seconds(2)};
  const size_t stuck = executor.stop(kGrace);
  if (before_exit) before_exit();
  if (stuck == 0) return exit_code;
  spdlog::warn("{} driver call(s) still running after {} s (no answer yet); exiting without them",
               stuck, kGrace.count() / 1000);
  std::cout.flush();
  spdlog::shutdown();
  std::_Exit(exit_code);
}

int cmdRun(const Globals& globals) {
  SignalWatcher signals;  // before any thread exists, so every thread blocks the signals
  SystemClock clock;
  auto loaded = loadAll(globals, clock);
  if (!loaded) return kExitConfig;
  const config::Config& cfg = loaded->config;
  std::optional<Ha> ha;
  if (cfg.ha.enabled()) {
    auto connected = connectHa(cfg, clock, /*campaign=*/true);
    if (!connected) {
      spdlog::critical("{}", connected.error().message);
      return kExitConfig;
    }
    ha = std::move(*connected);
  }
  auto journal = openJournal(cfg, SqliteJournal::Mode::kActor, ha ? &*ha : nullptr);
  if (!journal) {
    spdlog::critical("{}", journal.error().message);
    return kExitRuntime;
  }
  core::EngineDrivers drivers = loaded->pipeline.drivers();
  if (ha) drivers.leadership = ha->election.get();
  // After the drivers, before the engine: destroyed before the drivers, once every call in
  // progress has returned.
  core::ThreadPoolExecutor executor(laneSizes(cfg));
  core::Engine engine(policyFrom(cfg), drivers, **journal, clock, sharedInventory(*loaded),
                      executor);
  if (ha) {
    // The first tick that finds this controller leading resumes the open incidents.
    ha->election->start();
    spdlog::info(
        "freezer-dr {} watching {} node(s) as controller '{}' of cluster '{}' (etcd "
        "{}); acting only while it leads",
        FDR_VERSION, cfg.nodes.size(), controllerName(cfg), cfg.ha.cluster,
        fmt::join(cfg.ha.etcd_endpoints, ", "));
  } else {
    if (auto resumed = engine.resume(); !resumed) {
      spdlog::critical("{}", resumed.error().message);
      return kExitRuntime;
    }
    spdlog::info("freezer-dr {} watching {} node(s); journal {}", FDR_VERSION, cfg.nodes.size(),
                 cfg.journal_path);
  }
  const std::stop_token stop = signals.token();
  int exit_code = kExitOk;
  while (!stop.stop_requested()) {
    const core::TickSummary summary = engine.tick();
    if (summary.deposed) {
      spdlog::error("stopping: this controller lost the leadership; restarted, it stands by");
      exit_code = kExitDeposed;
      break;
    }
    engine.waitForWork(tickInterval(cfg, summary), stop);
  }
  if (exit_code == kExitOk) {
    spdlog::info("stopped; {} open incident(s) are in the journal and resume at the next start",
                 engine.openIncidents().size());
  }
  return leave(executor, exit_code, [&] {
    if (ha) ha->election->resign();
  });
}

int cmdCheck(const Globals& globals, bool dry_run) {
  SystemClock clock;
  auto loaded = loadAll(globals, clock);
  if (!loaded) return kExitConfig;
  std::unique_ptr<Journal> journal;
  Pipeline dry;
  core::EngineDrivers drivers = loaded->pipeline.drivers();
  if (!dry_run && loaded->config.ha.enabled()) {
    std::cerr << "error: `check` acts on its own, outside the election: with [ha] only "
                 "`check --dry-run` runs (the leader acts; see `freezer-dr status`)\n";
    return kExitConfig;
  }
  if (dry_run) {
    journal = std::make_unique<MemoryJournal>();
    dry = dryRunPipeline(loaded->pipeline, std::cout);
    drivers = dry.drivers();
  } else {
    auto opened = openJournal(loaded->config, SqliteJournal::Mode::kActor);
    if (!opened) {
      std::cerr << "error: " << opened.error().message << "\n";
      return kExitRuntime;
    }
    journal = std::move(*opened);
  }
  core::ThreadPoolExecutor executor(laneSizes(loaded->config));
  core::Engine engine(policyFrom(loaded->config), drivers, *journal, clock,
                      sharedInventory(*loaded), executor);
  if (auto resumed = engine.resume(); !resumed) {
    std::cerr << "error: " << resumed.error().message << "\n";
    return kExitRuntime;
  }
  const config::Config& cfg = loaded->config;
  // Long enough for the grace period, a fence and every evacuation; then give up and report.
  const TimePoint give_up = clock.now() + cfg.grace + cfg.fence_deadline +
                            cfg.instance_timeout * (cfg.evacuation_retries + 1) +
                            std::chrono::seconds(30);
  const TimePoint started = clock.now();
  std::set<std::string> resumed_ids;
  for (const auto& [id, incident] : engine.openIncidents()) resumed_ids.insert(id);
  core::TickSummary summary;
  while (true) {
    summary = engine.tick();
    if (summary.settled() || clock.now() >= give_up) break;
    engine.waitForWork(tickInterval(cfg, summary), std::stop_token());
  }
  // Report the incidents this pass resumed or opened, oldest first.
  auto recent = journal->recentIncidents(1000);
  if (!recent) {
    std::cerr << "error: " << recent.error().message << "\n";
    return kExitRuntime;
  }
  size_t reported = 0;
  for (auto it = recent->rbegin(); it != recent->rend(); ++it) {
    if (it->detected_at >= started || resumed_ids.contains(it->id)) {
      printIncident(std::cout, *it);
      reported += 1;
    }
  }
  // Unfences this pass moved (asked with `freezer-dr unfence HOST`).
  bool unfence_needs_operator = false;
  for (auto it = recent->rbegin(); it != recent->rend(); ++it) {
    const UnfenceProgress& u = it->unfence;
    if (u.step == UnfenceStep::kNone || it->updated_at < started) continue;
    if (u.step == UnfenceStep::kDone) {
      std::cout << it->node << " is back in service (unfenced by " << u.who << ")\n";
    } else {
      std::cout << it->node << ": unfence " << toString(u.step) << " (asked by " << u.who << ")\n";
      unfence_needs_operator = true;
    }
  }
  for (const auto& hostname : summary.already_recovered) {
    std::cout << hostname << " is still down; it was fenced and evacuated already\n";
  }
  if (!summary.isolation.empty()) std::cout << "isolation: " << summary.isolation << "\n";
  for (const auto& veto : summary.vetoes) std::cout << "not fenced: " << veto << "\n";
  if (reported == 0 && summary.vetoes.empty() && summary.already_recovered.empty()) {
    std::cout << "No failed nodes\n";
  }
  if (summary.open_incidents > 0 || !summary.vetoes.empty() || unfence_needs_operator) {
    return leave(executor, kExitNeedsOperator);
  }
  return leave(executor, kExitOk);
}

int cmdValidate(const Globals& globals) {
  auto cfg = loadConfig(globals);
  if (!cfg) return kExitConfig;
  Registry registry;
  if (auto registered = registerBuiltinDrivers(registry); !registered) {
    std::cerr << "error: " << registered.error().message << "\n";
    return kExitConfig;
  }
  SystemClock clock;
  DriverContext context{clock, cfg->nodes};
  Diagnostics diag;
  auto pipeline = buildPipeline(*cfg, registry, context, diag, /*create=*/false);
  if (!diag.items().empty()) std::cerr << diag.format();
  if (!pipeline) return kExitConfig;
  std::cout << "OK: " << cfg->path << ": " << cfg->nodes.size() << " node(s); monitors "
            << pipeline->monitors.size() << ", fencing levels " << pipeline->fencers.size()
            << ", notifiers " << pipeline->notifiers.size() << "\n";
  return kExitOk;
}

int cmdStatus(const Globals& globals, bool as_json, size_t limit) {
  // Only the journal's path is needed: the inventory is not read (nor its mistakes reported).
  auto cfg = loadConfig(globals, config::Inventory::kSkip);
  if (!cfg) return kExitConfig;
  SystemClock clock;
  std::optional<Ha> ha;
  if (cfg->ha.enabled()) {
    auto connected = connectHa(*cfg, clock, /*campaign=*/false);
    if (!connected) {
      std::cerr << "error: " << connected.error().message << "\n";
      return kExitConfig;
    }
    ha = std::move(*connected);
  } else if (!std::filesystem::exists(cfg->journal_path)) {
    std::cout << "no journal yet at " << cfg->journal_path << ": no incident ever\n";
    return kExitOk;
  }
  auto journal = openJournal(*cfg, SqliteJournal::Mode::kReader, ha ? &*ha : nullptr);
  if (!journal) {
    std::cerr << "error: " << journal.error().message << "\n";
    return kExitRuntime;
  }
  auto open = (*journal)->openIncidents();
  auto recent = (*journal)->recentIncidents(limit);
  auto undelivered = (*journal)->undeliveredOutbox();
  auto guards = readGuards(**journal);
  for (const Error* e :
       {open ? nullptr : &open.error(), recent ? nullptr : &recent.error(),
        undelivered ? nullptr : &undelivered.error(), guards ? nullptr : &guards.error()}) {
    if (e != nullptr) {
      std::cerr << "error: " << e->message << "\n";
      return kExitRuntime;
    }
  }
  std::optional<ClusterStatus> cluster;
  if (ha) {
    auto read = readCluster(*ha->etcd, *cfg, clock.now());
    if (!read) {
      std::cerr << "error: " << read.error().message << "\n";
      return kExitRuntime;
    }
    cluster = std::move(*read);
  }
  if (as_json) {
    nlohmann::json doc = {{"open", nlohmann::json::array()},
                          {"recent", nlohmann::json::array()},
                          {"undelivered_notifications", undeliveredJson(*undelivered)}};
    if (cluster) doc["ha"] = toJson(*cluster);
    addGuardsJson(doc, *guards);
    for (const auto& i : *open) doc["open"].push_back(toJson(i));
    for (const auto& i : *recent) doc["recent"].push_back(toJson(i));
    std::cout << doc.dump(2) << "\n";
    return kExitOk;
  }
  if (cluster) printCluster(std::cout, *cluster);
  printStatus(std::cout, *open, *recent, *undelivered, *guards);
  return kExitOk;
}

// Who gives an operator command: --who, else the user who ran it (through sudo too), else the uid.
std::string operatorName(std::string who) {
  if (!who.empty()) return who;
  const char* user = std::getenv("SUDO_USER");
  if (user == nullptr) user = std::getenv("USER");
  return user != nullptr ? user : "uid " + std::to_string(::getuid());
}

// Queues an operator command in the journal for the acting daemon; false (said on stderr) if
// the journal cannot take it.
bool queueCommand(const config::Config& cfg, const OperatorCommand& command) {
  SystemClock clock;
  std::optional<Ha> ha;
  if (cfg.ha.enabled()) {
    auto connected = connectHa(cfg, clock, /*campaign=*/false);
    if (!connected) {
      std::cerr << "error: " << connected.error().message << "\n";
      return false;
    }
    ha = std::move(*connected);
  }
  auto journal = openJournal(cfg, SqliteJournal::Mode::kReader, ha ? &*ha : nullptr);
  if (!journal) {
    std::cerr << "error: " << journal.error().message << "\n";
    return false;
  }
  if (auto queued = (*journal)->enqueueCommand(command); !queued) {
    std::cerr << "error: " << queued.error().message << "\n";
    return false;
  }
  return true;
}

int cmdOperatorCommand(const Globals& globals, const std::string& kind, const std::string& host,
                       std::string who) {
  auto cfg = loadConfig(globals);
  if (!cfg) return kExitConfig;
  if (kind == "unfence" && std::none_of(cfg->nodes.begin(), cfg->nodes.end(),
                                        [&](const Node& n) { return n.hostname == host; })) {
    std::cerr << "error: " << host << " is not in the inventory\n";
    return kExitConfig;
  }
  who = operatorName(std::move(who));
  OperatorCommand command;
  command.kind = kind;
  command.node = host;
  command.who = who;
  command.at = SystemClock().now();
  if (!queueCommand(*cfg, command)) return kExitRuntime;
  if (kind == "unfence") {
    std::cout << "queued: " << who << " asks to unfence " << host
              << "; the running freezer-dr powers it on and returns it to service once its "
                 "compute service reports (see: freezer-dr status)\n";
  } else if (kind == "fence") {
    std::cout << "queued: " << who << " asks to fence " << host
              << "; the running freezer-dr powers it off and evacuates it at its next step\n";
  } else {
    std::cout << "queued: " << who << " confirms that " << host
              << " is powered off; the running freezer-dr resumes its recovery at its next "
                 "step\n";
  }
  return kExitOk;
}

// `pause` / `resume`: queued for the acting daemon, which alone writes the journal's settings;
// it carries them out at its next step (or, when none runs, at its start, before any fence).
int cmdPause(const Globals& globals, bool pause, const std::string& reason, std::string who) {
  auto cfg = loadConfig(globals);
  if (!cfg) return kExitConfig;
  who = operatorName(std::move(who));
  OperatorCommand command;
  command.kind = pause ? "pause" : "resume";
  command.who = who;
  command.at = SystemClock().now();
  command.reason = reason;
  if (!queueCommand(*cfg, command)) return kExitRuntime;
  std::cout << "queued: " << who
            << (pause ? " pauses automatic fencing" : " resumes automatic fencing")
            << (reason.empty() ? "" : " (" + reason + ")")
            << "; the running freezer-dr applies it at its next step, or at its start "
               "(see: freezer-dr status)\n";
  return kExitOk;
}

}  // namespace

int runCli(int argc, char** argv) {
  CLI::App app{"freezer-dr: compute-node high availability for OpenStack"};
  app.require_subcommand(1);
  app.fallthrough();
  Globals globals;
  app.set_version_flag("--version", std::string("freezer-dr ") + FDR_VERSION);
  app.add_option("--config-file", globals.config_file,
                 "config file (default: /etc/freezer-dr/freezer-dr.conf, then "
                 "/etc/freezer/freezer-dr.conf)");
  app.add_option("--log-level", globals.log_level, "trace, debug, info, warn, error");

  auto* run = app.add_subcommand("run", "run the daemon: watch, fence, evacuate, notify");
  bool dry_run = false;
  auto* check = app.add_subcommand(
      "check", "one pass, as the original freezer-dr ran: recover the failed nodes, then exit");
  check->add_flag("--dry-run", dry_run, "print what would be done and change nothing");
  auto* validate = app.add_subcommand("validate", "check the config and the inventory");
  bool as_json = false;
  size_t limit = 20;
  auto* status = app.add_subcommand("status", "open and recent incidents from the journal");
  status->add_flag("--json", as_json, "machine-readable output");
  status->add_option("--limit", limit, "recent incidents to show")->check(CLI::PositiveNumber);
  std::string host;
  std::string who;
  auto* confirm = app.add_subcommand("confirm-fenced",
                                     "vouch that HOST is powered off when no fencer can reach it");
  confirm->add_option("HOST", host, "the compute host (as in the inventory)")->required();
  confirm->add_option("--who", who, "who confirms (default: the invoking user)");
  auto* fence = app.add_subcommand(
      "fence", "fence HOST by hand through the same path (power-off confirmed, then evacuation)");
  fence->add_option("HOST", host, "the compute host (as in the inventory)")->required();
  fence->add_option("--who", who, "who asks (default: the invoking user)");
  auto* unfence = app.add_subcommand(
      "unfence", "power HOST on again and, once its compute service reports, return it to service");
  unfence->add_option("HOST", host, "the compute host (as in the inventory)")->required();
  unfence->add_option("--who", who, "who asks (default: the invoking user)");

  std::string reason;
  auto* pause = app.add_subcommand(
      "pause",
      "stop automatic fencing (failed nodes are reported, not fenced; recoveries under way and "
      "`fence` go on) until `resume`");
  pause->add_option("--reason", reason, "why: shown in status and in the admins' notice");
  pause->add_option("--who", who, "who pauses (default: the invoking user)");
  auto* resume = app.add_subcommand("resume", "restart automatic fencing after `pause`");
  resume->add_option("--reason", reason, "why: journaled and logged");
  resume->add_option("--who", who, "who resumes (default: the invoking user)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*run) return cmdRun(globals);
  if (*check) return cmdCheck(globals, dry_run);
  if (*validate) return cmdValidate(globals);
  if (*status) return cmdStatus(globals, as_json, limit);
  if (*confirm) return cmdOperatorCommand(globals, "confirm-fenced", host, who);
  if (*fence) return cmdOperatorCommand(globals, "fence", host, who);
  if (*pause) return cmdPause(globals, true, reason, who);
  if (*resume) return cmdPause(globals, false, reason, who);
  if (*unfence) return cmdOperatorCommand(globals, "unfence", host, who);
  return kExitConfig;
}

}  // namespace fdr::app
