#include "app/dry_run.h"

#include <map>
#include <set>

namespace fdr::app {
namespace {

class BorrowedMonitor final : public Monitor {
 public:
  explicit BorrowedMonitor(Monitor& real) : real_(real) {}
  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    return real_.poll(nodes);
  }

 private:
  Monitor& real_;
};

class DryRunFencer final : public Fencer {
 public:
  DryRunFencer(std::string name, std::ostream& out) : name_(std::move(name)), out_(out) {}
  Status powerOff(const Node& node) override {
    out_ << "[dry-run] would power " << node.hostname << " off through " << name_ << "\n";
    off_.insert(node.hostname);
    return {};
  }
  Status powerOn(const Node& node) override {
    out_ << "[dry-run] would power " << node.hostname << " on through " << name_ << "\n";
    off_.erase(node.hostname);
    return {};
  }
  Result<PowerState> powerStatus(const Node& node) override {
    return off_.contains(node.hostname) ? PowerState::kOff : PowerState::kOn;
  }

 private:
  std::string name_;
  std::ostream& out_;
  std::set<std::string> off_;
};

class DryRunEvacuator final : public Evacuator {
 public:
  DryRunEvacuator(Evacuator& real, std::ostream& out) : real_(real), out_(out) {}
  Status forceDown(const Node& node, const std::string& reason) override {
    out_ << "[dry-run] would force the compute service of " << node.hostname
         << " down and disable it (\"" << reason << "\")\n";
    return {};
  }
  Result<std::vector<Instance>> listInstances(const Node& node) override {
    auto listed = real_.listInstances(node);
    if (listed) {
      for (const Instance& vm : *listed) instances_[vm.id] = vm;
    }
    return listed;
  }
  std::vector<Status> evacuate(std::span<const EvacuationRequest> requests) override {
    std::vector<Status> out;
    for (const auto& r : requests) {
      const Instance& vm = instances_[r.instance_id];
      out_ << "[dry-run] would evacuate instance " << r.instance_id << " (" << vm.name
           << ", project " << vm.project_id << ") from " << r.source_host
           << (r.target_host ? " to reserved host " + *r.target_host : std::string()) << "\n";
      out.emplace_back();
    }
    return out;
  }
  Result<ServiceState> computeService(const Node& node) override {
    return real_.computeService(node);  // a read: asked of the real cloud
  }
  Status restore(const Node& node) override {
    out_ << "[dry-run] would clear forced-down on the compute service of " << node.hostname
         << ", then enable it\n";
    return {};
  }
  Result<std::vector<HostRoom>> room(const Node& failed) override {
    return real_.room(failed);  // a read: asked of the real cloud
  }
  Status enable(const Node& node) override {
    out_ << "[dry-run] would enable the compute service of reserved host " << node.hostname << "\n";
    return {};
  }
  std::vector<Result<Instance>> show(std::span<const std::string> ids) override {
    std::vector<Result<Instance>> out;
    for (const auto& id : ids) {
      Instance vm = instances_[id];
      vm.host = "(chosen by the scheduler)";
      vm.status = vm.status == "SHUTOFF" ? "SHUTOFF" : "ACTIVE";
      vm.task_state.clear();
      out.emplace_back(std::move(vm));
    }
    return out;
  }

 private:
  Evacuator& real_;
  std::ostream& out_;
  std::map<std::string, Instance> instances_;
};

class DryRunNotifier final : public Notifier {
 public:
  DryRunNotifier(std::string name, std::ostream& out) : name_(std::move(name)), out_(out) {}
  Status send(const Notification& n) override {
    out_ << "[dry-run] would notify "
         << (n.audience == Audience::kAdmins ? "the admins" : "project " + n.project_id)
         << " through " << name_ << ": " << n.subject << "\n";
    return {};
  }

 private:
  std::string name_;
  std::ostream& out_;
};

// Probing reference points changes nothing: the dry run checks them as the daemon would.
class BorrowedIsolationCheck final : public IsolationCheck {
 public:
  explicit BorrowedIsolationCheck(IsolationCheck& inner) : inner_(inner) {}
  std::vector<ReferencePointResult> probe() override { return inner_.probe(); }
  [[nodiscard]] size_t size() const override { return inner_.size(); }

 private:
  IsolationCheck& inner_;
};

}  // namespace

Pipeline dryRunPipeline(const Pipeline& real, std::ostream& out) {
  Pipeline dry;
  for (const auto& m : real.monitors) dry.monitors.push_back(std::make_unique<BorrowedMonitor>(*m));
  dry.reference_monitors = real.reference_monitors;
  if (real.isolation) dry.isolation = std::make_unique<BorrowedIsolationCheck>(*real.isolation);
  for (const auto& [name, f] : real.fencers) {
    dry.fencers.emplace_back(name, std::make_unique<DryRunFencer>(name, out));
  }
  dry.evacuator = std::make_unique<DryRunEvacuator>(*real.evacuator, out);
  for (const auto& [name, n] : real.notifiers) {
    dry.notifiers.emplace_back(name, std::make_unique<DryRunNotifier>(name, out));
  }
  return dry;
}

}  // namespace fdr::app
