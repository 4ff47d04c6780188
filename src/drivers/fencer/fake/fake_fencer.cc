#include "drivers/fencer/fake/fake_fencer.h"

#include <algorithm>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/files.h"

namespace fdr::drivers {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

class FakeFencer final : public Fencer {
 public:
  struct Faults {
    std::vector<std::string> fail;
    std::vector<std::string> stuck_on;
    std::vector<std::string> unknown;
  };

  FakeFencer(Faults faults, std::string state_file)
      : faults_(std::move(faults)), state_file_(std::move(state_file)) {}

  Status powerOff(const Node& node) override {
    if (contains(faults_.fail, node.hostname)) {
      return fail(
          ErrorCode::kUnavailable,
          "fake fencer: BMC of " + node.hostname + " refused power-off (configured to fail)", true);
    }
    if (contains(faults_.stuck_on, node.hostname)) return {};  // lies: stays on
    return setPower(node, "off");
  }

  Status powerOn(const Node& node) override {
    if (contains(faults_.fail, node.hostname)) {
      return fail(ErrorCode::kUnavailable,
                  "fake fencer: BMC of " + node.hostname + " refused power-on", true);
    }
    return setPower(node, "on");
  }

  Result<PowerState> powerStatus(const Node& node) override {
    if (contains(faults_.unknown, node.hostname)) {
      return fail(ErrorCode::kUnavailable,
                  "fake fencer: BMC of " + node.hostname + " does not answer", true);
    }
    std::lock_guard lock(mutex_);
    auto table = load();
    if (!table) return std::unexpected(table.error());
    auto it = table->find(node.hostname);
    if (it == table->end() || it->second == "on") return PowerState::kOn;
    return PowerState::kOff;
  }

 private:
  using Table = std::map<std::string, std::string>;

  Status setPower(const Node& node, const std::string& state) {
    std::lock_guard lock(mutex_);
    auto table = load();
    if (!table) return std::unexpected(table.error());
    (*table)[node.hostname] = state;
    if (state_file_.empty()) {
      memory_ = *table;
      return {};
    }
    nlohmann::json doc = *table;
    return writeFileAtomic(state_file_, doc.dump(2) + "\n");
  }

  Result<Table> load() const {
    if (state_file_.empty()) return memory_;
    auto content = readFileIfExists(state_file_);
    if (!content) return std::unexpected(content.error());
    if (!*content) return Table{};
    nlohmann::json doc = nlohmann::json::parse(**content, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) {
      return fail(ErrorCode::kCorruption,
                  "fake fencer: state file " + state_file_ + " is not a JSON object");
    }
    Table table;
    for (const auto& [host, value] : doc.items()) {
      if (!value.is_string()) {
        return fail(ErrorCode::kCorruption, "fake fencer: state file " + state_file_ +
                                                ": power of " + host + " is not a string");
      }
      table[host] = value.get<std::string>();
    }
    return table;
  }

  Faults faults_;
  std::string state_file_;
  std::mutex mutex_;
  Table memory_;
};

}  // namespace

Status registerFakeFencer(Registry& registry) {
  return registry.fencers.add(DriverFactory<Fencer>{
      .name = "fake",
      .aliases = {"dummy"},
      .description = "a simulated power table that fails or lies as configured",
      .schema =
          {
              {.name = "fail",
               .type = OptionType::kList,
               .default_value = "",
               .help = "hosts whose BMC refuses every request"},
              {.name = "stuck-on",
               .type = OptionType::kList,
               .default_value = "",
               .help = "hosts that stay on although power-off is accepted"},
              {.name = "unknown",
               .type = OptionType::kList,
               .default_value = "",
               .help = "hosts whose power state cannot be read"},
              {.name = "state-file",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "JSON power table shared across restarts"},
          },
      .create = [](const Options& options, DriverContext&) -> Result<FencerPtr> {
        return std::make_unique<FakeFencer>(
            FakeFencer::Faults{options.getList("fail"), options.getList("stuck-on"),
                               options.getList("unknown")},
            options.getString("state-file"));
      },
  });
}

}  // namespace fdr::drivers
