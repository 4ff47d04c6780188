// What `freezer-dr status` prints: incidents with per-instance outcomes and timings.
#pragma once

#include <ostream>
#include <vector>

#include "freezer/incident.h"
#include "freezer/journal.h"

namespace fdr::app {

void printIncident(std::ostream& out, const Incident& incident);
void printStatus(std::ostream& out, const std::vector<Incident>& open,
                 const std::vector<Incident>& recent, const std::vector<OutboxItem>& undelivered,
                 bool paused);

}  // namespace fdr::app
