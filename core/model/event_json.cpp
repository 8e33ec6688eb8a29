#include "core/model/event_json.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <type_traits>

#include "core/model/enum_names.hpp"

namespace coibridge::core {
namespace {

using nlohmann::json;

// Thrown inside this file only; event_from_json turns it into an Error.
struct FieldError : std::runtime_error {
  FieldError(std::string f, const std::string& m) : std::runtime_error(m), field(std::move(f)) {}
  std::string field;
};

const json& member(const json& j, const std::string& path, const char* key) {
  if (!j.is_object()) throw FieldError(path, "must be an object");
  auto it = j.find(key);
  if (it == j.end()) throw FieldError(path.empty() ? key : path + "." + key, "is required");
  return *it;
}

std::string join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

std::string get_string(const json& j, const std::string& path, const char* key) {
  const json& v = member(j, path, key);
  if (!v.is_string()) throw FieldError(join(path, key), "must be a string");
  return v.get<std::string>();
}

bool get_bool(const json& j, const std::string& path, const char* key) {
  const json& v = member(j, path, key);
  if (!v.is_boolean()) throw FieldError(join(path, key), "must be a boolean");
  return v.get<bool>();
}

json ref_json(const std::string& connector, const std::string& remote_id) {
  return {{"connector", connector}, {"remote_id", remote_id}};
}

ConversationRef conversation_from(const json& j, const std::string& path) {
  return {get_string(j, path, "connector"), get_string(j, path, "remote_id")};
}

RemoteMessageRef message_ref_from(const json& j, const std::string& path) {
  return {get_string(j, path, "connector"), get_string(j, path, "remote_id")};
}

json actor_json(const ActorRef& a) {
  json j{{"connector", a.connector}, {"remote_id", a.remote_id}, {"display_name", a.display_name}};
  if (!a.avatar.empty()) j["avatar"] = a.avatar;
  return j;
}

ActorRef actor_from(const json& j, const std::string& path) {
  ActorRef a{get_string(j, path, "connector"), get_string(j, path, "remote_id"), {}};
  if (auto it = j.find("display_name"); it != j.end()) {
    if (!it->is_string()) throw FieldError(join(path, "display_name"), "must be a string");
    a.display_name = it->get<std::string>();
  }
  if (auto it = j.find("avatar"); it != j.end()) {
    if (!it->is_string()) throw FieldError(join(path, "avatar"), "must be a string");
    a.avatar = it->get<std::string>();
  }
  return a;
}

json body_json(const MessageBody& b) {
  json j{{"text", b.text}};
  if (b.html) j["html"] = *b.html;
  json atts = json::array();
  for (const auto& a : b.attachments) {
    atts.push_back({{"filename", a.filename},
                    {"content_type", a.content_type},
                    {"size", a.size},
                    {"location", a.location}});
  }
  j["attachments"] = std::move(atts);
  if (b.reply_to) j["reply_to"] = ref_json(b.reply_to->connector, b.reply_to->remote_id);
  return j;
}

MessageBody body_from(const json& j, const std::string& path) {
  MessageBody b;
  b.text = get_string(j, path, "text");
  if (auto it = j.find("html"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) throw FieldError(join(path, "html"), "must be a string");
    b.html = it->get<std::string>();
  }
  if (auto it = j.find("attachments"); it != j.end()) {
    const std::string apath = join(path, "attachments");
    if (!it->is_array()) throw FieldError(apath, "must be an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& a = (*it)[i];
      const std::string p = apath + "[" + std::to_string(i) + "]";
      Attachment att{get_string(a, p, "filename"), get_string(a, p, "content_type"), 0,
                     get_string(a, p, "location")};
      const json& size = member(a, p, "size");
      if (!size.is_number_unsigned())
        throw FieldError(p + ".size", "must be a non-negative integer");
      att.size = size.get<std::uint64_t>();
      b.attachments.push_back(std::move(att));
    }
  }
  if (auto it = j.find("reply_to"); it != j.end() && !it->is_null()) {
    b.reply_to = message_ref_from(*it, join(path, "reply_to"));
  }
  return b;
}

json payload_json(const Payload& p) {
  json j{{"kind", payload_kind(p)}};
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, MessagePosted>) {
          j["body"] = body_json(v.body);
        } else if constexpr (std::is_same_v<T, MessageEdited>) {
          j["target"] = ref_json(v.target.connector, v.target.remote_id);
          j["body"] = body_json(v.body);
        } else if constexpr (std::is_same_v<T, MessageDeleted> || std::is_same_v<T, ReadUpTo>) {
          j["target"] = ref_json(v.target.connector, v.target.remote_id);
        } else if constexpr (std::is_same_v<T, ReactionChanged>) {
          j["target"] = ref_json(v.target.connector, v.target.remote_id);
          j["reaction"] = v.reaction;
          j["added"] = v.added;
        } else if constexpr (std::is_same_v<T, Typing>) {
          j["active"] = v.active;
        } else if constexpr (std::is_same_v<T, MemberJoined> || std::is_same_v<T, MemberLeft>) {
          j["member"] = actor_json(v.member);
        } else if constexpr (std::is_same_v<T, ConversationRenamed>) {
          j["name"] = v.name;
        }
      },
      p);
  return j;
}

Payload payload_from(const json& j) {
  const std::string path = "payload";
  const std::string kind = get_string(j, path, "kind");
  if (kind == "message.posted")
    return MessagePosted{body_from(member(j, path, "body"), "payload.body")};
  if (kind == "message.edited") {
    return MessageEdited{message_ref_from(member(j, path, "target"), "payload.target"),
                         body_from(member(j, path, "body"), "payload.body")};
  }
  if (kind == "message.deleted") {
    return MessageDeleted{message_ref_from(member(j, path, "target"), "payload.target")};
  }
  if (kind == "reaction.changed") {
    return ReactionChanged{message_ref_from(member(j, path, "target"), "payload.target"),
                           get_string(j, path, "reaction"), get_bool(j, path, "added")};
  }
  if (kind == "read.up_to")
    return ReadUpTo{message_ref_from(member(j, path, "target"), "payload.target")};
  if (kind == "typing") return Typing{get_bool(j, path, "active")};
  if (kind == "member.joined")
    return MemberJoined{actor_from(member(j, path, "member"), "payload.member")};
  if (kind == "member.left")
    return MemberLeft{actor_from(member(j, path, "member"), "payload.member")};
  if (kind == "conversation.renamed") return ConversationRenamed{get_string(j, path, "name")};
  throw FieldError("payload.kind", "unknown kind '" + kind + "'");
}

}  // namespace

const char* to_string(ErrorKind kind) {
  static constexpr std::array<const char*, 6> kNames = {
      "invalid_argument", "not_found", "conflict", "unavailable", "permanent", "internal"};
  return enum_name<ErrorKind::kInternal>(kind, kNames, "internal");
}

const char* payload_kind(const Payload& payload) {
  static constexpr const char* kNames[] = {
      "message.posted", "message.edited", "message.deleted", "reaction.changed",    "read.up_to",
      "typing",         "member.joined",  "member.left",     "conversation.renamed"};
  static_assert(std::size(kNames) == std::variant_size_v<Payload>);
  return kNames[payload.index()];
}

std::string format_timestamp(Timestamp at) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(at.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  long frac = static_cast<long>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // generous: the compiler cannot bound tm_year
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

Result<Timestamp> parse_timestamp(const std::string& text) {
  // Accepts what format_timestamp writes: YYYY-MM-DDTHH:MM:SS[.mmm]Z
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
      6) {
    return Error::invalid("at", "not an RFC 3339 UTC timestamp");
  }
  long ms = 0;
  std::size_t pos = static_cast<std::size_t>(consumed);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) ms = ms * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return Error::invalid("at", "not an RFC 3339 UTC timestamp");
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z' || mo < 1 || mo > 12 || d < 1 || d > 31 ||
      h > 23 || mi > 59 || s > 60) {
    return Error::invalid("at", "not an RFC 3339 UTC timestamp");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t secs = timegm(&tm);
  return Timestamp{std::chrono::seconds(secs) + std::chrono::milliseconds(ms)};
}

nlohmann::json to_json(const Event& e) {
  return {{"id", e.id.value},
          {"where", ref_json(e.where.connector, e.where.remote_id)},
          {"who", actor_json(e.who)},
          {"origin", ref_json(e.origin.connector, e.origin.remote_id)},
          {"at", format_timestamp(e.at)},
          {"payload", payload_json(e.payload)}};
}

Result<Event> event_from_json(const nlohmann::json& j) {
  try {
    Event e;
    e.id.value = get_string(j, "", "id");
    e.where = conversation_from(member(j, "", "where"), "where");
    e.who = actor_from(member(j, "", "who"), "who");
    e.origin = message_ref_from(member(j, "", "origin"), "origin");
    auto at = parse_timestamp(get_string(j, "", "at"));
    if (!at) return at.error();
    e.at = *at;
    e.payload = payload_from(member(j, "", "payload"));
    return e;
  } catch (const FieldError& fe) {
    return Error::invalid(fe.field, fe.field + " " + fe.what());
  }
}

}  // namespace coibridge::core
