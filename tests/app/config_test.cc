// Loading freezer-dr.conf: the original's sample and the peer runs' config are accepted, every
// kind of bad input is reported with its file and line, and driver options keep their origin.
#include "app/config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fdr::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

fs::path testdata() {
  return fs::path(__FILE__).parent_path() / "testdata";
}

bool has(const Diagnostics& diag, Diagnostic::Severity severity, std::string_view where,
         std::string_view text) {
  for (const Diagnostic& d : diag.items()) {
    if (d.severity == severity && d.where.find(where) != std::string::npos &&
        d.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}
bool hasError(const Diagnostics& d, std::string_view where, std::string_view text) {
  return has(d, Diagnostic::Severity::kError, where, text);
}
bool hasWarning(const Diagnostics& d, std::string_view where, std::string_view text) {
  return has(d, Diagnostic::Severity::kWarning, where, text);
}

// A fresh folder per test for config files written by the test.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("fdr-config-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content,
                    fs::perms mode = fs::perms(0600)) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << content;
    fs::permissions(path, mode);
    return path.string();
  }

  std::optional<Config> loadText(const std::string& content) {
    path_ = write("freezer-dr.conf", content);
    return load(path_, diag_);
  }

  fs::path dir_;
  std::string path_;
  Diagnostics diag_;
};

// --- accepted configs

TEST_F(ConfigTest, TheOriginalSampleConfigIsAcceptedWithTheOriginalDefaults) {
  const std::string path = (testdata() / "original" / "freezer-dr.conf.sample").string();
  const auto config = load(path, diag_);
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_FALSE(diag_.hasErrors());
  EXPECT_EQ(config->path, path);
  ASSERT_EQ(config->monitors.size(), 1U);
  EXPECT_EQ(config->monitors[0].name, "freezer_dr.monitors.drivers.default.driver.StandardDriver");
  ASSERT_EQ(config->fencers.size(), 1U);
  EXPECT_EQ(config->fencers[0].name, "freezer_dr.fencers.drivers.ipmi.driver.IpmiDriver");
  EXPECT_EQ(config->evacuator.name,
            "freezer_dr.evacuators.drivers.default.standard.StandardEvacuator");
  ASSERT_EQ(config->notifiers.size(), 1U);
  EXPECT_EQ(config->notifiers[0].name,
            "freezer_dr.notifiers.drivers.default.default_email.StandardEmail");
  EXPECT_TRUE(config->monitors[0].options.empty());
  EXPECT_EQ(config->fence_retries, 1);
  EXPECT_FALSE(config->shared_storage);
  EXPECT_FALSE(config->keystone.configured());
  EXPECT_TRUE(config->nodes.empty());
  // No inventory named: said, not an error.
  EXPECT_TRUE(hasWarning(diag_, path, "credentials-file is not set")) << diag_.format();
}

TEST_F(ConfigTest, ThePeerRunsConfigIsAcceptedWithItsInventory) {
  const fs::path dir = testdata() / "peer-run";
  const std::string path = (dir / "freezer-dr.conf").string();
  const auto config = load(path, diag_);
  ASSERT_TRUE(config.has_value()) << diag_.format();

  ASSERT_EQ(config->monitors.size(), 1U);
  const DriverChoice& monitor = config->monitors[0];
  EXPECT_EQ(monitor.name, "freezer_dr.monitors.drivers.dummy.driver.DummyDriver");
  EXPECT_EQ(monitor.where, path + ":10");
  // The backend_name section's keys, as written, each with its line.
  ASSERT_TRUE(monitor.options.contains("nodes_down"));
  EXPECT_EQ(monitor.options.at("nodes_down").value, "fake-host-1");
  EXPECT_EQ(monitor.options.at("nodes_down").where, path + ":18");
  EXPECT_EQ(monitor.options.at("endpoint").value, "http://127.0.0.1:47500/v3");
  EXPECT_EQ(monitor.options.at("kwargs").value,
            "project_name:admin,user_domain_name:Default,project_domain_name:Default");
  EXPECT_EQ(monitor.options.size(), 5U);

  const KeystoneAuth& k = config->keystone;
  EXPECT_TRUE(k.configured());
  EXPECT_EQ(k.auth_url, "http://127.0.0.1:47500/v3");
  EXPECT_EQ(k.auth_plugin, "password");
  EXPECT_EQ(k.username, "admin");
  EXPECT_EQ(k.password.reveal(), "osbed-secret");
  EXPECT_EQ(k.project_name, "admin");
  EXPECT_EQ(k.user_domain_name, "Default");
  EXPECT_EQ(k.project_domain_name, "Default");
  EXPECT_EQ(k.domain_name, "Default");

  // credentials_file (the dest spelling) is read, relative to the config's folder.
  EXPECT_EQ(config->credentials_file, (dir / "servers.yml").lexically_normal().string());
  ASSERT_EQ(config->nodes.size(), 3U);
  EXPECT_EQ(config->nodes[1].hostname, "fake-host-2");
  EXPECT_EQ(config->nodes[1].fencer_ip, "127.0.0.12");

  ASSERT_EQ(config->notifiers.size(), 1U);
  const RawOptions& mail = config->notifiers[0].options;
  EXPECT_EQ(mail.at("endpoint").value, "127.0.0.1");
  EXPECT_EQ(mail.at("port").value, "2525");  // from the options DictOpt
  EXPECT_EQ(mail.at("port").where, path + ":37");
  EXPECT_EQ(mail.at("templates-dir").value, "/opt/freezer-dr/etc/templates");
  EXPECT_EQ(config->notify_from, "freezer-dr@example.test");
  EXPECT_EQ(config->notify_list,
            (std::vector<std::string>{"ops@example.test", "cloud-admin@example.test"}));
  EXPECT_EQ(diag_.format().find("osbed-secret"), std::string::npos) << diag_.format();
}

TEST_F(ConfigTest, NewOptionsAreReadWithTheirTypes) {
  const auto config = loadText(
      "[DEFAULT]\n"
      "wait = 2.5\n"
      "poll-interval = 500ms\n"
      "journal = state/journal.db\n"
      "log-level = WARN\n"
      "storm-max-nodes = 4\n"
      "storm-max-percent = 30\n"
      "storm-window = 15m\n"
      "maintenance = node-7, node-9\n"
      "[monitoring]\n"
      "min-sources = 1\n"
      "poll-timeout = 300ms\n"
      "[fencer]\n"
      "retries = 2\n"
      "attempt-timeout = 5s\n"
      "deadline = 1m\n"
      "unfence-deadline = 15m\n"
      "check-interval = 30m\n"
      "check-concurrency = 8\n"
      "[evacuation]\n"
      "retries = 0\n"
      "shared-storage = yes\n"
      "concurrency = 25\n"
      "instance-timeout = 2m\n"
      "priority-key = ha:priority\n"
      "evacuate-all = false\n"
      "ha-enabled-key = ha:enabled\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->grace, milliseconds(2'500));
  EXPECT_EQ(config->poll_interval, milliseconds(500));
  EXPECT_EQ(config->journal_path, (dir_ / "state" / "journal.db").string());
  EXPECT_EQ(config->log_level, "warning");
  EXPECT_EQ(config->storm_max_nodes, 4);
  EXPECT_EQ(config->storm_max_percent, 30);
  EXPECT_EQ(config->storm_window, milliseconds(900'000));
  EXPECT_EQ(Config{}.storm_window, milliseconds(600'000)) << "default: 10 min";
  EXPECT_EQ(config->maintenance, (std::vector<std::string>{"node-7", "node-9"}));
  EXPECT_EQ(config->min_sources, 1);
  EXPECT_EQ(config->poll_timeout, milliseconds(300));
  EXPECT_EQ(config->fence_retries, 2);
  EXPECT_EQ(config->fence_attempt_timeout, milliseconds(5'000));
  EXPECT_EQ(config->fence_deadline, milliseconds(60'000));
  EXPECT_EQ(config->unfence_deadline, milliseconds(900'000));
  EXPECT_EQ(config->fence_check_interval, milliseconds(1'800'000));
  EXPECT_EQ(Config{}.fence_check_interval, milliseconds(600'000)) << "default: 10 min";
  EXPECT_EQ(config->fence_check_concurrency, 8);
  EXPECT_EQ(config->evacuation_retries, 0);
  EXPECT_TRUE(config->shared_storage);
  EXPECT_EQ(config->evacuation_concurrency, 25);
  EXPECT_EQ(config->instance_timeout, milliseconds(120'000));
  EXPECT_EQ(config->priority_key, "ha:priority");
  EXPECT_FALSE(config->evacuate_all);
  EXPECT_EQ(config->ha_enabled_key, "ha:enabled");
  // shared-storage also reaches the evacuator driver, which knows how to tell the cloud.
  EXPECT_EQ(config->evacuator.options.at("shared-storage").value, "yes");
}

TEST_F(ConfigTest, APollTimeoutLongerThanThePollIntervalIsAnError) {
  EXPECT_EQ(Config{}.poll_timeout, milliseconds(0)) << "0: the poll interval";
  const auto config = loadText(
      "[DEFAULT]\n"
      "poll-interval = 1s\n"
      "[monitoring]\n"
      "poll-timeout = 2s\n");
  EXPECT_FALSE(config.has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":4",
                       "poll-timeout (2000 ms) is longer than [DEFAULT] poll-interval (1000 ms)"))
      << diag_.format();
}

TEST_F(ConfigTest, TheHaSectionIsReadWithItsDefaults) {
  EXPECT_FALSE(Config{}.ha.enabled()) << "single-node by default";
  const auto config = loadText(
      "[ha]\n"
      "etcd_endpoints = http://127.0.0.1:2379, https://10.0.0.2:2379\n"
      "cluster = region-one\n"
      "name = ctl-1\n"
      "lease-ttl = 12s\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_TRUE(config->ha.enabled());
  EXPECT_EQ(config->ha.etcd_endpoints,
            (std::vector<std::string>{"http://127.0.0.1:2379", "https://10.0.0.2:2379"}));
  EXPECT_EQ(config->ha.prefix(), "/freezer-dr/region-one/");
  EXPECT_EQ(config->ha.name, "ctl-1");
  EXPECT_EQ(config->ha.lease_ttl, milliseconds(12000));
  EXPECT_EQ(config->ha.margin(), milliseconds(3000)) << "a quarter of the TTL";
}

TEST_F(ConfigTest, EveryHaMistakeIsReportedWithItsLine) {
  const auto config = loadText(
      "[ha]\n"
      "etcd-endpoints = 127.0.0.1:2379\n"
      "cluster = a/b\n"
      "lease-ttl = 4s\n"
      "safety-margin = 3s\n"
      "request-timeout = 2s\n"
      "lease = 1\n");
  EXPECT_FALSE(config.has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "'127.0.0.1:2379' is not an http:// or https:// URL"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":3", "a name without '/'")) << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":5", "safety-margin must be at most half of lease-ttl"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":6", "request-timeout must be shorter")) << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":7", "[ha] unknown option 'lease'")) << diag_.format();
}

TEST_F(ConfigTest, DashAndUnderscoreSpellingsAreTheSameOption) {
  write("servers.yml", "servers:\n  - hostname: n1\n");
  const auto config = loadText(
      "[fencer]\n"
      "credentials-file = servers.yml\n"
      "hold_period = 10\n"
      "[evacuation]\n"
      "shared_storage = true\n"
      "[notifiers]\n"
      "templates_dir = /t\n"
      "notify_from = a@b\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->nodes.size(), 1U);
  EXPECT_TRUE(config->shared_storage);
  EXPECT_EQ(config->notify_from, "a@b");
  EXPECT_EQ(config->notifiers[0].options.at("templates-dir").value, "/t");
}

TEST_F(ConfigTest, BothSpellingsOfOneOptionWarnAndTheLaterLineWins) {
  const auto config = loadText(
      "[evacuation]\n"
      "shared_storage = false\n"
      "shared-storage = true\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_TRUE(config->shared_storage);
  EXPECT_TRUE(hasWarning(diag_, path_ + ":3", "are the same option")) << diag_.format();
}

TEST_F(ConfigTest, RepeatedKeyWarnsAndTheLastValueWins) {
  const auto config = loadText("[fencer]\nretries = 1\nretries = 3\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->fence_retries, 3);
  EXPECT_TRUE(hasWarning(diag_, path_ + ":3", "set more than once (also at line 2)"))
      << diag_.format();
}

TEST_F(ConfigTest, OptionsTheOriginalNeededButFreezerDrDoesNotAreAcceptedWithAWarning) {
  const auto config = loadText(
      "[DEFAULT]\n"
      "use_syslog = true\n"
      "[fencer]\n"
      "hold-period = 10\n"
      "[evacuation]\n"
      "wait = 10\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":2", "oslo.log")) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":4", "powers a failed node off hard")) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":6", "waits on the state it observes")) << diag_.format();
}

TEST_F(ConfigTest, OsloLogDebugSetsTheLogLevelUnlessLogLevelIsGiven) {
  auto config = loadText("[DEFAULT]\ndebug = True\nlog_dir = /var/log/fdr\nlog_file = fdr.log\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->log_file, "/var/log/fdr/fdr.log");
  config = loadText("[DEFAULT]\ndebug = true\nlog-level = error\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->log_level, "error");
}

TEST_F(ConfigTest, SeveralDriversWithPerDriverSections) {
  const auto config = loadText(
      "[monitoring]\n"                                                                   // 1
      "driver = fake, probe\n"                                                           // 2
      "options = sources:2\n"                                                            // 3
      "[monitoring.probe]\n"                                                             // 4
      "port = 22\n"                                                                      // 5
      "sources = 1\n"                                                                    // 6
      "[fencer]\n"                                                                       // 7
      "driver = ipmi, redfish\n"                                                         // 8
      "options = timeout:5\n"                                                            // 9
      "[fencer.redfish]\n"                                                               // 10
      "timeout = 9\n"                                                                    // 11
      "[notifiers]\n"                                                                    // 12
      "driver = email, webhook\n"                                                        // 13
      "endpoint = smtp.example.test\n"                                                   // 14
      "[notifiers.webhook]\n"                                                            // 15
      "endpoint = https://hooks.example\n"                                               // 16
      "[evacuation.freezer_dr.evacuators.drivers.default.standard.StandardEvacuator]\n"  // 17
      "batch = 3\n");                                                                    // 18
  ASSERT_TRUE(config.has_value()) << diag_.format();
  ASSERT_EQ(config->monitors.size(), 2U);
  EXPECT_EQ(config->monitors[0].name, "fake");
  EXPECT_EQ(config->monitors[0].where, path_ + ":2");
  EXPECT_EQ(config->monitors[0].options.at("sources").value, "2");
  EXPECT_EQ(config->monitors[1].options.at("sources").value, "1");  // its section wins
  EXPECT_EQ(config->monitors[1].options.at("sources").where, path_ + ":6");
  EXPECT_EQ(config->monitors[1].options.at("port").where, path_ + ":5");

  ASSERT_EQ(config->fencers.size(), 2U);  // ordered fallback levels
  EXPECT_EQ(config->fencers[0].name, "ipmi");
  EXPECT_EQ(config->fencers[0].options.at("timeout").value, "5");
  EXPECT_EQ(config->fencers[0].options.at("timeout").where, path_ + ":9");
  EXPECT_EQ(config->fencers[1].name, "redfish");
  EXPECT_EQ(config->fencers[1].options.at("timeout").value, "9");

  ASSERT_EQ(config->notifiers.size(), 2U);
  EXPECT_EQ(config->notifiers[0].options.at("endpoint").value, "smtp.example.test");
  EXPECT_EQ(config->notifiers[1].options.at("endpoint").value, "https://hooks.example");

  EXPECT_EQ(config->evacuator.options.at("batch").where, path_ + ":18");
}

TEST_F(ConfigTest, NotifyListAndNotifyFromReachTheNotifiersThatAddressPeople) {
  const auto config = loadText(
      "[notifiers]\n"                                           // 1
      "driver = email, webhook, file\n"                         // 2
      "endpoint = smtp.example.test\n"                          // 3
      "notify-list = ops@example.test, oncall@example.test\n"   // 4
      "notify_from = freezer-dr@example.test\n"                 // 5
      "[notifiers.file]\n"                                      // 6
      "endpoint = /var/log/freezer-dr/notifications.jsonl\n");  // 7
  ASSERT_TRUE(config.has_value()) << diag_.format();
  ASSERT_EQ(config->notifiers.size(), 3U);
  for (size_t i = 0; i < 2; ++i) {  // email and webhook
    const RawOptions& o = config->notifiers[i].options;
    ASSERT_TRUE(o.contains("notify-list")) << config->notifiers[i].name;
    EXPECT_EQ(o.at("notify-list").value, "ops@example.test, oncall@example.test");
    EXPECT_EQ(o.at("notify-list").where, path_ + ":4");
    EXPECT_EQ(o.at("notify-from").value, "freezer-dr@example.test");
  }
  // The file notifier addresses no one: its schema does not take them.
  EXPECT_FALSE(config->notifiers[2].options.contains("notify-list"));
  EXPECT_FALSE(config->notifiers[2].options.contains("notify-from"));
  // Config keeps them too.
  EXPECT_EQ(config->notify_list,
            (std::vector<std::string>{"ops@example.test", "oncall@example.test"}));
  EXPECT_EQ(config->notify_from, "freezer-dr@example.test");
}

TEST_F(ConfigTest, DefaultOsOptionsFillOnlyWhatKeystoneAuthtokenLeavesEmpty) {
  const auto config = loadText(
      "[DEFAULT]\n"
      "os-auth-url = http://default:5000/v3\n"
      "os-username = from-default\n"
      "os-password = default-pw\n"
      "os-region-name = RegionTwo\n"
      "os-endpoint-type = internalURL\n"
      "[keystone_authtoken]\n"
      "auth_url = http://keystone:5000/v3\n"
      "username = admin\n"
      "kwargs = project_name:ops,user_domain_name:Default\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  const KeystoneAuth& k = config->keystone;
  EXPECT_EQ(k.auth_url, "http://keystone:5000/v3");
  EXPECT_EQ(k.username, "admin");
  EXPECT_EQ(k.password.reveal(), "default-pw");
  EXPECT_EQ(k.region_name, "RegionTwo");
  EXPECT_EQ(k.interface, "internal");
  EXPECT_EQ(k.project_name, "ops");
  EXPECT_EQ(k.user_domain_name, "Default");
}

TEST_F(ConfigTest, ApplicationCredentialIsRecognised) {
  const auto config = loadText(
      "[keystone_authtoken]\n"
      "auth_url = http://keystone:5000/v3\n"
      "application_credential_id = abc\n"
      "application_credential_secret = s3cr3t-value\n"
      "insecure = true\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->keystone.auth_plugin, "v3applicationcredential");
  EXPECT_EQ(config->keystone.application_credential_secret.reveal(), "s3cr3t-value");
  EXPECT_TRUE(config->keystone.insecure);
}

// --- errors: each names the file and the line

TEST_F(ConfigTest, UnknownOptionIsAnErrorWithDidYouMean) {
  EXPECT_FALSE(loadText("[fencer]\ndriver = ipmi\nretires = 2\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":3",
                       "[fencer] unknown option 'retires' (did you mean "
                       "'retries'?)"))
      << diag_.format();
  EXPECT_NE(diag_.format().find("error: " + path_ + ":3: [fencer] unknown option 'retires'"),
            std::string::npos);
}

TEST_F(ConfigTest, DidYouMeanKeepsTheWritersSpelling) {
  EXPECT_FALSE(loadText("[fencer]\ncredentails_file = s.yml\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "(did you mean 'credentials_file'?)"))
      << diag_.format();
}

TEST_F(ConfigTest, UnknownOptionFarFromAnyListsTheValidOnes) {
  EXPECT_FALSE(loadText("[evacuation]\ncolour = blue\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "valid options: driver, retries")) << diag_.format();
}

TEST_F(ConfigTest, BadTypeNamesFileLineKeyAndExpectation) {
  EXPECT_FALSE(loadText("[DEFAULT]\n"
                        "wait = soon\n"
                        "[fencer]\n"
                        "retries = many\n"
                        "[evacuation]\n"
                        "shared-storage = perhaps\n"
                        "[DEFAULT]\n"
                        "storm-max-percent = 120\n")
                   .has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "[DEFAULT] wait: expected a duration"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":4",
                       "[fencer] retries: expected an integer >= 1, got "
                       "'many'"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":6", "[evacuation] shared-storage: expected a boolean"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":8", "expected an integer from 1 to 100")) << diag_.format();
}

TEST_F(ConfigTest, BadDictOptIsAnError) {
  EXPECT_FALSE(loadText("[fencer]\noptions = port=623\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "expected key:value pairs")) << diag_.format();
}

TEST_F(ConfigTest, MissingConfigFileIsAnErrorNamingThePath) {
  const std::string path = (dir_ / "absent.conf").string();
  EXPECT_FALSE(load(path, diag_).has_value());
  EXPECT_TRUE(hasError(diag_, path, "cannot read config file '" + path + "'")) << diag_.format();
}

TEST_F(ConfigTest, UnknownSectionIsAnErrorWithDidYouMean) {
  EXPECT_FALSE(loadText("[DEFAULT]\n[notifier]\ndriver = x\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2",
                       "unknown section [notifier] (did you mean "
                       "[notifiers]?)"))
      << diag_.format();
}

TEST_F(ConfigTest, SectionNamedByBackendNameIsKnown) {
  const auto config = loadText("[monitoring]\nbackend_name = mon\n[mon]\nnodes_down = a\n[mom]\n");
  EXPECT_FALSE(config.has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":5", "unknown section [mom] (did you mean [mon]?)"))
      << diag_.format();
  EXPECT_EQ(diag_.items().size(), 2U) << diag_.format();  // + the warning for no inventory
}

TEST_F(ConfigTest, BackendNameWithSeveralDriversIsAnError) {
  EXPECT_FALSE(loadText("[monitoring]\ndriver = a, b\nbackend_name = mon\n[mon]\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":3", "only for a single driver")) << diag_.format();
  EXPECT_FALSE(hasError(diag_, "", "unknown section")) << diag_.format();
}

TEST_F(ConfigTest, TheOriginalsFirstLayoutWithTheMonitorLoginInMonitoringIsAccepted) {
  // etc/freezer-dr.conf.sample before backend_name existed had these keys in [monitoring].
  const auto config = loadText(
      "[monitoring]\n"
      "username = monitor\n"
      "password = pw\n"
      "endpoint = http://keystone:5000/v3\n"
      "kwargs = project_name:admin\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  const RawOptions& options = config->monitors.at(0).options;
  EXPECT_EQ(options.at("username").value, "monitor");
  EXPECT_EQ(options.at("password").where, path_ + ":3");
  EXPECT_EQ(options.at("kwargs").value, "project_name:admin");
}

TEST_F(ConfigTest, DriverSectionForADriverNotListedIsAnError) {
  EXPECT_FALSE(loadText("[fencer]\ndriver = ipmi\n[fencer.ipmy]\nport = 1\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":3", "[fencer.ipmy] holds options for driver 'ipmy'"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":3", "(did you mean [fencer.ipmi]?)")) << diag_.format();
}

TEST_F(ConfigTest, MoreThanOneEvacuatorIsAnError) {
  EXPECT_FALSE(loadText("[evacuation]\ndriver = nova, fake\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "one evacuator only")) << diag_.format();
}

TEST_F(ConfigTest, ReservedHostsAreReadInOrderWithTheirFallback) {
  auto config = loadText("[evacuation]\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_TRUE(config->reserved_hosts.empty()) << "none: the scheduler places every instance";
  EXPECT_TRUE(config->reserved_hosts_fallback);
  config = loadText(
      "[evacuation]\n"
      "reserved-hosts = spare-2, spare-1\n"
      "reserved_hosts_fallback = no\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->reserved_hosts, (std::vector<std::string>{"spare-2", "spare-1"}));
  EXPECT_FALSE(config->reserved_hosts_fallback);
}

TEST_F(ConfigTest, TheCapacityCheckIsOnWithAFiveSecondDeadlineByDefault) {
  auto config = loadText("[evacuation]\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_TRUE(config->capacity_check);
  EXPECT_EQ(config->capacity_check_timeout, std::chrono::seconds(5));
  config = loadText("[evacuation]\ncapacity-check = off\ncapacity_check_timeout = 2.5\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_FALSE(config->capacity_check);
  EXPECT_EQ(config->capacity_check_timeout, std::chrono::milliseconds(2500));
  EXPECT_FALSE(loadText("[evacuation]\ncapacity-check-timeout = 0\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "capacity-check-timeout: expected a non-zero duration"))
      << diag_.format();
}

TEST_F(ConfigTest, AReservedHostTwiceOrInMaintenanceIsAnError) {
  EXPECT_FALSE(loadText("[evacuation]\nreserved-hosts = spare-1, spare-1\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "'spare-1' is listed twice")) << diag_.format();
  EXPECT_FALSE(loadText("[DEFAULT]\nmaintenance = spare-1\n"
                        "[evacuation]\nreserved-hosts = spare-1\n"
                        "reserved-hosts-fallback = maybe\n")
                   .has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "'spare-1' is also a reserved host")) << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":5", "reserved-hosts-fallback: expected a boolean"))
      << diag_.format();
}

TEST_F(ConfigTest, MissingCredentialsFileIsAnErrorNamingIt) {
  EXPECT_FALSE(loadText("[fencer]\ncredentials_file = nodes/servers.yml\n").has_value());
  const std::string resolved = (dir_ / "nodes" / "servers.yml").string();
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "the inventory '" + resolved + "' does not exist"))
      << diag_.format();
}

TEST_F(ConfigTest, InventoryErrorsFailTheLoad) {
  write("servers.yml", "servers:\n  - id: a\n    hostname: n1\n  - id: a\n    hostname: n2\n");
  EXPECT_FALSE(loadText("[fencer]\ncredentials-file = servers.yml\n").has_value());
  EXPECT_TRUE(hasError(diag_, "servers.yml:4", "duplicate id 'a'")) << diag_.format();
}

TEST_F(ConfigTest, EveryErrorIsReportedNotOnlyTheFirst) {
  EXPECT_FALSE(loadText("[fencer]\n"
                        "retires = 1\n"
                        "retries = x\n"
                        "[bogus]\n")
                   .has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "unknown option")) << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":3", "expected an integer")) << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":4", "unknown section [bogus]")) << diag_.format();
}

TEST_F(ConfigTest, MaintenanceNodeMissingFromTheInventoryWarns) {
  write("servers.yml", "servers:\n  - hostname: n1\n");
  const auto config =
      loadText("[DEFAULT]\nmaintenance = n1, n9\n[fencer]\ncredentials-file = servers.yml\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":2", "'n9' is not a hostname")) << diag_.format();
  EXPECT_FALSE(hasWarning(diag_, path_ + ":2", "'n1'")) << diag_.format();
}

TEST_F(ConfigTest, DiagnosticsFromAnEarlierLoadDoNotFailTheNextOne) {
  diag_.error("elsewhere", "an unrelated earlier error");
  EXPECT_TRUE(loadText("[DEFAULT]\n").has_value()) << diag_.format();
}

// --- secrets

TEST_F(ConfigTest, ConfigWithASecretReadableByOthersWarns) {
  path_ = write("freezer-dr.conf", "[keystone_authtoken]\nusername = a\npassword = hunter2\n",
                fs::perms(0644));
  ASSERT_TRUE(load(path_, diag_).has_value()) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":3", "group or others may read it (mode 0644)"))
      << diag_.format();
  EXPECT_EQ(diag_.format().find("hunter2"), std::string::npos) << diag_.format();
}

TEST_F(ConfigTest, PrivateConfigWithASecretDoesNotWarn) {
  path_ = write("freezer-dr.conf", "[notifiers]\npassword = hunter2\n", fs::perms(0600));
  ASSERT_TRUE(load(path_, diag_).has_value()) << diag_.format();
  EXPECT_FALSE(hasWarning(diag_, "", "may read it")) << diag_.format();
}

TEST_F(ConfigTest, ReadableConfigWithoutSecretsDoesNotWarn) {
  path_ = write("freezer-dr.conf", "[notifiers]\nusername = a\n", fs::perms(0644));
  ASSERT_TRUE(load(path_, diag_).has_value()) << diag_.format();
  EXPECT_FALSE(hasWarning(diag_, "", "may read it")) << diag_.format();
}

TEST_F(ConfigTest, SecretInADriverSectionCountsToo) {
  path_ = write("freezer-dr.conf", "[fencer]\ndriver = redfish\n[fencer.redfish]\npassword = x\n",
                fs::perms(0640));
  ASSERT_TRUE(load(path_, diag_).has_value()) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":4", "mode 0640")) << diag_.format();
}

TEST_F(ConfigTest, BadSecretValueIsNotEchoed) {
  EXPECT_FALSE(loadText("[fencer]\noptions = password=hunter2\n").has_value());
  EXPECT_TRUE(diag_.hasErrors());
  EXPECT_EQ(diag_.format().find("hunter2"), std::string::npos) << diag_.format();
}

TEST(DefaultConfigPaths, OwnPlaceFirstThenTheOriginals) {
  EXPECT_EQ(defaultConfigPaths(), (std::vector<std::string>{"/etc/freezer-dr/freezer-dr.conf",
                                                            "/etc/freezer/freezer-dr.conf"}));
}

TEST_F(ConfigTest, AReadinessCheckIntervalBelowAMinuteIsWarnedAbout) {
  const auto config = loadText(
      "[fencer]\n"
      "check-interval = 2s\n");
  ASSERT_TRUE(config.has_value()) << diag_.format();
  EXPECT_EQ(config->fence_check_interval, milliseconds(2'000));
  EXPECT_NE(diag_.format().find("check-interval below 1 min"), std::string::npos) << diag_.format();
  EXPECT_NE(diag_.format().find(":2"), std::string::npos) << "names the line: " << diag_.format();
  diag_ = {};
  EXPECT_FALSE(loadText("[fencer]\ncheck-concurrency = 0\n").has_value());
}

}  // namespace
}  // namespace fdr::config
