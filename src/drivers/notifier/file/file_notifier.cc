#include "drivers/notifier/file/file_notifier.h"

#include <mutex>

#include "core/codec.h"
#include "core/files.h"

namespace fdr::drivers {
namespace {

class FileNotifier final : public Notifier {
 public:
  explicit FileNotifier(std::string path) : path_(std::move(path)) {}

  Status send(const Notification& notification) override {
    std::lock_guard lock(mutex_);
    if (auto written = appendLine(path_, toJson(notification).dump()); !written) {
      return withContext(written.error(), "file notifier");
    }
    return {};
  }

 private:
  std::string path_;
  std::mutex mutex_;
};

}  // namespace

Status registerFileNotifier(Registry& registry) {
  return registry.notifiers.add(DriverFactory<Notifier>{
      .name = "file",
      .aliases = {},
      .description = "appends notifications as JSON lines to a file",
      .schema =
          {
              {.name = "endpoint",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "the file (the [notifiers] endpoint)"},
              // The [notifiers] section hands these to every notifier; a file needs none.
              {.name = "username",
               .type = OptionType::kString,
               .default_value = "",
               .help = "not used by this driver"},
              {.name = "password",
               .type = OptionType::kString,
               .default_value = "",
               .secret = true,
               .help = "not used by this driver"},
              {.name = "templates-dir",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "not used by this driver"},
              {.name = "path",
               .type = OptionType::kPath,
               .default_value = "",
               .help = "the file; overrides endpoint"},
          },
      .create = [](const Options& options, DriverContext&) -> Result<NotifierPtr> {
        std::string path = options.getString("path");
        if (path.empty()) path = options.getString("endpoint");
        if (path.empty()) {
          return fail(ErrorCode::kInvalidArgument,
                      "file notifier: set [notifiers] endpoint (or path) to the file to write");
        }
        return std::make_unique<FileNotifier>(std::move(path));
      },
  });
}

}  // namespace fdr::drivers
