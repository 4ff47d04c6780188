// Fencing: the node's fencer levels in order, `fence_retries` attempts each, every attempt
// bounded by fence_attempt_timeout and the whole fence by fence_deadline; after a power-off is
// accepted the power state is read back, with backoff, until it reads OFF. Each call runs on the
// fence lane (several nodes are fenced at once; a BMC that hangs holds only its own node), and
// its answer is journaled at a later tick before the next step is taken.
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/engine.h"
#include "core/engine_internal.h"
#include "core/kill_point.h"

namespace fdr::core {

using namespace engine_internal;

namespace {

std::string powerOffKey(const Incident& incident) {
  return callKey(incident.id,
                 fmt::format("power-off|{}|{}", incident.fence.level, incident.fence.attempt));
}

std::string powerStatusKey(const Incident& incident) {
  return callKey(incident.id, "power-status");
}

}  // namespace

Status Engine::requestPowerOff(Incident& incident, int level, int attempt, bool new_deadline) {
  const NamedFencer& fencer = drivers_.fencers[static_cast<size_t>(level)];
  const TimePoint now = clock_.now();
  std::optional<TimePoint> fence_deadline;  // none: the one set keeps
  if (new_deadline || !incident.fence.deadline) fence_deadline = now + policy_.fence_deadline;
  const Event ev{
      .at = now,
      .payload = events::PowerOffRequested{.level = level,
                                           .attempt = attempt,
                                           .fencer = fencer.name,
                                           .attempt_deadline = now + policy_.fence_attempt_timeout,
                                           .fence_deadline = fence_deadline}};
  // The last attempt's request, if it is still out, is answered to nobody.
  if (incident.fence.off_requested_at) calls_.abandon(powerOffKey(incident));
  if (auto recorded = record(incident, ev); !recorded) return recorded;
  spdlog::info("incident {}: powering {} off with {} (level {}, attempt {})", incident.id,
               incident.node, fencer.name, level + 1, attempt);
  // A read of the power state for the last attempt answers nothing now.
  calls_.abandon(powerStatusKey(incident));
  calls_.start<void>(powerOffKey(incident), kFenceLane, policy_.fence_attempt_timeout,
                     [f = fencer.fencer, n = *node(incident.node)] {
                       Status off = f->powerOff(n);
                       killPoint("effect:power-off-requested");
                       return off;
                     });
  return {};
}

bool Engine::advanceFencing(Incident& incident) {
  if (drivers_.fencers.empty()) {
    const std::string why = "no fencer is configured";
    return record(
               incident, event(events::FenceFailed{.detail = why}),
               {adminAlert(incident, NotificationKind::kFenceFailed,
                           "[freezer-dr] URGENT: " + incident.node + " could not be fenced", why)})
        .has_value();
  }
  const TimePoint now = clock_.now();
  FenceProgress& fence = incident.fence;
  if (incident.phase == Phase::kDetected) {
    return requestPowerOff(incident, 0, 1, true).has_value();
  }
  if (reissue_power_off_.erase(incident.id) > 0) {
    return requestPowerOff(incident, fence.level, std::max(fence.attempt, 1), true).has_value();
  }
  const NamedFencer& fencer = drivers_.fencers[static_cast<size_t>(fence.level)];
  const auto fail_fence = [&](const std::string& why) {
    spdlog::error("incident {}: fence failed: {}; nothing will be evacuated", incident.id, why);
    const bool recorded =
        record(incident, event(events::FenceFailed{.detail = why}),
               {adminAlert(incident, NotificationKind::kFenceFailed,
                           "[freezer-dr] URGENT: " + incident.node + " could not be fenced",
                           "freezer-dr could not confirm that " + incident.node +
                               " is powered off: " + why +
                               ". Its instances are NOT evacuated. Power it off by hand, "
                               "then run: freezer-dr confirm-fenced " +
                               incident.node)})
            .has_value();
    if (recorded) abandonCalls(incident.id);
    return recorded;
  };
  // The answer to this attempt's power-off request (success only means it was accepted).
  if (fence.off_requested_at) {
    if (auto off = calls_.take<void>(powerOffKey(incident)); off && !*off) {
      const std::string why = fmt::format("{} could not power {} off: {}", fencer.name,
                                          incident.node, off->error().message);
      spdlog::warn("incident {}: {}", incident.id, why);
      return record(incident, event(events::PowerOffFailed{.detail = why}))
          .has_value();  // the attempt is over
    }
  }
  if (fence.deadline && now >= *fence.deadline) {
    return fail_fence(fmt::format("no power-off confirmed within {}; last power state read: {}",
                                  seconds(policy_.fence_deadline), toString(fence.last_power)));
  }
  const bool off_answered = fence.off_requested_at && !calls_.started(powerOffKey(incident));
  if (off_answered && fence.next_check_at && *fence.next_check_at <= now) {
    const std::string key = powerStatusKey(incident);
    if (auto power = calls_.take<PowerState>(key)) {
      const TimePoint read_at = clock_.now();
      const PowerState read_power = *power ? **power : PowerState::kUnknown;
      std::string problem;
      if (!*power) {
        problem = fencer.name + " could not read the power state: " + power->error().message;
      } else if (read_power != PowerState::kOff) {
        problem = fencer.name + " reads the power " + std::string(toString(read_power));
      }
      Duration backoff = policy_.check_backoff_initial * (1 << std::min(fence.checks, 10));
      const Event observed{
          .at = read_at,
          .payload = events::PowerObserved{
              .fencer = fencer.name,
              .power = read_power,
              .next_check_at = read_at + std::min(backoff, policy_.check_backoff_max),
              .detail = std::move(problem)}};
      if (!record(incident, observed)) return false;
      if (read_power == PowerState::kOff) {
        if (!record(incident, event(events::FenceConfirmed{.fencer = fencer.name}))) return false;
        spdlog::warn("incident {}: {} is off (read back through {})", incident.id, incident.node,
                     fencer.name);
        return true;
      }
    } else if (!calls_.started(key)) {
      calls_.start<PowerState>(
          key, kFenceLane, policy_.fence_attempt_timeout,
          [f = fencer.fencer, n = *node(incident.node)] { return f->powerStatus(n); });
    }
  }
  const bool attempt_over =
      !fence.off_requested_at || (fence.attempt_deadline && now >= *fence.attempt_deadline);
  if (!attempt_over) return false;  // keep polling at next_check_at
  if (fence.attempt < policy_.fence_retries) {
    return requestPowerOff(incident, fence.level, fence.attempt + 1, false).has_value();
  }
  if (fence.level + 1 < static_cast<int>(drivers_.fencers.size())) {
    return requestPowerOff(incident, fence.level + 1, 1, false).has_value();
  }
  return fail_fence(
      fmt::format("every fencing level failed ({} level(s), {} attempt(s) each); "
                  "last power state read: {}",
                  drivers_.fencers.size(), policy_.fence_retries, toString(fence.last_power)));
}

}  // namespace fdr::core
