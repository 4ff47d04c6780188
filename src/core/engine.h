// The recovery engine: the decision thread. One tick takes the answers of the driver calls that
// came back (core/calls.h), starts a monitoring cycle when one is due, asks the detector and the
// guards once a cycle is complete, and moves every open incident forward as far as it can
// without waiting. A tick never waits on I/O (invariant 6): every driver call runs on an
// Executor lane with a deadline, and its answer (or its time-out) is journaled at a later tick
// before anything acts on it. Every step is committed to the journal before its side effect
// (invariant 4); the engine only acts through the drivers it is given and only reads time from
// its Clock, so tests drive it on simulated time.
//
// The work is split by concern (leveldb's DBImpl, RocksDB's db_impl_*.cc): engine.cc (ticks,
// commands, journaling), engine_guards.cc (the guards), engine_fencing.cc, engine_evacuation.cc
// (force-down, listing, evacuation scheduling, reserved hosts), engine_unfence.cc; and the
// collaborators MonitorCycle (core/monitor_cycle.h) and OutboxDelivery (core/outbox_delivery.h).
//
// Thread-safety: not thread-safe; one thread calls resume(), tick() and waitForWork().
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/calls.h"
#include "core/detector.h"
#include "core/executor.h"
#include "core/fencing_readiness.h"
#include "core/guard_state.h"
#include "core/monitor_cycle.h"
#include "core/outbox_delivery.h"
#include "core/storm_guard.h"
#include "freezer/clock.h"
#include "freezer/evacuator.h"
#include "freezer/fencer.h"
#include "freezer/incident.h"
#include "freezer/isolation.h"
#include "freezer/journal.h"
#include "freezer/monitor.h"
#include "freezer/notifier.h"

namespace fdr::core {

struct EnginePolicy {
  DetectorPolicy detector;
  int fence_retries = 1;  // power-off attempts per fencing level
  Duration fence_attempt_timeout{std::chrono::seconds(10)};
  Duration fence_deadline{std::chrono::seconds(60)};
  Duration check_backoff_initial{std::chrono::milliseconds(200)};
  Duration check_backoff_max{std::chrono::seconds(2)};
  int force_down_max_attempts = 5;
  Duration force_down_retry{std::chrono::seconds(1)};
  int evacuation_retries = 1;  // extra requests per instance after a failure
  // Evacuation requests in flight (sent to the cloud, not answered yet), across incidents. Not
  // the rebuilds: an accepted evacuation rebuilds on its own, and the next request goes out at
  // once (docs/evacuation.md). 32, as Red Hat InstanceHA's evacuations in flight.
  int evacuation_concurrency = 32;
  // Rebuilds under way on one target host chosen by freezer-dr (a reserved host); the scheduler
  // spreads the others and Nova bounds builds per compute itself (max_concurrent_builds). 32, as
  // vSphere HA restarts at most 32 VMs per host at once.
  int max_rebuilds_per_host = 32;
  Duration instance_timeout{std::chrono::seconds(300)};
  std::string priority_key = "HA_Priority";
  // Reserved hosts (as Masakari's reserved_host), in order: kept disabled by the operators,
  // enabled by the engine before the first evacuation targeted at one; the next one once it is
  // full. Empty: the scheduler places every instance. When every reserved host is full or
  // unusable: the scheduler if reserved_hosts_fallback, else the instance fails.
  std::vector<std::string> reserved_hosts;
  bool reserved_hosts_fallback = true;
  // [evacuation] shared-storage: the operator says instance disks are on shared storage (only
  // changes the words of the disk note, InstanceRecord::disk; the evacuator tells the cloud).
  bool shared_storage = false;
  // Which instances: all (opted-out ones excepted) or only those opted in, by this metadata key
  // (as Masakari's HA_Enabled): "true"/"yes"/"1" opts in, "false"/"no"/"0" opts out.
  bool evacuate_all = true;
  // Capacity check (core/capacity_plan.h): before the first evacuation request of an incident,
  // what the other hosts have free (Evacuator::room) against the instances' sizes; those that
  // fit nowhere are not asked for (kNoCapacity) and the admins get the numbers.
  bool capacity_check = true;
  // The deadline of the capacity check ([evacuation] capacity-check-timeout): past it every
  // instance is asked for unchecked.
  Duration capacity_check_timeout{std::chrono::seconds(5)};
  std::string ha_enabled_key = "HA_Enabled";
  // Storm guard (core/storm_guard.h): more than storm_max_nodes nodes, or storm_max_percent % of
  // the inventory, down now or failed (an incident opened) within storm_window and not back in
  // service: fence nothing.
  int storm_max_nodes = 2;
  int storm_max_percent = 50;
  Duration storm_window{std::chrono::minutes(10)};
  // Fencing readiness (core/fencing_readiness.h): every node's first fencing level is asked for
  // the power state at start-up and then once per interval (0: never), at most `concurrency`
  // checks at once, each bounded by fence_attempt_timeout.
  ReadinessPolicy readiness;
  std::vector<std::string> maintenance;
  // Isolation check (see freezer/isolation.h): how many reference points must answer before an
  // automatic fence; 0 = a majority of them.
  int reference_points_required = 0;
  // At most this many new automatic fences (incidents opened by the detector) per tick; the
  // other failed nodes wait for the next tick. Fences asked for by hand do not count.
  int max_fences_per_tick = 1;
  // Unfence (operator command): how long a powered-on node has to report through its compute
  // service before the admins are alerted and the unfence is abandoned, and how often the
  // compute service is read (and a refused power-on or restore retried) meanwhile.
  Duration unfence_deadline{std::chrono::minutes(10)};
  Duration unfence_poll{std::chrono::seconds(2)};
  // Monitoring: a cycle (every monitor polled at once, and the reference points probed) starts
  // every poll_interval, whatever the tick took; a monitor that has not answered within
  // poll_timeout (0: the poll interval) counts as failed for that cycle: its sources unknown.
  Duration poll_interval{std::chrono::seconds(1)};
  Duration poll_timeout{0};
  // Deadlines of the other driver calls: the cloud (force-down, listing, evacuate, show,
  // compute services) and one notification. A fencer call is bounded by fence_attempt_timeout.
  Duration cloud_call_timeout{std::chrono::seconds(30)};
  Duration notify_timeout{std::chrono::seconds(60)};
  int notify_parallel = 4;  // deliveries in flight per notifier
  Duration outbox_backoff_initial{std::chrono::seconds(2)};
  Duration outbox_backoff_max{std::chrono::minutes(5)};
};

struct NamedFencer {
  std::string name;
  Fencer* fencer = nullptr;
};

// A monitor whose poll goes to a remote API (Nova): a poll that succeeds shows that the
// controller reaches that API, so it counts as one reference point of the isolation check.
struct ReferenceMonitor {
  std::string name;
  Monitor* monitor = nullptr;  // one of EngineDrivers::monitors
};

// Not owned: they outlive the engine and the executor that runs their calls. Each may be called
// from several worker threads at once (a fencer for several nodes, the evacuator for several
// instances); a monitor is never polled twice at once.
struct EngineDrivers {
  std::vector<Monitor*> monitors;
  std::vector<NamedFencer> fencers;  // fallback levels, in order
  Evacuator* evacuator = nullptr;
  std::vector<NamedNotifier> notifiers;
  // Reference points checked before any automatic fence; nullptr: none configured.
  IsolationCheck* isolation = nullptr;
  std::vector<ReferenceMonitor> reference_monitors;
  // Controller HA: who may act (freezer/leadership.h). nullptr: this engine always acts (a
  // single node, whose journal lock keeps a second copy out).
  const Leadership* leadership = nullptr;
};

struct TickSummary {
  std::set<std::string> failed;     // nodes the detector says failed
  std::set<std::string> suspect;    // nodes seen down by some source, not (yet) failed
  std::vector<std::string> vetoes;  // why a failed node was not acted on
  // Failed nodes already fenced and evacuated by a closed incident, not seen up since: they
  // are left alone (no second fence) until they come back.
  std::set<std::string> already_recovered;
  // Failed nodes past every guard but over the per-tick fence cap: fenced at a later tick.
  std::set<std::string> deferred;
  std::map<std::string, int> flapping;  // node → recoveries within the flap window
  std::string isolation;                // why the controller thinks it is cut off; empty: not
  std::string storm;                    // why the storm guard holds; empty: it does not
  size_t open_incidents = 0;
  size_t waiting_for_operator = 0;  // incidents in a failure phase
  size_t undelivered_notifications = 0;
  size_t unfencing = 0;             // nodes being powered on and returned to service
  size_t deliveries_in_flight = 0;  // notifications being sent
  bool observed = false;            // a monitoring cycle has completed (the verdicts are real)
  // Controller HA: this engine does not act (a standby: it polls the monitors and keeps its
  // detector warm, nothing more); `deposed`: it acted and lost the leadership, and never acts
  // again (the daemon exits, to come back as a standby).
  bool standby = false;
  bool deposed = false;
  // Nothing left that more ticks could move: the monitors have answered once, no suspect node,
  // every open incident waits for an operator, no unfence or delivery under way. (Vetoed nodes
  // are not progress either.)
  [[nodiscard]] bool settled() const {
    return observed && suspect.empty() && deferred.empty() &&
           open_incidents == waiting_for_operator && unfencing == 0 && deliveries_in_flight == 0;
  }
};

class Engine {
 public:
  // `executor` runs every driver call; it must outlive the engine's drivers' calls (destroy it
  // before the drivers).
  Engine(EnginePolicy policy, EngineDrivers drivers, Journal& journal, Clock& clock,
         std::vector<Node> nodes, Executor& executor);
  // The same, sharing the inventory instead of holding a copy (at 10,000 nodes it is megabytes):
  // the daemon's drivers read the same one.
  Engine(EnginePolicy policy, EngineDrivers drivers, Journal& journal, Clock& clock,
         std::shared_ptr<const std::vector<Node>> nodes, Executor& executor);

  // Loads every open incident from the journal. Call once, before the first tick; with a
  // Leadership (EngineDrivers::leadership) the first tick that finds this controller leading
  // calls it instead, if it was not called.
  [[nodiscard]] Status resume();

  // One pass. Never throws, never waits on I/O; driver and journal failures are logged and
  // retried next tick.
  TickSummary tick();

  // Sleeps (real time) until a driver call answers, the next monitoring cycle or call deadline
  // is due, `max_wait` passes or `stop` is requested: the daemon's loop between ticks.
  void waitForWork(Duration max_wait, const std::stop_token& stop);

  [[nodiscard]] const std::map<std::string, Incident>& openIncidents() const { return open_; }
  // Closed incidents whose node is being unfenced, by hostname.
  [[nodiscard]] const std::map<std::string, Incident>& unfencing() const { return unfencing_; }

 private:
  // Applies `event` to `incident`, commits the result (with `outbox`) and only then updates
  // the in-memory copy. An error means nothing was recorded: the caller must not act.
  Status record(Incident& incident, Event event, std::vector<Notification> outbox = {});

  void runOperatorCommands();
  // A tick of a controller that does not act: the monitors' cycle and the detector only.
  TickSummary standbyTick();
  // A monitoring cycle finished: the detector, the node states and the guards.
  void detect(const MonitorCycle::Result& cycle);
  // The guards and the opening of incidents (src/core/engine_guards.cc).
  void openIncidents(TickSummary& summary);
  // Carries out `pause` / `resume` (journal settings "paused" and "pause"); returns the outcome,
  // or nothing when the command must stay pending and be carried out again at the next tick
  // (the pause is journaled but its alert could not be queued).
  std::optional<std::string> applyPause(const OperatorCommand& command);
  // Why this controller looks cut off, or empty: from the reference points probed and the
  // reference monitors' polls of the last complete cycle.
  std::string checkIsolation() const;
  // Queues a guard-tripped alert to the admins that belongs to no incident in the journal's
  // outbox (Journal::enqueue: one item per notifier), for deliverOutbox(). True when it is
  // queued durably (or no notifier is configured); false, logged, when the journal refused it.
  bool alertAdmins(const std::string& node, const std::string& subject, const std::string& summary);
  // The storm episode's one alert (the first veto of an episode queues it).
  void alertStorm(const StormVerdict& verdict);
  // Fencing readiness (src/core/engine_readiness.cc): takes the checks' answers, starts the
  // checks that are due, and alerts the admins of the changes.
  void checkReadiness();
  void alertReadiness();
  // Writes the guards' state (journal setting "guards") for `status` when it changed.
  void publishGuards(const TickSummary& summary);
  // Opens (and journals) the incident of a failed node; `why` goes to the admins' notice.
  Status openIncident(const std::string& hostname, const std::string& why);
  void advance(Incident& incident);
  bool advanceFencing(Incident& incident);
  bool advanceForceDown(Incident& incident);
  bool advanceListing(Incident& incident);
  void startListing(const Incident& incident);
  struct Listed;
  bool advanceCapacityCheck(Incident& incident, Listed& listed);
  bool advanceClosing(Incident& incident);
  void followEvacuations();
  void takeEvacuationAnswers();
  void requestEvacuations();
  // Where the next evacuation of `incident` goes (reserved hosts): may journal and enable a
  // reserved host on the way.
  struct Target {
    enum class Kind { kScheduler, kHost, kNoneLeft, kWait } kind = Kind::kScheduler;
    std::string host;  // kHost
    std::string why;   // kNoneLeft: every reserved host and why it is not used
  };
  Target chooseTarget(Incident& incident);

  // Unfence: accepts (and journals) an operator's request, or says why not.
  std::string startUnfence(const OperatorCommand& command);
  // Moves every unfence on as far as it can without waiting.
  void advanceUnfences();
  // False when the unfence is over (done or abandoned) or cannot go on this tick.
  bool advanceUnfence(Incident& incident);
  bool abandonUnfence(Incident& incident, const std::string& why);

  Status requestPowerOff(Incident& incident, int level, int attempt, bool new_deadline);
  // Abandons every call of an incident still in flight (its fence failed or was confirmed by
  // hand): their answers are dropped.
  void abandonCalls(const std::string& incident_id);
  std::vector<InstanceRecord> toRecords(const std::vector<Instance>& instances) const;
  std::vector<Notification> completionNotifications(const Incident& incident) const;
  Notification adminAlert(const Incident& incident, NotificationKind kind,
                          const std::string& subject, const std::string& summary) const;
  const Node* node(const std::string& hostname) const;
  // An event happening now.
  Event event(EventPayload payload) const;

  EnginePolicy policy_;
  EngineDrivers drivers_;
  bool resumed_ = false;  // resume() loaded the journal
  bool acted_ = false;    // a tick acted (this controller led)
  bool deposed_ = false;  // it acted, then lost the leadership: it never acts again
  Journal& journal_;
  Clock& clock_;
  std::shared_ptr<const std::vector<Node>> shared_nodes_;  // the inventory, shared with cycle_
  const std::vector<Node>& nodes_;                         // *shared_nodes_
  Calls calls_;
  MonitorCycle cycle_;
  OutboxDelivery outbox_;
  // What the last complete monitoring cycle found (kept between cycles for each tick's summary).
  TickSummary detected_;
  std::vector<ReferencePointResult> reference_points_;  // the last cycle's isolation probe
  std::vector<std::string> notifier_names_;
  Detector detector_;
  StormGuard storm_;
  FencingReadiness readiness_;
  // Nodes whose readiness check was started and whose worker may still run it (a BMC that
  // hangs holds its worker past the deadline): they fill the check lane's slots.
  std::set<std::string> readiness_calls_;
  std::vector<ReadinessChange> readiness_pending_;      // changes not alerted yet
  std::optional<TimePoint> readiness_alerted_at_;       // the last readiness alert queued
  std::unordered_map<std::string, size_t> node_index_;  // hostname → index in nodes_
  std::map<std::string, Incident> open_;                // by incident id
  std::set<std::string> alerted_vetoes_;                // "node|guard" already alerted
  std::map<std::string, TimePoint> next_force_down_;    // incident id → earliest retry
  // Incidents whose instances were listed and whose capacity check is under way: the records
  // and the instances' sizes, journaled (InstancesListed) once the check answers. In memory: a
  // restart lists them again.
  struct Listed {
    std::vector<InstanceRecord> records;
    std::map<std::string, Resources> sizes;
  };
  std::map<std::string, Listed> listed_;
  // Nodes whose last incident closed and that have not been seen up since.
  std::set<std::string> recovered_nodes_;
  // "<incident id>|<reserved host>" → when a temporary error (a 503, a timeout) reading or
  // enabling that reserved host began: retried at each tick for kReservedHostRetryFor, then the
  // host is unusable for the incident. In memory: a restart gives it that time again.
  std::map<std::string, TimePoint> reserved_trouble_since_;
  // Incidents resumed while fencing: the journaled power-off may never have gone out, so it is
  // issued again (power-off is idempotent) with a fresh deadline.
  std::set<std::string> reissue_power_off_;
  // Nodes a source says an operator took out of service in the last poll → what it said.
  std::map<std::string, std::string> operator_maintenance_;
  // (node, source) → a live node whose checked service does not answer, since the first cycle
  // that saw it (for `status`; never a reason to fence). Looked up by views: every observation
  // of every cycle is checked against it.
  struct NodeSourceLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::tie(a.first, a.second) < std::tie(b.first, b.second);
    }
  };
  std::map<std::pair<std::string, std::string>, ServiceDown, NodeSourceLess> services_down_;
  // Guards. Whether each reference monitor's poll succeeded in the last cycle.
  std::map<const Monitor*, bool> monitor_answered_;
  int isolated_cycles_ = 0;  // consecutive cycles that found the controller cut off
  std::map<std::string, TimePoint> flapping_since_;  // flapping nodes, since when
  std::set<std::string> flapping_alerted_;           // flapping nodes whose alert is queued
  bool isolation_alerted_ = false;                   // told about the current isolation episode
  TimePoint isolated_since_;
  std::optional<std::string> published_guards_;  // the "guards" setting as last read or written
  // What published_guards_ was built from: the rest of the state as text, and the versions
  // of the two lists that can hold an entry per node (unprotected nodes, services down). While
  // they are the same the guards' state is not built again.
  struct GuardsKey {
    std::string small;
    uint64_t readiness = 0;
    uint64_t services_down = 0;
    bool operator==(const GuardsKey&) const = default;
  };
  std::optional<GuardsKey> published_key_;
  uint64_t services_down_version_ = 0;  // changes with any entry of services_down_
  std::optional<bool> paused_seen_;
  // Closed incidents whose node is being unfenced (by hostname), and when each may next call
  // the cloud or the fencers.
  std::map<std::string, Incident> unfencing_;
  std::map<std::string, TimePoint> next_unfence_try_;
  // Unfences powering on: the fencing level being asked and the refusals so far, by hostname.
  struct PowerOn {
    size_t level = 0;
    std::string errors;
  };
  std::map<std::string, PowerOn> powering_on_;
  // The instances of the show() call in flight: (incident id, instance id).
  struct Shown {
    std::string incident_id;
    std::string instance_id;
    bool request_settled = false;  // no evacuate call of it was running when the show started
  };
  std::vector<Shown> shown_;
  // Evacuate-call keys of instances journaled as requested that a show, made when no request of
  // theirs was running, found neither moved nor rebuilding: the request never reached the cloud
  // (a crash between the journal and the call, or a request lost on the way); asked again.
  std::set<std::string> reask_;
};

}  // namespace fdr::core
