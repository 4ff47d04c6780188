// The etcd election (src/ha/etcd_election.h) against a real etcd member, its rounds driven by
// the test (step()) instead of its thread: one leader at a time, a clean hand-over on resign(),
// a term that the journal says is gone stops acting at once.
#include "ha/etcd_election.h"

#include <gtest/gtest.h>

#include <memory>

#include "support/etcd_cluster.h"

namespace fdr::testing {
namespace {

using namespace std::chrono_literals;

class EtcdElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::available()) GTEST_SKIP() << EtcdCluster::whyUnavailable();
    cluster_ = std::make_unique<EtcdCluster>(1);
    ASSERT_TRUE(cluster_->ready()) << cluster_->error();
    etcd::EtcdOptions options;
    options.endpoints = cluster_->endpoints();
    auto client = etcd::EtcdClient::create(std::move(options), clock_);
    ASSERT_TRUE(client.has_value()) << client.error().message;
    client_ = std::move(*client);
  }

  std::unique_ptr<ha::EtcdElection> election(const std::string& name) {
    return std::make_unique<ha::EtcdElection>(*client_,
                                              ha::ElectionOptions{.prefix = "/election-test/",
                                                                  .name = name,
                                                                  .ttl = 5s,
                                                                  .margin = 1s,
                                                                  .campaign_interval = 100ms},
                                              clock_);
  }

  static bool acting(const ha::EtcdElection& e) {
    return e.acting(std::chrono::steady_clock::now());
  }

  SystemClock clock_;
  std::unique_ptr<EtcdCluster> cluster_;
  std::unique_ptr<etcd::EtcdClient> client_;
};

TEST_F(EtcdElectionTest, OneLeaderAtATimeAndAHandOverOnResign) {
  auto a = election("a");
  auto b = election("b");
  (void)a->step();
  (void)b->step();
  ASSERT_TRUE(acting(*a));
  EXPECT_FALSE(acting(*b));
  EXPECT_EQ(b->state().leader, "a");
  EXPECT_EQ(b->state().term, a->term());
  EXPECT_GT(a->term(), 0);

  auto leader = ha::EtcdElection::leader(*client_, "/election-test/");
  ASSERT_TRUE(leader.has_value());
  ASSERT_TRUE(leader->has_value());
  EXPECT_EQ((*leader)->first, "a");
  EXPECT_EQ((*leader)->second, a->term());

  const int64_t first_term = a->term();
  a->resign();
  EXPECT_FALSE(acting(*a));
  (void)b->step();
  ASSERT_TRUE(acting(*b)) << b->state().why;
  EXPECT_GT(b->term(), first_term) << "terms only grow";
  auto members = ha::EtcdElection::members(*client_, "/election-test/");
  ASSERT_TRUE(members.has_value());
  ASSERT_EQ(members->size(), 1u) << "a's entry went with its lease";
  EXPECT_EQ(members->at(0).name, "b");
  EXPECT_EQ(members->at(0).role, "leader");
}

TEST_F(EtcdElectionTest, ADeletedLeaderKeyOrADeposedTermStopsActing) {
  auto a = election("a");
  (void)a->step();
  ASSERT_TRUE(acting(*a));
  a->deposed(a->term() + 1);  // not its term: nothing happens
  EXPECT_TRUE(acting(*a));
  a->deposed(a->term());
  EXPECT_FALSE(acting(*a));
  EXPECT_EQ(a->term(), 0);

  auto b = election("b");
  (void)b->step();
  EXPECT_FALSE(acting(*b)) << "the key is still a's (its lease lives)";
  etcd::Txn erase;
  erase.success.push_back(etcd::Op::erase("/election-test/leader"));
  ASSERT_TRUE(client_->txn(erase).has_value());
  (void)b->step();
  EXPECT_TRUE(acting(*b)) << b->state().why;
}

TEST_F(EtcdElectionTest, WithEtcdGoneNobodyLeadsAndTheStateSaysWhy) {
  auto a = election("a");
  cluster_->stop(0);
  (void)a->step();
  EXPECT_FALSE(acting(*a));
  EXPECT_NE(a->state().why.find("etcd unreachable"), std::string::npos) << a->state().why;
}

}  // namespace
}  // namespace fdr::testing
