#include "connectors/coi/mime/mime_parse.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "connectors/coi/mime/flowed.hpp"
#include "connectors/coi/mime/gmime_init.hpp"
#include "connectors/coi/mime/gmime_ptr.hpp"
#include "connectors/coi/mime/simplify.hpp"
#include "connectors/coi/mime/text_util.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::coi::mime {
namespace {

using detail::GCharPtr;
using detail::GObjectPtr;
using detail::iequals;
using detail::istarts_with;
using detail::lower_ascii;
using detail::trim;
using detail::valid_group_id;

constexpr std::size_t kMaxWarnings = 16;
constexpr std::size_t kMaxReactionBytes = 30;  // Delta Chat src/reaction.rs Reaction::new
// Delta Chat's EDITED_PREFIX "✏️" (src/constants.rs), and the bare pencil without VS16.
constexpr std::string_view kEditedPrefix = "\u270F\uFE0F";
constexpr std::string_view kPencil = "\u270F";

core::Error invalid(std::string message) {
  return core::Error::invalid("mail", std::move(message));
}

void add_warning(std::vector<std::string>& warnings, std::string warning) {
  if (warnings.size() >= kMaxWarnings) return;
  if (std::find(warnings.begin(), warnings.end(), warning) != warnings.end()) return;
  warnings.push_back(std::move(warning));
}

// Text from headers and decoded parts is UTF-8 for the rest of the bridge: NUL bytes are
// dropped and invalid sequences become U+FFFD.
std::string valid_utf8(std::string_view s) {
  std::string clean;
  clean.reserve(s.size());
  for (char c : s) {
    if (c != '\0') clean.push_back(c);
  }
  if (g_utf8_validate(clean.data(), static_cast<gssize>(clean.size()), nullptr)) return clean;
  GCharPtr fixed(g_utf8_make_valid(clean.data(), static_cast<gssize>(clean.size())));
  return fixed ? std::string(fixed.get()) : std::string();
}

// A header value as one line: control characters (a decoded RFC 2047 word may contain
// CR/LF) become spaces.
std::string clean_line(std::string_view s) {
  std::string out = valid_utf8(s);
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return std::string(trim(out));
}

std::string_view or_empty(const char* s) { return s != nullptr ? s : ""; }

std::string printable(const char* item) {
  std::string out;
  if (item == nullptr) return out;
  for (const char* p = item; *p != '\0' && out.size() < 64; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    out.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  }
  return out;
}

// --- what GMime's parser reports -----------------------------------------------------

struct ParserReport {
  std::vector<std::string> warnings;
  std::optional<std::string> fatal;
};

void on_parser_warning(gint64 /*offset*/, GMimeParserWarning code, const gchar* item,
                       gpointer user_data) {
  auto* report = static_cast<ParserReport*>(user_data);
  std::string what;
  switch (code) {
    case GMIME_WARN_DUPLICATED_HEADER:
    case GMIME_WARN_DUPLICATED_PARAMETER:
      return;  // common in real mail and harmless: the first one is used
    case GMIME_WARN_UNENCODED_8BIT_HEADER:
      what = "unencoded 8-bit header " + printable(item);
      break;
    case GMIME_WARN_INVALID_CONTENT_TYPE:
      what = "invalid Content-Type, read as application/octet-stream";
      break;
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
      what = "invalid RFC 2047 encoded word";
      break;
    case GMIME_WARN_MALFORMED_MULTIPART:
      what = "malformed multipart: an enclosing boundary came before its closing boundary";
      break;
    case GMIME_WARN_TRUNCATED_MESSAGE:
      what = "truncated: the input ends inside a header or before a closing boundary";
      break;
    case GMIME_WARN_MALFORMED_MESSAGE:
      what = "malformed message";
      break;
    case GMIME_CRIT_INVALID_HEADER_NAME:
      what = "invalid header line skipped";
      break;
    case GMIME_CRIT_CONFLICTING_HEADER:
      what = "conflicting header " + printable(item);
      break;
    case GMIME_CRIT_CONFLICTING_PARAMETER:
      what = "conflicting header parameter " + printable(item);
      break;
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
      // RFC 2046 §5.1.1: the boundary parameter is required; without it the parts cannot
      // be told apart, so the content is lost rather than misread.
      if (!report->fatal) {
        report->fatal = "multipart/" + printable(item) + " without a boundary parameter";
      }
      return;
    case GMIME_WARN_INVALID_PARAMETER:
      what = "invalid header parameter";
      break;
    case GMIME_WARN_INVALID_ADDRESS_LIST:
      what = "invalid address list";
      break;
    case GMIME_CRIT_NESTING_OVERFLOW:
      if (!report->fatal) report->fatal = "MIME parts nested too deeply";
      return;
    case GMIME_WARN_PART_WITHOUT_CONTENT:
      what = "a MIME part ends inside its headers";
      break;
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
      what = "an empty MIME part";
      break;
    default:
      what = "parser warning " + std::to_string(static_cast<int>(code));
      break;
  }
  add_warning(report->warnings, std::move(what));
}

// --- checks before GMime sees the input ----------------------------------------------

core::Status check_raw(std::string_view raw, const ParseLimits& limits) {
  if (raw.empty()) return invalid("empty input");
  if (raw.size() > limits.max_bytes) {
    return invalid("message is " + std::to_string(raw.size()) + " bytes, over the limit of " +
                   std::to_string(limits.max_bytes));
  }
  // RFC 5322 §2.1: the header section ends at the first empty line.
  const auto window = raw.substr(0, std::min(raw.size(), limits.max_header_bytes + 2));
  std::size_t header_end = std::string_view::npos;
  for (auto nl = window.find('\n'); nl != std::string_view::npos; nl = window.find('\n', nl + 1)) {
    const auto rest = window.substr(nl + 1);
    if (rest.starts_with('\n') || rest.starts_with("\r\n")) {
      header_end = nl + 1;
      break;
    }
  }
  if (header_end == std::string_view::npos) {
    if (raw.size() > limits.max_header_bytes) {
      return invalid("header section longer than " + std::to_string(limits.max_header_bytes) +
                     " bytes");
    }
    header_end = raw.size();
  }
  if (raw.substr(0, header_end).find('\0') != std::string_view::npos) {
    return invalid("NUL byte in the header section: binary data, not a mail");
  }
  // GMime builds every part before the walk below can count them, and an empty part costs
  // it far more memory than its 5 input bytes. Each part needs a delimiter line starting
  // with "--" (RFC 2046 §5.1.1), so many more such lines than parts allowed means a flood.
  std::size_t dash_lines = raw.starts_with("--") ? 1 : 0;
  for (auto pos = raw.find("\n--"); pos != std::string_view::npos;
       pos = raw.find("\n--", pos + 3)) {
    ++dash_lines;
  }
  if (dash_lines > 8 * limits.max_parts + 1000) {
    return invalid("more than " + std::to_string(limits.max_parts) + " MIME parts (" +
                   std::to_string(dash_lines) + " delimiter lines)");
  }
  return {};
}

// --- headers -------------------------------------------------------------------------

std::optional<std::string> header_value(GMimeObject* object, const char* name) {
  const char* value = g_mime_object_get_header(object, name);
  if (value == nullptr) return std::nullopt;
  return clean_line(value);
}

void append_mailboxes(InternetAddressList* list, std::vector<Mailbox>& out, int depth = 0) {
  if (list == nullptr) return;
  const int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(address)) {
      const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
      if (addr == nullptr || *addr == '\0') continue;
      const char* name = internet_address_get_name(address);
      out.push_back({detail::normalize_address(clean_line(addr)),
                     name != nullptr ? clean_line(name) : std::string()});
    } else if (INTERNET_ADDRESS_IS_GROUP(address) && depth < 2) {
      // RFC 5322 §3.4 groups, e.g. Delta Chat's "hidden-recipients": ;
      append_mailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), out,
                       depth + 1);
    }
  }
}

// A single address from a header that is not a standard address field
// (Chat-Group-Member-Added, Chat-Disposition-Notification-To, ...).
std::optional<Mailbox> parse_one_mailbox(GMimeParserOptions* options, const std::string& value) {
  GObjectPtr<InternetAddressList> list(internet_address_list_parse(options, value.c_str()));
  std::vector<Mailbox> boxes;
  append_mailboxes(list.get(), boxes);
  if (!boxes.empty() && boxes.front().address.find('@') != std::string::npos) return boxes.front();
  const auto bare = trim(value);
  if (bare.find('@') != std::string_view::npos &&
      std::none_of(bare.begin(), bare.end(), [](unsigned char c) { return std::isspace(c); })) {
    return Mailbox{detail::normalize_address(bare), ""};
  }
  return std::nullopt;
}

std::string strip_angles(std::string_view id) {
  id = trim(id);
  if (id.starts_with('<')) id.remove_prefix(1);
  if (id.ends_with('>')) id.remove_suffix(1);
  return std::string(trim(id));
}

// Message-IDs of In-Reply-To, References, Chat-Edit, Chat-Delete, Original-Message-ID:
// GMime's msg-id parser (RFC 5322 §3.6.4), with Delta Chat's fallback for ids written
// without angle brackets (src/mimeparser.rs parse_message_ids).
std::vector<std::string> parse_ids(GMimeParserOptions* options, const std::string& value) {
  std::vector<std::string> ids;
  detail::ReferencesPtr refs(g_mime_references_parse(options, value.c_str()));
  const int n = refs ? g_mime_references_length(refs.get()) : 0;
  for (int i = 0; i < n; ++i) {
    if (const char* id = g_mime_references_get_message_id(refs.get(), i); id != nullptr) {
      auto clean = clean_line(id);
      if (!clean.empty()) ids.push_back(std::move(clean));
    }
  }
  if (!ids.empty()) return ids;
  std::string_view rest = value;
  while (!rest.empty()) {
    rest = trim(rest);
    const auto end = std::find_if(rest.begin(), rest.end(),
                                  [](unsigned char c) { return std::isspace(c) != 0; });
    const auto word = rest.substr(0, static_cast<std::size_t>(end - rest.begin()));
    rest.remove_prefix(word.size());
    auto id = strip_angles(word);
    if (!id.empty()) ids.push_back(clean_line(id));
  }
  return ids;
}

std::vector<std::string> header_ids(GMimeObject* object, GMimeParserOptions* options,
                                    const char* name) {
  const char* value = g_mime_object_get_header(object, name);
  if (value == nullptr) return {};
  return parse_ids(options, value);
}

// chat$group.<grpid>.<unique>@domain (COI) or Gr.<grpid>.<unique>@host (legacy Delta Chat).
std::optional<std::string> group_from_message_id(std::string_view id) {
  for (std::string_view prefix : {std::string_view("chat$group."), std::string_view("Gr.")}) {
    if (!id.starts_with(prefix)) continue;
    const auto rest = id.substr(prefix.size());
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos) continue;
    const auto group = rest.substr(0, dot);
    if (valid_group_id(group)) return std::string(group);
  }
  return std::nullopt;
}

// COI derives a group's name from the Subject without reply prefixes
// (coi-client-spec §"Processing Group Name Changes").
std::string strip_reply_prefixes(std::string_view subject) {
  for (bool again = true; again;) {
    again = false;
    subject = trim(subject);
    for (std::string_view prefix : {"re:", "aw:", "sv:", "fwd:", "fw:", "wg:"}) {
      if (istarts_with(subject, prefix)) {
        subject.remove_prefix(prefix.size());
        again = true;
      }
    }
  }
  return std::string(subject);
}

// --- body ----------------------------------------------------------------------------

std::string decode_bytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  GObjectPtr<GMimeStream> mem(g_mime_stream_mem_new());
  // Undoes the Content-Transfer-Encoding (base64, quoted-printable, uuencode).
  g_mime_data_wrapper_write_to_stream(content, mem.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

bool is_utf8_name(std::string_view charset) {
  return iequals(charset, "utf-8") || iequals(charset, "utf8") || iequals(charset, "us-ascii") ||
         iequals(charset, "ascii");
}

// A text part as UTF-8. The declared charset is converted by GMime's iconv filter; an
// unknown or missing one with non-UTF-8 bytes is read as windows-1252, the usual cause.
std::string decode_text(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  GObjectPtr<GMimeStream> mem(g_mime_stream_mem_new());
  bool converted = false;
  if (charset != nullptr && !is_utf8_name(charset)) {
    GObjectPtr<GMimeFilter> filter(g_mime_filter_charset_new(charset, "utf-8"));
    if (filter) {
      GObjectPtr<GMimeStream> filtered(g_mime_stream_filter_new(mem.get()));
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), filter.get());
      g_mime_data_wrapper_write_to_stream(content, filtered.get());
      g_mime_stream_flush(filtered.get());
      converted = true;
    }
  }
  if (!converted) g_mime_data_wrapper_write_to_stream(content, mem.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  std::string text(reinterpret_cast<const char*>(bytes->data), bytes->len);
  const bool declared_utf8 = charset != nullptr && is_utf8_name(charset);
  if (!converted && !declared_utf8 &&
      !g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr)) {
    gsize written = 0;
    GCharPtr latin(g_convert(text.data(), static_cast<gssize>(text.size()), "UTF-8", "WINDOWS-1252",
                             nullptr, &written, nullptr));
    if (latin) text.assign(latin.get(), written);
  }
  return valid_utf8(text);
}

// A filename as the receiving side may use it: no directories, no control characters.
std::string sanitize_filename(std::string_view name) {
  std::string clean = clean_line(name);
  const auto slash = clean.find_last_of("/\\");
  if (slash != std::string::npos) clean.erase(0, slash + 1);
  clean = std::string(trim(clean));
  if (clean == "." || clean == "..") clean.clear();
  return std::string(core::utf8_prefix(clean, 255));
}

std::string synthesize_filename(std::string_view type, std::string_view subtype) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kExtensions{{
      {"image/jpeg", ".jpg"},
      {"image/png", ".png"},
      {"image/gif", ".gif"},
      {"image/webp", ".webp"},
      {"audio/webm", ".weba"},
      {"video/webm", ".webm"},
      {"audio/mp4", ".m4a"},
      {"audio/aac", ".aac"},
      {"video/mp4", ".mp4"},
      {"audio/mpeg", ".mp3"},
      {"application/pdf", ".pdf"},
      {"text/plain", ".txt"},
      {"text/html", ".html"},
      {"message/rfc822", ".eml"},
  }};
  const std::string mime = std::string(type) + "/" + std::string(subtype);
  for (const auto& [known, extension] : kExtensions) {
    if (known == mime) return "attachment" + std::string(extension);
  }
  return "attachment";
}

struct MdnReport {
  std::optional<std::string> original_message_id;
  std::vector<std::string> additional;
  std::string disposition;  // "displayed", "deleted", ... (RFC 8098 §3.2.6.2)
};

class BodyWalker {
 public:
  BodyWalker(const ParseLimits& limits, ParsedMail& mail, GMimeParserOptions* options,
             bool chat_message)
      : limits_(limits), mail_(mail), options_(options), chat_message_(chat_message) {}

  core::Status walk(GMimeObject* object, int depth) {
    if (depth > limits_.max_depth) {
      return invalid("MIME parts nested deeper than " + std::to_string(limits_.max_depth));
    }
    if (++parts_ > limits_.max_parts) {
      return invalid("more than " + std::to_string(limits_.max_parts) + " MIME parts");
    }
    if (GMIME_IS_MULTIPART_ENCRYPTED(object)) {
      mail_.encrypted = true;  // RFC 1847 §2.2; decryption is the OpenPGP layer's job
      return {};
    }
    if (GMIME_IS_MULTIPART_SIGNED(object)) {
      // RFC 1847 §2.1: the first part is the signed content, the second the signature.
      auto* multipart = GMIME_MULTIPART(object);
      if (g_mime_multipart_get_count(multipart) > 0) {
        return walk(g_mime_multipart_get_part(multipart, 0), depth + 1);
      }
      return {};
    }
    if (GMIME_IS_MULTIPART(object)) return walk_multipart(GMIME_MULTIPART(object), depth);
    if (GMIME_IS_MESSAGE_PART(object)) return add_message_part(GMIME_MESSAGE_PART(object));
    if (GMIME_IS_PART(object)) return walk_leaf(GMIME_PART(object));
    return {};
  }

  // Results, read after walk().
  std::vector<std::string> texts;  // simplified text of each text/plain part, in order
  std::optional<std::string> reaction;
  std::optional<MdnReport> mdn;
  std::string noise;  // set by report types and sync/webxdc files
  bool location = false;

 private:
  core::Status walk_multipart(GMimeMultipart* multipart, int depth) {
    auto* type = g_mime_object_get_content_type(GMIME_OBJECT(multipart));
    const std::string subtype = lower_ascii(or_empty(g_mime_content_type_get_media_subtype(type)));
    const int count = g_mime_multipart_get_count(multipart);
    if (subtype == "alternative") {
      // RFC 2046 §5.1.4: the last alternative is the preferred one. Like Delta Chat, read
      // the last text/plain (or nested multipart) and keep a text/html one as `html`.
      GMimeObject* chosen = nullptr;
      GMimeObject* html = nullptr;
      for (int i = count; i-- > 0;) {
        GMimeObject* child = g_mime_multipart_get_part(multipart, i);
        auto* child_type = g_mime_object_get_content_type(child);
        if (chosen == nullptr && (g_mime_content_type_is_type(child_type, "text", "plain") ||
                                  GMIME_IS_MULTIPART(child))) {
          chosen = child;
        }
        if (html == nullptr && g_mime_content_type_is_type(child_type, "text", "html")) {
          html = child;
        }
      }
      if (chosen == nullptr && count > 0) chosen = g_mime_multipart_get_part(multipart, count - 1);
      if (chosen != nullptr) {
        if (auto st = walk(chosen, depth + 1); !st) return st;
      }
      if (html != nullptr && html != chosen) return walk(html, depth + 1);
      return {};
    }
    if (subtype == "report") {
      // RFC 6522: the first part is for people, the second for machines.
      const char* report_type = g_mime_content_type_get_parameter(type, "report-type");
      const std::string kind = report_type != nullptr ? lower_ascii(report_type) : "";
      if (kind == "disposition-notification") return read_mdn(multipart);
      if (kind == "delivery-status" || kind.empty()) {
        noise = "delivery-status";  // RFC 3464 bounce; tiscali omits the report-type
        return {};
      }
      if (kind == "status-update") {  // Delta Chat webxdc app state (src/mimefactory.rs)
        noise = "webxdc-update";
        return {};
      }
      if (kind == "multi-device-sync") {  // Delta Chat own-device sync (src/sync.rs)
        noise = "sync";
        return {};
      }
    }
    for (int i = 0; i < count; ++i) {
      if (auto st = walk(g_mime_multipart_get_part(multipart, i), depth + 1); !st) return st;
    }
    return {};
  }

  core::Status read_mdn(GMimeMultipart* report) {
    MdnReport result;
    const int count = g_mime_multipart_get_count(report);
    for (int i = 0; i < count; ++i) {
      GMimeObject* child = g_mime_multipart_get_part(report, i);
      if (++parts_ > limits_.max_parts) {
        return invalid("more than " + std::to_string(limits_.max_parts) + " MIME parts");
      }
      if (!GMIME_IS_PART(child) ||
          !g_mime_content_type_is_type(g_mime_object_get_content_type(child), "message",
                                       "disposition-notification")) {
        continue;
      }
      // RFC 8098 §3.1: the part is a block of header fields; GMime's header parser reads it.
      std::string fields = decode_bytes(GMIME_PART(child));
      fields.append("\r\n\r\n");
      GObjectPtr<GMimeStream> stream(
          g_mime_stream_mem_new_with_buffer(fields.data(), fields.size()));
      GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
      GObjectPtr<GMimeMessage> block(g_mime_parser_construct_message(parser.get(), nullptr));
      if (!block) continue;
      auto* object = GMIME_OBJECT(block.get());
      const auto original = header_ids(object, options_, "Original-Message-ID");
      if (!original.empty()) result.original_message_id = original.front();
      result.additional = header_ids(object, options_, "Additional-Message-IDs");
      if (auto disposition = header_value(object, "Disposition")) {
        // "manual-action/MDN-sent-automatically; displayed[/modifier]"
        std::string_view type = *disposition;
        if (const auto semi = type.find(';'); semi != std::string_view::npos) {
          type.remove_prefix(semi + 1);
        }
        type = trim(type);
        type = type.substr(0, std::min(type.find('/'), type.find_first_of(" \t(")));
        result.disposition = lower_ascii(trim(type));
      }
    }
    mdn = std::move(result);
    return {};
  }

  core::Status add_message_part(GMimeMessagePart* part) {
    // An attached mail (message/rfc822) is passed on as a file, as written.
    GMimeMessage* inner = g_mime_message_part_get_message(part);
    std::string data;
    if (inner != nullptr) {
      // GMime writes the parsed headers and contents back unchanged; CRLF as on the wire.
      detail::FormatOptionsPtr format(g_mime_format_options_new());
      g_mime_format_options_set_newline_format(format.get(), GMIME_NEWLINE_FORMAT_DOS);
      GCharPtr text(g_mime_object_to_string(GMIME_OBJECT(inner), format.get()));
      if (text) data = text.get();
    }
    return add_attachment(GMIME_OBJECT(part), nullptr, "message", "rfc822", std::move(data));
  }

  core::Status walk_leaf(GMimePart* part) {
    auto* object = GMIME_OBJECT(part);
    // COI marks parts that are not for chat display (coi-client-spec §"Preview Message
    // Parts", §"Group Messages", §"Contact Storage Messages").
    if (auto marker = header_value(object, "Chat-Content")) {
      static constexpr std::array<std::string_view, 7> kHidden{
          "ignore", "preview", "groupinfo", "group", "groupprofile", "profile", "contact"};
      const auto value = lower_ascii(*marker);
      if (std::find(kHidden.begin(), kHidden.end(), value) != kHidden.end()) return {};
    }
    auto* type = g_mime_object_get_content_type(object);
    const std::string media = lower_ascii(or_empty(g_mime_content_type_get_media_type(type)));
    const std::string subtype = lower_ascii(or_empty(g_mime_content_type_get_media_subtype(type)));
    GMimeContentDisposition* disposition = g_mime_object_get_content_disposition(object);
    const std::string disposition_type =
        disposition != nullptr
            ? lower_ascii(or_empty(g_mime_content_disposition_get_disposition(disposition)))
            : std::string();
    const char* filename = g_mime_part_get_filename(part);
    const bool has_filename = filename != nullptr && *filename != '\0';

    if (media == "text" && disposition_type == "reaction") {  // RFC 9078 §2
      if (!reaction) reaction = decode_text(part);
      return {};
    }
    if (media == "text" && !has_filename && disposition_type != "attachment") {
      if (subtype == "plain") {
        add_text(part);
        return {};
      }
      if (subtype == "html") {
        if (!mail_.html) mail_.html = decode_text(part);
        return {};
      }
    }
    return add_attachment(object, part, media, subtype, std::string(), filename);
  }

  void add_text(GMimePart* part) {
    const std::string decoded = decode_text(part);
    auto* object = GMIME_OBJECT(part);
    const char* format = g_mime_object_get_content_type_parameter(object, "format");
    const char* delsp = g_mime_object_get_content_type_parameter(object, "delsp");
    const bool flowed = format != nullptr && iequals(trim(format), "flowed");
    const bool delete_space = delsp != nullptr && iequals(trim(delsp), "yes");
    // Delta Chat's order (src/mimeparser.rs): simplify the raw lines first, so the "-- "
    // separator and "> " quote lines are seen before RFC 3676 joins lines, then unflow.
    SimplifiedText simple = simplify(decoded, chat_message_);
    if (flowed) {
      simple.text = unformat_flowed(simple.text, delete_space);
      if (simple.top_quote) simple.top_quote = unformat_flowed(*simple.top_quote, delete_space);
      if (simple.footer) simple.footer = unformat_flowed(*simple.footer, delete_space);
    }
    if (texts.empty()) {
      mail_.quote = std::move(simple.top_quote);
      mail_.footer = std::move(simple.footer);
    }
    if (!simple.text.empty() || texts.empty()) texts.push_back(std::move(simple.text));
  }

  core::Status add_attachment(GMimeObject* object, GMimePart* part, std::string_view media,
                              std::string_view subtype, std::string data,
                              const char* filename = nullptr) {
    std::string name;
    if (filename == nullptr && part == nullptr) {
      // message/rfc822: GMimeMessagePart is not a GMimePart; read its disposition's name.
      if (GMimeContentDisposition* d = g_mime_object_get_content_disposition(object)) {
        filename = g_mime_content_disposition_get_parameter(d, "filename");
      }
    }
    if (filename != nullptr) name = sanitize_filename(filename);
    if (name.empty()) name = synthesize_filename(media, subtype);
    const std::string lower_name = lower_ascii(name);
    // Delta Chat's machine-readable files (src/mimeparser.rs do_add_single_file_part).
    if (lower_name == "multi-device-sync.json") {
      noise = "sync";
      return {};
    }
    if (lower_name == "status-update.json") {
      noise = "webxdc-update";
      return {};
    }
    if ((lower_name.starts_with("location") || lower_name.starts_with("message")) &&
        lower_name.ends_with(".kml")) {
      location = true;  // location streaming and points of interest (src/location.rs)
      return {};
    }
    if (part != nullptr) data = decode_bytes(part);
    if (data.size() > limits_.max_attachment_bytes) {
      return invalid("attachment '" + name + "' is " + std::to_string(data.size()) +
                     " bytes, over the limit of " + std::to_string(limits_.max_attachment_bytes));
    }
    mail_.attachments.push_back(
        {std::move(name), media_type_or_octets(media, subtype), std::move(data)});
    return {};
  }

  // RFC 6838 §4.2: type and subtype names are at most 127 restricted-name characters. Anything
  // else from the wire is not a media type we can hand on (or write into a header again).
  static std::string media_type_or_octets(std::string_view media, std::string_view subtype) {
    const auto valid = [](std::string_view name) {
      if (name.empty() || name.size() > 127) return false;
      for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') ||
                        std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
        if (!ok) return false;
      }
      return true;
    };
    if (!valid(media) || !valid(subtype)) return "application/octet-stream";
    return std::string(media) + "/" + std::string(subtype);
  }

  const ParseLimits& limits_;
  ParsedMail& mail_;
  GMimeParserOptions* options_;
  bool chat_message_;
  std::size_t parts_ = 0;
};

// Delta Chat system messages (src/mimeparser.rs parse_system_message_headers) and COI
// control messages (coi-client-spec §"COI-specific Message Header Fields") that carry no
// content for people.
bool is_system_chat_content(std::string_view value) {
  static constexpr std::array<std::string_view, 24> kSystem{
      // Delta Chat
      "location-streaming-enabled", "ephemeral-timer-changed", "protection-enabled",
      "protection-disabled", "group-avatar-changed", "call", "call-accepted", "call-ended",
      "message-pinned", "message-unpinned",
      // COI
      "ignore", "status", "contact", "profile", "profilerequest", "group", "groupinfo",
      "grouprequested", "groupprofilerequest", "groupprofile", "location", "poll", "pollvote",
      "pollclose"};
  return std::find(kSystem.begin(), kSystem.end(), value) != kSystem.end();
}

std::string strip_edit_prefix(std::string text) {
  for (std::string_view prefix : {kEditedPrefix, kPencil}) {
    if (text.starts_with(prefix)) {
      text.erase(0, prefix.size());
      if (text.starts_with(' ')) text.erase(0, 1);
      break;
    }
  }
  return text;
}

}  // namespace

core::Result<ParsedMail> parse_mail(std::string_view raw, const ParseLimits& limits) {
  if (auto st = check_raw(raw, limits); !st) return st.error();
  ensure_gmime_initialized();

  ParserReport report;
  detail::ParserOptionsPtr options(g_mime_parser_options_new());
  // Undeclared 8-bit header text: UTF-8 if it is valid, else the usual Western charset.
  static const char* kFallbackCharsets[] = {"utf-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(options.get(), kFallbackCharsets);
  g_mime_parser_options_set_warning_callback(options.get(), on_parser_warning, &report);

  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GObjectPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), options.get()));
  if (!message) return invalid("not a MIME message");
  if (report.fatal) return invalid(*report.fatal);

  GMimeMessage* msg = message.get();
  auto* top = GMIME_OBJECT(msg);
  GMimeParserOptions* opts = options.get();
  ParsedMail mail;

  // --- RFC 5322 header fields
  std::vector<Mailbox> from;
  append_mailboxes(g_mime_message_get_from(msg), from);
  if (from.empty()) return invalid("no From address: not an RFC 5322 message");
  if (from.front().address.find('@') == std::string::npos) {
    return invalid("From address '" + from.front().address + "' has no domain");
  }
  mail.from = from.front();
  if (from.size() > 1) add_warning(mail.warnings, "several From addresses, the first is used");
  std::vector<Mailbox> sender;
  append_mailboxes(g_mime_message_get_sender(msg), sender);
  if (!sender.empty()) mail.sender = sender.front();
  append_mailboxes(g_mime_message_get_to(msg), mail.to);
  append_mailboxes(g_mime_message_get_cc(msg), mail.cc);

  // Outlook rewrites Message-IDs on sending and keeps the client's one here; Delta Chat
  // prefers it (src/mimeparser.rs), since the sender's replies reference that one.
  const auto microsoft = header_ids(top, opts, "X-Microsoft-Original-Message-ID");
  if (!microsoft.empty()) {
    mail.message_id = microsoft.front();
  } else if (const char* id = g_mime_message_get_message_id(msg); id != nullptr && *id != '\0') {
    mail.message_id = clean_line(id);
  } else if (auto raw_id = header_value(top, "Message-ID")) {
    mail.message_id = strip_angles(*raw_id);
  }
  if (const char* subject = g_mime_message_get_subject(msg)) mail.subject = clean_line(subject);
  if (GDateTime* date = g_mime_message_get_date(msg)) mail.date_unix = g_date_time_to_unix(date);
  mail.in_reply_to = header_ids(top, opts, "In-Reply-To");
  mail.references = header_ids(top, opts, "References");

  // --- chat detection (coi-protocol.md §1.1; dovecot/coi coi_mail_is_chat())
  const bool has_chat_version = g_mime_object_get_header(top, "Chat-Version") != nullptr;
  const bool coi_ids = mail.message_id.starts_with("chat$") ||
                       (!mail.references.empty() && mail.references.front().starts_with("chat$"));
  // Delta Chat before 1.155.6 wrote Mr.<id>@host (1:1) and Gr.<group>.<id>@host (group).
  const bool legacy_delta =
      mail.message_id.starts_with("Mr.") || mail.message_id.starts_with("Gr.");
  mail.is_chat = has_chat_version || coi_ids || legacy_delta;

  mail.chat_content = header_value(top, "Chat-Content").value_or("");
  const std::string chat_content = lower_ascii(mail.chat_content);

  // --- group (Delta Chat spec "Groups": Chat-Group-ID, Message-ID, In-Reply-To, References)
  bool coi_group_id = false;
  if (auto id = header_value(top, "Chat-Group-ID"); id && valid_group_id(*id)) {
    mail.group_id = *id;
  } else {
    if (id) add_warning(mail.warnings, "Chat-Group-ID is not a group id, ignored");
    std::vector<std::string> candidates{mail.message_id};
    candidates.insert(candidates.end(), mail.in_reply_to.begin(), mail.in_reply_to.end());
    candidates.insert(candidates.end(), mail.references.begin(), mail.references.end());
    for (const auto& candidate : candidates) {
      if (auto group = group_from_message_id(candidate)) {
        mail.group_id = *group;
        coi_group_id = candidate.starts_with("chat$group.");
        break;
      }
    }
  }
  if (auto name = header_value(top, "Chat-Group-Name")) {
    mail.group_name = *name;
  } else if (coi_group_id) {
    // COI names a group by its Subject, also in replies from plain mail programs.
    mail.group_name = strip_reply_prefixes(mail.subject);
  }
  mail.previous_group_name = header_value(top, "Chat-Group-Name-Changed");
  if (auto avatar = header_value(top, "Chat-User-Avatar");
      avatar && avatar->starts_with("base64:")) {
    // GLib's decoder skips the folding whitespace of a long header.
    gsize size = 0;
    GCharPtr bytes(reinterpret_cast<gchar*>(g_base64_decode(avatar->c_str() + 7, &size)));
    if (bytes && size > 0) mail.avatar = std::string(bytes.get(), size);
  }
  if (auto added = header_value(top, "Chat-Group-Member-Added")) {
    mail.member_added = parse_one_mailbox(opts, *added);
  }
  if (auto removed = header_value(top, "Chat-Group-Member-Removed")) {
    mail.member_removed = parse_one_mailbox(opts, *removed);
  }

  // --- read receipt request (Delta Chat spec "Miscellaneous"; RFC 8098 §2.1)
  for (const char* name : {"Chat-Disposition-Notification-To", "Disposition-Notification-To"}) {
    if (auto value = header_value(top, name)) {
      mail.wants_read_receipt = true;
      if (!mail.read_receipt_to) mail.read_receipt_to = parse_one_mailbox(opts, *value);
    }
  }
  mail.autocrypt_header = header_value(top, "Autocrypt");
  if (auto auto_submitted = header_value(top, "Auto-Submitted")) {
    mail.auto_submitted = !iequals(*auto_submitted, "no");
  }

  // --- body
  GMimeObject* body = g_mime_message_get_mime_part(msg);
  // Delta Chat simplifies as a chat message only with Chat-Version (src/mimeparser.rs);
  // a plain mail program's reply into a COI thread still gets the email treatment.
  BodyWalker walker(limits, mail, opts, has_chat_version);
  if (body != nullptr) {
    if (auto st = walker.walk(body, 0); !st) return st.error();
  }
  for (std::size_t i = 0; i < walker.texts.size(); ++i) {
    if (walker.texts[i].empty()) continue;
    if (!mail.text.empty()) mail.text.append("\n\n");
    mail.text.append(walker.texts[i]);
  }
  if (walker.texts.empty() && mail.html) {
    mail.text = simplify(html_to_text(*mail.html), has_chat_version).text;
  }

  // Chat-Edit and Chat-Delete count only inside the encrypted part; an unencrypted
  // multipart/mixed may carry them in its first part's headers (src/mimeparser.rs
  // is_hidden(), legacy path). Both places are read; the OpenPGP layer will decide trust.
  auto hidden_header = [&](const char* name) -> std::optional<std::string> {
    if (auto value = header_value(top, name)) return value;
    if (body != nullptr && GMIME_IS_MULTIPART(body) &&
        g_mime_content_type_is_type(g_mime_object_get_content_type(body), "multipart", "mixed") &&
        g_mime_multipart_get_count(GMIME_MULTIPART(body)) > 0) {
      return header_value(g_mime_multipart_get_part(GMIME_MULTIPART(body), 0), name);
    }
    return std::nullopt;
  };
  const auto chat_edit = hidden_header("Chat-Edit");
  const auto chat_delete = hidden_header("Chat-Delete");
  const auto secure_join = header_value(top, "Secure-Join");

  // --- what the mail means, most specific first
  auto set_noise = [&](std::string reason) {
    mail.kind = ChatKind::kProtocolNoise;
    mail.noise_reason = std::move(reason);
  };
  auto first_reply_target = [&]() -> std::optional<std::string> {
    if (mail.in_reply_to.empty()) return std::nullopt;
    return mail.in_reply_to.front();
  };
  mail.kind = mail.is_chat ? ChatKind::kMessage : ChatKind::kNotChat;

  if (walker.mdn) {
    // RFC 8098 §3.2.6.2: only "displayed" means read. Exchange omits Original-Message-ID
    // and names the original in In-Reply-To (Delta Chat src/mimeparser.rs process_report).
    auto& mdn = *walker.mdn;
    mail.target_message_id =
        mdn.original_message_id ? mdn.original_message_id : first_reply_target();
    mail.additional_targets = std::move(mdn.additional);
    if (mdn.disposition == "displayed") {
      mail.kind = ChatKind::kReadReceipt;
    } else {
      set_noise("mdn-" + (mdn.disposition.empty() ? std::string("unknown") : mdn.disposition));
    }
  } else if (g_mime_object_get_header(top, "Autocrypt-Setup-Message") != nullptr) {
    set_noise("autocrypt-setup");  // Autocrypt Level 1 §4.4: a key backup for own devices
  } else if (secure_join && !iequals(*secure_join, "vg-member-added")) {
    // The SecureJoin handshake (vc-request, vg-auth-required, ...); its last step,
    // vg-member-added, is the group's ordinary member-added message.
    set_noise("secure-join");
  } else if (!walker.noise.empty()) {
    set_noise(walker.noise);
  } else if (is_system_chat_content(chat_content)) {
    set_noise(chat_content);
  } else if (g_mime_object_get_header(top, "Chat-Group-Description-Changed") != nullptr) {
    set_noise("group-description-changed");
  } else if (chat_edit || chat_content == "editrequest") {
    // Delta Chat: Chat-Edit names the original; COI: In-Reply-To does
    // (coi-client-spec §"Edit and Delete Messages").
    std::vector<std::string> ids;
    if (chat_edit) ids = parse_ids(opts, *chat_edit);
    mail.target_message_id = !ids.empty() ? std::optional(ids.front()) : first_reply_target();
    mail.text = strip_edit_prefix(std::move(mail.text));
    if (!mail.target_message_id) {
      add_warning(mail.warnings, "edit request without a target, read as a message");
    } else if (mail.text.empty() && mail.attachments.empty()) {
      // COI: "an empty edit also means deleted"; Delta Chat ignores empty edits.
      if (chat_edit) {
        set_noise("empty-edit");
      } else {
        mail.kind = ChatKind::kDelete;
      }
    } else {
      mail.kind = ChatKind::kEdit;
    }
  } else if (chat_delete || chat_content == "deleterequest") {
    std::vector<std::string> ids;
    if (chat_delete) ids = parse_ids(opts, *chat_delete);
    if (!ids.empty()) {
      mail.target_message_id = ids.front();
      mail.additional_targets.assign(ids.begin() + 1, ids.end());
    } else {
      mail.target_message_id = first_reply_target();
    }
    if (mail.target_message_id) {
      mail.kind = ChatKind::kDelete;
    } else {
      add_warning(mail.warnings, "delete request without a target, read as a message");
    }
  } else if (walker.reaction) {
    // RFC 9078 §2: In-Reply-To names the message reacted to. Delta Chat keeps the first
    // token only, and an empty one withdraws the sender's reaction (src/reaction.rs).
    mail.target_message_id = first_reply_target();
    std::string_view token = trim(*walker.reaction);
    token = token.substr(0, std::min(token.size(), token.find_first_of(" \t\r\n")));
    mail.reaction = token.size() < kMaxReactionBytes ? std::string(token) : std::string();
    if (mail.target_message_id) {
      mail.kind = ChatKind::kReaction;
    } else {
      set_noise("reaction-without-target");
    }
  } else if (mail.member_removed) {  // Delta Chat checks removal first as well
    mail.kind = ChatKind::kMemberRemoved;
  } else if (mail.member_added) {
    mail.kind = ChatKind::kMemberAdded;
  } else if (chat_content == "groupleft") {  // COI: the sender left the group
    mail.kind = ChatKind::kMemberRemoved;
    mail.member_removed = Mailbox{mail.from.address, mail.from.name};
  } else if (mail.previous_group_name) {
    mail.kind = ChatKind::kGroupRenamed;
  } else if (walker.location && mail.text.empty() && mail.attachments.empty()) {
    set_noise("location");
  }

  for (auto& warning : report.warnings) add_warning(mail.warnings, std::move(warning));
  return mail;
}

}  // namespace coibridge::connectors::coi::mime
