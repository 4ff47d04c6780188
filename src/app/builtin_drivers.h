#pragma once

#include "freezer/registry.h"
#include "freezer/result.h"

namespace fdr::app {

// Registers every driver built into this binary, and names the planned ones (so that a config
// naming them gets "not supported yet" rather than "unknown"). Called once by main() and by
// each test that needs the real set; a test may build its own Registry instead.
Status registerBuiltinDrivers(Registry& registry);

}  // namespace fdr::app
