// servers.yml: the original's inventory is accepted; duplicates, missing hostnames, bad types
// and YAML syntax errors are reported with file and line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/config/config.h"

namespace fdr::config {
namespace {

namespace fs = std::filesystem;

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

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("fdr-inventory-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::optional<std::vector<Node>> loadText(const std::string& content,
                                            fs::perms mode = fs::perms(0600)) {
    path_ = (dir_ / "servers.yml").string();
    std::ofstream(path_) << content;
    fs::permissions(path_, mode);
    return loadInventory(path_, diag_);
  }

  fs::path dir_;
  std::string path_;
  Diagnostics diag_;
};

TEST_F(InventoryTest, TheOriginalServersYmlIsAccepted) {
  const std::string path = (testdata() / "original" / "servers.yml").string();
  const auto nodes = loadInventory(path, diag_);
  ASSERT_TRUE(nodes.has_value()) << diag_.format();
  EXPECT_FALSE(diag_.hasErrors());
  ASSERT_EQ(nodes->size(), 6U);
  const Node& first = (*nodes)[0];
  EXPECT_EQ(first.id, "deployer");
  EXPECT_EQ(first.hostname, "padawan-cp1-c0-m1-mgmt");
  EXPECT_EQ(first.ip_addr, "192.168.10.254");
  EXPECT_EQ(first.fencer_ip, "192.168.9.2");
  EXPECT_EQ(first.fencer_user, "admin");
  EXPECT_EQ(first.fencer_password.reveal(), "password");
  EXPECT_EQ(first.fencer_port, 0);
  EXPECT_TRUE(first.extra.empty());
  EXPECT_EQ(first.source, path + ":23");
  const Node& compute = (*nodes)[4];
  EXPECT_EQ(compute.id, "COMPUTE-0001");
  EXPECT_EQ(compute.domain_name, "padawan-vagrant_cpn-0001");  // the YAML comment is not in it
}

TEST_F(InventoryTest, AllFieldsAndExtraKeys) {
  const auto nodes = loadText(
      "servers:\n"
      "  - id: n1\n"
      "    hostname: compute-1\n"
      "    ip-addr: 10.0.0.1\n"
      "    fencer-ip: 10.1.0.1\n"
      "    fencer-port: 6230\n"
      "    fencer-user: root\n"
      "    fencer-password: calvin\n"
      "    domain-name: vm-1\n"
      "    redfish-system: /redfish/v1/Systems/1\n"
      "    lanplus: true\n"
      "  - hostname: compute-2\n");
  ASSERT_TRUE(nodes.has_value()) << diag_.format();
  ASSERT_EQ(nodes->size(), 2U);
  const Node& n = (*nodes)[0];
  EXPECT_EQ(n.fencer_port, 6230);
  EXPECT_EQ(n.domain_name, "vm-1");
  EXPECT_EQ(n.extra.at("redfish-system"), "/redfish/v1/Systems/1");
  EXPECT_EQ(n.extra.at("lanplus"), "true");
  EXPECT_EQ(n.source, path_ + ":2");
  EXPECT_EQ((*nodes)[1].id, "compute-2");  // no id: the hostname stands in
  EXPECT_EQ((*nodes)[1].source, path_ + ":12");
}

// YAML's anchors, aliases, flow style and nulls read as yaml-cpp's own tree read them.
TEST_F(InventoryTest, AnchorsAliasesFlowStyleAndNullsAreYaml) {
  const auto nodes = loadText(
      "servers:\n"
      "  - {hostname: compute-1, fencer-user: &user admin, fencer-password: &pw s3cret}\n"
      "  - hostname: compute-2\n"
      "    fencer-user: *user\n"
      "    fencer-password: *pw\n"
      "    domain-name: ~\n"
      "    fencer-port:\n"
      "---\n"
      "servers: [{hostname: ignored}]\n");
  ASSERT_TRUE(nodes.has_value()) << diag_.format();
  ASSERT_EQ(nodes->size(), 2U) << "only the first document is read";
  EXPECT_EQ((*nodes)[1].fencer_user, "admin");
  EXPECT_EQ((*nodes)[1].fencer_password.reveal(), "s3cret");
  EXPECT_TRUE((*nodes)[1].domain_name.empty());
  EXPECT_EQ((*nodes)[1].fencer_port, 0);
  EXPECT_EQ((*nodes)[1].source, path_ + ":3");
}

TEST_F(InventoryTest, AnEmptyFileOrAScalarIsNotAnInventory) {
  EXPECT_FALSE(loadText("").has_value());
  EXPECT_TRUE(hasError(diag_, path_, "found nothing")) << diag_.format();
  EXPECT_FALSE(loadText("just words\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":1", "found a scalar")) << diag_.format();
}

TEST_F(InventoryTest, UnderscoreSpellingsOfKnownKeysAreAccepted) {
  const auto nodes = loadText("servers:\n  - hostname: h\n    fencer_ip: 1.2.3.4\n");
  ASSERT_TRUE(nodes.has_value()) << diag_.format();
  EXPECT_EQ((*nodes)[0].fencer_ip, "1.2.3.4");
}

TEST_F(InventoryTest, DuplicateIdNamesBothLines) {
  EXPECT_FALSE(loadText("servers:\n"
                        "  - id: a\n"
                        "    hostname: h1\n"
                        "  - id: a\n"
                        "    hostname: h2\n")
                   .has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":4", "duplicate id 'a' (first defined at " + path_ + ":2)"))
      << diag_.format();
}

TEST_F(InventoryTest, DuplicateHostnameNamesBothLines) {
  EXPECT_FALSE(loadText("servers:\n"
                        "  - id: a\n"
                        "    hostname: h1\n"
                        "  - id: b\n"
                        "    hostname: h1\n")
                   .has_value());
  EXPECT_TRUE(
      hasError(diag_, path_ + ":5", "duplicate hostname 'h1' (first defined at " + path_ + ":3)"))
      << diag_.format();
}

TEST_F(InventoryTest, MissingHostnameIsAnErrorWithTheEntrysLine) {
  EXPECT_FALSE(loadText("servers:\n"
                        "  - id: a\n"
                        "    hostname: h1\n"
                        "  - id: b\n"
                        "    ip-addr: 10.0.0.2\n")
                   .has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":4", "server 'b' has no 'hostname'")) << diag_.format();
}

TEST_F(InventoryTest, BadYamlIsAnErrorWithFileAndLine) {
  EXPECT_FALSE(loadText("servers:\n"
                        "  - id: a\n"
                        "    hostname: [h1\n"
                        "  - id: b\n")
                   .has_value());
  ASSERT_TRUE(diag_.hasErrors());
  const Diagnostic& d = diag_.items().front();
  EXPECT_TRUE(d.where.starts_with(path_ + ":")) << diag_.format();
  EXPECT_NE(d.message.find("YAML error"), std::string::npos) << diag_.format();
}

TEST_F(InventoryTest, BadYamlIndentationNamesTheLine) {
  EXPECT_FALSE(loadText("servers:\n"
                        "  - id: a\n"
                        "    hostname: h1\n"
                        "   bad: indent\n")
                   .has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":4", "YAML error")) << diag_.format();
}

TEST_F(InventoryTest, WrongTypesAreErrorsWithTheirLines) {
  EXPECT_FALSE(loadText("servers:\n"               // 1
                        "  - just-a-name\n"        // 2
                        "  - hostname: [a, b]\n"   // 3
                        "  - hostname: h3\n"       // 4
                        "    fencer-port: ipmi\n"  // 5
                        "  - hostname: h4\n"       // 6
                        "    agent:\n"             // 7
                        "      nested: map\n")     // 8
                   .has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "must be a mapping")) << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":3", "'hostname' must be a single value, found a list"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":5", "'fencer-port' must be a port number"))
      << diag_.format();
  EXPECT_TRUE(hasError(diag_, path_ + ":8", "'agent' must be a single value, found a mapping"))
      << diag_.format();
}

TEST_F(InventoryTest, RepeatedKeyInOneServerIsAnError) {
  EXPECT_FALSE(loadText("servers:\n  - hostname: h1\n    hostname: h2\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":3", "key 'hostname' is repeated")) << diag_.format();
}

TEST_F(InventoryTest, TopLevelMustHoldAServersList) {
  EXPECT_FALSE(loadText("nodes:\n  - hostname: h\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_, "no top-level 'servers:' list")) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":1", "'nodes' is ignored")) << diag_.format();

  Diagnostics again;
  EXPECT_FALSE(loadInventory((testdata() / "peer-run" / "freezer-dr.conf").string(), again));
  EXPECT_TRUE(again.hasErrors()) << again.format();
}

TEST_F(InventoryTest, ServersMustBeAList) {
  EXPECT_FALSE(loadText("servers:\n  hostname: h\n").has_value());
  EXPECT_TRUE(hasError(diag_, path_ + ":2", "'servers' must be a list")) << diag_.format();
}

TEST_F(InventoryTest, EmptyServersListIsAcceptedWithAWarning) {
  const auto nodes = loadText("servers: []\n");
  ASSERT_TRUE(nodes.has_value()) << diag_.format();
  EXPECT_TRUE(nodes->empty());
  EXPECT_TRUE(hasWarning(diag_, path_, "no node to fence")) << diag_.format();
}

TEST_F(InventoryTest, MissingFileIsAnErrorNamingThePath) {
  const std::string path = (dir_ / "absent.yml").string();
  EXPECT_FALSE(loadInventory(path, diag_).has_value());
  EXPECT_TRUE(hasError(diag_, path, "cannot read inventory '" + path + "'")) << diag_.format();
}

TEST_F(InventoryTest, WorldReadableInventoryWithPasswordsWarns) {
  const auto nodes =
      loadText("servers:\n  - hostname: h\n    fencer-password: calvin\n", fs::perms(0644));
  ASSERT_TRUE(nodes.has_value()) << diag_.format();
  EXPECT_TRUE(hasWarning(diag_, path_ + ":3", "group or others may read it (mode 0644)"))
      << diag_.format();
  EXPECT_EQ(diag_.format().find("calvin"), std::string::npos);
}

TEST_F(InventoryTest, PrivateInventoryOrOneWithoutPasswordsDoesNotWarn) {
  ASSERT_TRUE(
      loadText("servers:\n  - hostname: h\n    fencer-password: calvin\n", fs::perms(0600)));
  ASSERT_TRUE(loadText("servers:\n  - hostname: h\n", fs::perms(0644)));
  EXPECT_TRUE(diag_.items().empty()) << diag_.format();
}

}  // namespace
}  // namespace fdr::config
