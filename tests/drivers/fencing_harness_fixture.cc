#include "drivers/fencing_harness_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "app/builtin_drivers.h"
#include "drivers/fencer/fence_agent/agent_process.h"
#include "freezer/diagnostics.h"
#include "freezer/options.h"
#include "support/poll.h"

namespace fdr::testing {

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fdr-fencing-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string sourceDir() {
  if (const char* dir = std::getenv("FDR_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  // tests/drivers/fencing_harness_fixture.cc -> the source tree
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

CommandResult runCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         Duration timeout) {
  drivers::ProcessRun run;
  run.argv = argv;
  run.env = env;
  run.timeout = timeout;
  auto outcome = drivers::runProcess(run);
  if (!outcome) return {-1, outcome.error().message};
  if (outcome->timed_out) return {-1, outcome->out + outcome->err + "\n(timed out)"};
  return {outcome->exit_code, outcome->out + outcome->err};
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void writeFile(const std::string& path, const std::string& content, int mode) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << content;
  }
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

namespace {

int freePort(int type) {
  const int fd = ::socket(AF_INET, type, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

int freeUdpPort() {
  return freePort(SOCK_DGRAM);
}
int freeTcpPort() {
  return freePort(SOCK_STREAM);
}

Result<std::unique_ptr<FencerUnderTest>> FencerUnderTest::make(
    const std::string& driver, const std::map<std::string, std::string>& options,
    std::vector<Node> inventory) {
  std::unique_ptr<FencerUnderTest> out(new FencerUnderTest());
  out->inventory_ = std::move(inventory);
  if (Status s = app::registerBuiltinDrivers(out->registry_); !s) return std::unexpected(s.error());
  auto factory = out->registry_.fencers.find(driver);
  if (!factory) return std::unexpected(factory.error());
  RawOptions raw;
  for (const auto& [key, value] : options) raw[key] = RawOption{value, "test"};
  Diagnostics diag;
  auto parsed = Options::parse((*factory)->schema, raw, "[fencer] driver " + driver, diag);
  if (!parsed) return fail(ErrorCode::kInvalidArgument, diag.format());
  DriverContext context{out->clock_, out->inventory_};
  auto fencer = (*factory)->create(*parsed, context);
  if (!fencer) return std::unexpected(fencer.error());
  out->fencer_ = std::move(*fencer);
  return out;
}

bool eventually(const std::function<bool()>& condition, Duration limit) {
  return pollUntil(std::chrono::duration_cast<std::chrono::milliseconds>(limit), condition);
}

Result<PowerState> waitForPower(Fencer& fencer, const Node& node, PowerState wanted,
                                Duration limit) {
  Result<PowerState> last = PowerState::kUnknown;
  eventually(
      [&] {
        last = fencer.powerStatus(node);
        return last && *last == wanted;
      },
      limit);
  return last;
}

}  // namespace fdr::testing
