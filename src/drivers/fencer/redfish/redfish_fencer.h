// The Redfish fencer: finds the node's ComputerSystem (GET /redfish/v1/Systems, or a configured
// system id), powers it off and on with the `ComputerSystem.Reset` action (ForceOff / On) and
// reads `PowerState`. HTTP(S) through libcurl; Basic or session (X-Auth-Token) authentication.
//
// Node fields: fencer-ip (BMC host, or a base URL such as https://bmc1:8443), fencer-port (0: the
// scheme's port or the `port` option), fencer-user, fencer-password. Per-node keys in the
// inventory entry (BMCs often have their own CA): redfish-ca-file, redfish-insecure,
// redfish-system-id, redfish-scheme. TLS is verified unless `insecure` says otherwise.
//
// Each call makes a few requests (log in, find the system once, the action or the read, log
// out) under one deadline: `timeout`. Thread-safe; the only shared state is a cache of where
// each node's system and Reset action are.
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerRedfishFencer(Registry& registry);

}  // namespace fdr::drivers
