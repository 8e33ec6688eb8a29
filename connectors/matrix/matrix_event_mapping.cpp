// Inbound mapping: room events and ephemeral events of appservice transactions.

#include "connectors/matrix/matrix_event_mapping.hpp"

#include <chrono>
#include <limits>

#include "connectors/matrix/json_fields.hpp"
#include "connectors/matrix/matrix_html.hpp"

namespace coibridge::connectors::matrix {
namespace {

using json_fields::FieldError;
using nlohmann::json;

constexpr std::string_view kHtmlFormat = "org.matrix.custom.html";

// The largest millisecond count a core::Timestamp holds (system_clock may count in ns).
constexpr std::uint64_t kMaxTimestampMs = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(core::Timestamp::duration::max())
        .count());

core::Timestamp timestamp_ms(std::uint64_t ms) {
  return core::Timestamp{std::chrono::duration_cast<core::Timestamp::duration>(
      std::chrono::milliseconds(static_cast<std::int64_t>(ms)))};
}

bool is_ours(std::string_view user_id, const MappingContext& ctx) {
  if (in_ghost_namespace(user_id, ctx.naming)) return true;
  const auto parts = split_id(user_id);
  return parts && !ctx.bot_localpart.empty() && parts->localpart == ctx.bot_localpart &&
         parts->server_name == ctx.naming.server_name;
}

std::string display_name(std::string_view user_id, const MappingContext& ctx) {
  if (ctx.display_name) {
    if (auto name = ctx.display_name(user_id); name && !name->empty()) return *name;
  }
  return std::string(user_id);
}

std::string required_id(const json& obj, std::string_view path, std::string_view key,
                        bool (*valid)(std::string_view), const char* what) {
  const std::string& id = json_fields::required_string(obj, path, key);
  if (!valid(id))
    throw FieldError(json_fields::join(path, key), "is not a Matrix " + std::string(what));
  return id;
}

std::string required_event_id(const json& obj, std::string_view path, std::string_view key) {
  return required_id(obj, path, key, is_valid_event_id, "event id");
}

// Rich replies before v1.13 quoted the parent in `body` as "> <@sender> text" lines and an
// empty line (client-server API v1.12, "Fallbacks for rich replies"). v1.13 dropped the
// fallback, but older clients still send it: the mail side would show the quote twice.
std::string strip_reply_fallback(const std::string& body) {
  if (!body.starts_with("> <")) return body;
  std::size_t pos = 0;
  while (pos < body.size() && body[pos] == '>') {
    const auto eol = body.find('\n', pos);
    pos = eol == std::string::npos ? body.size() : eol + 1;
  }
  if (pos < body.size() && body[pos] == '\n') ++pos;
  // All quote and no answer: keep it rather than relay nothing.
  return pos < body.size() ? body.substr(pos) : body;
}

// Text and HTML of a message: the rendering of formatted_body when there is usable HTML,
// else `body`.
void fill_text(core::MessageBody& out, const json& content, std::string_view path,
               const std::string& body, bool is_reply) {
  out.text = is_reply ? strip_reply_fallback(body) : body;
  const std::string* format = json_fields::optional_string(content, path, "format");
  const std::string* formatted = json_fields::optional_string(content, path, "formatted_body");
  if (format == nullptr || *format != kHtmlFormat || formatted == nullptr) return;
  auto text = html_to_text(*formatted);
  auto safe = sanitize_html(*formatted);
  // Too large to render (no homeserver sends that): the plain body is still right.
  if (!text.ok() || !safe.ok()) return;
  if (!text->empty()) out.text = std::move(*text);
  if (!safe->empty()) out.html = std::move(*safe);
}

bool is_media(std::string_view msgtype) {
  return msgtype == "m.image" || msgtype == "m.file" || msgtype == "m.audio" ||
         msgtype == "m.video";
}

// The body of an m.room.message content (the event's own, or m.new_content of an edit).
std::variant<core::MessageBody, Ignored> message_body(const json& content, std::string_view path,
                                                      const std::string& sender_name,
                                                      bool is_reply) {
  const std::string& msgtype = json_fields::required_string(content, path, "msgtype");
  const std::string& body = json_fields::required_string(content, path, "body");
  core::MessageBody out;
  if (msgtype == "m.key.verification.request") return Ignored{"key verification request"};
  if (is_media(msgtype)) {
    const std::string* url = json_fields::optional_string(content, path, "url");
    if (url == nullptr) {
      if (json_fields::find(content, path, "file") != nullptr) return Ignored{"encrypted media"};
      throw FieldError(json_fields::join(path, "url"), "is required");
    }
    if (!is_valid_mxc_uri(*url))
      throw FieldError(json_fields::join(path, "url"), "is not an mxc:// URI");
    core::Attachment file;
    file.location = *url;
    const std::string* filename = json_fields::optional_string(content, path, "filename");
    // v1.10 media captions: a filename different from body makes body a caption.
    const bool captioned = filename != nullptr && !filename->empty() && *filename != body;
    file.filename = captioned ? *filename : body;
    file.content_type = "application/octet-stream";
    if (const json* info = json_fields::optional_object(content, path, "info")) {
      const std::string info_path = json_fields::join(path, "info");
      if (const std::string* mime = json_fields::optional_string(*info, info_path, "mimetype");
          mime && !mime->empty()) {
        file.content_type = *mime;
      }
      file.size = json_fields::optional_count(*info, info_path, "size").value_or(0);
    }
    if (captioned) fill_text(out, content, path, body, is_reply);
    out.attachments.push_back(std::move(file));
    return out;
  }
  // m.text, m.notice, m.emote and, as the spec asks of unknown msgtypes, anything else
  // shown by its body.
  fill_text(out, content, path, body, is_reply);
  if (msgtype == "m.emote") {
    out.text = "* " + sender_name + " " + out.text;
    if (out.html) out.html = "* " + text_to_html(sender_name) + " " + *out.html;
  }
  return out;
}

struct Relation {
  std::optional<std::string> reply_to;
  std::optional<std::string> replaces;
};

// content["m.relates_to"] of a message (client-server API, "Rich replies", "Threading",
// "Event replacements").
Relation relation_of(const json& content) {
  Relation rel;
  constexpr std::string_view kPath = "content.m.relates_to";
  const json* relates = json_fields::optional_object(content, "content", "m.relates_to");
  if (relates == nullptr) return rel;
  const std::string* rel_type = json_fields::optional_string(*relates, kPath, "rel_type");
  if (rel_type != nullptr && *rel_type == "m.replace") {
    rel.replaces = required_event_id(*relates, kPath, "event_id");
    return rel;
  }
  if (const json* in_reply_to = json_fields::optional_object(*relates, kPath, "m.in_reply_to")) {
    rel.reply_to =
        required_event_id(*in_reply_to, std::string(kPath) + ".m.in_reply_to", "event_id");
  }
  if (rel_type != nullptr && *rel_type == "m.thread") {
    // A thread message's m.in_reply_to is only a fallback for clients without threads
    // unless is_falling_back is false; a network without threads sees a reply to the root.
    const std::string root = required_event_id(*relates, kPath, "event_id");
    const bool falling_back =
        json_fields::optional_bool(*relates, kPath, "is_falling_back").value_or(false);
    if (falling_back || !rel.reply_to) rel.reply_to = root;
  }
  return rel;
}

class RoomEventMapper {
 public:
  RoomEventMapper(const json& ev, const MappingContext& ctx) : ev_(ev), ctx_(ctx) {}

  Inbound map() {
    if (!ev_.is_object()) throw FieldError("event", "must be an object");
    const std::string& type = json_fields::required_string(ev_, "", "type");
    base_.where = {ctx_.connector, required_id(ev_, "", "room_id", is_valid_room_id, "room id")};
    sender_ = required_id(ev_, "", "sender", is_valid_user_id, "user id");
    base_.origin = {ctx_.connector, required_event_id(ev_, "", "event_id")};
    const auto ts = json_fields::optional_count(ev_, "", "origin_server_ts");
    if (!ts) throw FieldError("origin_server_ts", "is required");
    if (*ts > kMaxTimestampMs) throw FieldError("origin_server_ts", "is out of range");
    base_.at = timestamp_ms(*ts);
    content_ = &json_fields::required_object(ev_, "", "content");
    base_.who = {ctx_.connector, sender_, display_name(sender_, ctx_)};

    Inbound out;
    out.echo = is_ours(sender_, ctx_);
    if (const json* unsigned_data = json_fields::optional_object(ev_, "", "unsigned");
        unsigned_data != nullptr &&
        json_fields::find(*unsigned_data, "unsigned", "redacted_because") != nullptr) {
      out.result = Ignored{"redacted"};
      return out;
    }
    if (type == "m.room.message") {
      out.result = message();
    } else if (type == "m.reaction") {
      out.result = reaction();
    } else if (type == "m.room.redaction") {
      out.result = redaction();
    } else if (type == "m.room.member") {
      out.result = member();
    } else if (type == "m.room.name") {
      out.result = rename();
    } else {
      out.result = Ignored{"event type " + type};
    }
    return out;
  }

 private:
  core::Event with(core::Payload payload) const {
    core::Event e = base_;
    e.payload = std::move(payload);
    return e;
  }

  core::RemoteMessageRef ref(std::string event_id) const {
    return {ctx_.connector, std::move(event_id)};
  }

  std::variant<core::Event, Redaction, Ignored> message() const {
    const Relation rel = relation_of(*content_);
    if (rel.replaces) {
      const json& fresh = json_fields::required_object(*content_, "content", "m.new_content");
      auto body = message_body(fresh, "content.m.new_content", base_.who.display_name, false);
      if (auto* ignored = std::get_if<Ignored>(&body)) return *ignored;
      return with(
          core::MessageEdited{ref(*rel.replaces), std::get<core::MessageBody>(std::move(body))});
    }
    auto body =
        message_body(*content_, "content", base_.who.display_name, rel.reply_to.has_value());
    if (auto* ignored = std::get_if<Ignored>(&body)) return *ignored;
    auto& message = std::get<core::MessageBody>(body);
    if (rel.reply_to) message.reply_to = ref(*rel.reply_to);
    return with(core::MessagePosted{std::move(message)});
  }

  // client-server API, "Reactions": an m.annotation relation whose key is the reaction.
  std::variant<core::Event, Redaction, Ignored> reaction() const {
    constexpr std::string_view kPath = "content.m.relates_to";
    const json& relates = json_fields::required_object(*content_, "content", "m.relates_to");
    const std::string& rel_type = json_fields::required_string(relates, kPath, "rel_type");
    if (rel_type != "m.annotation") return Ignored{"reaction with relation " + rel_type};
    std::string target = required_event_id(relates, kPath, "event_id");
    const std::string& key = json_fields::required_string(relates, kPath, "key");
    if (key.empty()) throw FieldError(json_fields::join(kPath, "key"), "is empty");
    return with(core::ReactionChanged{ref(std::move(target)), key, true});
  }

  // Room version 11 moved `redacts` into content ("Redactions"); earlier versions have it at
  // the top level, and servers may send both.
  std::variant<core::Event, Redaction, Ignored> redaction() const {
    std::string target;
    if (json_fields::optional_string(*content_, "content", "redacts") != nullptr) {
      target = required_event_id(*content_, "content", "redacts");
    } else {
      target = required_event_id(ev_, "", "redacts");
    }
    Redaction r{with(core::MessageDeleted{ref(target)}), target};
    return r;
  }

  // An m.room.name without a name (or with an empty one) removes the name.
  core::Event rename() const {
    const std::string* name = json_fields::optional_string(*content_, "content", "name");
    return with(core::ConversationRenamed{name != nullptr ? *name : std::string()});
  }

  // m.room.member: the membership of state_key, and what it was before (unsigned.prev_content).
  std::variant<core::Event, Redaction, Ignored> member() const {
    const std::string user = required_id(ev_, "", "state_key", is_valid_user_id, "user id");
    const std::string& membership =
        json_fields::required_string(*content_, "content", "membership");
    const std::string* name = json_fields::optional_string(*content_, "content", "displayname");
    std::string previous;
    if (const json* unsigned_data = json_fields::optional_object(ev_, "", "unsigned")) {
      if (const json* prev =
              json_fields::optional_object(*unsigned_data, "unsigned", "prev_content")) {
        const std::string* m =
            json_fields::optional_string(*prev, "unsigned.prev_content", "membership");
        if (m != nullptr) previous = *m;
      }
    }
    core::ActorRef member{ctx_.connector, user,
                          name != nullptr && !name->empty() ? *name : display_name(user, ctx_)};
    core::Event e = base_;
    if (user == sender_) e.who.display_name = member.display_name;
    if (membership == "join") {
      if (previous == "join") return Ignored{"profile change"};
      e.payload = core::MemberJoined{std::move(member)};
      return e;
    }
    if (membership == "leave" || membership == "ban") {
      if (previous == "invite" || previous == "knock") return Ignored{"invite or knock withdrawn"};
      if (previous == "leave" || previous == "ban") return Ignored{"not a member before"};
      e.payload = core::MemberLeft{std::move(member)};
      return e;
    }
    return Ignored{"membership " + membership};
  }

  const json& ev_;
  const MappingContext& ctx_;
  const json* content_ = nullptr;
  std::string sender_;
  core::Event base_;
};

std::vector<core::Event> receipts(const json& content, const core::ConversationRef& where,
                                  const MappingContext& ctx, const TransactionInfo& txn) {
  std::vector<core::Event> out;
  for (const auto& [event_id, by_type] : content.items()) {
    if (!is_valid_event_id(event_id) || !by_type.is_object()) continue;
    // Only public receipts: m.read.private is for the reader's own devices.
    const auto read = by_type.find("m.read");
    if (read == by_type.end() || !read->is_object()) continue;
    for (const auto& [user, info] : read->items()) {
      if (!is_valid_user_id(user) || is_ours(user, ctx) || !info.is_object()) continue;
      core::Event e;
      e.where = where;
      e.who = {ctx.connector, user, display_name(user, ctx)};
      e.origin = {ctx.connector, "receipt:" + user + ":" + event_id};
      e.at = txn.received_at;
      if (const auto ts = info.find("ts"); ts != info.end() && ts->is_number_unsigned() &&
                                           ts->get<std::uint64_t>() <= kMaxTimestampMs) {
        e.at = timestamp_ms(ts->get<std::uint64_t>());
      }
      e.payload = core::ReadUpTo{{ctx.connector, event_id}};
      out.push_back(std::move(e));
    }
  }
  return out;
}

// One person's typing notice; the origin names the transaction, so a redelivery is a duplicate.
core::Event typing_event(const std::string& id, bool active, const core::ConversationRef& where,
                         const MappingContext& ctx, const TransactionInfo& txn) {
  core::Event e;
  e.where = where;
  e.who = {ctx.connector, id, display_name(id, ctx)};
  e.origin = {ctx.connector, "typing:" + txn.id + ":" + where.remote_id + ":" + id};
  e.at = txn.received_at;
  e.payload = core::Typing{active};
  return e;
}

std::vector<core::Event> typing(const json& content, const core::ConversationRef& where,
                                const MappingContext& ctx, const TransactionInfo& txn) {
  const json& users = json_fields::required(content, "content", "user_ids");
  if (!users.is_array()) throw FieldError("content.user_ids", "must be an array");
  std::vector<core::Event> out;
  for (const json& user : users) {
    if (!user.is_string()) continue;
    const std::string& id = user.get_ref<const std::string&>();
    if (!is_valid_user_id(id) || is_ours(id, ctx)) continue;
    out.push_back(typing_event(id, true, where, ctx, txn));
  }
  return out;
}

}  // namespace

core::Event reaction_removed(const Redaction& redaction, core::RemoteMessageRef reacted_to,
                             std::string key) {
  core::Event e = redaction.event;
  e.payload = core::ReactionChanged{std::move(reacted_to), std::move(key), false};
  return e;
}

core::Result<Inbound> map_room_event(const nlohmann::json& event, const MappingContext& ctx) {
  try {
    return RoomEventMapper(event, ctx).map();
  } catch (const FieldError& e) {
    return core::Error::invalid(e.field, e.what());
  }
}

core::Result<std::vector<core::Event>> map_ephemeral_event(const nlohmann::json& event,
                                                           const MappingContext& ctx,
                                                           const TransactionInfo& txn) {
  try {
    if (!event.is_object()) throw FieldError("event", "must be an object");
    const std::string& type = json_fields::required_string(event, "", "type");
    if (type != "m.receipt" && type != "m.typing") return std::vector<core::Event>{};
    const core::ConversationRef where{
        ctx.connector, required_id(event, "", "room_id", is_valid_room_id, "room id")};
    const json& content = json_fields::required_object(event, "", "content");
    return type == "m.receipt" ? receipts(content, where, ctx, txn)
                               : typing(content, where, ctx, txn);
  } catch (const FieldError& e) {
    return core::Error::invalid(e.field, e.what());
  }
}

std::vector<core::Event> typing_stopped(const std::set<std::string>& before,
                                        const std::set<std::string>& now,
                                        const core::ConversationRef& room,
                                        const MappingContext& ctx, const TransactionInfo& txn) {
  std::vector<core::Event> out;
  for (const auto& id : before) {
    if (!now.contains(id)) out.push_back(typing_event(id, false, room, ctx, txn));
  }
  return out;
}

}  // namespace coibridge::connectors::matrix
