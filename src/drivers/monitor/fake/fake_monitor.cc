#include "drivers/monitor/fake/fake_monitor.h"

#include <algorithm>
#include <sstream>

#include "core/files.h"

namespace fdr::drivers {
namespace {

class FakeMonitor final : public Monitor {
 public:
  FakeMonitor(Clock& clock, std::vector<std::string> down, std::string down_file, int sources)
      : clock_(clock),
        down_(std::move(down)),
        down_file_(std::move(down_file)),
        sources_(sources) {}

  Result<std::vector<Observation>> poll(std::span<const Node> nodes) override {
    std::vector<std::string> down = down_;
    if (!down_file_.empty()) {
      auto content = readFileIfExists(down_file_);
      if (!content) return withContext(content.error(), "fake monitor");
      if (*content) {
        std::istringstream lines(**content);
        for (std::string line; std::getline(lines, line);) {
          line.erase(0, line.find_first_not_of(" \t"));
          line.erase(line.find_last_not_of(" \t\r") + 1);
          if (!line.empty() && line[0] != '#') down.push_back(line);
        }
      }
    }
    std::vector<Observation> out;
    const TimePoint now = clock_.now();
    for (const Node& node : nodes) {
      const bool is_down = std::find(down.begin(), down.end(), node.hostname) != down.end();
      for (int s = 1; s <= sources_; ++s) {
        out.push_back(Observation{node.hostname, "fake/" + std::to_string(s),
                                  is_down ? Health::kDown : Health::kUp, now,
                                  is_down ? "configured down" : ""});
      }
    }
    return out;
  }

 private:
  Clock& clock_;
  std::vector<std::string> down_;
  std::string down_file_;
  int sources_;
};

}  // namespace

Status registerFakeMonitor(Registry& registry) {
  return registry.monitors.add(DriverFactory<Monitor>{
      .name = "fake",
      .aliases = {"dummy", "freezer_dr.monitors.drivers.dummy.driver.DummyDriver"},
      .description = "reports the configured nodes down (for demos and tests)",
      .schema =
          {
              {.name = "nodes_down",
               .type = OptionType::kList,
               .default_value = "",
               .help = "hostnames reported down"},
              {.name = "down-file",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "file with one hostname per line, re-read at every poll"},
              {.name = "sources",
               .type = OptionType::kInt,
               .default_value = "2",
               .help = "how many independent sources the fake stands for"},
          },
      .create = [](const Options& options, DriverContext& context) -> Result<MonitorPtr> {
        const int64_t sources = options.getInt("sources");
        if (sources < 1 || sources > 16) {
          return fail(ErrorCode::kInvalidArgument, "fake monitor: sources must be 1..16");
        }
        return std::make_unique<FakeMonitor>(context.clock, options.getList("nodes_down"),
                                             options.getString("down-file"),
                                             static_cast<int>(sources));
      },
  });
}

}  // namespace fdr::drivers
