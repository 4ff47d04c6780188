// The incident state machine: pure functions of (incident, event). The event carries its time.
//
// Safety lives here as well as in the engine: apply() refuses any event that is not allowed in
// the incident's phase, so no sequence of events can take a node to evacuation without a
// power-off read back as OFF (or an operator's confirmation) — invariant 1.
#pragma once

#include "freezer/incident.h"
#include "freezer/incident_event.h"
#include "freezer/result.h"

namespace fdr::core {

// Applies `event` to `incident`, returning the incident as it is after the event, with
// revision + 1 and updated_at = event.at. An event not allowed in the current phase (or naming
// an unknown instance) is kInvalidArgument and changes nothing. kDetected creates the incident
// and is only allowed on a default-constructed Incident (revision 0). The unfence events are
// only allowed on a closed incident (kDone, kCancelled) and only change its `unfence`.
[[nodiscard]] Result<Incident> apply(const Incident& incident, const Event& event);

// The instance state an evacuated instance must reach: SHUTOFF stays SHUTOFF; anything else
// must come back ACTIVE.
[[nodiscard]] std::string expectedStatusAfterEvacuation(const std::string& former_status);

// True when every instance record is in a final phase (done, failed or skipped).
[[nodiscard]] bool allInstancesFinal(const Incident& incident);

[[nodiscard]] const InstanceRecord* findInstance(const Incident& incident, const std::string& id);

}  // namespace fdr::core
