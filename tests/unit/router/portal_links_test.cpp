// PortalLinker: bridges a connector makes and unmakes for its users, and the notices the
// linked conversations' connectors get.

#include "core/router/portal_links.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/support/run_until.hpp"
#include "tests/unit/admin/fake_stores.hpp"

namespace coibridge::core {
namespace {

// Records what it was told about its links.
class NoticedConnector final : public Connector {
 public:
  explicit NoticedConnector(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Capabilities capabilities() const override { return Capabilities::all(); }
  boost::asio::awaitable<void> run(ConnectorContext&) override { co_return; }
  boost::asio::awaitable<Result<RemoteMessageRef>> deliver(const Delivery&) override {
    co_return RemoteMessageRef{name_, "x"};
  }
  boost::asio::awaitable<Status> linked(PortalLink link) override {
    linked_.push_back(link);
    if (fail) co_return Error::permanent("M_FORBIDDEN: no power");
    co_return Status{};
  }
  boost::asio::awaitable<Status> unlinked(PortalLink link) override {
    unlinked_.push_back(link);
    co_return Status{};
  }
  std::vector<PortalLink> linked_, unlinked_;
  bool fail = false;

 private:
  std::string name_;
};

class PortalLinksTest : public ::testing::Test {
 protected:
  PortalLinksTest() {
    EXPECT_TRUE(registry_.add(matrix_).ok());
    EXPECT_TRUE(registry_.add(mail_).ok());
  }

  template <class T>
  T run(boost::asio::awaitable<T> work) {
    std::optional<T> out;
    boost::asio::co_spawn(io_, std::move(work), [&](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      out = std::move(value);
    });
    EXPECT_TRUE(testing::run_until(io_, [&] { return out.has_value(); }));
    return std::move(*out);
  }

  boost::asio::io_context io_;
  fakes::FakeBridgeStore store_;
  ConnectorRegistry registry_;
  std::shared_ptr<NoticedConnector> matrix_ = std::make_shared<NoticedConnector>("matrix");
  std::shared_ptr<NoticedConnector> mail_ = std::make_shared<NoticedConnector>("mail");
  PortalLinker linker_{store_, registry_, io_.get_executor()};
};

TEST_F(PortalLinksTest, LinkMakesABridgeOfTwoAndTellsBothSides) {
  const ConversationRef room{"matrix", "!a:example.org"};
  const ConversationRef group{"mail", "group:1"};
  auto id = run(linker_.link(room, group, "matrix:@admin:example.org"));
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(store_.bridge_count(), 1U);
  EXPECT_EQ(store_.link_count(), 2U);
  EXPECT_EQ(store_.last_actor, "matrix:@admin:example.org");
  ASSERT_EQ(matrix_->linked_.size(), 1U);
  EXPECT_EQ(matrix_->linked_[0].conversation, "!a:example.org");
  EXPECT_EQ(matrix_->linked_[0].bridge_id, *id);
  EXPECT_EQ(matrix_->linked_[0].bridge_name, "portal matrix:!a:example.org <> mail:group:1");
  ASSERT_EQ(mail_->linked_.size(), 1U);
  EXPECT_EQ(mail_->linked_[0].conversation, "group:1");
}

TEST_F(PortalLinksTest, LinkRefusesWhatCannotBeLinkedAndLeavesNothingBehind) {
  const ConversationRef room{"matrix", "!a:example.org"};
  ASSERT_TRUE(run(linker_.link(room, ConversationRef{"mail", "group:1"}, "a")).ok());
  // Either side linked already: kConflict, and the new bridge is undone.
  auto again = run(linker_.link(ConversationRef{"matrix", "!b:example.org"},
                                ConversationRef{"mail", "group:1"}, "a"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);
  auto room_again = run(linker_.link(room, ConversationRef{"mail", "group:2"}, "a"));
  ASSERT_FALSE(room_again.ok());
  EXPECT_EQ(room_again.error().kind, ErrorKind::kConflict);
  auto unknown = run(linker_.link(room, ConversationRef{"slack", "C1"}, "a"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::kNotFound);
  auto same = run(linker_.link(room, ConversationRef{"matrix", "!c:example.org"}, "a"));
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(store_.bridge_count(), 1U);
  EXPECT_EQ(store_.link_count(), 2U);
  EXPECT_EQ(matrix_->linked_.size(), 1U);
}

TEST_F(PortalLinksTest, AFailingNoticeDoesNotUndoTheLink) {
  matrix_->fail = true;
  auto id = run(linker_.link(ConversationRef{"matrix", "!a:example.org"},
                             ConversationRef{"mail", "group:1"}, "a"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(store_.link_count(), 2U);
}

TEST_F(PortalLinksTest, UnlinkRemovesTheBridgeWhenFewerThanTwoLinksRemain) {
  // Enough bridges before it that the scan reads more than one page.
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(run(store_.create_bridge("filler " + std::to_string(i), "t")).ok());
  }
  ASSERT_TRUE(run(linker_.link(ConversationRef{"matrix", "!a:example.org"},
                               ConversationRef{"mail", "group:1"}, "a"))
                  .ok());
  auto others =
      run(linker_.unlink(ConversationRef{"matrix", "!a:example.org"}, "matrix:@admin:example.org"));
  ASSERT_TRUE(others.ok()) << others.error().message;
  ASSERT_EQ(others->size(), 1U);
  EXPECT_EQ((*others)[0].connector, "mail");
  EXPECT_EQ((*others)[0].remote_id, "group:1");
  EXPECT_EQ(store_.bridge_count(), 250U);  // the portal's bridge went
  EXPECT_EQ(store_.link_count(), 0U);
  ASSERT_EQ(matrix_->unlinked_.size(), 1U);
  EXPECT_EQ(matrix_->unlinked_[0].conversation, "!a:example.org");
  EXPECT_TRUE(mail_->unlinked_.empty());
  auto missing = run(linker_.unlink(ConversationRef{"matrix", "!a:example.org"}, "a"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
}

TEST_F(PortalLinksTest, UnlinkKeepsABridgeThatStillLinksTwo) {
  auto bridge = run(store_.create_bridge("three", "t"));
  ASSERT_TRUE(bridge.ok());
  const std::vector<std::pair<std::string, std::string>> links = {
      {"matrix", "!a:x"}, {"mail", "group:1"}, {"mail", "group:2"}};
  for (const auto& [connector, id] : links) {
    ASSERT_TRUE(
        run(store_.add_link(bridge->id, connector, id, nlohmann::json::object(), "t")).ok());
  }
  auto others = run(linker_.unlink(ConversationRef{"matrix", "!a:x"}, "a"));
  ASSERT_TRUE(others.ok());
  EXPECT_EQ(others->size(), 2U);
  EXPECT_EQ(store_.bridge_count(), 1U);
  EXPECT_EQ(store_.link_count(), 2U);
}

TEST_F(PortalLinksTest, AnnouncedLinksReachTheirConnectorInTheBackground) {
  Link link{7, 3, "matrix", "!a:x", nlohmann::json::object(), {}};
  linker_.announce_linked(link);
  linker_.announce_unlinked(link);
  Link foreign{8, 3, "nosuch", "x", nlohmann::json::object(), {}};
  linker_.announce_linked(foreign);  // no such connector: nothing to tell, nothing breaks
  EXPECT_TRUE(testing::run_until(
      io_, [&] { return matrix_->linked_.size() == 1 && matrix_->unlinked_.size() == 1; }));
  EXPECT_EQ(matrix_->linked_[0].bridge_id, 3);
  EXPECT_EQ(matrix_->linked_[0].conversation, "!a:x");
}

TEST(PortalLinkerName, IsCutToTheSchemaLimitAtACharacterBoundary) {
  const ConversationRef a{"matrix", "!" + std::string(150, 'a') + ":x"};
  // 195 bytes before the accents; the third one would straddle byte 200.
  const ConversationRef b{"mail", "group:" + std::string(13, 'b') + "\xc3\xa9\xc3\xa9\xc3\xa9"};
  const auto name = PortalLinker::bridge_name(a, b);
  EXPECT_EQ(name.size(), 199U);
  EXPECT_TRUE(name.ends_with("b\xc3\xa9\xc3\xa9"));
  EXPECT_EQ(PortalLinker::bridge_name(ConversationRef{"m", "r"}, ConversationRef{"c", "g"}),
            "portal m:r <> c:g");
}

}  // namespace
}  // namespace coibridge::core
