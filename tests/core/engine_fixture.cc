#include "core/engine_fixture.h"

#include <algorithm>

namespace fdr::testing {

Result<std::vector<Observation>> ScriptedMonitor::poll(std::span<const Node> nodes) {
  if (blocks && executor != nullptr) {
    executor->block();
    return fail(ErrorCode::kUnavailable, "released at the end of the test");
  }
  if (unreachable) return fail(ErrorCode::kUnavailable, "monitor API unreachable");
  std::vector<Observation> out;
  for (const Node& node : nodes) {
    int down_sources = down.contains(node.hostname) ? sources_ : 0;
    if (auto it = sources_down.find(node.hostname); it != sources_down.end()) {
      down_sources = it->second;
    }
    for (int s = 0; s < sources_; ++s) {
      const bool closed = service_down.contains(node.hostname) && s >= down_sources;
      out.push_back({.node = node.hostname,
                     .source = "src" + std::to_string(s),
                     .health = s < down_sources ? Health::kDown : Health::kUp,
                     .at = clock_.now(),
                     .detail = closed ? "10.0.0.9:22: the node answered but its service does not "
                                        "(connection refused)"
                                      : "",
                     .service_down = closed});
    }
  }
  for (const std::string& host : outside) {
    out.push_back({.node = host,
                   .source = "src0",
                   .health = Health::kUnknown,
                   .at = clock_.now(),
                   .detail = "a nova-compute service with no entry in the inventory"});
  }
  return out;
}

Status ScriptedFencer::powerOff(const Node& node) {
  if (world_.bmc_blocks.contains(node.hostname) && world_.executor != nullptr) {
    world_.executor->block();
    return fail(ErrorCode::kUnavailable, "released at the end of the test");
  }
  std::lock_guard lock(world_.mutex);
  if (world_.dead) return fail(ErrorCode::kUnavailable, "process is dead");
  off_calls += 1;
  switch (mode_) {
    case Mode::kWorks: world_.power[node.hostname] = PowerState::kOff; return {};
    case Mode::kRefuses: return fail(ErrorCode::kPermissionDenied, "BMC refused: bad password");
    case Mode::kHangs: return fail(ErrorCode::kTimedOut, "BMC did not answer within 5 s", true);
    case Mode::kLies: return {};
    case Mode::kBlind: world_.power[node.hostname] = PowerState::kOff; return {};
  }
  return {};
}

Status ScriptedFencer::powerOn(const Node& node) {
  if (world_.bmc_blocks.contains(node.hostname) && world_.executor != nullptr) {
    world_.executor->block();
    return fail(ErrorCode::kUnavailable, "released at the end of the test");
  }
  std::lock_guard lock(world_.mutex);
  if (world_.dead) return fail(ErrorCode::kUnavailable, "process is dead");
  on_calls += 1;
  world_.power_on_calls += 1;
  switch (mode_) {
    case Mode::kRefuses: return fail(ErrorCode::kPermissionDenied, "BMC refused: bad password");
    case Mode::kHangs: return fail(ErrorCode::kTimedOut, "BMC did not answer within 5 s", true);
    case Mode::kLies: return {};
    case Mode::kWorks:
    case Mode::kBlind: break;
  }
  if (world_.power[node.hostname] != PowerState::kOn && world_.clock != nullptr) {
    world_.powered_on_at[node.hostname] = world_.clock->now();
  }
  world_.power[node.hostname] = PowerState::kOn;
  return {};
}

Result<PowerState> ScriptedFencer::powerStatus(const Node& node) {
  if (world_.bmc_blocks.contains(node.hostname) && world_.executor != nullptr) {
    world_.executor->block();
    return fail(ErrorCode::kUnavailable, "released at the end of the test");
  }
  std::lock_guard lock(world_.mutex);
  if (world_.clock != nullptr) world_.status_reads[node.hostname].push_back(world_.clock->now());
  if (auto e = world_.status_errors.find(node.hostname); e != world_.status_errors.end()) {
    return std::unexpected(e->second);
  }
  if (mode_ == Mode::kHangs) return fail(ErrorCode::kTimedOut, "BMC did not answer", true);
  if (mode_ == Mode::kBlind) return PowerState::kUnknown;
  auto it = world_.power.find(node.hostname);
  return it == world_.power.end() ? PowerState::kOn : it->second;
}

Status ScriptedEvacuator::forceDown(const Node& node, const std::string&) {
  if (world_.force_down_blocks && world_.executor != nullptr) {
    world_.executor->block();
    return fail(ErrorCode::kUnavailable, "released at the end of the test");
  }
  std::lock_guard lock(world_.mutex);
  if (world_.dead) return fail(ErrorCode::kUnavailable, "process is dead");
  world_.force_down_calls += 1;
  if (refuse_force_down) return fail(ErrorCode::kUnavailable, "nova-api answered 503", true);
  world_.forced_down[node.hostname] = true;
  world_.disabled[node.hostname] = true;
  return {};
}

Result<ServiceState> ScriptedEvacuator::computeService(const Node& node) {
  std::lock_guard lock(world_.mutex);
  if (world_.dead) return fail(ErrorCode::kUnavailable, "process is dead");
  const std::string& host = node.hostname;
  if (std::find(hosts_.begin(), hosts_.end(), host) == hosts_.end()) {
    return fail(ErrorCode::kNotFound, "no compute service on " + host);
  }
  const auto power = world_.power.find(host);
  bool running = (power == world_.power.end() || power->second == PowerState::kOn) &&
                 !world_.compute_never_reports.contains(host) && world_.clock != nullptr;
  if (running) {
    if (auto on = world_.powered_on_at.find(host); on != world_.powered_on_at.end()) {
      running = world_.clock->now() >= on->second + world_.compute_boot;
    }
  }
  if (running) world_.last_heartbeat[host] = world_.clock->now();
  ServiceState state;
  state.forced_down = world_.forced_down[host];
  state.disabled = world_.disabled[host];
  state.up = running && !state.forced_down;
  if (auto beat = world_.last_heartbeat.find(host); beat != world_.last_heartbeat.end()) {
    state.updated_at = beat->second;
  }
  return state;
}

Status ScriptedEvacuator::restore(const Node& node) {
  std::lock_guard lock(world_.mutex);
  if (world_.dead) return fail(ErrorCode::kUnavailable, "process is dead");
  world_.restore_calls += 1;
  if (refuse_restore) return fail(ErrorCode::kUnavailable, "nova-api answered 503", true);
  world_.forced_down[node.hostname] = false;
  world_.service_log.push_back("unforce " + node.hostname);
  world_.disabled[node.hostname] = false;
  world_.service_log.push_back("enable " + node.hostname);
  return {};
}

Status ScriptedEvacuator::enable(const Node& node) {
  std::lock_guard lock(world_.mutex);
  if (world_.dead) return fail(ErrorCode::kUnavailable, "process is dead");
  world_.enable_calls += 1;
  if (refuse_enable || refuse_enable_times > 0) {
    refuse_enable_times = std::max(0, refuse_enable_times - 1);
    return fail(ErrorCode::kUnavailable, "nova-api answered 503", true);
  }
  if (reject_enable) return fail(ErrorCode::kInvalidArgument, "nova-api answered 400", false);
  if (std::find(hosts_.begin(), hosts_.end(), node.hostname) == hosts_.end()) {
    return fail(ErrorCode::kNotFound, "no compute service on " + node.hostname);
  }
  world_.disabled[node.hostname] = false;
  world_.service_log.push_back("enable-only " + node.hostname);
  return {};
}

Result<std::vector<HostRoom>> ScriptedEvacuator::room(const Node& failed) {
  world_.room_calls += 1;
  if (world_.room_blocks && world_.executor != nullptr) {
    world_.executor->block();
    return fail(ErrorCode::kUnavailable, "released at the end of the test");
  }
  std::lock_guard lock(world_.mutex);
  if (world_.dead) return fail(ErrorCode::kUnavailable, "process killed");
  if (world_.room_error) return std::unexpected(*world_.room_error);
  if (world_.room_total.empty()) return fail(ErrorCode::kNotSupported, "no capacity figures");
  std::vector<HostRoom> out;
  for (const auto& [host, total] : world_.room_total) {
    if (host == failed.hostname || world_.forced_down[host]) continue;
    HostRoom h{.host = host, .enabled = !world_.disabled[host], .free = total};
    for (const Instance& vm : world_.instances) {
      if (vm.host != host || !vm.size) continue;
      h.free.vcpus -= vm.size->vcpus;
      h.free.memory_mb -= vm.size->memory_mb;
      h.free.disk_gb -= vm.size->disk_gb;
    }
    out.push_back(h);
  }
  return out;
}

Result<std::vector<Instance>> ScriptedEvacuator::listInstances(const Node& node) {
  world_.list_calls += 1;
  std::lock_guard lock(world_.mutex);
  std::vector<Instance> out;
  for (const Instance& vm : world_.instances) {
    if (vm.host == node.hostname) out.push_back(vm);
  }
  return out;
}

std::vector<Status> ScriptedEvacuator::evacuate(std::span<const EvacuationRequest> requests) {
  if (world_.evacuate_blocks && world_.executor != nullptr) {
    world_.evacuate_parked += 1;
    world_.executor->block();
    return std::vector<Status>(requests.size(),
                               fail(ErrorCode::kUnavailable, "released at the end of the test"));
  }
  std::lock_guard lock(world_.mutex);
  std::vector<Status> out;
  for (const auto& r : requests) {
    if (world_.dead) {
      out.push_back(fail(ErrorCode::kUnavailable, "process is dead"));
      continue;
    }
    auto vm = std::find_if(world_.instances.begin(), world_.instances.end(),
                           [&](const Instance& i) { return i.id == r.instance_id; });
    if (vm == world_.instances.end()) {
      out.push_back(fail(ErrorCode::kNotFound, "no instance " + r.instance_id));
      continue;
    }
    if (world_.refuse_evacuation.contains(vm->id)) {
      out.push_back(fail(ErrorCode::kConflict, "evacuation refused by the scheduler"));
      continue;
    }
    if (!world_.forced_down[vm->host]) {
      out.push_back(fail(ErrorCode::kConflict, "compute service still in use"));
      continue;
    }
    const auto room = [&](const std::string& h) {
      auto cap = world_.capacity.find(h);
      if (cap == world_.capacity.end()) return true;
      return std::count_if(world_.instances.begin(), world_.instances.end(),
                           [&](const Instance& i) { return i.host == h; }) < cap->second;
    };
    std::string target;
    if (r.target_host) {
      if (std::find(hosts_.begin(), hosts_.end(), *r.target_host) == hosts_.end()) {
        out.push_back(fail(ErrorCode::kNotFound, "Compute host " + *r.target_host + " not found."));
        continue;
      }
      world_.targets[vm->id].push_back(*r.target_host);
      if (world_.forced_down[*r.target_host] || world_.disabled[*r.target_host] ||
          !room(*r.target_host)) {
        // Accepted; the conductor's scheduler call then fails (NoValidHost).
        world_.status_before_error.emplace(vm->id, vm->status);
        vm->status = "ERROR";
        vm->task_state.clear();
        vm->fault = "No valid host was found. ";
        out.emplace_back();
        continue;
      }
      target = *r.target_host;
    } else {
      for (size_t tries = 0; tries < hosts_.size(); ++tries) {
        const std::string& h = hosts_[next_++ % hosts_.size()];
        if (h != vm->host && !world_.forced_down[h] && !world_.disabled[h] && room(h)) {
          target = h;
          break;
        }
      }
    }
    if (auto before = world_.status_before_error.find(vm->id);
        before != world_.status_before_error.end()) {
      vm->status = before->second;  // the rebuild brings it back in its former state
      vm->fault.clear();
      world_.status_before_error.erase(before);
    }
    world_.evacuations[vm->id] += 1;
    world_.evacuation_order.push_back(vm->id);
    vm->host = target;
    vm->task_state = "rebuilding";
    world_.rebuilding[vm->id] = world_.rebuild_polls;
    out.emplace_back();
  }
  return out;
}

std::vector<Result<Instance>> ScriptedEvacuator::show(std::span<const std::string> ids) {
  std::lock_guard lock(world_.mutex);
  std::vector<Result<Instance>> out;
  for (const auto& id : ids) {
    auto vm = std::find_if(world_.instances.begin(), world_.instances.end(),
                           [&](const Instance& i) { return i.id == id; });
    if (vm == world_.instances.end()) {
      out.push_back(fail(ErrorCode::kNotFound, "no instance " + id));
      continue;
    }
    if (auto it = world_.rebuilding.find(id); it != world_.rebuilding.end()) {
      if (it->second > 0) {
        it->second -= 1;
      } else {
        world_.rebuilding.erase(it);
        vm->task_state.clear();
        if (world_.end_in_error.contains(id)) vm->status = "ERROR";
      }
    }
    out.push_back(*vm);
  }
  return out;
}

Status RecordingNotifier::send(const Notification& n) {
  if (blocks && executor != nullptr) {
    {
      std::lock_guard lock(mutex);
      if (clock != nullptr) attempts.emplace_back(clock->now(), n);
    }
    executor->block();
    return fail(ErrorCode::kUnavailable, "released at the end of the test");
  }
  std::lock_guard lock(mutex);
  if (clock != nullptr) attempts.emplace_back(clock->now(), n);
  if (failing) return fail(ErrorCode::kUnavailable, "SMTP server unreachable", true);
  sent.push_back(n);
  return {};
}

Status DyingJournal::dead() const {
  return fail(ErrorCode::kUnavailable, "journal: the process was killed");
}

Status DyingJournal::commit(const JournalEntry& entry, const std::vector<std::string>& names) {
  if (world_.dead) return dead();
  auto s = inner_.commit(entry, names);
  if (s && ++commits == die_after_) world_.dead = true;
  return s;
}

Status DyingJournal::enqueue(const std::vector<Notification>& notifications,
                             const std::vector<std::string>& notifiers) {
  if (world_.dead) return dead();
  if (refuse_enqueue) return fail(ErrorCode::kUnavailable, "journal: disk I/O error");
  auto s = inner_.enqueue(notifications, notifiers);
  if (s) ++enqueued;
  return s;
}

Status DyingJournal::markDelivered(int64_t id, TimePoint at) {
  return world_.dead ? dead() : inner_.markDelivered(id, at);
}

Status DyingJournal::markAttemptFailed(int64_t id, const std::string& e, TimePoint next) {
  return world_.dead ? dead() : inner_.markAttemptFailed(id, e, next);
}

Status DyingJournal::markCommandDone(int64_t id, const std::string& outcome) {
  if (world_.dead) return dead();
  outcomes[id] = outcome;
  return inner_.markCommandDone(id, outcome);
}

Status DyingJournal::setSetting(const std::string& key, const std::string& value) {
  return world_.dead ? dead() : inner_.setSetting(key, value);
}

core::TickSummary settledTick(core::Engine& engine, TestExecutor& executor) {
  core::TickSummary last;
  for (int round = 0; round < 32; ++round) {
    const int before = executor.posted();
    last = engine.tick();
    if (!executor.settle() || executor.posted() == before) break;
  }
  return last;
}

std::vector<Node> makeNodes(int n) {
  std::vector<Node> nodes;
  for (int i = 1; i <= n; ++i) {
    Node node;
    node.id = std::to_string(i);
    node.hostname = "compute-" + std::to_string(i);
    nodes.push_back(node);
  }
  return nodes;
}

}  // namespace fdr::testing
