// The fake monitor, like the original's DummyDriver: reports configured nodes down. It stands in
// for several sources at once (option `sources`), so detection rules that need K agreeing
// sources can be exercised. With `down-file`, the list of down nodes is re-read at every poll,
// so a test or the demo can fail a node while the daemon runs.
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerFakeMonitor(Registry& registry);

}  // namespace fdr::drivers
