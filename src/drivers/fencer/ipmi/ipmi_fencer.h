// The IPMI fencer: chassis power status, power-down and power-up over IPMI 2.0 LAN (lanplus,
// RMCP+) through FreeIPMI's library. The password goes from the inventory straight into the
// library: no command line, no environment, no log.
//
// Node fields: fencer-ip (BMC address), fencer-port (0: the `port` option), fencer-user,
// fencer-password. Per-node overrides in the inventory entry: ipmi-cipher-suite,
// ipmi-privilege-level, ipmi-workarounds (same values as the driver options).
//
// Each call opens one session, sends one command (power-off when the BMC refuses it also reads
// the status back) and closes the session; every call is bounded by `timeout`. Thread-safe: no
// state is shared between calls.
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerIpmiFencer(Registry& registry);

}  // namespace fdr::drivers
