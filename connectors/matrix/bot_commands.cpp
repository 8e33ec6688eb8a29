#include "connectors/matrix/bot_commands.hpp"

namespace coibridge::connectors::matrix {

using boost::asio::awaitable;

namespace {

// The most history a link may ask for, per conversation (as the REST API allows).
constexpr int kMaxBackfill = 1000;

}  // namespace

PermissionLevel BotCommands::permission_of(const std::string& user_id) const {
  return matrix::permission_of(user_id, config_.permissions, config_.server_name);
}

std::string BotCommands::help(const core::ActorRef& who) const {
  return "coi-bridge commands (in this room, which is linked to nothing):\n"
         "  dm <address>   open a direct chat with a mail (COI, Delta Chat) contact\n"
         "  link <room id or #alias> <connector>:<conversation> [backfill <n>]\n"
         "                 bridge a room with another network's conversation (admins), for "
         "example\n"
         "                 link #team:" +
         config_.server_name + " " +
         (config_.dm_connector.empty() ? std::string("mail") : config_.dm_connector) +
         ":group:<group id>; invite the bot to the room first; backfill <n>: the\n"
         "                 conversation's last n messages from before the link follow\n"
         "  unlink <room id or #alias>\n"
         "                 end that room's bridge (admins)\n"
         "  status         what this bridge serves\n"
         "  help           this text\n"
         "Rooms can also be linked through the bridge's REST API (POST "
         "/api/v1/bridges/{id}/links); "
         "inviting a contact's ghost @" +
         config_.ghost_prefix + "<address>:" + config_.server_name +
         " opens a direct chat too.\n"
         "You may use commands up to level \"" +
         std::string(to_string(permission_of(who.remote_id))) + "\".";
}

awaitable<void> BotCommands::run(const std::string& room, const core::ActorRef& who,
                                 const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  const auto space = line.find(' ');
  std::string word = line.substr(0, space);
  if (word.starts_with("!")) word.erase(0, 1);
  const std::string arg = space == std::string::npos ? std::string() : line.substr(space + 1);
  // Every answer is built before it is awaited: g++ 12 mishandles temporaries (and
  // conditional expressions) inside a co_await expression.
  std::string answer;
  if (word == "help") {
    answer = help(who);
  } else if (word == "status" || word == "dm" || word == "link" || word == "unlink") {
    // connectors.matrix[].permissions: dm and status need "user", link and unlink "admin".
    const PermissionLevel needed =
        word == "link" || word == "unlink" ? PermissionLevel::kAdmin : PermissionLevel::kUser;
    const PermissionLevel has = permission_of(who.remote_id);
    if (has < needed) {
      answer = "sorry, " + who.remote_id + ": \"" + word + "\" needs the " +
               std::string(to_string(needed)) +
               " level on this bridge (connectors.matrix[].permissions), and you have " +
               (has == PermissionLevel::kNone ? std::string("none")
                                              : "\"" + std::string(to_string(has)) + "\"") +
               ".";
    } else if (word == "link") {
      answer = co_await link(who, arg);
    } else if (word == "unlink") {
      answer = co_await unlink(who, arg);
    } else if (word == "dm") {
      answer = co_await open_dm(who, arg);
    } else {
      const std::string target =
          config_.dm_connector.empty() ? std::string("(no mail connector)") : config_.dm_connector;
      answer = "coi-bridge is running. Homeserver " + config_.homeserver_url +
               ", direct chats go to " + target + ", ghosts are @" + config_.ghost_prefix +
               "…:" + config_.server_name + ".";
    }
  } else if (text.starts_with("!")) {
    answer = "unknown command \"" + word.substr(0, 40) + "\"; say help";
  }
  // Anything else is chat in a room waiting to be linked: not the bot's business.
  if (!answer.empty()) co_await bot_.say(room, answer);
}

awaitable<std::string> BotCommands::open_dm(const core::ActorRef& who, const std::string& address) {
  if (address.empty() || address.find('@') == std::string::npos ||
      address.find(' ') != std::string::npos) {
    co_return std::string("usage: dm <address>, for example: dm bob@example.org");
  }
  if (runtime_.direct_chats == nullptr || config_.dm_connector.empty()) {
    co_return std::string("direct chats are not configured (connectors.matrix[].dm_connector)");
  }
  // The ghost creates the room and invites the user; the room is then linked with the mail
  // chat between the address and the user's puppet.
  const core::ActorRef contact{config_.dm_connector, address, address};
  const std::string person = who.remote_id;
  auto opened = co_await portals_.open_direct_chat(person, contact);
  if (!opened)
    co_return "cannot open a direct chat with " + address + ": " + opened.error().message;
  const core::ConversationRef here{config_.name, *opened};
  const std::string target = config_.dm_connector;
  auto linked = co_await runtime_.direct_chats->link(here, who, target, address);
  if (!linked)
    co_return "cannot link the direct chat with " + address + ": " + linked.error().message;
  co_return "invited you to a direct chat with " + address;
}

awaitable<std::string> BotCommands::link(const core::ActorRef& who, const std::string& args) {
  const std::string usage =
      "usage: link <room id or #alias> <connector>:<conversation> [backfill <n>], for example: "
      "link #team:" +
      config_.server_name + " mail:group:1234 backfill 20";
  const auto space = args.find(' ');
  if (space == std::string::npos) co_return usage;
  const std::string target = args.substr(0, space);
  std::string conversation = args.substr(space + 1);
  while (!conversation.empty() && conversation.front() == ' ') conversation.erase(0, 1);
  // "backfill <n>": the conversations' history from before the link follows into the room.
  int backfill = 0;
  if (const auto more = conversation.find(" backfill "); more != std::string::npos) {
    const std::string n = conversation.substr(more + 10);
    if (n.empty() || n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(n) > kMaxBackfill) {
      co_return "backfill wants a number from 0 to " + std::to_string(kMaxBackfill) + "; " + usage;
    }
    backfill = std::stoi(n);
    conversation.resize(more);
  }
  const auto colon = conversation.find(':');
  if (conversation.empty() || conversation.find(' ') != std::string::npos ||
      colon == std::string::npos || colon == 0 || colon + 1 == conversation.size()) {
    co_return usage;
  }
  const std::string connector = conversation.substr(0, colon);
  const std::string remote_id = conversation.substr(colon + 1);
  if (connector == config_.name)
    co_return "a room is linked with another network's conversation, not with " + connector;
  if (runtime_.portal_links == nullptr)
    co_return std::string("this bridge cannot link rooms from Matrix (no portal links)");
  auto room = co_await portals_.resolve_room(target);
  if (!room) co_return "cannot link " + target + ": " + room.error().message;
  // The bot must be in the room to relay it: a member stays, an invited bot joins now.
  if (auto joined = co_await api_.join_room(*room, ""); !joined) {
    co_return "cannot link " + target + ": the bot cannot join it (" + joined.error().message +
        "); invite " + portals_.bot_user_id() + " first";
  }
  bot_.add(*room);
  const core::ConversationRef here{config_.name, *room};
  const core::ConversationRef there{connector, remote_id};
  const std::string actor = config_.name + ":" + who.remote_id;
  auto bridge = co_await runtime_.portal_links->link(here, there, actor);
  if (!bridge) {
    const auto& e = bridge.error();
    if (e.kind == core::ErrorKind::kConflict) {
      co_return "cannot link " + target + " with " + conversation +
          ": one of them is linked already (unlink it first)";
    }
    if (e.kind == core::ErrorKind::kNotFound) co_return "cannot link " + target + ": " + e.message;
    co_return "cannot link " + target + " with " + conversation + ": " + e.message;
  }
  const std::string shown = target == *room ? *room : target + " (" + *room + ")";
  std::string history;
  if (backfill > 0) {
    auto queued = co_await runtime_.portal_links->backfill(*bridge, backfill);
    history = queued ? "; " + std::to_string(*queued) + " earlier messages follow"
                     : "; no history: " + queued.error().message;
  }
  co_return "linked " + shown + " with " + conversation + " (bridge " + std::to_string(*bridge) +
      ")" + history;
}

awaitable<std::string> BotCommands::unlink(const core::ActorRef& who, const std::string& args) {
  if (args.empty() || args.find(' ') != std::string::npos)
    co_return std::string("usage: unlink <room id or #alias>");
  if (runtime_.portal_links == nullptr)
    co_return std::string("this bridge cannot unlink rooms from Matrix (no portal links)");
  auto room = co_await portals_.resolve_room(args);
  if (!room) co_return "cannot unlink " + args + ": " + room.error().message;
  const core::ConversationRef here{config_.name, *room};
  const std::string actor = config_.name + ":" + who.remote_id;
  auto others = co_await runtime_.portal_links->unlink(here, actor);
  if (!others) {
    if (others.error().kind == core::ErrorKind::kNotFound) co_return args + " is not linked";
    co_return "cannot unlink " + args + ": " + others.error().message;
  }
  std::string names;
  for (const auto& other : *others)
    names += (names.empty() ? "" : ", ") + other.connector + ":" + other.remote_id;
  co_return "unlinked " + args + (names.empty() ? std::string() : " from " + names);
}

}  // namespace coibridge::connectors::matrix
