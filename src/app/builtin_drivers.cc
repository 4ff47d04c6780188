#include "app/builtin_drivers.h"

#include "drivers/evacuator/fake/fake_evacuator.h"
#include "drivers/evacuator/nova/nova_evacuator.h"
#include "drivers/fencer/fake/fake_fencer.h"
#include "drivers/fencer/fence_agent/fence_agent_fencer.h"
#include "drivers/fencer/ipmi/ipmi_fencer.h"
#include "drivers/fencer/libvirt/libvirt_fencer.h"
#include "drivers/fencer/redfish/redfish_fencer.h"
#include "drivers/monitor/bmc/bmc_monitor.h"
#include "drivers/monitor/fake/fake_monitor.h"
#include "drivers/monitor/monasca/monasca_monitor.h"
#include "drivers/monitor/neutron/neutron_monitor.h"
#include "drivers/monitor/nova/nova_monitor.h"
#include "drivers/monitor/probe/probe_monitor.h"
#include "drivers/monitor/prometheus/prometheus_monitor.h"
#include "drivers/notifier/email/email_notifier.h"
#include "drivers/notifier/file/file_notifier.h"
#include "drivers/notifier/webhook/webhook_notifier.h"

namespace fdr::app {

namespace {

// Drivers the original had (or the design plans) that this build lacks: none at the moment.
void addPlanned(Registry& /*registry*/) {}

}  // namespace

Status registerBuiltinDrivers(Registry& registry) {
  // One line per built-in driver. A driver added here must be removed from addPlanned().
  for (Status s : {
           drivers::registerFakeMonitor(registry),
           drivers::registerProbeMonitor(registry),
           drivers::registerNovaMonitor(registry),
           drivers::registerNeutronMonitor(registry),
           drivers::registerBmcMonitor(registry),
           drivers::registerPrometheusMonitor(registry),
           drivers::registerMonascaMonitor(registry),
           drivers::registerFakeFencer(registry),
           drivers::registerIpmiFencer(registry),
           drivers::registerRedfishFencer(registry),
           drivers::registerLibvirtFencer(registry),
           drivers::registerFenceAgentFencer(registry),
           drivers::registerFakeEvacuator(registry),
           drivers::registerNovaEvacuator(registry),
           drivers::registerFileNotifier(registry),
           drivers::registerEmailNotifier(registry),
           drivers::registerWebhookNotifier(registry),
       }) {
    if (!s) return s;
  }
  addPlanned(registry);
  return {};
}

}  // namespace fdr::app
