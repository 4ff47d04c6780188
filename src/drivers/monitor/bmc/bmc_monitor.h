// The BMC monitor: each node's power state as its BMC reports it, read through a fencer driver's
// powerStatus() (`fencer`, default "ipmi"; any registered fencer: redfish, libvirt, fence-agent,
// fake), built through the registry from the same inventory fields (fencer-ip, fencer-user,
// fencer-password, ...) and from `fencer-options` ("timeout=5s; workarounds=opensesspriv":
// key=value pairs separated by ';', checked against that fencer's option schema at start-up).
//
// One source (`source`, default "bmc"):
//   power off          down: a node whose BMC says off is down for certain.
//   power on           UNKNOWN, not up. Power on says nothing about the host OS: a hung kernel, a
//                      panic or a dead NIC all leave the power on. Were "on" reported up, a
//                      powered-on but dead host would show a healthy source, and any rule that
//                      lets an up source outweigh down ones (now or later) would mask the real
//                      failure seen by the other monitors. This source can only add evidence of
//                      death, never of life.
//   cannot tell        unknown (the BMC answered "unknown", or the call failed: the reason is in
//                      the detail). A BMC that does not answer is not proof of anything either.
// If no BMC at all answers (every call failed), poll() fails: the problem is on this side (the
// management network, the credentials), and the monitor says so once instead of N times.
//
// Calls run in parallel on `concurrency` threads, each with its own fencer instance (fencers need
// not be thread-safe); each call is bounded by the fencer's own timeout. With `interval`, polls
// within `interval` of the last reading return it again instead of asking every BMC (BMCs are
// slow and some fall over when polled every second).
#pragma once

#include <string>

#include "freezer/options.h"
#include "freezer/registry.h"

namespace fdr::drivers {

// "k=v; k2=v2" -> raw options (each `where` = `where`). kInvalidArgument naming a malformed pair.
Result<RawOptions> parseFencerOptions(const std::string& text, const std::string& where);

// The fencer factory is looked up in `registry.fencers` when a bmc monitor is created.
// REQUIRES: `registry` outlives every bmc monitor factory call and is not moved.
Status registerBmcMonitor(Registry& registry);

}  // namespace fdr::drivers
