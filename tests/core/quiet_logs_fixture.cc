// Engine logs are for operators; in tests they only hide the failures. FDR_TEST_LOGS=1 shows them.
#include <cstdlib>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace {

class QuietLogs : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::getenv("FDR_TEST_LOGS") == nullptr) spdlog::set_level(spdlog::level::off);
  }
};

[[maybe_unused]] const auto* const kQuietLogs = ::testing::AddGlobalTestEnvironment(new QuietLogs);

}  // namespace
