// Outbound mapping: a core event as the client-server API requests that put it in a room.

#include "connectors/matrix/matrix_event_mapping.hpp"
#include "connectors/matrix/matrix_html.hpp"
#include "core/text/fnv1a.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::matrix {
namespace {

using nlohmann::json;

constexpr std::string_view kHtmlFormat = "org.matrix.custom.html";
// How long a typing notice lasts unless renewed (client-server API, "Typing Notifications").
constexpr int kTypingTimeoutMs = 30000;

// Text from other networks goes into JSON, whose serialiser throws on ill-formed UTF-8.
std::string utf8(std::string_view text) {
  return core::is_valid_utf8(text) ? std::string(text) : core::repair_utf8(text);
}

bool is_plain_token(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// The intentional mentions of a bridged message: none. Clients that support m.mentions
// (client-server API, "User and room mentions") then never notify anyone because of text
// that merely contains a name or "@room".
json no_mentions() { return json::object(); }

class SendBuilder {
 public:
  SendBuilder(const core::Event& event, std::string_view room_id, const MappingContext& ctx)
      : event_(event), room_(room_id), ctx_(ctx) {}

  core::Result<std::vector<MatrixSend>> build() {
    if (!is_valid_room_id(room_)) return core::Error::invalid("room_id", "is not a Matrix room id");
    if (event_.id.empty())
      return core::Error::invalid("id", "is empty; transaction ids derive from it");
    return std::visit([this](const auto& p) { return map(p); }, event_.payload);
  }

 private:
  using Sends = core::Result<std::vector<MatrixSend>>;

  // A reference in Matrix terms, nullopt for one in another network's terms (Matrix never
  // saw that message), an error for one that claims to be ours but is no event id.
  core::Result<std::optional<std::string>> target(const core::RemoteMessageRef& ref,
                                                  const char* field) const {
    if (ref.connector != ctx_.connector) return std::optional<std::string>();
    if (!is_valid_event_id(ref.remote_id)) {
      return core::Error::invalid(field, "'" + ref.remote_id + "' is not a Matrix event id");
    }
    return std::optional<std::string>(ref.remote_id);
  }

  MatrixSend send(std::string event_type, json content) {
    MatrixSend s;
    s.kind = MatrixSend::Kind::kSend;
    s.event_type = std::move(event_type);
    s.content = std::move(content);
    s.txn_id = transaction_id(event_.id, room_, part_++);
    return s;
  }

  MatrixSend redact(std::string target_event_id) {
    MatrixSend s;
    s.kind = MatrixSend::Kind::kRedact;
    s.target_event_id = std::move(target_event_id);
    s.txn_id = transaction_id(event_.id, room_, part_++);
    return s;
  }

  // m.text content for a body's text, with formatted_body when it has HTML that survives
  // sanitising. `marker` goes before the text and the HTML (the "* " of an edit fallback).
  static json text_content(const core::MessageBody& body, std::string_view marker) {
    std::optional<std::string> html;
    if (body.html) {
      if (auto safe = sanitize_html(*body.html); safe.ok() && !safe->empty())
        html = std::move(*safe);
    }
    std::string text = body.text;
    if (text.empty() && html) {
      if (auto rendered = html_to_text(*html); rendered.ok()) text = std::move(*rendered);
    }
    json c = {{"msgtype", "m.text"}, {"body", std::string(marker) + utf8(text)}};
    if (html) {
      c["format"] = kHtmlFormat;
      c["formatted_body"] = std::string(marker) + *html;
    }
    c["m.mentions"] = no_mentions();
    return c;
  }

  static bool has_text(const core::MessageBody& body) {
    return !body.text.empty() || (body.html && !body.html->empty());
  }

  // Media msgtypes by the top-level media type (client-server API, "m.room.message msgtypes").
  static const char* media_msgtype(std::string_view content_type) {
    if (content_type.starts_with("image/")) return "m.image";
    if (content_type.starts_with("audio/")) return "m.audio";
    if (content_type.starts_with("video/")) return "m.video";
    return "m.file";
  }

  Sends map(const core::MessagePosted& p) {
    std::vector<MatrixSend> out;
    auto reply =
        p.body.reply_to ? target(*p.body.reply_to, "body.reply_to") : std::optional<std::string>();
    if (!reply.ok()) return reply.error();
    if (has_text(p.body)) out.push_back(send("m.room.message", text_content(p.body, "")));
    for (std::size_t i = 0; i < p.body.attachments.size(); ++i) {
      const core::Attachment& a = p.body.attachments[i];
      // Contract: the connector uploaded the file and put its content URI here.
      if (!is_valid_mxc_uri(a.location)) {
        return core::Error::invalid("body.attachments[" + std::to_string(i) + "].location",
                                    "is not an mxc:// URI; upload the file first");
      }
      const std::string name = a.filename.empty() ? std::string("file") : utf8(a.filename);
      json info = json::object();
      if (!a.content_type.empty()) info["mimetype"] = utf8(a.content_type);
      if (a.size > 0) info["size"] = a.size;
      json c = {{"msgtype", media_msgtype(a.content_type)},
                {"body", name},
                {"filename", name},
                {"url", a.location},
                {"info", std::move(info)},
                {"m.mentions", no_mentions()}};
      out.push_back(send("m.room.message", std::move(c)));
    }
    // The reply relation goes on the first part (client-server API, "Rich replies").
    if (*reply && !out.empty())
      out.front().content["m.relates_to"] = {{"m.in_reply_to", {{"event_id", **reply}}}};
    return out;
  }

  // client-server API, "Event replacements": the new content in m.new_content, a "* "
  // fallback for clients that do not apply edits at the top level.
  Sends map(const core::MessageEdited& p) {
    auto original = target(p.target, "target");
    if (!original.ok()) return original.error();
    if (!*original) {
      // Matrix never saw the message: a new one, marked as a correction.
      return std::vector<MatrixSend>{send("m.room.message", text_content(p.body, "* "))};
    }
    json c = text_content(p.body, "* ");
    c["m.new_content"] = text_content(p.body, "");
    c["m.relates_to"] = {{"rel_type", "m.replace"}, {"event_id", **original}};
    return std::vector<MatrixSend>{send("m.room.message", std::move(c))};
  }

  Sends map(const core::MessageDeleted& p) {
    auto t = target(p.target, "target");
    if (!t.ok()) return t.error();
    if (!*t) return std::vector<MatrixSend>{};
    return std::vector<MatrixSend>{redact(**t)};
  }

  // client-server API, "Reactions": an m.annotation; withdrawing it redacts the reaction
  // event, whose id the connector put in the target.
  Sends map(const core::ReactionChanged& p) {
    auto t = target(p.target, "target");
    if (!t.ok()) return t.error();
    if (!*t) return std::vector<MatrixSend>{};
    if (!p.added) return std::vector<MatrixSend>{redact(**t)};
    if (p.reaction.empty()) return core::Error::invalid("reaction", "is empty");
    json c = {{"m.relates_to",
               {{"rel_type", "m.annotation"}, {"event_id", **t}, {"key", utf8(p.reaction)}}}};
    return std::vector<MatrixSend>{send("m.reaction", std::move(c))};
  }

  Sends map(const core::ReadUpTo& p) {
    auto t = target(p.target, "target");
    if (!t.ok()) return t.error();
    if (!*t) return std::vector<MatrixSend>{};
    MatrixSend s;
    s.kind = MatrixSend::Kind::kReceipt;
    s.event_type = "m.read";
    s.target_event_id = **t;
    return std::vector<MatrixSend>{std::move(s)};
  }

  Sends map(const core::Typing& p) {
    MatrixSend s;
    s.kind = MatrixSend::Kind::kTyping;
    s.content = {{"typing", p.active}};
    if (p.active) s.content["timeout"] = kTypingTimeoutMs;
    return std::vector<MatrixSend>{std::move(s)};
  }

  // Membership and names are room management the connector does with its own calls.
  Sends map(const core::MemberJoined&) { return std::vector<MatrixSend>{}; }
  Sends map(const core::MemberLeft&) { return std::vector<MatrixSend>{}; }
  Sends map(const core::ConversationRenamed&) { return std::vector<MatrixSend>{}; }

  const core::Event& event_;
  std::string_view room_;
  const MappingContext& ctx_;
  std::size_t part_ = 0;
};

}  // namespace

std::string transaction_id(const core::EventId& event_id, std::string_view room_id,
                           std::size_t part) {
  // Event ids are UUIDs and go in as they are, which keeps logs readable; anything else is
  // hashed so that the id stays URL-safe. The room is hashed: it is part of the request path
  // already, but one event goes to several rooms as the same ghost.
  const std::string event_part = is_plain_token(event_id.value)
                                     ? "e" + event_id.value
                                     : "h" + core::hex64(core::fnv1a64(event_id.value));
  return "coi." + event_part + "." + core::hex64(core::fnv1a64(room_id)) + "." +
         std::to_string(part);
}

core::Result<std::vector<MatrixSend>> sends_for_event(const core::Event& event,
                                                      std::string_view room_id,
                                                      const MappingContext& ctx) {
  return SendBuilder(event, room_id, ctx).build();
}

}  // namespace coibridge::connectors::matrix
