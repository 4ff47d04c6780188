// Shared helpers of the fencing driver tests (ipmi, redfish, libvirt, fence-agent): temporary
// directories, running the lab scripts, making a fencer the way the daemon does (registry +
// option schema), and polling a power state with a deadline (never a fixed sleep).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "freezer/clock.h"
#include "freezer/fencer.h"
#include "freezer/model.h"
#include "freezer/registry.h"
#include "freezer/result.h"

namespace fdr::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The source tree: $FDR_SOURCE_DIR (set by ctest), else found from this file's location.
std::string sourceDir();

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout then stderr
};
// Runs argv[0] (an absolute path, no shell) with `env` added to the environment, bounded by
// `timeout`. A program that cannot start, or runs past the timeout, gives exit_code -1.
CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {},
                         Duration timeout = Duration(60'000));

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content, int mode = 0644);

// A free port on 127.0.0.1 at the time of the call (UDP or TCP).
int freeUdpPort();
int freeTcpPort();

// A fencer made as the daemon makes it: found in the registry of built-in drivers by name (or
// alias), its options checked against the driver's schema. It owns what the driver may keep
// references to (the clock and the inventory).
class FencerUnderTest {
 public:
  static Result<std::unique_ptr<FencerUnderTest>> make(
      const std::string& driver, const std::map<std::string, std::string>& options,
      std::vector<Node> inventory = {});
  Fencer& operator*() { return *fencer_; }
  Fencer* operator->() { return fencer_.get(); }
  Fencer& get() { return *fencer_; }

 private:
  FencerUnderTest() = default;
  SystemClock clock_;
  std::vector<Node> inventory_;
  Registry registry_;
  FencerPtr fencer_;
};

// Polls powerStatus() until it reports `wanted` or `limit` has passed; returns the last answer.
Result<PowerState> waitForPower(Fencer& fencer, const Node& node, PowerState wanted,
                                Duration limit = Duration(30'000));

// For EXPECT_TRUE(succeeded(fencer.powerOff(node))): a failure prints the error.
inline ::testing::AssertionResult succeeded(const Status& status) {
  if (status) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.error().toString();
}

// Polls `condition` until it holds or `limit` has passed; returns whether it held.
bool eventually(const std::function<bool()>& condition, Duration limit = Duration(30'000));

}  // namespace fdr::testing
