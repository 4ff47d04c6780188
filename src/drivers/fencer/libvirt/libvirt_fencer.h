// The libvirt fencer, for virtual compute nodes: destroys (hard power-off), starts and reads the
// state of the node's domain through libvirt's C API.
//
// Node fields: domain-name (required). The connection URI is the `uri` option (the original
// freezer-dr's `name`), or the inventory entry's libvirt-uri for nodes on other hypervisors;
// empty means libvirt's default (LIBVIRT_DEFAULT_URI, then qemu:///system).
//
// One connection per URI is opened on first use and kept (reopened after it breaks): the test
// driver (test:///default, test:///abs/world.xml) keeps its state per connection. libvirt has no
// per-call timeout, so each call runs on a worker thread and the caller stops waiting at
// `timeout` (kTimedOut); a hung worker finishes, or stays blocked, on its own. Thread-safe.
#pragma once

#include "freezer/registry.h"

namespace fdr::drivers {

Status registerLibvirtFencer(Registry& registry);

}  // namespace fdr::drivers
