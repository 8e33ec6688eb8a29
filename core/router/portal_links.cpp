#include "core/router/portal_links.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <utility>

#include "core/text/utf8.hpp"

namespace coibridge::core {
namespace {

constexpr std::size_t kMaxBridgeName = 200;  // schema: bridges.name, length 1..200

}  // namespace

std::string PortalLinker::bridge_name(const ConversationRef& a, const ConversationRef& b) {
  const std::string name =
      "portal " + a.connector + ":" + a.remote_id + " <> " + b.connector + ":" + b.remote_id;
  return std::string(utf8_prefix(name, kMaxBridgeName));
}

boost::asio::awaitable<Result<std::int64_t>> PortalLinker::link(ConversationRef a,
                                                                ConversationRef b,
                                                                std::string actor) {
  if (a.connector == b.connector) {
    co_return Error::invalid("conversation", "both conversations are on connector " + a.connector);
  }
  for (const ConversationRef* side : {&std::as_const(a), &std::as_const(b)}) {
    if (registry_.find(side->connector) == nullptr)
      co_return Error::not_found("no connector named " + side->connector);
    if (side->remote_id.empty()) co_return Error::invalid("conversation", "empty conversation id");
  }
  auto bridge = co_await bridges_.create_bridge(bridge_name(a, b), actor);
  if (!bridge) co_return bridge.error();
  std::vector<Link> made;
  for (const ConversationRef* side : {&std::as_const(a), &std::as_const(b)}) {
    auto added = co_await bridges_.add_link(bridge->id, side->connector, side->remote_id,
                                            nlohmann::json::object(), actor);
    if (!added) {
      // One side belongs to another bridge already: undo, so no half-linked bridge remains.
      (void)co_await bridges_.delete_bridge(bridge->id, actor);
      co_return added.error();
    }
    made.push_back(std::move(*added));
  }
  spdlog::info("portal: {}:{} <> {}:{} (bridge {}, by {})", a.connector, a.remote_id, b.connector,
               b.remote_id, bridge->id, actor);
  for (auto& link : made) co_await tell(std::move(link), true);
  co_return bridge->id;
}

boost::asio::awaitable<Result<int>> PortalLinker::backfill(std::int64_t bridge_id, int messages) {
  if (!backfill_) co_return Error::invalid("backfill", "not offered by this process");
  co_return co_await backfill_(bridge_id, messages);
}

boost::asio::awaitable<Result<std::vector<ConversationRef>>> PortalLinker::unlink(
    ConversationRef conversation, std::string actor) {
  auto bridge_id = co_await bridges_.bridge_of(conversation.connector, conversation.remote_id);
  if (!bridge_id) co_return bridge_id.error();
  if (!*bridge_id) {
    co_return Error::not_found(conversation.connector + ":" + conversation.remote_id +
                               " is not linked");
  }
  const std::int64_t bridge = **bridge_id;
  auto links = co_await bridges_.list_links(bridge);
  if (!links) co_return links.error();
  const auto mine = std::find_if(links->begin(), links->end(), [&](const Link& l) {
    return l.connector == conversation.connector && l.remote_id == conversation.remote_id;
  });
  if (mine == links->end()) {  // unlinked meanwhile
    co_return Error::not_found(conversation.connector + ":" + conversation.remote_id +
                               " is not linked");
  }
  std::vector<ConversationRef> others;
  for (const auto& l : *links) {
    if (l.id != mine->id) others.push_back(ConversationRef{l.connector, l.remote_id});
  }
  // A bridge of one conversation relays nothing and only keeps that conversation from being
  // linked anew: it goes with the link.
  // (No conditional around co_await: g++ 12 miscompiles it.)
  Status removed;
  if (others.size() < 2) {
    removed = co_await bridges_.delete_bridge(bridge, actor);
  } else {
    removed = co_await bridges_.remove_link(bridge, mine->id, actor);
  }
  if (!removed) co_return removed.error();
  spdlog::info("portal: {}:{} unlinked from bridge {}{} (by {})", conversation.connector,
               conversation.remote_id, bridge, others.size() < 2 ? ", which is gone" : "", actor);
  Link gone = *mine;
  co_await tell(std::move(gone), false);
  co_return others;
}

boost::asio::awaitable<void> PortalLinker::tell(Link link, bool linked) {
  Connector* connector = registry_.find(link.connector);
  if (connector == nullptr) co_return;
  std::string bridge_name;
  if (auto bridge = co_await bridges_.get_bridge(link.bridge_id)) bridge_name = bridge->name;
  PortalLink notice{link.bridge_id, std::move(bridge_name), link.remote_id};
  Status st;
  try {
    if (linked) {
      st = co_await connector->linked(std::move(notice));
    } else {
      st = co_await connector->unlinked(std::move(notice));
    }
  } catch (const std::exception& e) {
    st = Error::internal(e.what());
  }
  if (!st) {
    spdlog::warn("portal: {} not told that {} was {}: {}", link.connector, link.remote_id,
                 linked ? "linked" : "unlinked", st.error().message);
  }
}

void PortalLinker::announce_linked(const Link& link) {
  boost::asio::co_spawn(executor_, tell(link, true), boost::asio::detached);
}

void PortalLinker::announce_unlinked(const Link& link) {
  boost::asio::co_spawn(executor_, tell(link, false), boost::asio::detached);
}

}  // namespace coibridge::core
