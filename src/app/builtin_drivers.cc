#include "app/builtin_drivers.h"

#include "drivers/evacuator/fake/fake_evacuator.h"
#include "drivers/fencer/fake/fake_fencer.h"
#include "drivers/fencer/fence_agent/fence_agent_fencer.h"
#include "drivers/fencer/ipmi/ipmi_fencer.h"
#include "drivers/fencer/libvirt/libvirt_fencer.h"
#include "drivers/fencer/redfish/redfish_fencer.h"
#include "drivers/monitor/fake/fake_monitor.h"
#include "drivers/notifier/file/file_notifier.h"

namespace fdr::app {

namespace {

void addPlanned(Registry& r) {
  r.monitors.addPlanned({"nova",
                         {"freezer_dr.monitors.drivers.default.driver.StandardDriver"},
                         "the Nova/Neutron monitor comes with multi-signal detection (issue 6)"});
  r.monitors.addPlanned({"monasca",
                         {"freezer_dr.monitors.drivers.monasca.driver.MonascaDriver"},
                         "the Monasca monitor comes with multi-signal detection (issue 6)"});
  r.evacuators.addPlanned({"nova",
                           {"freezer_dr.evacuators.drivers.default.standard.StandardEvacuator"},
                           "comes with the Nova evacuator (issue 5)"});
  r.notifiers.addPlanned({"email",
                          {"freezer_dr.notifiers.drivers.default.default_email.StandardEmail"},
                          "comes with the notifiers (issue 7)"});
  r.notifiers.addPlanned({"slack",
                          {"freezer_dr.notifiers.drivers.slack.slack.SlackNotifier"},
                          "comes with the webhook notifier (issue 7)"});
}

}  // namespace

Status registerBuiltinDrivers(Registry& registry) {
  // One line per built-in driver. A driver added here must be removed from addPlanned().
  for (Status s : {
           drivers::registerFakeMonitor(registry),
           drivers::registerFakeFencer(registry),
           drivers::registerIpmiFencer(registry),
           drivers::registerRedfishFencer(registry),
           drivers::registerLibvirtFencer(registry),
           drivers::registerFenceAgentFencer(registry),
           drivers::registerFakeEvacuator(registry),
           drivers::registerFileNotifier(registry),
       }) {
    if (!s) return s;
  }
  addPlanned(registry);
  return {};
}

}  // namespace fdr::app
