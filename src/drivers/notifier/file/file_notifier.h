// The file notifier: appends each notification as one JSON line to a file (the `endpoint` of
// [notifiers], or `path`). For demos, tests, and operators who feed another system from a file.
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerFileNotifier(Registry& registry);

}  // namespace fdr::drivers
