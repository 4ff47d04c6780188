// --dry-run: the real engine runs over wrappers that print what they would do instead of doing
// it. Reads (power status, instance lists) go to the real drivers; nothing is changed.
#pragma once

#include <ostream>

#include "app/wiring.h"

namespace fdr::app {

// Wraps every side-effecting driver of `real` (fencers, evacuator, notifiers) so that it only
// prints to `out`. Monitors are used as they are. The wrappers keep pointers into `real`.
Pipeline dryRunPipeline(const Pipeline& real, std::ostream& out);

}  // namespace fdr::app
