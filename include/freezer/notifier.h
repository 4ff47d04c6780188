#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freezer/clock.h"
#include "freezer/result.h"

namespace fdr {

// What happened, in words an operator or a user reads. Each kind has its own template.
enum class NotificationKind {
  kFailureConfirmed,    // admins: a node failed, fencing starts
  kFenceFailed,         // admins, urgent: nothing will be evacuated
  kGuardTripped,        // admins: storm guard or isolation vetoed fencing
  kEvacuationFinished,  // users of a project and admins: where each instance went
  kEvacuationPartial,   // users of a project and admins: which did not come back, and why
  kNodeBackInService,   // admins
  kRecoveryStuck,       // admins, urgent: the node is off but recovery cannot go on
  kUnfenceFailed,       // admins: an unfenced node did not come back in time; left out of service
};
std::string_view toString(NotificationKind k);
std::optional<NotificationKind> notificationKindFromString(std::string_view s);

enum class Audience { kAdmins, kProject };

struct InstanceOutcome {
  std::string id;
  std::string name;
  std::string from_host;
  std::string to_host;  // empty if it did not come back
  // The instance's owner (Nova's user_id); empty if unknown. Default-initialised so that
  // designated initialisers written before it may leave it out.
  std::string user_id = {};
  bool ok = false;
  std::string reason;   // why it failed or was skipped
  int64_t down_ms = 0;  // from the failure's detection to confirmed running elsewhere
  // What the evacuation did to its disk, in words (InstanceRecord::disk): kept, or rebuilt from
  // its image. Empty if unknown.
  std::string disk = {};
};

struct Notification {
  NotificationKind kind = NotificationKind::kFailureConfirmed;
  Audience audience = Audience::kAdmins;
  std::string project_id;  // for Audience::kProject
  std::string incident_id;
  std::string node;
  TimePoint at;
  std::string subject;
  std::string summary;  // one paragraph of plain text
  std::vector<InstanceOutcome> instances;
};

// Stage 4: delivers a notification (email, webhook, file). send() either delivers or returns an
// error; retries belong to the caller (the outbox), so a notifier never blocks recovery for long.
class Notifier {
 public:
  virtual ~Notifier() = default;
  [[nodiscard]] virtual Status send(const Notification& notification) = 0;
};

using NotifierPtr = std::unique_ptr<Notifier>;

}  // namespace fdr
