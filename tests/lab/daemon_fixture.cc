#include "lab/daemon_fixture.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fdr::lab {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The last `lines` lines of a daemon log, without the debug lines of each HTTP request (a
// daemon polls Nova twice a second: they would hide what it decided).
std::string tail(const std::string& text, size_t lines) {
  std::vector<std::string> kept;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // Without the per-request and per-cycle debug lines, which would crowd out the story.
    if (line.find(" debug http: ") == std::string::npos &&
        line.find(" debug isolation check: ") == std::string::npos) {
      kept.push_back(line);
    }
  }
  std::string out;
  for (size_t i = kept.size() > lines ? kept.size() - lines : 0; i < kept.size(); ++i) {
    out += kept[i] + "\n";
  }
  return out;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

void DaemonLabTest::SetUp() {
  LabTest::SetUp();
  if (HasFatalFailure()) return;
  for (const char* key : {"FDR_LAB_FDR_CONFIG", "FDR_LAB_MAIL_DIR", "FDR_LAB_HOST_SH",
                          "FDR_LAB_BMCSIM_SH", "FDR_LAB_SERVERS_SH", "FDR_LAB_BMC_DIR"}) {
    if (env_[key].empty()) {
      GTEST_FAIL() << "the lab has no freezer-dr wiring (" << key
                   << " missing from wiring.env): run lab/up.sh, which runs lab/wire.sh";
    }
  }
  ASSERT_FALSE(dir_.path().empty());
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  prefix_ = std::string("fdr-e2e-") + info->name();
  std::transform(prefix_.begin(), prefix_.end(), prefix_.begin(),
                 [](unsigned char c) { return std::isalnum(c) ? std::tolower(c) : '-'; });
  deleteLeftovers(prefix_);

  // Every host back in service: a host left down by an interrupted run would be part of the
  // next failure (and of the storm count).
  for (const std::string& host : hosts_) {
    auto service = nova_->computeService(host);
    ASSERT_TRUE(service) << service.error().toString();
    const bool healthy = service->state == "up" && service->status == "enabled" &&
                         !service->forced_down && bmcPower(host) == "on";
    if (!healthy) {
      ASSERT_TRUE(bmcsim("thaw bmc-" + host) && bmcsim("mode bmc-" + host + " normal"));
      ASSERT_TRUE(shell(env_["FDR_LAB_HOST_SH"] + " restore " + host)) << "cannot restore " << host;
    }
  }

  // This test's own journal: the lab's config with the journal moved into the temp dir.
  std::istringstream in(readFile(env_["FDR_LAB_FDR_CONFIG"]));
  std::ostringstream out;
  std::string line;
  bool replaced = false;
  while (std::getline(in, line)) {
    if (line.rfind("journal =", 0) == 0) {
      line = "journal = " + dir_.file("journal.db");
      replaced = true;
    }
    out << line << "\n";
  }
  ASSERT_TRUE(replaced) << env_["FDR_LAB_FDR_CONFIG"] << " has no journal line";
  config_ = dir_.file("freezer-dr.conf");
  {
    std::ofstream f(config_);
    f << out.str();
  }
  fs::permissions(config_, fs::perms::owner_read | fs::perms::owner_write);

  for (const auto& entry : fs::directory_iterator(env_["FDR_LAB_MAIL_DIR"])) {
    if (entry.path().extension() == ".json") {
      mail_before_[entry.path().filename().string()] = entry.last_write_time();
    }
  }
}

void DaemonLabTest::TearDown() {
  if (daemon_ > 0) (void)stopDaemon(SIGTERM);
  if (HasFailure()) {
    for (int run = 1; run <= daemon_runs_; ++run) {
      std::cerr << "---- freezer-dr daemon log (run " << run << "), last lines:\n"
                << tail(readFile(dir_.file("run" + std::to_string(run)) + "/stderr"), 100) << "\n";
    }
    auto s = cli({"status"});
    std::cerr << "---- freezer-dr status:\n" << s.out << s.err << "\n";
    // Where the mail went: how many messages the lab's SMTP capture holds, the newest number and
    // this test's mark (only messages numbered above it are this test's), and the server's pid.
    int count = 0;
    int newest = 0;
    for (const auto& entry : fs::directory_iterator(env_["FDR_LAB_MAIL_DIR"])) {
      if (entry.path().extension() != ".json") continue;
      ++count;
      newest = std::max(newest, std::atoi(entry.path().stem().c_str()));
    }
    std::cerr << "---- lab mail " << env_["FDR_LAB_MAIL_DIR"] << ": " << count
              << " message(s), newest " << newest << ", " << mail_before_.size()
              << " before this test"
              << "; smtp-capture pid file: "
              << readFile(env_["FDR_LAB_STATE"] + "/run/smtp-capture.pid") << "\n";
  }
  for (const std::string& host : killed_) {
    EXPECT_TRUE(bmcsim("thaw bmc-" + host) && bmcsim("mode bmc-" + host + " normal"));
    EXPECT_TRUE(shell(env_["FDR_LAB_HOST_SH"] + " restore " + host)) << "cannot restore " << host;
  }
  if (!prefix_.empty() && nova_) deleteLeftovers(prefix_);
}

void DaemonLabTest::setOption(const std::string& section, const std::string& key,
                              const std::string& value) {
  std::istringstream in(readFile(config_));
  std::ostringstream out;
  std::string line;
  bool added = false;
  while (std::getline(in, line)) {
    out << line << "\n";
    if (line == "[" + section + "]") {
      out << key << " = " << value << "\n";
      added = true;
    }
  }
  if (!added) out << "\n[" << section << "]\n" << key << " = " << value << "\n";
  std::ofstream(config_) << out.str();
}

void DaemonLabTest::startDaemon(const std::map<std::string, std::string>& env) {
  ASSERT_LE(daemon_, 0) << "the daemon already runs";
  const std::string out = dir_.file("run" + std::to_string(++daemon_runs_));
  fs::create_directories(out);
  daemon_ = fdr::testing::startProcess(
      {fdr::testing::binaryPath(), "--config-file", config_, "--log-level", "debug", "run"}, env,
      out);
  ASSERT_GT(daemon_, 0) << "cannot start " << fdr::testing::binaryPath();
}

fdr::testing::ProcessResult DaemonLabTest::stopDaemon(int signal) {
  const std::string out = dir_.file("run" + std::to_string(daemon_runs_));
  if (signal != 0) ::kill(daemon_, signal);
  auto result = fdr::testing::waitProcess(daemon_, out);
  daemon_ = -1;
  return result;
}

std::optional<fdr::testing::ProcessResult> DaemonLabTest::pollDaemon() {
  if (daemon_ <= 0) return std::nullopt;
  int status = 0;
  if (::waitpid(daemon_, &status, WNOHANG) != daemon_) return std::nullopt;
  const std::string out = dir_.file("run" + std::to_string(daemon_runs_));
  fdr::testing::ProcessResult result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.out = fdr::testing::slurp(out + "/stdout");
  result.err = fdr::testing::slurp(out + "/stderr");
  daemon_ = -1;
  return result;
}

fdr::testing::ProcessResult DaemonLabTest::cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {fdr::testing::binaryPath(), "--config-file", config_};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string out = dir_.file("cli");
  fs::create_directories(out);
  return fdr::testing::runProcess(argv, {}, out);
}

nlohmann::json DaemonLabTest::status() {
  auto result = cli({"status", "--json"});
  if (result.exit_code != 0) return nullptr;
  return nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json DaemonLabTest::incidentOf(const std::string& host) {
  const nlohmann::json s = status();
  if (!s.is_object()) return nullptr;
  for (const char* list : {"open", "recent"}) {
    if (!s.contains(list)) continue;
    for (const auto& incident : s[list]) {
      if (incident.value("node", "") == host) return incident;
    }
  }
  return nullptr;
}

nlohmann::json DaemonLabTest::waitIncident(const std::string& host, std::chrono::seconds limit,
                                           const std::function<bool(const nlohmann::json&)>& done) {
  nlohmann::json last;
  (void)waitUntil(limit, [&] {
    last = incidentOf(host);
    return !last.is_null() && done(last);
  });
  return last;
}

std::vector<std::string> DaemonLabTest::bootServers(const std::string& host,
                                                    const std::string& project, int count) {
  EXPECT_TRUE(shell(env_["FDR_LAB_SERVERS_SH"] + " boot " + host + " " + project + " " + prefix_ +
                    " " + std::to_string(count)));
  std::vector<std::string> ids;
  auto servers = nova_->servers({{"all_tenants", "1"}, {"name", "^" + prefix_ + "-" + project}});
  EXPECT_TRUE(servers) << servers.error().toString();
  if (servers) {
    for (const auto& s : *servers) ids.push_back(s.id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(count));
  return ids;
}

bool DaemonLabTest::killHost(const std::string& host) {
  killed_.insert(host);
  return shell(env_["FDR_LAB_HOST_SH"] + " kill " + host);
}

bool DaemonLabTest::bmcsim(const std::string& args) {
  return shell("BMC_RUN_DIR=" + quote(env_["FDR_LAB_BMC_DIR"]) + " " + env_["FDR_LAB_BMCSIM_SH"] +
               " " + args);
}

std::string DaemonLabTest::bmcPower(const std::string& host) {
  const std::string power = readFile(env_["FDR_LAB_BMC_DIR"] + "/bmc-" + host + "/power");
  if (power.starts_with("1")) return "on";
  if (power.starts_with("0")) return "off";
  return "";
}

std::vector<CapturedMail> DaemonLabTest::newMail() {
  std::vector<CapturedMail> out;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(env_["FDR_LAB_MAIL_DIR"])) {
    if (entry.path().extension() != ".json") continue;
    const auto before = mail_before_.find(entry.path().filename().string());
    if (before == mail_before_.end() || before->second != entry.last_write_time()) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto j = nlohmann::json::parse(readFile(file.string()), nullptr, false);
    if (!j.is_object()) {
      ADD_FAILURE() << file << " is not JSON";
      continue;
    }
    CapturedMail mail;
    mail.file = file.string();
    mail.rcpt_tos = j.value("rcpt_tos", std::vector<std::string>{});
    const auto& parsed = j["parsed"];
    if (parsed.contains("headers") && parsed["headers"].contains("Subject") &&
        !parsed["headers"]["Subject"].empty()) {
      mail.subject = parsed["headers"]["Subject"][0].get<std::string>();
    }
    if (parsed.contains("text") && parsed["text"].is_string()) mail.text = parsed["text"];
    out.push_back(std::move(mail));
  }
  return out;
}

std::optional<CapturedMail> DaemonLabTest::waitMail(
    std::chrono::seconds limit, const std::function<bool(const CapturedMail&)>& match) {
  std::optional<CapturedMail> found;
  (void)waitUntil(limit, [&] {
    for (const auto& mail : newMail()) {
      if (match(mail)) {
        found = mail;
        return true;
      }
    }
    return false;
  });
  return found;
}

}  // namespace fdr::lab
