// The fake fencer: powers nodes off and on in a simulated power table. It fails, lies or hides
// as configured, so the engine's safety rules can be tested: `fail` (power-off refused),
// `stuck-on` (power-off "succeeds" but the node stays on), `unknown` (status unreadable).
// With `state-file` the power table is a JSON file shared across restarts, so a crash test can
// check what was really done.
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerFakeFencer(Registry& registry);

}  // namespace fdr::drivers
