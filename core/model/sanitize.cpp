#include "core/model/sanitize.hpp"

#include <algorithm>
#include <type_traits>

namespace coibridge::core {
namespace {

bool strip(std::string& s) {
  const auto end = std::remove(s.begin(), s.end(), '\0');
  if (end == s.end()) return false;
  s.erase(end, s.end());
  return true;
}

bool strip(std::optional<std::string>& s) { return s ? strip(*s) : false; }

template <class Ref>
bool strip_ref(Ref& ref) {
  const bool a = strip(ref.connector);
  const bool b = strip(ref.remote_id);
  return a || b;
}

bool strip_actor(ActorRef& actor) {
  bool changed = strip_ref(actor);
  changed = strip(actor.display_name) || changed;
  changed = strip(actor.avatar) || changed;
  return changed;
}

bool strip_body(MessageBody& body) {
  bool changed = strip(body.text);
  changed = strip(body.html) || changed;
  for (auto& file : body.attachments) {
    changed = strip(file.filename) || changed;
    changed = strip(file.content_type) || changed;
    changed = strip(file.location) || changed;
  }
  if (body.reply_to) changed = strip_ref(*body.reply_to) || changed;
  return changed;
}

}  // namespace

bool remove_nul(Event& event) {
  bool changed = strip(event.id.value);
  changed = strip_ref(event.where) || changed;
  changed = strip_actor(event.who) || changed;
  changed = strip_ref(event.origin) || changed;
  const bool in_payload = std::visit(
      [](auto& p) -> bool {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, MessagePosted>) {
          return strip_body(p.body);
        } else if constexpr (std::is_same_v<P, MessageEdited>) {
          const bool t = strip_ref(p.target);
          return strip_body(p.body) || t;
        } else if constexpr (std::is_same_v<P, ReactionChanged>) {
          const bool t = strip_ref(p.target);
          return strip(p.reaction) || t;
        } else if constexpr (std::is_same_v<P, MessageDeleted> || std::is_same_v<P, ReadUpTo>) {
          return strip_ref(p.target);
        } else if constexpr (std::is_same_v<P, MemberJoined> || std::is_same_v<P, MemberLeft>) {
          return strip_actor(p.member);
        } else if constexpr (std::is_same_v<P, ConversationRenamed>) {
          return strip(p.name);
        } else {
          return false;
        }
      },
      event.payload);
  return changed || in_payload;
}

bool is_uuid(std::string_view id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace coibridge::core
